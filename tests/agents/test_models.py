"""Pricing model per hedger: the manager's view carries the agent's model greeks."""

from __future__ import annotations

import numpy as np

from agents import BookPosition, ManagerConfig, RiskManager
from agents.models import MODEL_GREEKS, BSMModel, HestonModel, MertonModel, model_greeks
from market import MarketConfig, MarketSimulator, SurfaceConfig
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


def _event(kind: str = "gbm", **world: object):
    cfg = MarketConfig(kind=kind, **world)  # type: ignore[arg-type]
    sim = MarketSimulator(cfg, 4, 1 / 365, 365.0, 1, 0, 5)
    sim.start()
    sim.step()
    return sim.step()[-1]


def _fd_greeks(price, s: np.ndarray, tau: float, vol: np.ndarray) -> dict[str, np.ndarray]:
    """Central differences of a price function ``price(spot, tau, vol)``."""
    hs, hv, ht = 1e-4 * s, 1e-4, 1e-5
    up, mid, dn = price(s + hs, tau, vol), price(s, tau, vol), price(s - hs, tau, vol)
    return {
        "delta": (up - dn) / (2 * hs),
        "gamma": (up - 2 * mid + dn) / hs**2,
        "vega": (price(s, tau, vol + hv) - price(s, tau, vol - hv)) / (2 * hv),
        "theta": -(price(s, tau + ht, vol) - price(s, tau - ht, vol)) / (2 * ht),
    }


STRIKES = np.array([90.0, 95.0, 100.0, 105.0, 110.0])
EXPIRY = 0.1


def test_every_bsm_greek_is_the_derivative_of_the_price_at_the_quoted_vol() -> None:
    from market.pricing import bsm_price
    from market.surface import implied_vol

    ev = _event(surface=SurfaceConfig(atm=0.2, skew=-0.1))
    tau = EXPIRY - ev.time
    iv = implied_vol(ev.surface, ev.spot, STRIKES, ev.time, EXPIRY)
    for call in (True, False):
        g = model_greeks(BSMModel(), ev, STRIKES, EXPIRY, call)
        ref = bsm_greeks(ev.spot, STRIKES, tau, iv, ev.rate, ev.div, call)
        fd = _fd_greeks(
            lambda s, t, v, call=call: bsm_price(s, STRIKES, t, v, ev.rate, ev.div, call),
            ev.spot,
            tau,
            iv,
        )
        for k in MODEL_GREEKS:
            np.testing.assert_allclose(g[k], getattr(ref, k), rtol=1e-14, err_msg=k)
            np.testing.assert_allclose(g[k], fd[k], rtol=5e-6, atol=1e-8, err_msg=k)


def _jump_cov(price, s: float, k: float, tau: float, vol: float, model: MertonModel) -> float:
    """``E[(J - 1)(V(S J) - V(S))]`` over the log-normal jump, by adaptive quadrature."""
    from scipy import integrate

    base = float(price(np.array([s]), tau, vol, strike=k)[0])

    def f(z: float) -> float:
        j = np.exp(model.jump_mean + model.jump_std * z)
        shifted = float(price(np.array([s * j]), tau, vol, strike=k)[0])
        return (j - 1.0) * (shifted - base) * np.exp(-0.5 * z * z)

    return integrate.quad(f, -12, 12, epsabs=1e-13, epsrel=1e-12)[0] / np.sqrt(2 * np.pi)


def test_every_merton_greek_with_jumps_on() -> None:
    from market.pricing import merton_price

    model = MertonModel(lam=1.0, jump_mean=-0.05, jump_std=0.08)
    ev = _event()
    tau = EXPIRY - ev.time
    # the diffusion vol: what the jumps leave of the quoted ATM variance
    vol = np.sqrt(0.2**2 - 1.0 * (0.05**2 + 0.08**2))
    jumps = (model.lam, model.jump_mean, model.jump_std)
    for call in (True, False):

        def price(s, t, v, call=call, strike=STRIKES):
            return merton_price(s, strike, t, v, *jumps, ev.rate, ev.div, call)

        fd = _fd_greeks(price, ev.spot, tau, np.full(5, vol))
        plain = model_greeks(
            model.model_copy(update={"min_variance": False}), ev, STRIKES, EXPIRY, call
        )
        mv = model_greeks(model, ev, STRIKES, EXPIRY, call)
        for k in MODEL_GREEKS:
            np.testing.assert_allclose(plain[k], fd[k], rtol=5e-6, atol=1e-8, err_msg=k)
        for k in ("gamma", "vega", "theta"):
            np.testing.assert_array_equal(mv[k], plain[k])
        # minimum-variance delta, the jump expectation by adaptive quadrature
        covs = np.array(
            [_jump_cov(price, ev.spot[i], STRIKES[i], tau, vol, model) for i in range(5)]
        )
        s = ev.spot
        mean_j, std_j = model.jump_mean, model.jump_std
        ej, ej2 = np.exp(mean_j + std_j**2 / 2), np.exp(2 * mean_j + 2 * std_j**2)
        var_j = ej2 - 2 * ej + 1.0
        exact = (vol**2 * s * s * fd["delta"] + 1.0 * s * covs) / (s * s * (vol**2 + var_j))
        np.testing.assert_allclose(mv["delta"], exact, rtol=5e-6)
        assert np.all(np.abs(mv["delta"] - plain["delta"]) > 1e-3)  # the jumps matter


def test_every_heston_greek_is_the_derivative_of_the_heston_price() -> None:
    from market.pricing import heston_price

    world = HestonWorld(v0=0.04, kappa=2.0, theta_var=0.04, xi=0.5, rho=-0.7)
    ev = _event("heston", heston=world)
    tau = EXPIRY - ev.time
    par = (1.5, 0.05, 0.6, -0.6)  # the hedger's own parameters, not the world's
    model = HestonModel(kappa=par[0], theta_var=par[1], xi=par[2], rho=par[3])
    v0 = ev.surface.variance
    for call in (True, False):

        def price(s, t, vol, call=call):
            return heston_price(s, STRIKES, t, vol**2, *par, ev.rate, ev.div, call)

        fd = _fd_greeks(price, ev.spot, tau, np.sqrt(v0))
        plain = model_greeks(
            model.model_copy(update={"min_variance": False}), ev, STRIKES, EXPIRY, call
        )
        mv = model_greeks(model, ev, STRIKES, EXPIRY, call)
        for k in MODEL_GREEKS:
            np.testing.assert_allclose(plain[k], fd[k], rtol=5e-6, atol=1e-6, err_msg=k)
        # minimum variance: + rho xi dV/dv0 / S, with dV/dv0 = vega / (2 sqrt(v0))
        dv0 = fd["vega"] / (2 * np.sqrt(v0))
        np.testing.assert_allclose(
            mv["delta"], fd["delta"] + par[3] * par[2] * dv0 / ev.spot, rtol=5e-6, atol=1e-6
        )
