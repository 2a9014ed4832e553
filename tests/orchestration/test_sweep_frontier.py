"""``gammaray sweep --budgets ... --frontier``: cost against CVaR95 per configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestration import load_scenario
from orchestration.cli import main
from orchestration.sweep import budget_field, frontier, with_budgets


def _row(cfg: str, budget: float, cost: float, cvar: float, seed: int = 1) -> dict:
    return {
        "run": 0,
        "seed": seed,
        f"configs.{cfg}.manager.budget": budget,
        "config": cfg,
        "transaction_cost": cost,
        "cvar_95": cvar,
        "error": None,
    }


def test_the_frontier_averages_seeds_and_marks_dominated_points() -> None:
    rows = [
        _row("static", 100, 10.0, 50.0),
        _row("static", 100, 12.0, 54.0, seed=2),  # mean (11, 52)
        _row("static", 200, 8.0, 60.0),
        _row("static", 400, 9.0, 70.0),  # dominated by static@200
        _row("cheap", 100, 7.0, 50.0),  # dominates static@100 and @200? (7<=8, 50<=60)
        _row("cheap", 200, 5.0, 65.0),
        {**_row("broken", 100, 0.0, 0.0), "error": "ValueError: x"},
    ]
    table = frontier(rows)
    by = {(p["config"], p["budget"]): p for p in table}
    assert set(by) == {
        ("static", 100),
        ("static", 200),
        ("static", 400),
        ("cheap", 100),
        ("cheap", 200),
    }
    s100 = by[("static", 100)]
    assert s100["runs"] == 2 and s100["transaction_cost"] == 11.0 and s100["cvar_95"] == 52.0
    assert not by[("static", 400)]["efficient"] and by[("static", 200)]["efficient"]
    assert by[("static", 100)]["dominated_by"] == "cheap"
    assert by[("static", 200)]["dominated_by"] == "cheap"
    assert by[("static", 400)]["dominated_by"] == "cheap"  # cheap@200: 5 <= 9, 65 <= 70
    assert by[("cheap", 100)]["dominated_by"] == "" and by[("cheap", 200)]["efficient"]


def test_with_budgets_sets_every_configuration_alike_and_refuses_bad_budgets() -> None:
    from orchestration.config import ScenarioError

    sc = load_scenario(str(Path(__file__).parents[2] / "scenarios" / "custom_manager.py"))
    assert budget_field(sc, "static") == "configs.static.manager.budget"
    assert budget_field(sc, "desk") == "configs.desk.manager.config.budget"
    runs = with_budgets(sc, [{"run": 0, "seed": 3, "overrides": {}}], [100.0, 200.0])
    assert [r["overrides"]["configs.desk.manager.config.budget"] for r in runs] == [100.0, 200.0]
    assert [r["run"] for r in runs] == [0, 1] and all(r["seed"] == 3 for r in runs)
    with pytest.raises(ScenarioError, match="--budgets: -1"):
        with_budgets(sc, [{"run": 0, "seed": None, "overrides": {}}], [-1])


@pytest.mark.slow
def test_sweep_frontier_writes_the_table_and_the_plot(tmp_path: Path, capsys) -> None:
    out = tmp_path / "sw"
    argv = [
        "sweep",
        "macro_gap",
        "--runtime",
        "local",
        "--paths",
        "96",
        "--budgets",
        "300,1200",
        "--frontier",
        "--out",
        str(out),
        "--no-progress",
        "--set",
        "days=3",
        "--set",
        "market.gap.day=1.5",
    ]
    assert main(argv) == 0
    table = json.loads((out / "frontier.json").read_text())
    sweep = json.loads((out / "sweep.json").read_text())
    assert len(sweep) == 2 * 5 and len(table) == 2 * 5  # 2 budgets x 5 configurations
    for p in table:
        row = next(
            r
            for r in sweep
            if r["config"] == p["config"]
            and r[f"configs.{p['config']}.manager.budget"] == p["budget"]
        )
        assert p["transaction_cost"] == row["transaction_cost"] and p["cvar_95"] == row["cvar_95"]
    assert (out / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "frontier.csv").read_text().startswith("config,point,budget,runs,")
    assert not list(out.glob(".*tmp*"))


def test_bad_budgets_exit_2_and_write_nothing(tmp_path: Path, capsys) -> None:
    out = tmp_path / "never"
    rc = main(
        [
            "sweep",
            "macro_gap",
            "--runtime",
            "local",
            "--budgets",
            "300,abc",
            "--frontier",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "--budgets '300,abc'" in err and len(err.splitlines()) == 1
    assert not out.exists()
