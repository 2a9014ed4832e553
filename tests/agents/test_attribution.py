"""P&L attribution: buckets sum to the P&L on every path; small remainder in a BSM world."""

from __future__ import annotations

import numpy as np
from conftest import bsm_world_scenario, small_gap_scenario

from agents.attribution import BUCKETS
from orchestration import apply_overrides, run_local


def _check_sums(results) -> None:
    for name, r in results.items():
        assert set(r.attribution) == set(BUCKETS)
        total = sum(r.attribution[b] for b in BUCKETS)
        scale = np.maximum(np.abs(r.pnl), 1.0)
        assert np.all(np.abs(total - r.pnl) <= 1e-9 * scale), name


def test_attribution_sums_to_total_pnl_on_every_path_with_costs_rolls_and_gaps() -> None:
    _check_sums(run_local(small_gap_scenario(n_paths=400, days=8.0)))


def test_attribution_sums_with_carry_and_dividends() -> None:
    sc = apply_overrides(bsm_world_scenario(n_paths=300), ["market.rate=0.05", "market.div=0.02"])
    res = run_local(sc)
    _check_sums(res)
    assert np.all(res["delta"].attribution["carry"] != 0.0)


def test_a_bsm_book_in_a_bsm_world_leaves_little_unexplained() -> None:
    res = run_local(bsm_world_scenario(n_paths=2000, steps_per_day=4))["unhedged"]
    unexplained = np.abs(res.attribution["unexplained"]).mean()
    gamma = np.abs(res.attribution["gamma"]).mean()
    assert unexplained < 0.1 * gamma, (unexplained, gamma)
    # delta and gamma carry the P&L of an unhedged short call
    assert np.corrcoef(res.attribution["delta"], res.pnl)[0, 1] > 0.8
