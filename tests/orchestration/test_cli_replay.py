"""``gammaray record | replay | inspect`` and ``run --record``: same bits, bad logs exit 2."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import struct
import subprocess
import sys
import uuid
from pathlib import Path

import msgpack
import numpy as np
import pytest

from agents import DeltaHedger
from market.events import DATACLASS_EXT, Order, encode
from orchestration.cli import main
from orchestration.cli_replay import builtin_agent_refs, replay_scenario
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


def test_built_in_agents_named_by_dotted_path_are_bound_without_importing() -> None:
    refs = builtin_agent_refs()
    assert refs["delta"] is refs["agents.delta.DeltaHedger"] is refs["agents:DeltaHedger"]
    assert refs["agents.DeltaHedger"] is DeltaHedger
    assert {"agents.deep.ResidualHedger", "agents.deep.DeepHedger"} <= set(refs)
    assert not any(name.split(".")[-1].startswith("_") for name in refs)
    header = {
        "scenario": {
            "name": "x",
            "n_paths": 4,
            "configs": {
                "a": {"agents": [{"cls": "agents.delta.DeltaHedger"}]},
                "b": {"agents": [{"cls": "agents:DeltaHedger", "name": "d"}]},
                "c": {"agents": [{"cls": "delta"}]},
            },
        }
    }
    scenario = replay_scenario(header, None)
    specs = [s for hc in scenario.configs.values() for s in hc.agents]
    assert [s.cls for s in specs] == [DeltaHedger, DeltaHedger, "delta"]
    assert [s.agent_name for s in specs] == ["deltahedger", "d", "delta"]  # as recorded


def test_a_run_naming_built_ins_by_dotted_path_replays_to_its_bits(tmp_path: Path) -> None:
    script = tmp_path / "dotted.py"
    script.write_text(
        "from orchestration import AgentSpec, HedgeConfig, apply_overrides\n"
        "from scenarios.macro_gap import MANAGER, SCENARIO as GAP\n"
        "agents = (AgentSpec(cls='agents.gamma.GammaHedger', config={'instrument': 'gamma_opt'}),\n"
        "          AgentSpec(cls='agents:DeltaHedger'))\n"
        "SCENARIO = GAP.model_copy(update={'name': 'dotted', 'configs': {\n"
        "    'dg': HedgeConfig(agents=agents, manager=MANAGER)}})\n"
    )
    log, run, out = tmp_path / "d.grlog", tmp_path / "run", tmp_path / "out"
    argv = ["run", str(script), "--runtime", "local", "--no-report", "--record", str(log)]
    assert main([*argv, "--out", str(run), *SMALL]) == 0
    assert _replay(log, out, "--runtime", "local") == 0
    assert _hashes(out / "summary.json") == _hashes(run / "summary.json")


# ------------------------------------------------- a log never runs code it names
def _evil_module(folder: Path) -> tuple[str, Path]:
    """A module on ``sys.path`` whose import writes a marker file; (its name, the marker)."""
    name = f"gr_evil_{uuid.uuid4().hex[:12]}"
    marker = folder / f"{name}.ran"
    (folder / f"{name}.py").write_text(
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('imported')\n"
        "from agents import DeltaHedger\n\n\n"
        "class Evil(DeltaHedger):\n"
        "    pass\n"
    )
    return name, marker


def _log_naming(good: Path, bad: Path, cls: str) -> None:
    """The good log with one configuration's agent class replaced by ``cls`` (checksums valid)."""
    with RecordReader(good) as r:
        header = json.loads(json.dumps(r.header))
        steps = list(r)
    agents = header["scenario"]["configs"]["delta"]["agents"]
    agents[0]["cls"] = cls
    with RecordWriter(bad, header=header) as w:
        for step in steps:
            w.write(step)


