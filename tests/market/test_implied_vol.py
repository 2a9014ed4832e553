"""Implied vol: round trip to 1e-10 where the price carries vol information,
NaN + flag (never a silent wrong number) everywhere else."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from market.pricing import bsm_greeks, bsm_price, heston_price, implied_vol

EPS = np.finfo(np.float64).eps


@settings(max_examples=400, deadline=None)
@given(
    vol=st.floats(0.01, 3.0),
    m=st.floats(-2.0, 2.0),
    tau=st.floats(1 / 365, 5.0),
    call=st.booleans(),
    r=st.floats(-0.02, 0.1),
    q=st.floats(0.0, 0.05),
)
def test_round_trip(vol, m, tau, call, r, q) -> None:
    """ln(K/F) = m in [-2, 2]: out-of-the-money prices invert to 1e-10 (in
    practice ~1e-12) whenever they are not vanishingly small; in-the-money
    prices to 1e-10 plus the vol error implied by the price's own rounding
    (a few ulps of spot + strike, divided by vega)."""
    spot = 100.0
    k = spot * np.exp(m + (r - q) * tau)
    g = bsm_greeks(spot, k, tau, vol, r, q, call)
    assume(g.price > 1e-250 and g.vega > 1e-250)
    res = implied_vol(g.price, spot, k, tau, r, q, call)
    otm = (m > 0) == call
    if otm:
        assert res.ok
        assert abs(res.vol - vol) <= 1e-10
        return
    noise = 8 * EPS * (g.price + spot * np.exp(-q * tau) + k * np.exp(-r * tau)) / g.vega
    if noise < 1e-4 * vol:  # the price still determines the vol
        assert res.ok
        assert abs(res.vol - vol) <= 1e-10 + noise
    elif res.ok:  # may be flagged; if not, it reproduces the price
        back = bsm_price(spot, k, tau, res.vol, r, q, call)
        assert abs(back - g.price) <= 16 * EPS * (spot + k)


def test_round_trip_on_a_dense_grid_vectorised() -> None:
    vol = np.array([0.01, 0.05, 0.2, 0.6, 1.5, 3.0])[:, None, None]
    m = np.linspace(-2.0, 2.0, 41)[None, :, None]
    tau = np.array([1 / 365, 7 / 365, 0.25, 1.0, 5.0])[None, None, :]
    r, q = 0.03, 0.01
    k = 100.0 * np.exp(m + (r - q) * tau)
    call = m > 0  # out of the money
    g = bsm_greeks(100.0, k, tau, vol, r, q, call)
    res = implied_vol(g.price, 100.0, k, tau, r, q, call)
    assert res.vol.shape == res.ok.shape == (6, 41, 5)
    meaningful = g.price > 1e-250
    assert meaningful.mean() > 0.6
    assert res.ok[meaningful].all()
    np.testing.assert_array_less(np.abs(res.vol - vol)[meaningful], 1e-10)
    # Vanishing (underflowed) prices are flagged, not guessed.
    assert not res.ok[g.price == 0.0].any()
    assert np.isnan(res.vol[~res.ok]).all()


def test_arbitrage_violations_and_bad_inputs_give_nan_and_flag() -> None:
    s, k, t, r = 100.0, 100.0, 0.5, 0.05
    upper_call = s
    lower_put = max(k * np.exp(-r * t) - s, 0.0)
    price = np.array([5.0, -1.0, 0.0, upper_call, 150.0, np.nan, np.inf, 5.0, 5.0, 5.0])
    tau = np.array([t, t, t, t, t, t, t, 0.0, -1.0, t])
    spot = np.array([s] * 9 + [0.0])
    res = implied_vol(price, spot, k, tau, r)
    assert res.ok.tolist() == [True] + [False] * 9
    assert np.isfinite(res.vol[0]) and np.isnan(res.vol[1:]).all()
    # Below intrinsic (put) and exactly at the discounted intrinsic value.
    assert not implied_vol(5.0, 100.0, 120.0, 0.5, is_call=False).ok
    kk = 120.0 * np.exp(-r * t)
    assert not implied_vol(kk - 100.0, 100.0, 120.0, t, r, is_call=False).ok
    assert not implied_vol(lower_put, s, k, t, r, is_call=False).ok
    # Non-positive strike.
    assert not implied_vol(5.0, 100.0, 0.0, 0.5).ok


def test_time_value_lost_in_rounding_is_flagged_not_guessed() -> None:
    # Deep ITM, one day: the time value (~1e-40) is far below the price's ulp.
    p = bsm_price(100.0, 60.0, 1 / 365, 0.2, is_call=True)
    assert p == 40.0
    res = implied_vol(p, 100.0, 60.0, 1 / 365)
    assert not res.ok and np.isnan(res.vol)
    # Rounding noise above intrinsic is not mistaken for information either.
    res = implied_vol(40.0 + 4 * EPS * 40, 100.0, 60.0, 1 / 365)
    assert not res.ok
    # ... whereas a real (if small) time value is inverted.
    p = bsm_price(100.0, 90.0, 30 / 365, 0.2)
    res = implied_vol(p, 100.0, 90.0, 30 / 365)
    assert res.ok and abs(res.vol - 0.2) < 1e-10


def test_heston_smile_round_trip_and_skew() -> None:
    """Implied vols of Heston prices: all found, reprice exactly, skewed for rho < 0
    (downside wing above the upside, smile minimum above the forward)."""
    k = np.linspace(70.0, 140.0, 15)
    price = heston_price(100.0, k, 0.5, 0.04, 1.5, 0.04, 0.6, -0.7, 0.02)
    res = implied_vol(price, 100.0, k, 0.5, 0.02)
    assert res.ok.all()
    assert res.vol[0] > res.vol[-1] + 0.1
    assert k[np.argmin(res.vol)] > 100.0 * np.exp(0.02 * 0.5)
    np.testing.assert_allclose(bsm_price(100.0, k, 0.5, res.vol, 0.02), price, rtol=1e-12)


def test_iteration_budget_never_yields_a_silent_wrong_number() -> None:
    rng = np.random.default_rng(0)
    vol = rng.uniform(0.01, 3.0, 2000)
    m = rng.uniform(-2.0, 2.0, 2000)
    tau = np.exp(rng.uniform(np.log(1 / 365), np.log(5.0), 2000))
    k = 100.0 * np.exp(m)
    price = bsm_price(100.0, k, tau, vol, is_call=m > 0)
    for max_iter in (1, 2, 3):
        res = implied_vol(price, 100.0, k, tau, is_call=m > 0, max_iter=max_iter)
        assert np.isnan(res.vol[~res.ok]).all()
        good = res.ok & (price > 1e-250)
        assert np.all(np.abs(res.vol[good] - vol[good]) <= 1e-9)
    full = implied_vol(price, 100.0, k, tau, is_call=m > 0)
    assert full.ok[price > 1e-250].all()


def test_shapes_and_argument_errors() -> None:
    res = implied_vol(10.0, 100.0, 100.0, 1.0)
    assert res.vol.shape == () and res.ok.shape == () and bool(res.ok)
    res = implied_vol(np.array([[8.0], [12.0]]), 100.0, np.array([95.0, 100.0, 105.0]), 1.0)
    assert res.vol.shape == (2, 3)
    with pytest.raises(ValueError, match="tol"):
        implied_vol(10.0, 100.0, 100.0, 1.0, tol=0.0)
    with pytest.raises(ValueError, match="max_iter"):
        implied_vol(10.0, 100.0, 100.0, 1.0, max_iter=0)
