"""Pricing model per hedger: the manager's view carries the agent's model greeks."""

from __future__ import annotations

import numpy as np

from agents import BookPosition, ManagerConfig, RiskManager
from agents.models import BSMModel, HestonModel, MertonModel, model_greeks
from market import MarketConfig, MarketSimulator
from market.config import HestonWorld
from market.pricing import bsm_greeks, heston_greeks


def test_bsm_model_greeks_equal_the_quoted_greeks() -> None:
    sim = MarketSimulator(MarketConfig(), 3, 1 / 365, 365.0, 0, 0, 5)
    ev = sim.start()[-1]
    g = model_greeks(BSMModel(), ev, np.full(5, 105.0), 0.1, True)
    ref = bsm_greeks(ev.spot, 105.0, 0.1, 0.2)
    np.testing.assert_allclose(g["delta"], ref.delta, rtol=1e-14)


def test_views_use_each_agents_model() -> None:
    world = HestonWorld(v0=0.04, kappa=2.0, theta_var=0.04, xi=0.5, rho=-0.7)
    sim = MarketSimulator(MarketConfig(kind="heston", heston=world), 3, 1 / 365, 365.0, 0, 0, 6)
    heston = HestonModel(kappa=2.0, theta_var=0.04, xi=0.5, rho=-0.7, min_variance=False)
    mgr = RiskManager(
        ManagerConfig(),
        ["h", "b"],
        (BookPosition(qty=-10.0),),
        6,
        365.0,
        models={"h": heston, "b": BSMModel()},
    )
    events = sim.start()
    turn_h = mgr.begin_step(events)
    assert turn_h.view.model == "heston"
    ev = events[-1]
    line = next(iter(mgr.portfolio.lines.values()))
    ref = heston_greeks(
        ev.spot, line.strike, line.expiry, ev.surface.variance, 2.0, 0.04, 0.5, -0.7
    )
    np.testing.assert_allclose(turn_h.view.delta, -10.0 * ref.delta, rtol=1e-10)
    turn_b = mgr.submit("h", [])
    assert turn_b.view.model == "bsm"
    assert not np.allclose(turn_b.view.delta, turn_h.view.delta)


def test_min_variance_merton_delta_reduces_to_plain_delta_without_jumps() -> None:
    sim = MarketSimulator(MarketConfig(), 3, 1 / 365, 365.0, 0, 0, 4)
    ev = sim.start()[-1]
    plain = model_greeks(MertonModel(lam=0.0, min_variance=False), ev, np.full(4, 100.0), 0.2, True)
    mv = model_greeks(MertonModel(lam=0.0), ev, np.full(4, 100.0), 0.2, True)
    np.testing.assert_array_equal(plain["delta"], mv["delta"])