@pytest.fixture
def evil_log(recorded: tuple[Path, Path], tmp_path: Path, monkeypatch) -> tuple[Path, str, Path]:
    """A log naming ``<module>.Evil``, whose module (on sys.path) writes a marker when imported."""
    folder = tmp_path / "mods"
    folder.mkdir()
    name, marker = _evil_module(folder)
    monkeypatch.syspath_prepend(str(folder))
    bad = tmp_path / "evil.grlog"
    _log_naming(recorded[0], bad, f"{name}.Evil")
    return bad, name, marker


def _replay(log: Path, out: Path, *extra: str) -> int:
    return main(["replay", str(log), "--out", str(out), "--no-progress", *extra])


def test_a_log_naming_a_module_is_refused_without_importing_it(
    evil_log: tuple[Path, str, Path], tmp_path: Path, capsys
) -> None:
    log, name, marker = evil_log
    importlib.invalidate_caches()
    assert importlib.util.find_spec(name) is not None  # importable (the old replay did) ...
    out = tmp_path / "out"
    rc = _replay(log, out, "--runtime", "local")
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert f"'{name}.Evil'" in err and "not built in" in err and "pass --agents SCENARIO" in err
    assert not out.exists()
    assert main(["inspect", str(log), "--json"]) == 0  # reads every frame, as data
    assert not marker.exists() and name not in sys.modules  # ... and nothing imported it


def test_with_agents_the_recorded_classes_are_dropped_unread(
    recorded: tuple[Path, Path], evil_log: tuple[Path, str, Path], tmp_path: Path
) -> None:
    log, name, marker = evil_log
    out = tmp_path / "out"
    assert _replay(log, out, "--runtime", "local", "--agents", "macro_gap") == 0
    assert not marker.exists() and name not in sys.modules
    # the recorded market is the macro-gap run's, the agents the built-in scenario's
    assert _hashes(out / "summary.json") == _hashes(recorded[1])


@pytest.mark.parametrize(
    "cls",
    [
        "unittest.main",
        "venv.main",
        "unittest.__main__.main",
        "venv.__main__.X",
        "venv:main",
        "this.Agent",
        "..x.Y",
        "",
    ],
)
def test_entry_point_dotted_paths_are_refused_without_import(
    recorded: tuple[Path, Path], tmp_path: Path, capsys, cls: str
) -> None:
    bad = tmp_path / "entry.grlog"
    _log_naming(recorded[0], bad, cls)
    module = cls.partition(":")[0] if ":" in cls else cls.rpartition(".")[0]
    before = module in sys.modules  # venv, unittest.__main__: not imported by the test run
    out = tmp_path / "out"
    rc = _replay(bad, out, "--runtime", "local")
    captured = capsys.readouterr()
    assert rc == 2 and len(captured.err.strip().splitlines()) == 1, captured
    assert repr(cls) in captured.err and "usage" not in captured.out.lower()
    assert (module in sys.modules) == before and not out.exists()


def test_a_custom_agent_run_replays_with_its_script_as_agents(tmp_path: Path, capsys) -> None:
    script = str(Path(__file__).parents[2] / "scenarios" / "custom_agent.py")
    log, run = tmp_path / "custom.grlog", tmp_path / "run"
    small = ["--paths", "32", "--set", "days=2", "--set", "market.gap.day=1", "--no-progress"]
    argv = ["run", script, "--runtime", "local", "--no-report", "--record", str(log)]
    assert main([*argv, "--out", str(run), *small]) == 0
    out = tmp_path / "out"
    assert _replay(log, out, "--runtime", "local") == 2
    err = capsys.readouterr().err
    assert "'_gammaray_scenario_custom_agent.ScheduledDeltaHedger'" in err
    assert _replay(log, out, "--runtime", "local", "--agents", script) == 0
    assert _hashes(out / "summary.json") == _hashes(run / "summary.json")


