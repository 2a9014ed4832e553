"""The step protocol in-process: hedging laws and determinism."""

from __future__ import annotations

import numpy as np
from conftest import bsm_world_scenario, small_gap_scenario

from orchestration import config_metrics, run_local


def test_delta_hedging_error_falls_like_one_over_sqrt_rebalances() -> None:
    # Black-Scholes world, zero costs, short one 30-day ATM call hedged at every step:
    # the hedging error's std scales like 1/sqrt(number of rebalances).
    daily = run_local(bsm_world_scenario(n_paths=8000, steps_per_day=1))
    four = run_local(bsm_world_scenario(n_paths=8000, steps_per_day=4))
    s1, s4 = daily["delta"].pnl.std(), four["delta"].pnl.std()
    assert 1.75 < s1 / s4 < 2.25, (s1, s4)
    # hedging removes most of the unhedged risk, and costs nothing here
    assert s1 < 0.15 * daily["unhedged"].pnl.std()
    assert float(np.abs(daily["delta"].cost).max()) == 0.0


def test_unhedged_short_call_pnl_is_zero_on_average_in_a_risk_neutral_world() -> None:
    res = run_local(bsm_world_scenario(n_paths=20000, steps_per_day=1))
    pnl = res["unhedged"].pnl
    assert abs(pnl.mean()) < 4 * pnl.std() / np.sqrt(pnl.size)


def test_same_scenario_and_seed_give_the_same_bits() -> None:
    sc = small_gap_scenario()
    a, b = run_local(sc), run_local(sc)
    for name in sc.configs:
        assert a[name].pnl.tobytes() == b[name].pnl.tobytes()
    other = run_local(sc.model_copy(update={"seed": sc.seed + 1}))
    assert other["delta"].pnl.tobytes() != a["delta"].pnl.tobytes()


def test_configurations_share_identical_paths() -> None:
    # Same market for every configuration: with no trades, unhedged P&L equals
    # the book's P&L; and the delta config's first-step quote is the same.
    sc = small_gap_scenario()
    res = run_local(sc)
    m = {k: config_metrics(v, 1.645) for k, v in res.items()}
    assert m["unhedged"]["transaction_cost"] == 0.0
    assert len({v["pnl_sha256"] for v in m.values()}) == len(m)
