"""The CPI intraday scenario: seeded smoke test, its clock, and the cost of latency."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from market.clock import CLOCK_TOL, minutes_to_years
from orchestration import config_metrics, load_scenario, run_local

YEAR = 365.0


def test_the_clock_is_daily_with_one_minute_steps_from_0800_to_1030_on_release_day() -> None:
    sc = load_scenario("cpi_intraday")
    tl = sc.timeline
    grid = np.asarray(tl.times)[np.asarray(tl.on_grid)]
    release = (2 + 8.5 / 24) / YEAR
    assert tl.times[tl.events["CPI"]] == release
    minute = minutes_to_years(1.0, YEAR)
    window = grid[(grid > 2 / YEAR + CLOCK_TOL) & (grid < 3 / YEAR - CLOCK_TOL)]
    assert window.size == 151
    np.testing.assert_allclose(np.diff(window), minute, rtol=1e-9)
    assert abs(window[0] - (2 + 8 / 24) / YEAR) < CLOCK_TOL
    assert abs(window[-1] - (2 + 10.5 / 24) / YEAR) < CLOCK_TOL
    assert grid.size == 5 + 151  # daily elsewhere
    assert set(sc.configs) == {
        "unhedged",
        "latency_0.1s",
        "latency_5s",
        "latency_60s",
        "latency_900s",
    }


@pytest.mark.slow
def test_smoke_seeded_and_latency_costs() -> None:
    sc = load_scenario("cpi_intraday", ["n_paths=300"])
    res = run_local(sc)
    again = run_local(sc)
    for name, r in res.items():
        assert r.pnl.shape == (300,)
        assert r.pnl.tobytes() == again[name].pnl.tobytes()
    m = {k: config_metrics(v, sc.risk_aversion) for k, v in res.items()}
    fast, slow = m["latency_0.1s"], m["latency_900s"]
    # a slow hedger trades after the follow-through: more slippage, a fatter tail
    assert slow["slippage"] > fast["slippage"]
    assert slow["cvar_95"] > 1.2 * fast["cvar_95"]
    assert fast["cvar_95"] < 0.5 * m["unhedged"]["cvar_95"]
    # every latency is honoured: 0.1 s and 5 s are different runs
    assert m["latency_5s"]["pnl_sha256"] != fast["pnl_sha256"]


def test_summary_json_carries_slippage_per_configuration(tmp_path: Path) -> None:
    from orchestration.cli import main

    out = tmp_path / "run"
    argv = ["run", "cpi_intraday", "--runtime", "local", "--no-progress", "--no-report"]
    assert main([*argv, "--out", str(out), "--set", "n_paths=32", "--set", "days=3"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    for name, cfg in summary["configs"].items():
        assert np.isfinite(cfg["metrics"]["slippage"]), name


@pytest.mark.slow
def test_the_report_plots_pnl_cvar_and_slippage_against_latency(tmp_path: Path) -> None:
    from orchestration.cli import main
    from orchestration.report import config_latencies

    out = tmp_path / "run"
    argv = ["run", "cpi_intraday", "--runtime", "local", "--no-progress"]
    assert main([*argv, "--out", str(out), "--set", "n_paths=32", "--set", "days=3"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert config_latencies(summary) == {
        "latency_0.1s": 0.1,
        "latency_5s": 5.0,
        "latency_60s": 60.0,
        "latency_900s": 900.0,
    }
    png = (out / "latency.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert "<h2>latency</h2>" in (out / "report.html").read_text()


def test_a_run_without_latencies_has_no_latency_plot(tmp_path: Path) -> None:
    from orchestration.cli import main

    out = tmp_path / "run"
    argv = ["run", "macro_gap", "--runtime", "local", "--no-progress", "--paths", "32"]
    assert main([*argv, "--out", str(out), "--set", "days=3", "--set", "market.gap.day=1"]) == 0
    assert not (out / "latency.png").exists()