def test_a_custom_agent_run_replays_with_a_module_of_its_agent_classes(
    tmp_path: Path, capsys
) -> None:
    """``--agents my_agents.py`` (no SCENARIO): the log's configurations, classes bound by name."""
    script = str(Path(__file__).parents[2] / "scenarios" / "custom_agent.py")
    log, run = tmp_path / "custom.grlog", tmp_path / "run"
    small = ["--paths", "32", "--set", "days=2", "--set", "market.gap.day=1", "--no-progress"]
    argv = ["run", script, "--runtime", "local", "--no-report", "--record", str(log)]
    assert main([*argv, "--out", str(run), *small]) == 0
    mine = tmp_path / "my_agents.py"
    mine.write_text("from scenarios.custom_agent import ScheduledDeltaHedger  # noqa: F401\n")
    out = tmp_path / "out"
    assert _replay(log, out, "--runtime", "local", "--agents", str(mine)) == 0
    assert _hashes(out / "summary.json") == _hashes(run / "summary.json")
    # a module without that class: one line naming what it defines
    other = tmp_path / "other_agents.py"
    other.write_text("from agents import Agent\nclass Other(Agent):\n    pass\n")
    assert _replay(log, tmp_path / "o", "--runtime", "local", "--agents", str(other)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "ScheduledDeltaHedger" in err
    assert "it defines: Other" in err and not (tmp_path / "o").exists()
    # a file with no scenario, no agent class and no CONFIGS
    empty = tmp_path / "empty.py"
    empty.write_text("X = 1\n")
    assert _replay(log, tmp_path / "e", "--runtime", "local", "--agents", str(empty)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "defines no SCENARIO" in err


def test_configs_of_an_agents_module_run_beside_the_recorded_ones(
    recorded: tuple[Path, Path], tmp_path: Path
) -> None:
    log, summary = recorded
    mine = tmp_path / "my_agents.py"
    mine.write_text(
        "from agents import ManagerConfig\n"
        "from orchestration import AgentSpec, HedgeConfig\n"
        "CONFIGS = {'mine': HedgeConfig(agents=(AgentSpec(cls='delta', config={'target': 0.5}),),"
        " manager=ManagerConfig(budget=500.0))}\n"
    )
    out = tmp_path / "out"
    assert _replay(log, out, "--runtime", "local", "--agents", str(mine)) == 0
    got, want = _hashes(out / "summary.json"), _hashes(summary)
    assert set(got) == {*want, "mine"} and all(got[k] == v for k, v in want.items())


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("n_steps", "x", "the header's n_steps must be a whole number >= 0, got 'x'"),
        ("n_steps", [1], "n_steps must be a whole number >= 0, got [1]"),
        ("n_steps", -5, "n_steps must be a whole number >= 0, got -5"),
        ("n_steps", float("inf"), "n_steps must be a whole number >= 0, got inf"),
        ("n_steps", True, "n_steps must be a whole number >= 0, got True"),
        ("n_paths", 0, "n_paths must be a whole number >= 1, got 0"),
        ("scenario", [1], "the log records no scenario"),
    ],
)
def test_implausible_header_facts_are_one_line(
    recorded: tuple[Path, Path], tmp_path: Path, capsys, key: str, value: object, needle: str
) -> None:
    with RecordReader(recorded[0]) as r:
        header = {**r.header, key: value}
        steps = list(r)
    bad = tmp_path / "h.grlog"
    with RecordWriter(bad, header=header) as w:
        for step in steps:
            w.write(step)
    out = tmp_path / "out"
    assert _replay(bad, out, "--runtime", "local") == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1, err
    assert not out.exists()
    assert main(["inspect", str(bad)]) == 0  # inspect shows what the header says


# ------------------------------------------------------- nesting bounded before decoding
def _deep_event(depth: int) -> bytes:
    """An event whose dataclass extension nests ``depth`` levels deep."""
    obj = None
    for _ in range(depth):
        payload = msgpack.packb(["MarketEvent", {"spot": obj}], use_bin_type=True)
        obj = msgpack.ExtType(DATACLASS_EXT, payload)
    return msgpack.packb(obj, use_bin_type=True)


