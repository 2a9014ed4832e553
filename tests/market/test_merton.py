"""Merton jump-diffusion: zero intensity is BSM, Monte Carlo, parity, greeks, errors."""

from __future__ import annotations

import numpy as np
import pytest

from market.pricing import bsm_greeks, bsm_price, merton_greeks, merton_price

J = {"lam": 1.5, "jump_mean": -0.08, "jump_std": 0.12}


def test_zero_intensity_is_bsm() -> None:
    k = np.array([70.0, 100.0, 140.0])
    np.testing.assert_allclose(
        merton_price(100.0, k, 0.7, 0.25, 0.0, -0.1, 0.2, 0.03, 0.01),
        bsm_price(100.0, k, 0.7, 0.25, 0.03, 0.01),
        rtol=1e-14,
    )


def test_agrees_with_monte_carlo() -> None:
    rng = np.random.default_rng(3)
    n, tau, vol, r = 400_000, 0.5, 0.2, 0.02
    k_comp = np.exp(J["jump_mean"] + 0.5 * J["jump_std"] ** 2) - 1
    count = rng.poisson(J["lam"] * tau, n)
    jumps = count * J["jump_mean"] + np.sqrt(count) * J["jump_std"] * rng.standard_normal(n)
    x = (r - J["lam"] * k_comp - 0.5 * vol**2) * tau + vol * np.sqrt(tau) * rng.standard_normal(n)
    s = 100.0 * np.exp(x + jumps)
    strikes = np.array([70.0, 100.0, 130.0])
    pay = np.exp(-r * tau) * np.maximum(s[None, :] - strikes[:, None], 0.0)
    mc, se = pay.mean(axis=1), pay.std(axis=1) / np.sqrt(n)
    price = merton_price(100.0, strikes, tau, vol, **J, rate=r)
    assert np.all(np.abs(price - mc) <= 3 * se), (price, mc, se)


def test_put_call_parity() -> None:
    k = np.linspace(60, 160, 11)
    c = merton_price(100.0, k, 1.2, 0.3, **J, rate=0.04, div=0.02, is_call=True)
    p = merton_price(100.0, k, 1.2, 0.3, **J, rate=0.04, div=0.02, is_call=False)
    fwd = 100.0 * np.exp(-0.02 * 1.2) - k * np.exp(-0.04 * 1.2)
    np.testing.assert_allclose(c - p, fwd, atol=1e-10)


def test_greeks_agree_with_finite_differences() -> None:
    k, tau, vol = np.array([80.0, 100.0, 125.0]), 0.6, 0.22
    g = merton_greeks(100.0, k, tau, vol, **J)
    h = 1e-3

    def price(s=100.0, v=vol, t=tau):
        return merton_price(s, k, t, v, **J)

    np.testing.assert_allclose(g.delta, (price(100 + h) - price(100 - h)) / (2 * h), rtol=1e-6)
    np.testing.assert_allclose(
        g.gamma, (price(100 + 0.1) - 2 * price() + price(100 - 0.1)) / 0.01, rtol=1e-4
    )
    np.testing.assert_allclose(g.vega, (price(v=vol + h) - price(v=vol - h)) / (2 * h), rtol=1e-5)
    np.testing.assert_allclose(g.theta, -(price(t=tau + h) - price(t=tau - h)) / (2 * h), rtol=1e-5)
    zero = merton_greeks(100.0, k, tau, vol, 0.0, 0.0, 0.1)
    ref = bsm_greeks(100.0, k, tau, vol)
    np.testing.assert_allclose(zero.delta, ref.delta, rtol=1e-14)
    np.testing.assert_allclose(zero.vega, ref.vega, rtol=1e-14)


@pytest.mark.parametrize(
    ("kw", "needle"),
    [({"lam": -1.0}, "lam"), ({"jump_std": -0.1}, "jump_std"), ({"vol": -0.2}, "vol")],
)
def test_bad_parameters_name_the_parameter(kw, needle) -> None:
    args = {"vol": 0.2, **J, **kw}
    with pytest.raises(ValueError, match=needle):
        merton_price(100.0, 100.0, 1.0, **args)
