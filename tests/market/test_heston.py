"""Heston: Monte Carlo agreement, the xi -> 0 limit, parity, greeks, parameter errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.pricing import bsm_price, feller_ok, heston_greeks, heston_price

P = {"v0": 0.04, "kappa": 1.5, "theta_var": 0.05, "xi": 0.4, "rho": -0.6}


def _mc(tau: float, strikes: np.ndarray, n: int = 100_000, steps: int = 250, seed: int = 5):
    """Full-truncation Euler Monte Carlo of the same model, r = q = 0, S0 = 100."""
    rng = np.random.default_rng(seed)
    dt = tau / steps
    x, v = np.zeros(n), np.full(n, P["v0"])
    for _ in range(steps):
        z1, z2 = rng.standard_normal(n), rng.standard_normal(n)
        zv = P["rho"] * z1 + np.sqrt(1 - P["rho"] ** 2) * z2
        vp = np.maximum(v, 0.0)
        x += -0.5 * vp * dt + np.sqrt(vp * dt) * z1
        v += P["kappa"] * (P["theta_var"] - vp) * dt + P["xi"] * np.sqrt(vp * dt) * zv
    s = 100.0 * np.exp(x)
    pay = np.maximum(s[None, :] - strikes[:, None], 0.0)
    return pay.mean(axis=1), pay.std(axis=1) / np.sqrt(n)


@pytest.mark.parametrize("tau", [0.05, 0.5])
def test_prices_agree_with_monte_carlo_including_short_and_deep_otm(tau: float) -> None:
    strikes = (
        np.array([70.0, 90.0, 100.0, 110.0, 130.0])
        if tau > 0.1
        else np.array([90.0, 97.0, 100.0, 103.0, 110.0])
    )
    mc, se = _mc(tau, strikes)
    price = heston_price(100.0, strikes, tau, **P)
    assert np.all(np.abs(price - mc) <= 3 * se + 1e-4), (price, mc, se)


def test_xi_to_zero_is_bsm_at_the_average_variance() -> None:
    k, tau = np.array([60.0, 100.0, 150.0]), 0.75
    v0, kappa, th = 0.09, 2.0, 0.04
    w = th + (v0 - th) * (1 - np.exp(-kappa * tau)) / (kappa * tau)
    h = heston_price(100.0, k, tau, v0, kappa, th, 0.0, 0.3, 0.03, 0.01)
    np.testing.assert_allclose(h, bsm_price(100.0, k, tau, np.sqrt(w), 0.03, 0.01), rtol=1e-10)


@settings(max_examples=60, deadline=None)
@given(
    k=st.floats(50, 200),
    tau=st.floats(0.02, 3.0),
    v0=st.floats(0.005, 0.3),
    xi=st.floats(0.05, 1.2),
    rho=st.floats(-0.95, 0.5),
    r=st.floats(-0.01, 0.08),
    q=st.floats(0.0, 0.05),
)
def test_put_call_parity(k, tau, v0, xi, rho, r, q) -> None:
    c = heston_price(100.0, k, tau, v0, 2.0, 0.05, xi, rho, r, q, True)
    p = heston_price(100.0, k, tau, v0, 2.0, 0.05, xi, rho, r, q, False)
    fwd = 100.0 * np.exp(-q * tau) - k * np.exp(-r * tau)
    # parity holds by construction above intrinsic; the floor at intrinsic may bind a hair
    assert abs((c - p) - fwd) < 1e-7 * 100


def test_greeks_agree_with_finite_differences_of_the_price() -> None:
    k, tau = np.array([85.0, 100.0, 120.0]), 0.4
    g = heston_greeks(100.0, k, tau, **P)
    h = 0.05
    up, dn = heston_price(100.0 + h, k, tau, **P), heston_price(100.0 - h, k, tau, **P)
    np.testing.assert_allclose(g.delta, (up - dn) / (2 * h), rtol=1e-4, atol=1e-6)
    h = 0.2
    up, dn = heston_price(100.0 + h, k, tau, **P), heston_price(100.0 - h, k, tau, **P)
    np.testing.assert_allclose(g.gamma, (up - 2 * g.price + dn) / h**2, rtol=5e-3, atol=1e-6)
    p2 = {**P, "v0": P["v0"] + 1e-4}
    fd_v0 = (heston_price(100.0, k, tau, **p2) - g.price) / 1e-4
    np.testing.assert_allclose(g.vega_v0, fd_v0, rtol=5e-3)
    np.testing.assert_allclose(g.vega, g.vega_v0 * 2 * np.sqrt(P["v0"]), rtol=1e-3)
    theta_fd = (
        -(heston_price(100.0, k, tau + 1e-3, **P) - heston_price(100.0, k, tau - 1e-3, **P)) / 2e-3
    )
    np.testing.assert_allclose(g.theta, theta_fd, rtol=1e-3)


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("v0", -0.01, "v0"),
        ("theta_var", -1.0, "theta_var"),
        ("kappa", 0.0, "kappa"),
        ("xi", -0.1, "xi"),
        ("rho", 1.2, "rho"),
    ],
)
def test_bad_parameters_name_the_parameter(field, value, needle) -> None:
    with pytest.raises(ValueError, match=needle):
        heston_price(100.0, 100.0, 1.0, **{**P, field: value})


def test_feller_condition() -> None:
    assert feller_ok(2.0, 0.04, 0.3) and not feller_ok(0.5, 0.02, 0.5)