def _log_with_event(good: Path, bad: Path, event: bytes) -> None:
    with RecordReader(good) as r:
        header = r.header
        steps = list(r)
    with RecordWriter(bad, header=header) as w:
        for i, s in enumerate(steps):
            if i != 1:
                w.write(s)
                continue
            w._frame(STEP, msgpack.packb([event], use_bin_type=True))
            w.steps += 1
            w.events += 1


@pytest.mark.parametrize("depth", [200, 10_000])
def test_a_deeply_nested_event_is_one_line_not_a_crash(
    recorded: tuple[Path, Path], tmp_path: Path, depth: int
) -> None:
    """200 levels segfaulted ``inspect`` and ``replay`` (exit -11); run in a child process."""
    bad = tmp_path / "deep.grlog"
    event = _deep_event(depth)
    assert len(event) > 4000
    _log_with_event(recorded[0], bad, event)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = tmp_path / "out"
    for argv in (
        ["inspect", str(bad)],
        ["replay", str(bad), "--runtime", "local", "--out", str(out), "--no-progress"],
    ):
        code = f"import sys; from orchestration.cli import main; sys.exit(main({argv!r}))"
        p = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
        )
        err = p.stderr.strip()
        assert p.returncode == 2, (argv[0], p.returncode, err[-2000:])
        assert len(err.splitlines()) == 1 and "step 1, event 0: events" in err, err
        assert "nest more than 8 levels" in err
    assert not out.exists()


