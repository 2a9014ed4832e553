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
    args = [
        "run",
        "macro_gap",
        "--paths",
        "16",
        "--set",
        "days=2",
        "--set",
        "market.gap.day=1",
        "--no-progress",
    ]
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


def _project(root: Path, tag: str) -> Path:
    """A scenario script with a module, a package and some clutter beside it."""
    root.mkdir()
    (root / f"beside_helpers_{tag}.py").write_text(
        "from agents import Agent\n"
        "class Quarter(Agent):\n"
        "    def on_market(self, event, view):\n"
        "        return [self.order('underlying', -0.25 * view.delta)]\n"
    )
    (root / f"beside_pkg_{tag}").mkdir()
    (root / f"beside_pkg_{tag}" / "__init__.py").write_text("SCALE = 1.0\n")
    (root / "json.py").write_text("raise RuntimeError('shadowed the standard json')\n")
    for clutter in (".venv/lib", "runs/old", "data"):
        (root / clutter).mkdir(parents=True)
        (root / clutter / "x.py").write_text("")
    script = root / f"scen_{tag}.py"
    script.write_text(
        f"from beside_helpers_{tag} import Quarter\n"
        f"import beside_pkg_{tag}\n"
        "from orchestration import AgentSpec, HedgeConfig, Scenario\n"
        "SCENARIO = Scenario(name='beside_c', n_paths=16, days=2, book=({'qty': -1.0},),\n"
        "    configs={'q': HedgeConfig(agents=(AgentSpec(cls=Quarter, name='q'),))})\n"
    )
    return script


def test_a_local_run_imports_the_modules_beside_the_script(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    script = _project(tmp_path / "proj", "c")
    before = list(sys.path)
    out = tmp_path / "run"
    args = ["run", str(script), "--runtime", "local", "--no-progress", "--no-report"]
    assert main([*args, "--out", str(out)]) == 0, capsys.readouterr().err
    assert sys.path == before  # the folder was on the path only while needed
    summary = (out / "summary.json").read_text()
    assert '"beside_helpers_c.Quarter"' in summary


def test_only_python_beside_the_script_travels_and_nothing_shadows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration import _ray_connect, load_scenario

    script = _project(tmp_path / "proj", "d")
    load_scenario(str(script))
    mine = [Path(p).name for p in _ray_connect.user_modules() if Path(p).parent == script.parent]
    # json.py would shadow the standard library's json on the workers.
    assert mine == ["beside_helpers_d.py", "beside_pkg_d", "scen_d.py"]
    monkeypatch.setattr(_ray_connect, "MAX_USER_CODE_BYTES", 100)
    with pytest.raises(_ray_connect.UserCodeError, match="MiB"):
        _ray_connect.user_modules()


def test_a_deadline_must_be_a_positive_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for bad in ("0", "-1", "nan", "inf"):
        assert main(["run", "macro_gap", "--deadline", bad, "--out", str(tmp_path / "r")]) == 2
        assert "--deadline" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
