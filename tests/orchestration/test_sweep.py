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


@pytest.mark.slow
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


@pytest.mark.parametrize(
    ("grid", "needle"),
    [
        (
            '"market.nothing.x" = [1]',
            "grid point 0 (market.nothing.x=1, seed 1): --set market.nothing.x: unknown field "
            "'market.nothing'",
        ),
        ('"market.spto" = [100.0]', "market.spto: Extra inputs are not permitted"),
        (
            '"n_paths" = [64, "many"]',
            'grid point 1 (n_paths="many", seed 1): invalid scenario: n_paths',
        ),
        ('"market.spot" = [100.0, nan]', "grid: market.spot value nan is not a finite number"),
        ('"market.spot" = [100.0, -inf]', "grid: market.spot value -inf is not a finite number"),
        ('"market.surface.atm" = [0.2, 20.0]', "market.surface.atm: 20 looks like a percent"),
        ('"days" = [4, 1e9]', "grid point 1 (days=1000000000.0, seed 1): invalid scenario: days"),
    ],
)
def test_a_bad_grid_point_is_refused_before_the_first_run(grid, needle, tmp_path, capsys) -> None:
    script = tmp_path / "fragile.py"
    script.write_text(SCRIPT)
    (tmp_path / "g.toml").write_text(f"seeds = [1]\n[grid]\n{grid}\n")
    out = tmp_path / "sweep"
    argv = ["sweep", str(script), "--grid", str(tmp_path / "g.toml"), "--runtime", "local"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gammaray: error: ") and needle in err, err
    assert not out.exists()


def test_every_grid_point_is_validated_before_any_runs(monkeypatch) -> None:
    import orchestration.sweep as sweep

    monkeypatch.setattr(sweep, "run_one", lambda *a: pytest.fail("a run started"))
    runs = expand(["market.spot"], [[100.0, 101.0, 0.0]], [1, 2])
    with pytest.raises(ScenarioError) as info:
        run_sweep(load_scenario("macro_gap"), runs, runtime="local")
    assert str(info.value).startswith("grid point 4 (market.spot=0.0, seed 1): invalid scenario:")
    with pytest.raises(ScenarioError, match="seeds must be non-negative integers, got -1"):
        load_grid({"seeds": [1, -1], "grid": {"a": [1]}})
    with pytest.raises(ScenarioError, match="seeds must be non-negative integers, got 'x'"):
        load_grid({"seeds": ["x"], "grid": {"a": [1]}})
    with pytest.raises(ScenarioError, match=r"grid: b value \[1.0, nan\] is not a finite"):
        load_grid({"grid": {"a": [1], "b": [[1.0, float("nan")]]}})