def test_inspect_into_a_closed_pipe_exits_quietly(recorded: tuple[Path, Path]) -> None:
    """``gammaray inspect LOG | head``: no BrokenPipeError traceback, SIGPIPE's status."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for extra in ([], ["--json"]):
        argv = ["inspect", str(recorded[0]), *extra]
        code = f"import sys; from orchestration.cli import main; sys.exit(main({argv!r}))"
        r, w = os.pipe()
        os.close(r)  # the reader is gone before the first line is written
        try:
            p = subprocess.run(
                [sys.executable, "-c", code],
                stdout=w,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                timeout=120,
            )
        finally:
            os.close(w)
        assert p.stderr == "" and p.returncode == 141, p.stderr


def test_inspect_escapes_control_characters_from_the_log(
    recorded: tuple[Path, Path], tmp_path: Path, capsys
) -> None:
    with RecordReader(recorded[0]) as r:
        header = json.loads(json.dumps(r.header))
        steps = list(r)
    header["scenario_name"] = "x\x1b[2Jy"
    header["schema"]["MarketEvent"] = [1, "a\x07"]
    bad = tmp_path / "esc.grlog"
    with RecordWriter(bad, header=header) as w:
        for step in steps:
            w.write(step)
    assert main(["inspect", str(bad)]) == 0
    text = capsys.readouterr().out
    assert "\x1b" not in text and "\x07" not in text
    assert "x\\x1b[2Jy" in text and "1, a\\x07" in text


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


@pytest.mark.slow
def test_ray_replay_gives_the_recorded_runs_bits(
    recorded: tuple[Path, Path], tmp_path: Path, ray_session
) -> None:
    log, summary = recorded
    out = tmp_path / "ray"
    rc = main(["replay", str(log), "--runtime", "ray", "--out", str(out), "--no-progress"])
    assert rc == 0
    assert _hashes(out / "summary.json") == _hashes(summary)
    assert json.loads((out / "summary.json").read_text())["runtime"] == "ray"


@pytest.mark.slow
def test_ray_replay_imports_nothing_the_log_names(
    recorded: tuple[Path, Path],
    evil_log: tuple[Path, str, Path],
    tmp_path: Path,
    ray_session,
    capsys,
) -> None:
    log, name, marker = evil_log
    out = tmp_path / "ray"
    assert _replay(log, out, "--runtime", "ray") == 2
    assert f"'{name}.Evil'" in capsys.readouterr().err and not out.exists()
    assert _replay(log, out, "--runtime", "ray", "--agents", "macro_gap") == 0
    assert not marker.exists() and name not in sys.modules
    assert _hashes(out / "summary.json") == _hashes(recorded[1])


def test_replay_writes_its_report_into_a_whole_folder(
    recorded: tuple[Path, Path], tmp_path: Path
) -> None:
    log, _ = recorded
    out = tmp_path / "replayed"
    assert main(["replay", str(log), "--runtime", "local", "--out", str(out), "--no-progress"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"summary.json", "report.html", "series.parquet", "paths.parquet"} <= names
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries


def test_replay_onto_a_foreign_run_folder_refuses(
    recorded: tuple[Path, Path], tmp_path: Path, capsys
) -> None:
    log, summary = recorded
    out = tmp_path / "foreign"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    argv = ["replay", str(log), "--runtime", "local", "--out", str(out), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--force" in err[0]
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert main([*argv, "--force", "--no-report"]) == 0
    assert _hashes(out / "summary.json") == _hashes(summary)
    assert not (out / "notes.txt").exists()


@pytest.fixture(scope="module")
def recorded_3_blocks(tmp_path_factory) -> tuple[Path, Path]:
    """A run of three 1024-path blocks recorded: (the log, the run's summary.json)."""
    d = tmp_path_factory.mktemp("rec3")
    log, out = d / "gap3.grlog", d / "run"
    small = ["--paths", "2500", "--set", "days=1", "--set", "market.gap.day=0.5"]
    argv = ["run", "macro_gap", "--runtime", "local", "--no-report", "--record", str(log)]
    assert main([*argv, "--out", str(out), *small, "--no-progress"]) == 0
    return log, out / "summary.json"


@pytest.mark.slow
def test_a_sharded_replay_gives_the_recorded_runs_bits(
    recorded_3_blocks: tuple[Path, Path], tmp_path: Path
) -> None:
    log, summary = recorded_3_blocks
    out = tmp_path / "sharded"
    assert _replay(log, out, "--runtime", "local", "--shards", "3", "--no-report") == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["shards"] == 3 and s["n_paths"] == 2500
    assert _hashes(out / "summary.json") == _hashes(summary)


@pytest.mark.slow
def test_a_fused_ray_replay_gives_the_recorded_runs_bits(
    recorded_3_blocks: tuple[Path, Path], tmp_path: Path, ray_session
) -> None:
    log, summary = recorded_3_blocks
    out = tmp_path / "fused"
    argv = ["--runtime", "ray", "--shards", "2", "--placement", "fused", "--no-report"]
    assert _replay(log, out, *argv) == 0
    s = json.loads((out / "summary.json").read_text())
    assert (s["placement"], s["shards"], s["runtime"]) == ("fused", 2, "ray")
    assert sorted(sh["shard"] for n in s["nodes"] for sh in n["shards"]) == [0, 1]
    assert _hashes(out / "summary.json") == _hashes(summary)


def test_a_log_source_cut_by_path_is_the_whole_source_cut(
    recorded: tuple[Path, Path],
) -> None:
    from market.replay import LogReplayMarket

    log, _ = recorded
    whole, part = LogReplayMarket(log), LogReplayMarket(log).paths(16, 40)
    for a, b in zip(whole.steps(), part.steps(), strict=True):
        ma, mb = a[-1], b[-1]
        assert mb.n_paths == 24 and np.array_equal(ma.spot[16:40], mb.spot)
        assert np.array_equal(ma.surface.atm[16:40], mb.surface.atm)
        for qa, qb in zip(ma.quotes, mb.quotes, strict=True):
            assert np.array_equal(qa.mid[16:40], qb.mid) and qa.contract == qb.contract
    with pytest.raises(ValueError, match="not within"):
        LogReplayMarket(log).paths(0, 65)
