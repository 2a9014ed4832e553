"""RiskManager: cascade, views after earlier orders, hard limits, fills, breaches."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from agents import BookPosition, ManagerConfig, RiskManager, cascade_order
from market import CostModel, InstrumentSpec, MarketConfig, MarketSimulator, Order


def _market(n: int = 8) -> MarketSimulator:
    cfg = MarketConfig(
        instruments=(
            InstrumentSpec(name="underlying", kind="underlying", cost=CostModel(half_spread_bps=2)),
            InstrumentSpec(name="gamma_opt", tenor_days=14, relist_days=7),
        )
    )
    return MarketSimulator(cfg, 10, 1 / 365, 365.0, 1, 0, n)


def _manager(n: int = 8, **kw: object) -> RiskManager:
    cfg = ManagerConfig(budget=100.0, **kw)  # type: ignore[arg-type]
    book = (BookPosition(is_call=True, expiry_days=30, qty=-10.0),)
    costs = {"underlying": CostModel(half_spread_bps=2), "gamma_opt": CostModel()}
    return RiskManager(cfg, ["g", "d"], book, n, 365.0, costs)


def test_cascade_runs_vega_gamma_delta_then_the_rest_in_scenario_order() -> None:
    agents = [("mine", None), ("d", "delta"), ("g", "gamma"), ("v", "vega"), ("other", None)]
    assert cascade_order(agents) == ["v", "g", "d", "mine", "other"]


def test_each_agent_sees_the_book_after_the_orders_before_it() -> None:
    m, mgr = _market(), _manager()
    events = m.start()
    turn = mgr.begin_step(events)
    q = events[-1].quote("gamma_opt")
    buy = np.full(8, 4.0)
    after = mgr.submit("g", [Order(0, "g", "gamma_opt", buy)])
    np.testing.assert_allclose(after.view.gamma, turn.view.gamma + buy * q.gamma, rtol=1e-14)
    np.testing.assert_allclose(after.view.delta, turn.view.delta + buy * q.delta, rtol=1e-14)
    np.testing.assert_allclose(after.view.vega, turn.view.vega + buy * q.vega, rtol=1e-14)
    assert turn.notices[0].reason == "initial"


def test_max_order_rejects_only_the_breaching_paths() -> None:
    m, mgr = _market(), _manager(max_order={"underlying": 5.0})
    events = m.start()
    mgr.begin_step(events)
    qty = np.array([1.0, -6.0, 5.0, 7.0, 0.0, -5.0, 2.0, 9.0])
    mgr.submit("g", [])
    mgr.submit("d", [Order(0, "d", "underlying", qty)])
    (net,) = mgr.net_orders()
    np.testing.assert_array_equal(net.qty, np.where(np.abs(qty) > 5.0, 0.0, qty))
    np.testing.assert_array_equal(mgr.rejected, (np.abs(qty) > 5.0).astype(int))


def test_settle_nets_orders_and_splits_fills_and_costs() -> None:
    m, mgr = _market(), _manager()
    events = m.start()
    mgr.begin_step(events)
    mgr.submit("g", [Order(0, "g", "underlying", np.full(8, 3.0))])
    mgr.submit("d", [Order(0, "d", "underlying", np.full(8, -1.0))])
    mgr.settle()
    fills = mgr.take_fills()
    spot = events[-1].spot
    net_cost = 2.0 * spot * 2e-4
    np.testing.assert_allclose(fills["g"][0].cost, net_cost * 3 / 4, rtol=1e-14)
    np.testing.assert_allclose(fills["d"][0].cost, net_cost * 1 / 4, rtol=1e-14)
    np.testing.assert_array_equal(mgr.portfolio.stock, np.full(8, 2.0))
    np.testing.assert_allclose(mgr.portfolio.cost, net_cost, rtol=1e-14)
    # fills reach the agents with their next turn
    mgr2 = _manager()
    mgr2.begin_step(events)
    mgr2.submit("g", [])
    mgr2.submit("d", [Order(0, "d", "underlying", np.ones(8))])
    mgr2.settle()
    turn = mgr2.begin_step(m.step())
    assert [f.agent for f in turn.fills["d"]] == ["d"] and turn.fills["g"] == []


def test_breaches_count_steps_over_budget() -> None:
    m, mgr = _market(), _manager()
    events = m.start()
    turn = mgr.begin_step(events)
    over = turn.view.stressed_loss > 100.0
    mgr.settle()
    np.testing.assert_array_equal(mgr.breaches, over.astype(int))


def test_weights_over_one_are_refused() -> None:
    with pytest.raises(ValidationError, match="weights must sum"):
        ManagerConfig(weights={"delta": 0.6, "gamma": 0.6})


def test_orders_out_of_turn_or_misstamped_are_refused() -> None:
    m, mgr = _market(), _manager()
    mgr.begin_step(m.start())
    with pytest.raises(RuntimeError, match="out of turn"):
        mgr.submit("d", [])
    with pytest.raises(RuntimeError, match="stamped step 3"):
        mgr.submit("g", [Order(3, "g", "underlying", np.ones(8))])
