"""The command line: exit codes, summary.json, nothing written on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestration.cli import main

SMALL = ["--paths", "128", "--set", "days=3", "--set", "market.gap.day=1.5", "--no-progress"]


def test_run_writes_summary_with_the_stable_keys(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    rc = main(["run", "macro_gap", "--runtime", "local", "--out", str(out), *SMALL])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "macro_gap" and summary["n_paths"] == 128
    assert summary["runtime"] == "local" and summary["seed"] == 7
    assert set(summary["configs"]) == {
        "unhedged",
        "delta",
        "delta_gamma",
        "delta_gamma_vega",
        "event_aware",
    }
    for cfg in summary["configs"].values():
        m = cfg["metrics"]
        for key in (
            "pnl_mean",
            "pnl_std",
            "var_95",
            "cvar_95",
            "mean_std_objective",
            "transaction_cost",
            "budget_breaches",
            "breach_share",
            "paths_breached",
        ):
            assert key in m
        # one hash per configuration, beside its metrics (not repeated inside them)
        assert "pnl_sha256" not in m and len(cfg["pnl_sha256"]) == 64
        assert m["cvar_95"] >= m["var_95"]
    table = capsys.readouterr().out
    assert "event_aware" in table and "CVaR95 loss" in table
    assert not list(out.glob(".*tmp"))


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "nope.py"], "does not exist"),
        (["run", "macro_gap", "--set", "market.surface.atm=-1"], "market.surface.atm"),
        (["run", "macro_gap", "--set", "configs.delta.agents.0.cls=Nope"], "unknown agent class"),
        (["run", "macro_gap", "--paths", "0"], "n_paths"),
        (["run", "macro_gap", "--set", "book.0.qty=abc"], "book.0.qty"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    tmp_path: Path, capsys, argv, needle
) -> None:
    out = tmp_path / "never"
    rc = main([*argv, "--runtime", "local", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert needle in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_a_raising_custom_agent_stops_the_run_with_its_name_and_time(
    tmp_path: Path, capsys
) -> None:
    script = tmp_path / "boom.py"
    script.write_text(
        "from agents import Agent\n"
        "from orchestration import AgentSpec, HedgeConfig, Scenario\n"
        "class Boom(Agent):\n"
        "    def on_market(self, event, view):\n"
        "        if event.step == 2:\n"
        "            raise RuntimeError('model blew up')\n"
        "        return []\n"
        "SCENARIO = Scenario(name='boom', n_paths=16, days=5,\n"
        "    configs={'x': HedgeConfig(agents=(AgentSpec(cls=Boom, name='boomy'),))})\n"
    )
    out = tmp_path / "out"
    rc = main(["run", str(script), "--runtime", "local", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "'boomy' (Boom)" in err and "step 2" in err and "RuntimeError: model blew up" in err
    assert not out.exists()
