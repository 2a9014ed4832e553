"""``gammaray record | replay | inspect`` and ``run --record``: same bits, bad logs exit 2."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import msgpack
import numpy as np
import pytest

from market.events import Order, encode
from orchestration.cli import main
from orchestration.cli_replay import replay_scenario
from orchestration.config import ScenarioError
from orchestration.recorder import FORMAT_VERSION, MAGIC, STEP, RecordReader, RecordWriter

SMALL = ["--paths", "64", "--set", "days=2", "--set", "market.gap.day=1", "--no-progress"]


def _hashes(summary_path: Path) -> dict[str, str]:
    s = json.loads(summary_path.read_text())
    return {k: v["pnl_sha256"] for k, v in s["configs"].items()}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> tuple[Path, Path]:
    """A macro-gap run recorded with ``run --record``: (the log, the run's summary.json)."""
    d = tmp_path_factory.mktemp("rec")
    log, out = d / "gap.grlog", d / "run"
    rc = main(
        ["run", "macro_gap", "--runtime", "local", "--out", str(out), "--record", str(log), *SMALL]
    )
    assert rc == 0 and log.exists()
    return log, out / "summary.json"


def test_replay_reproduces_the_recorded_runs_pnl_hashes(
    recorded: tuple[Path, Path], tmp_path: Path, capsys
) -> None:
    log, summary = recorded
    out = tmp_path / "replay"
    rc = main(["replay", str(log), "--runtime", "local", "--out", str(out), "--no-progress"])
    assert rc == 0
    assert _hashes(out / "summary.json") == _hashes(summary)
    s = json.loads((out / "summary.json").read_text())
    assert s["scenario"] == "macro_gap" and s["n_paths"] == 64 and s["runtime"] == "local"
    assert s["replay"]["agents"] == "recorded" and len(s["replay"]["log_sha256"]) == 64
    assert "event_aware" in capsys.readouterr().out


def test_record_writes_the_same_market_events_as_run_record(
    recorded: tuple[Path, Path], tmp_path: Path, capsys
) -> None:
    log, _ = recorded
    other = tmp_path / "market.grlog"
    assert main(["record", "macro_gap", "--out", str(other), *SMALL]) == 0
    assert "wrote" in capsys.readouterr().out
    with RecordReader(log) as a, RecordReader(other) as b:
        assert a.header["scenario"] == b.header["scenario"]
        assert a.header["meta"]["source"] == "gammaray run"
        assert b.header["meta"]["source"] == "gammaray record"
        assert a.verify()["sha256"] != b.verify()["sha256"]  # the headers differ ...
    with RecordReader(log) as a, RecordReader(other) as b:
        for x, y in zip(a, b, strict=True):  # ... the events do not
            assert [encode(e) for e in x] == [encode(e) for e in y]


def test_inspect_prints_the_header_and_counts(recorded: tuple[Path, Path], capsys) -> None:
    log, _ = recorded
    assert main(["inspect", str(log)]) == 0
    text = capsys.readouterr().out
    assert "macro_gap" in text and "MarketEvent" in text and f"{FORMAT_VERSION}" in text
    assert main(["inspect", str(log), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["counts"] == {"MarketEvent": 9, "Announcement": 2}
    assert info["steps"] == 9 and info["n_steps"] == 8 and info["format_version"] == FORMAT_VERSION


def test_replay_with_other_agents_runs_them_on_the_recorded_market(tmp_path: Path) -> None:
    log = tmp_path / "flash.grlog"
    assert (
        main(["record", "flash_2015", "--out", str(log), "--set", "days=5", "--no-progress"]) == 0
    )
    out = tmp_path / "r"
    argv = ["replay", str(log), "--agents", "macro_gap", "--runtime", "local", "--out", str(out)]
    rc = main([*argv, "--no-progress"])
    assert rc == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["scenario"] == "flash_2015" and s["n_paths"] == 1 and s["n_steps"] == 5
    assert set(s["configs"]) == {
        "unhedged",
        "delta",
        "delta_gamma",
        "delta_gamma_vega",
        "event_aware",
    }
    assert s["replay"]["agents"] == "macro_gap"
    # the recorded stress run replays to the bits of running the scenario itself
    direct = tmp_path / "direct"
    argv = ["run", "flash_2015", "--set", "days=5", "--runtime", "local", "--out", str(direct)]
    assert main([*argv, "--no-progress"]) == 0
    again = tmp_path / "again"
    assert (
        main(["replay", str(log), "--runtime", "local", "--out", str(again), "--no-progress"]) == 0
    )
    assert _hashes(again / "summary.json") == _hashes(direct / "summary.json")


def test_a_recorded_scenario_that_cannot_load_asks_for_agents() -> None:
    header = {
        "scenario": {
            "name": "x",
            "n_paths": 4,
            "configs": {"c": {"agents": [{"cls": "no_such_module.Agent"}]}},
        }
    }
    with pytest.raises(ScenarioError, match="pass --agents SCENARIO"):
        replay_scenario(header, None)
    with pytest.raises(ScenarioError, match="records no scenario"):
        replay_scenario({"scenario": None}, None)


def _absurd_log(good: Path, bad: Path) -> None:
    """The good log with an Order declaring 10**12 elements added to step 2 (checksums valid)."""
    qty = np.zeros(1)
    event = encode(Order(step=0, sender="a", instrument="u", qty=qty))
    old = msgpack.packb(["<f8", [1], bytes(8)], use_bin_type=True)
    new = msgpack.packb(["<f8", [10**12], b""], use_bin_type=True)
    assert old in event and len(old) == len(new)
    absurd = event.replace(old, new)
    with RecordReader(good) as r:
        header = r.header
        steps = list(r)
    with RecordWriter(bad, header=header) as w:  # the same scenario: replayable up to step 2
        for i, s in enumerate(steps):
            if i != 2:
                w.write(s)
                continue
            payload = [absurd, *(encode(e) for e in s)]
            w._frame(STEP, msgpack.packb(payload, use_bin_type=True))
            w.steps += 1
            w.events += len(payload)


def _corrupt(kind: str, good: Path, bad: Path) -> None:
    data = bytearray(good.read_bytes())
    if kind == "truncated":
        bad.write_bytes(bytes(data[: len(data) * 2 // 3]))
    elif kind == "flipped":
        data[len(data) // 2] ^= 0x04
        bad.write_bytes(bytes(data))
    elif kind == "version":
        struct.pack_into("<H", data, len(MAGIC), 99)
        bad.write_bytes(bytes(data))
    elif kind == "absurd":
        _absurd_log(good, bad)
    elif kind == "garbage":
        bad.write_bytes(b"\x93\xa3abc" * 1000)
    elif kind != "missing":
        raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "needle"),
    [
        ("truncated", "truncated"),
        ("flipped", "checksum mismatch"),
        ("version", "format version 99 is not supported"),
        ("absurd", "1000000000000 elements"),
        ("garbage", "not a gammaray event log"),
        ("missing", "does not exist"),
    ],
)
@pytest.mark.parametrize("command", ["replay", "inspect"])
def test_a_bad_log_exits_2_with_one_line_and_writes_nothing(
    recorded: tuple[Path, Path], tmp_path: Path, capsys, kind: str, needle: str, command: str
) -> None:
    log, _ = recorded
    bad = tmp_path / "bad.grlog"
    _corrupt(kind, log, bad)
    before = sorted(p.name for p in tmp_path.iterdir())
    out = tmp_path / "out"
    argv = [command, str(bad)]
    if command == "replay":
        argv += ["--runtime", "local", "--out", str(out), "--no-progress"]
    rc = main(argv)
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert rc == 2, captured
    assert needle in err and len(err.splitlines()) == 1 and err.startswith("gammaray: error:")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (
            ["run", "macro_gap", "--record", "{tmp}/nope/x.grlog", "--runtime", "local"],
            "is missing",
        ),
        (["record", "macro_gap", "--out", "{tmp}/nope/x.grlog"], "is missing"),
        (["record", "macro_gap", "--out", "{tmp}"], "is a folder"),
        (
            ["record", "flash_2015", "--out", "{tmp}/x.grlog", "--set", "days=200"],
            "at most 23 days",
        ),
        (["record", "nope.py", "--out", "{tmp}/x.grlog"], "does not exist"),
        (["replay", "{log}", "--agents", "nope.py"], "does not exist"),
    ],
)
def test_bad_record_and_replay_input_exits_2(
    recorded: tuple[Path, Path], tmp_path: Path, capsys, argv: list[str], needle: str
) -> None:
    log, _ = recorded
    out = tmp_path / "out"
    argv = [a.format(tmp=tmp_path, log=log) for a in argv]
    if argv[0] in ("run", "replay"):
        argv += ["--out", str(out)]
    rc = main([*argv, "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert needle in err and len(err.splitlines()) == 1, err
    assert not out.exists() and not (tmp_path / "x.grlog").exists()
    assert not list(tmp_path.glob(".*tmp"))


def test_ray_replay_gives_the_recorded_runs_bits(
    recorded: tuple[Path, Path], tmp_path: Path, ray_session
) -> None:
    log, summary = recorded
    out = tmp_path / "ray"
    rc = main(["replay", str(log), "--runtime", "ray", "--out", str(out), "--no-progress"])
    assert rc == 0
    assert _hashes(out / "summary.json") == _hashes(summary)
    assert json.loads((out / "summary.json").read_text())["runtime"] == "ray"
