"""market.surface.implied_vol: the parametric base vol and the event-variance term."""

from __future__ import annotations

import math

import numpy as np
import pytest

from market.surface import TAU_REF, VOL_FLOOR, SurfaceState, implied_vol

N = 5
SPOT = np.array([100.0, 50.0, 250.0, 1.0, 1e4])


def _state(
    atm: float | np.ndarray = 0.2,
    skew: float = 0.0,
    term: float = 0.0,
    event_var: float = 0.0,
    event_time: float = math.inf,
) -> SurfaceState:
    return SurfaceState(
        atm=np.broadcast_to(np.asarray(atm, dtype=float), (N,)).copy(),
        skew=np.full(N, skew),
        term=np.full(N, term),
        event_var=np.full(N, event_var),
        event_time=event_time,
    )


@pytest.mark.parametrize("moneyness", [0.5, 0.9, 1.0, 1.1, 3.0])
@pytest.mark.parametrize("expiry", [1e-4, 7 / 365, TAU_REF, 0.5, 3.0])
def test_flat_surface_returns_atm_for_any_strike_and_expiry(moneyness, expiry) -> None:
    st = _state(atm=0.27)
    iv = implied_vol(st, SPOT, moneyness * SPOT, 0.0, expiry)
    assert iv.shape == (N,)
    np.testing.assert_array_equal(iv, np.full(N, 0.27))


def test_atm_level_is_per_path() -> None:
    atm = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    iv = implied_vol(_state(atm=atm), SPOT, SPOT, 0.0, 0.25)
    np.testing.assert_array_equal(iv, atm)


def test_skew_is_linear_in_log_moneyness() -> None:
    st = _state(atm=0.2, skew=-0.15)
    strikes = SPOT * np.array([0.8, 0.9, 1.0, 1.2, 1.5])
    iv = implied_vol(st, SPOT, strikes, 0.0, TAU_REF)
    expected = 0.2 - 0.15 * np.log(strikes / SPOT)
    np.testing.assert_allclose(iv, expected, rtol=0, atol=1e-15)
    # Put skew: lower strikes carry higher vol.
    assert np.all(np.diff(iv) < 0)
    assert iv[2] == pytest.approx(0.2, abs=1e-15)


def test_term_slope_is_measured_from_reference_tenor() -> None:
    st = _state(atm=0.2, term=0.05)
    for time, expiry in [(0.0, TAU_REF), (0.1, 0.1 + TAU_REF)]:
        iv = implied_vol(st, SPOT, SPOT, time, expiry)
        np.testing.assert_allclose(iv, 0.2, rtol=0, atol=1e-15)
    iv_1y = implied_vol(st, SPOT, SPOT, 0.0, 1.0)
    np.testing.assert_allclose(iv_1y, 0.2 + 0.05 * (1.0 - TAU_REF), rtol=0, atol=1e-15)
    iv_1w = implied_vol(st, SPOT, SPOT, 0.0, 7 / 365)
    np.testing.assert_allclose(iv_1w, 0.2 + 0.05 * (7 / 365 - TAU_REF), rtol=0, atol=1e-15)
    assert np.all(iv_1w < iv_1y)


def test_skew_and_term_add() -> None:
    st = _state(atm=0.25, skew=-0.1, term=-0.02)
    strikes = 1.1 * SPOT
    iv = implied_vol(st, SPOT, strikes, 0.2, 0.7)
    expected = 0.25 - 0.1 * math.log(1.1) - 0.02 * (0.5 - TAU_REF)
    np.testing.assert_allclose(iv, expected, rtol=0, atol=1e-15)


def test_vol_floor_caps_the_base_from_below() -> None:
    st = _state(atm=0.2, skew=-1.0)
    # k = ln(2) ~ 0.69 -> 0.2 - 0.69 < 0: floored.
    iv = implied_vol(st, SPOT, 2.0 * SPOT, 0.0, 0.25)
    np.testing.assert_array_equal(iv, np.full(N, VOL_FLOOR))
    assert VOL_FLOOR == 0.01
    # Just above the floor it is not touched.
    k = math.log(1.1)
    iv = implied_vol(st, SPOT, 1.1 * SPOT, 0.0, TAU_REF)
    np.testing.assert_allclose(iv, 0.2 - k, rtol=0, atol=1e-15)


