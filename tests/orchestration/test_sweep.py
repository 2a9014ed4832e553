"""Sweeps: a grid over Ray, one table, a failing configuration is a row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestration import ScenarioError, load_scenario
from orchestration.cli import main
from orchestration.sweep import expand, load_grid, run_sweep

SCRIPT = """
import numpy as np
from agents import Agent, AgentConfig
from orchestration import AgentSpec, HedgeConfig, Scenario

class Fragile(Agent):
    class Config(AgentConfig):
        fail: bool = False

    def on_market(self, event, view):
        if self.config.fail and event.step == 2:
            raise RuntimeError("fragile agent gave up")
        return [self.order("underlying", -view.delta)]

SCENARIO = Scenario(name="fragile", n_paths=64, days=4, book=({"qty": -1.0},),
    configs={"hedged": HedgeConfig(agents=(AgentSpec(cls=Fragile, name="f"),))})
GRID = {"seeds": [1, 2], "grid": {"configs.hedged.agents.0.config.fail": [False, True]}}
"""


def test_grid_expands_in_order_and_bad_grids_are_refused(tmp_path: Path) -> None:
    runs = expand(*load_grid({"seeds": [1, 2], "grid": {"a": [1, 2], "b": ["x"]}}))
    assert [(r["overrides"]["a"], r["seed"]) for r in runs] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    (tmp_path / "g.toml").write_text('seeds = [3]\n[grid]\n"market.gap.size_std" = [0.1]\n')
    assert load_grid(tmp_path / "g.toml") == (["market.gap.size_std"], [[0.1]], [3])
    with pytest.raises(ScenarioError, match="non-empty list"):
        load_grid({"grid": {"a": []}})
    with pytest.raises(ScenarioError, match="does not exist"):
        load_grid(tmp_path / "none.toml")


@pytest.mark.usefixtures("ray_session")
def test_a_sweep_with_a_failing_configuration_completes_and_reports_it(tmp_path: Path) -> None:
    script = tmp_path / "fragile.py"
    script.write_text(SCRIPT)
    out = tmp_path / "sweep"
    rc = main(["sweep", str(script), "--runtime", "ray", "--out", str(out), "--no-progress"])
    assert rc == 0
    rows = json.loads((out / "sweep.json").read_text())
    assert [(r["run"], r["seed"]) for r in rows] == [(0, 1), (1, 2), (2, 1), (3, 2)]
    ok = [r for r in rows if not r["configs.hedged.agents.0.config.fail"]]
    bad = [r for r in rows if r["configs.hedged.agents.0.config.fail"]]
    assert all(r["error"] is None and len(r["pnl_sha256"]) == 64 for r in ok)
    assert all("fragile agent gave up" in r["error"] and "'f' (Fragile)" in r["error"] for r in bad)
    assert (out / "sweep.csv").read_text().count("\n") == 5
    assert (out / "sweep.parquet").stat().st_size > 0
    # the same grid point gives the same bits in a sweep and on its own
    local = run_sweep(
        load_scenario(str(script)),
        [expand(["x"], [[0]], [1])[0] | {"overrides": {}}],
        runtime="local",
    )
    assert local[0]["pnl_sha256"] == ok[0]["pnl_sha256"]
