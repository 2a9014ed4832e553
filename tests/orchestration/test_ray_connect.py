"""Reaching a cluster: an address nobody answers at is one line, exit 2, fast."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration.cli import main
from orchestration.ray_runtime import ClusterUnreachable, probe_address


@pytest.fixture
def silent_port() -> Iterator[str]:
    """A port that accepts connections and never says a word (not a Ray cluster)."""
    srv = socket.socket()
    srv.bind(("127.0.0.2", 0))  # 127.0.0.1 Ray would swap for the node IP
    srv.listen(8)
    srv.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield f"127.0.0.2:{srv.getsockname()[1]}"
    stop.set()
    t.join()
    for c in held:
        c.close()
    srv.close()


@pytest.mark.parametrize("address", ["127.0.0.1:9999", "not-a-host:6379"])
def test_an_unreachable_address_is_one_line_exit_2_within_30_s(
    address: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = ["run", "macro_gap", "--paths", "16", "--set", "days=2", "--no-progress"]
    start = time.monotonic()
    code = main([*args, "--runtime", "ray", "--address", address, "--out", str(out)])
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert elapsed < 30, elapsed  # it used to hang forever
    assert err.count("\n") == 0 and f"cannot reach a Ray cluster at {address!r}" in err, err
    assert not out.exists()


def test_a_port_that_is_not_a_ray_cluster_is_refused(silent_port: str) -> None:
    with pytest.raises(ClusterUnreachable, match=r"no answer|does not answer as a Ray"):
        probe_address(silent_port, timeout=1.0)


def test_a_malformed_address_is_refused() -> None:
    with pytest.raises(ClusterUnreachable, match=r"expected HOST:PORT|Invalid address"):
        probe_address("just-a-host", timeout=1.0)