def test_floor_applies_to_base_before_event_term() -> None:
    ev = 0.02**2
    st = _state(atm=0.2, skew=-1.0, event_var=ev, event_time=0.05)
    iv = implied_vol(st, SPOT, 2.0 * SPOT, 0.0, 0.25)
    np.testing.assert_allclose(iv, math.sqrt(VOL_FLOOR**2 + ev / 0.25), rtol=1e-15)


def test_expiry_after_event_carries_event_variance() -> None:
    ev = 0.03**2
    st = _state(atm=0.2, skew=-0.1, event_var=ev, event_time=10 / 365)
    strikes = SPOT * 0.95
    t, expiry = 2 / 365, 17 / 365
    tau = expiry - t
    base = 0.2 - 0.1 * math.log(0.95)
    iv = implied_vol(st, SPOT, strikes, t, expiry)
    np.testing.assert_allclose(iv, math.sqrt(base**2 + ev / tau), rtol=1e-14)
    # Total variance carries exactly the event variance on top of the base.
    np.testing.assert_allclose(iv**2 * tau - base**2 * tau, ev, rtol=1e-10)


def test_event_variance_is_per_path() -> None:
    ev = np.array([0.0, 1e-4, 4e-4, 9e-4, 1e-2])
    st = SurfaceState(
        atm=np.full(N, 0.2),
        skew=np.zeros(N),
        term=np.zeros(N),
        event_var=ev,
        event_time=0.1,
    )
    iv = implied_vol(st, SPOT, SPOT, 0.0, 0.5)
    np.testing.assert_allclose(iv, np.sqrt(0.04 + ev / 0.5), rtol=1e-15)


@pytest.mark.parametrize(
    ("time", "expiry", "event_time"),
    [
        (0.0, 5 / 365, 10 / 365),  # expires before the event
        (0.0, 10 / 365, 10 / 365),  # expires exactly at the event (strict)
        (10 / 365, 20 / 365, 10 / 365),  # the event time is now (strict)
        (12 / 365, 20 / 365, 10 / 365),  # event in the past
        (0.0, 1.0, math.inf),  # released: nothing pending
    ],
)
def test_no_event_term_outside_the_window(time, expiry, event_time) -> None:
    st = _state(atm=0.2, event_var=0.05**2, event_time=event_time)
    iv = implied_vol(st, SPOT, SPOT, time, expiry)
    np.testing.assert_array_equal(iv, np.full(N, 0.2))


def test_event_premium_grows_as_the_event_approaches() -> None:
    ev = 0.03**2
    event_time, expiry = 10 / 365, 14 / 365
    st = _state(atm=0.2, event_var=ev, event_time=event_time)
    times = np.linspace(0.0, event_time - 1e-6, 12)
    ivs = np.array([implied_vol(st, SPOT, SPOT, float(t), expiry)[0] for t in times])
    assert np.all(np.diff(ivs) > 0)
    np.testing.assert_allclose(ivs, np.sqrt(0.04 + ev / (expiry - times)), rtol=1e-14)
    # Shorter expiries past the event carry more premium than longer ones.
    short = implied_vol(st, SPOT, SPOT, 0.0, 11 / 365)[0]
    long = implied_vol(st, SPOT, SPOT, 0.0, 60 / 365)[0]
    assert short > long > 0.2


def test_expired_returns_base_without_event_term() -> None:
    st = _state(atm=0.2, term=0.1, event_var=0.01, event_time=0.5)
    iv = implied_vol(st, SPOT, SPOT, 0.3, 0.3)
    np.testing.assert_allclose(iv, 0.2 + 0.1 * (0.0 - TAU_REF), rtol=0, atol=1e-15)
