"""Merton jump-diffusion: zero intensity is BSM, the textbook series, Monte Carlo,
parity, analytic greeks vs finite differences, truncation, edge cases, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import gammaln

from market.pricing import bsm_greeks, bsm_price, merton_greeks, merton_price

J = {"lam": 1.5, "jump_mean": -0.08, "jump_std": 0.12}


def _textbook(
    spot, strike, tau, vol, lam, jump_mean, jump_std, rate=0.0, div=0.0, call=True, terms=400
):
    """Merton (1976) as usually printed: weights Poisson(lam' tau), lam' = lam (1 + k),
    and a BSM term with ``r_n = r - lam k + n ln(1 + k) / tau`` (full sum from n = 0)."""
    k = np.exp(jump_mean + 0.5 * jump_std**2) - 1
    lam_p = lam * (1 + k)
    total = 0.0
    for n in range(terms):
        w = np.exp(-lam_p * tau + n * np.log(lam_p * tau) - gammaln(n + 1))
        r_n = rate - lam * k + n * np.log(1 + k) / tau
        vol_n = np.sqrt(vol**2 + n * jump_std**2 / tau)
        total = total + w * bsm_price(spot, strike, tau, vol_n, r_n, div, call)
    return total


def test_zero_intensity_is_bsm_exactly() -> None:
    k = np.array([70.0, 100.0, 140.0])[:, None]
    is_call = np.array([True, False])
    got = merton_price(100.0, k, 0.7, 0.25, 0.0, -0.1, 0.2, 0.03, 0.01, is_call)
    np.testing.assert_array_equal(got, bsm_price(100.0, k, 0.7, 0.25, 0.03, 0.01, is_call))
    g = merton_greeks(100.0, k, 0.7, 0.25, np.array([0.0, 0.0]), -0.1, 0.2, 0.03, 0.01, is_call)
    ref = bsm_greeks(100.0, k, 0.7, 0.25, 0.03, 0.01, is_call)
    for field in ("price", "delta", "gamma", "vega", "theta"):
        np.testing.assert_array_equal(getattr(g, field), getattr(ref, field))
    # Mixed: the lam = 0 elements of an array are exact too.
    mixed = merton_price(100.0, 100.0, 0.7, 0.25, np.array([0.0, 1.0]), -0.1, 0.2)
    assert mixed[0] == bsm_price(100.0, 100.0, 0.7, 0.25) and mixed[1] != mixed[0]


@pytest.mark.parametrize(
    ("tau", "vol", "lam", "jump_mean", "jump_std", "rate", "div"),
    [
        (0.5, 0.2, 1.5, -0.08, 0.12, 0.03, 0.01),
        (1 / 365, 0.15, 3.0, -0.2, 0.1, 0.0, 0.0),
        (5.0, 0.1, 0.3, 0.05, 0.3, 0.05, 0.02),
        (2.0, 0.2, 50.0, -0.01, 0.02, 0.01, 0.0),  # lam tau = 100: a window away from 0
    ],
)
def test_agrees_with_the_textbook_series(tau, vol, lam, jump_mean, jump_std, rate, div) -> None:
    k = np.array([40.0, 80.0, 100.0, 120.0, 250.0])
    for call in (True, False):
        want = _textbook(100.0, k, tau, vol, lam, jump_mean, jump_std, rate, div, call)
        tight = merton_price(
            100.0, k, tau, vol, lam, jump_mean, jump_std, rate, div, call, tol=1e-15
        )
        np.testing.assert_allclose(tight, want, rtol=1e-11, atol=1e-13)
        # Default tol = 1e-12 of Poisson mass: error within tol (spot + strike).
        got = merton_price(100.0, k, tau, vol, lam, jump_mean, jump_std, rate, div, call)
        assert np.all(np.abs(got - want) <= 1e-12 * (100.0 + k))


def test_agrees_with_monte_carlo() -> None:
    """Exact simulation: Poisson count, Gaussian sum of log jumps, Gaussian diffusion."""
    rng = np.random.default_rng(3)
    n, tau, vol, r, q = 400_000, 0.5, 0.2, 0.02, 0.01
    k_comp = np.exp(J["jump_mean"] + 0.5 * J["jump_std"] ** 2) - 1
    count = rng.poisson(J["lam"] * tau, n)
    jumps = count * J["jump_mean"] + np.sqrt(count) * J["jump_std"] * rng.standard_normal(n)
    drift = (r - q - J["lam"] * k_comp - 0.5 * vol**2) * tau
    s_t = 100.0 * np.exp(drift + vol * np.sqrt(tau) * rng.standard_normal(n) + jumps)
    strikes = np.array([60.0, 80.0, 95.0, 100.0, 105.0, 120.0, 150.0])
    is_call = strikes >= 100.0
    sign = np.where(is_call, 1.0, -1.0)[:, None]
    pay = np.exp(-r * tau) * np.maximum(sign * (s_t[None, :] - strikes[:, None]), 0.0)
    mc, se = pay.mean(axis=1), pay.std(axis=1, ddof=1) / np.sqrt(n)
    price = merton_price(100.0, strikes, tau, vol, **J, rate=r, div=q, is_call=is_call)
    assert np.all(np.abs(price - mc) <= 3 * se), ((price - mc) / se, se)
    # Martingale: the forward is right (compensated drift).
    assert abs(np.exp(-r * tau) * s_t.mean() - 100.0 * np.exp(-q * tau)) < 3 * s_t.std() / np.sqrt(
        n
    )


@settings(max_examples=60, deadline=None)
@given(
    k=st.floats(30.0, 300.0),
    tau=st.floats(1 / 365, 5.0),
    vol=st.floats(0.0, 1.0),
    lam=st.floats(0.0, 10.0),
    jump_mean=st.floats(-0.5, 0.3),
    jump_std=st.floats(0.0, 0.5),
    r=st.floats(-0.02, 0.1),
    q=st.floats(0.0, 0.05),
)
def test_put_call_parity(k, tau, vol, lam, jump_mean, jump_std, r, q) -> None:
    args = (100.0, k, tau, vol, lam, jump_mean, jump_std, r, q)
    c = merton_price(*args, is_call=True)
    p = merton_price(*args, is_call=False)
    fwd = 100.0 * np.exp(-q * tau) - k * np.exp(-r * tau)
    assert abs((c - p) - fwd) <= 1e-10 * 300
    assert c >= max(fwd, 0.0) - 1e-10 and p >= max(-fwd, 0.0) - 1e-10
    gc = merton_greeks(*args, is_call=True)
    gp = merton_greeks(*args, is_call=False)
    # A riskless forward exactly at the strike is the payoff's kink: the
    # documented convention (delta +-1 strictly in the money, else 0) gives
    # both deltas 0 there, so delta parity holds everywhere but at that point.
    riskless = vol == 0.0 and (lam == 0.0 or (jump_mean == 0.0 and jump_std == 0.0))
    if not (riskless and abs(fwd) <= 1e-12 * k):
        assert abs(gc.delta - gp.delta - np.exp(-q * tau)) <= 1e-9


GREEK_CASES = [
    # strike, tau, vol, lam, jump_mean, jump_std, rate, div, is_call
    (80.0, 0.6, 0.22, 1.5, -0.08, 0.12, 0.02, 0.01, True),
    (100.0, 0.6, 0.22, 1.5, -0.08, 0.12, 0.02, 0.01, False),
    (125.0, 2.0, 0.15, 0.5, 0.05, 0.25, 0.05, 0.0, True),
    (97.0, 7 / 365, 0.3, 4.0, -0.15, 0.1, 0.0, 0.03, False),
    (100.0, 1.0, 0.0, 2.0, -0.05, 0.2, 0.01, 0.0, True),  # pure jumps (vol = 0)
]


@pytest.mark.parametrize("case", GREEK_CASES)
def test_analytic_greeks_agree_with_central_differences(case) -> None:
    k, tau, vol, lam, jm, js, r, q, is_call = case

    def price(spot=100.0, v=vol, t=tau):
        return float(merton_price(spot, k, t, v, lam, jm, js, r, q, is_call))

    g = merton_greeks(100.0, k, tau, vol, lam, jm, js, r, q, is_call)
    assert g.price == pytest.approx(price(), rel=1e-14)
    h = 1e-3
    assert g.delta == pytest.approx((price(100 + h) - price(100 - h)) / (2 * h), rel=1e-6, abs=1e-9)
    hg = 0.02
    fd_gamma = (price(100 + hg) - 2 * price() + price(100 - hg)) / hg**2
    assert g.gamma == pytest.approx(fd_gamma, rel=1e-4, abs=1e-8)
    if vol > 0:
        hv = 1e-5
        fd_vega = (price(v=vol + hv) - price(v=vol - hv)) / (2 * hv)
        assert g.vega == pytest.approx(fd_vega, rel=1e-6, abs=1e-8)
    ht = 1e-6 * tau
    fd_theta = -(price(t=tau + ht) - price(t=tau - ht)) / (2 * ht)
    assert g.theta == pytest.approx(fd_theta, rel=1e-5, abs=1e-6)


def test_truncation_tolerance_and_max_terms() -> None:
    args = (100.0, 100.0, 2.0, 0.2, 50.0, -0.01, 0.02)
    exact = merton_price(*args, tol=1e-15)
    assert merton_price(*args) == pytest.approx(exact, rel=1e-11)
    assert abs(merton_price(*args, tol=1e-4) - exact) < 1e-4 * 200
    with pytest.raises(ValueError, match="max_terms"):
        merton_price(*args, max_terms=20)
    with pytest.raises(ValueError, match="tol"):
        merton_price(*args, tol=0.0)


def test_edge_cases_expired_shapes_nan() -> None:
    k = np.array([90.0, 100.0, 110.0])
    np.testing.assert_array_equal(merton_price(100.0, k, 0.0, 0.2, **J), [10.0, 0.0, 0.0])
    np.testing.assert_array_equal(
        merton_price(100.0, k, -1.0, 0.2, **J, is_call=False), [0.0, 0.0, 10.0]
    )
    g = merton_greeks(100.0, k, 0.0, 0.2, **J)
    np.testing.assert_array_equal(g.delta, [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(g.theta, 0.0)
    assert merton_price(100.0, k[:, None], np.array([0.1, 1.0]), 0.2, **J).shape == (3, 2)
    assert merton_price(100.0, 100.0, 1.0, 0.2, **J).shape == ()
    out = merton_price(np.array([100.0, np.nan]), 100.0, 1.0, 0.2, **J)
    assert np.isfinite(out[0]) and np.isnan(out[1])


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"lam": -1.0}, "lam"),
        ({"jump_std": -0.1}, "jump_std"),
        ({"vol": -0.2}, "vol"),
        ({"spot": -1.0}, "spot"),
        ({"strike": -1.0}, "strike"),
    ],
)
def test_bad_parameters_raise_naming_the_parameter(kw, needle) -> None:
    args = {"spot": 100.0, "strike": 100.0, "tau": 1.0, "vol": 0.2, **J, **kw}
    with pytest.raises(ValueError, match=rf"^{needle}\b"):
        merton_price(**args)
    with pytest.raises(ValueError, match=rf"^{needle}\b"):
        merton_greeks(**args)
