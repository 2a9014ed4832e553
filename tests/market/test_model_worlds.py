"""The Heston and Merton worlds: their paths follow the model's law, their quotes its prices.

Moments of simulated log returns against the model's (each within 4 standard
errors of the estimate, seeded), and every listed option quoted at
``heston_price`` / ``merton_price`` of the world's state to 1e-10.
"""

from __future__ import annotations

import numpy as np

from market import InstrumentSpec, MarketConfig, MarketSimulator
from market.config import HestonWorld, MertonWorld
from market.pricing import heston_price, merton_price

N, YEAR = 20_000, 365.0
RATE, DIV = 0.03, 0.01
MERTON = MertonWorld(vol=0.15, lam=3.0, jump_mean=-0.05, jump_std=0.08)
HESTON = HestonWorld(v0=0.09, kappa=2.0, theta_var=0.04, xi=0.3, rho=-0.7)  # Feller holds
OPTIONS = (
    InstrumentSpec(name="underlying", kind="underlying"),
    InstrumentSpec(name="call", tenor_days=30.0, relist_days=7.0, moneyness=1.05),
    InstrumentSpec(name="put", tenor_days=60.0, relist_days=7.0, is_call=False, moneyness=0.95),
)


def _within(sample: np.ndarray, exact: float, what: str) -> None:
    """The sample mean is within 4 standard errors of ``exact``."""
    se = sample.std() / np.sqrt(sample.size)
    assert abs(sample.mean() - exact) < 4 * se, (what, sample.mean(), exact, se)


def _paths(kind: str, steps: int, n: int = N, instruments=None, seed: int = 11):
    extra = {} if instruments is None else {"instruments": instruments}
    cfg = MarketConfig(kind=kind, merton=MERTON, heston=HESTON, rate=RATE, div=DIV, **extra)
    sim = MarketSimulator(cfg, steps, 1 / YEAR, YEAR, seed, 0, n)
    return [sim.start()[-1]] + [sim.step()[-1] for _ in range(steps)]


def test_merton_log_returns_have_the_models_cumulants() -> None:
    steps = 30
    events = _paths("merton", steps)
    t = steps / YEAR
    x = np.log(events[-1].spot / events[0].spot)
    m = MERTON
    k = np.exp(m.jump_mean + 0.5 * m.jump_std**2) - 1.0
    jm, js, lt = m.jump_mean, m.jump_std, m.lam * t
    mean = (RATE - DIV - m.lam * k - 0.5 * m.vol**2) * t + lt * jm
    var = m.vol**2 * t + lt * (jm**2 + js**2)
    k3 = lt * (jm**3 + 3 * jm * js**2)  # the jumps' skew
    _within(x, mean, "mean")
    c = x - mean
    _within(c**2, var, "variance")
    _within(c**3, k3, "third cumulant")
    assert k3 < -4 * (c**3).std() / np.sqrt(N)  # the jump skew is seen, not just allowed
    _within(events[-1].spot / events[0].spot, np.exp((RATE - DIV) * t), "forward")


def test_heston_paths_have_the_models_mean_variance_and_covariation() -> None:
    steps, dt = 60, 1 / YEAR
    events = _paths("heston", steps)
    h = HESTON
    t = steps * dt
    decay = np.exp(-h.kappa * t)
    v = np.array([e.surface.variance for e in events])  # v+ at each step, [steps + 1, n]
    _within(v[-1], h.theta_var + (h.v0 - h.theta_var) * decay, "E[v_T]")
    integral = h.theta_var * t + (h.v0 - h.theta_var) * (1 - decay) / h.kappa
    x = np.log(events[-1].spot / events[0].spot)
    _within(x, (RATE - DIV) * t - 0.5 * integral, "E[log S_T]")
    _within(events[-1].spot / events[0].spot, np.exp((RATE - DIV) * t), "forward")
    # The martingale parts: X = int sqrt(v) dW_S, Y = xi int sqrt(v) dW_v.
    # E[X^2] = int E[v], E[Y^2] = xi^2 int E[v], E[XY] = rho xi int E[v].
    iv = v[:-1].sum(axis=0) * dt
    mart_x = x - (RATE - DIV) * t + 0.5 * iv
    mart_y = v[-1] - h.v0 - h.kappa * (h.theta_var * t - iv)
    _within(mart_x, 0.0, "E[X]")
    _within(mart_x**2 - iv, 0.0, "E[X^2] - int v")
    _within(mart_y**2 - h.xi**2 * iv, 0.0, "E[Y^2] - xi^2 int v")
    _within(mart_x * mart_y - h.rho * h.xi * iv, 0.0, "E[XY] - rho xi int v")
    assert abs(np.corrcoef(mart_x, mart_y)[0, 1] - h.rho) < 0.02


def test_model_worlds_quote_options_at_their_models_prices() -> None:
    for kind in ("heston", "merton"):
        for ev in _paths(kind, 8, n=200, instruments=OPTIONS)[::4]:
            for q in ev.quotes[1:]:
                tau = q.expiry - ev.time
                if kind == "heston":
                    h = HESTON
                    law = (ev.surface.variance, h.kappa, h.theta_var, h.xi, h.rho)
                    price = heston_price(ev.spot, q.strike, tau, *law, RATE, DIV, q.is_call)
                else:
                    m = MERTON
                    law = (m.vol, m.lam, m.jump_mean, m.jump_std)
                    price = merton_price(ev.spot, q.strike, tau, *law, RATE, DIV, q.is_call)
                np.testing.assert_allclose(q.mid, price, rtol=1e-10, err_msg=f"{kind} {q.contract}")
