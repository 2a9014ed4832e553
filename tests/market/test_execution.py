"""market.execution.fill_order: half-spread, fee and impact against the quote's mid."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pydantic import ValidationError

from market.events import Fill, InstrumentQuote, Order
from market.execution import CostModel, fill_order

MID = np.array([100.0, 50.0, 250.0, 1.0])
VEGA = np.array([12.0, 3.0, 40.0, 0.2])


def _quote(kind: str = "underlying", mid=MID, vega=VEGA) -> InstrumentQuote:
    n = len(mid)
    return InstrumentQuote(
        instrument="underlying" if kind == "underlying" else "opt",
        contract="underlying" if kind == "underlying" else "opt@7",
        kind=kind,
        is_call=True,
        expiry=math.inf if kind == "underlying" else 0.1,
        strike=np.zeros(n) if kind == "underlying" else np.full(n, 100.0),
        mid=np.asarray(mid, dtype=float),
        iv=np.zeros(n),
        delta=np.ones(n),
        gamma=np.zeros(n),
        vega=np.zeros(n) if kind == "underlying" else np.asarray(vega, dtype=float),
        theta=np.zeros(n),
    )


def _order(qty, instrument: str = "underlying") -> Order:
    return Order(step=3, sender="delta", instrument=instrument, qty=np.asarray(qty, dtype=float))


QTY = np.array([2.0, -3.0, 0.0, 0.5])


def test_fill_fields() -> None:
    q = _quote("option")
    f = fill_order(_order(QTY, "opt"), q, CostModel(), "delta")
    assert isinstance(f, Fill)
    assert f.step == 3 and f.sender == "market" and f.agent == "delta"
    assert f.instrument == "opt" and f.contract == "opt@7"
    np.testing.assert_array_equal(f.qty, QTY)
    np.testing.assert_array_equal(f.mid, MID)
    # No costs: fills at mid, zero cost.
    np.testing.assert_array_equal(f.price, MID)
    np.testing.assert_array_equal(f.cost, np.zeros(4))


def test_underlying_half_spread_in_bps_of_mid() -> None:
    f = fill_order(_order(QTY), _quote(), CostModel(half_spread_bps=5.0), "a")
    half = MID * 5e-4
    np.testing.assert_allclose(f.price, MID + np.sign(QTY) * half, rtol=1e-15)
    assert f.price[0] > MID[0] and f.price[1] < MID[1] and f.price[2] == MID[2]
    np.testing.assert_allclose(f.cost, half * np.abs(QTY), rtol=1e-15)


def test_underlying_ignores_option_spread_settings() -> None:
    cost = CostModel(half_spread_vol=1.0, half_spread_pct=2.0)
    f = fill_order(_order(QTY), _quote(), cost, "a")
    np.testing.assert_array_equal(f.price, MID)
    np.testing.assert_array_equal(f.cost, np.zeros(4))


def test_option_half_spread_in_vol_points_times_vega() -> None:
    f = fill_order(_order(QTY, "opt"), _quote("option"), CostModel(half_spread_vol=0.5), "a")
    half = VEGA * 0.005  # half a vol point = 0.005 of vol, times vega per 1.00 of vol
    np.testing.assert_allclose(f.price - MID, np.sign(QTY) * half, rtol=1e-12, atol=1e-15)


def test_option_half_spread_in_percent_of_premium() -> None:
    f = fill_order(_order(QTY, "opt"), _quote("option"), CostModel(half_spread_pct=2.0), "a")
    np.testing.assert_allclose(f.price, MID * (1 + 0.02 * np.sign(QTY)), rtol=1e-15)


def test_option_spreads_add_and_bps_is_ignored() -> None:
    cost = CostModel(half_spread_vol=0.5, half_spread_pct=1.0, half_spread_bps=1000.0)
    f = fill_order(_order(QTY, "opt"), _quote("option"), cost, "a")
    half = VEGA * 0.005 + MID * 0.01
    np.testing.assert_allclose(f.price, MID + np.sign(QTY) * half, rtol=1e-15)
    np.testing.assert_allclose(f.cost, half * np.abs(QTY), rtol=1e-14)


def test_option_spread_uses_absolute_vega() -> None:
    q = _quote("option", vega=-VEGA)
    f = fill_order(_order(QTY, "opt"), q, CostModel(half_spread_vol=1.0), "a")
    np.testing.assert_allclose(f.cost, VEGA * 0.01 * np.abs(QTY), rtol=1e-14)


def test_fee_pct_of_notional_at_mid_and_price_unaffected() -> None:
    f = fill_order(_order(QTY), _quote(), CostModel(fee_pct=0.1), "a")
    np.testing.assert_array_equal(f.price, MID)
    np.testing.assert_allclose(f.cost, 0.001 * np.abs(QTY) * MID, rtol=1e-15)


def test_impact_grows_with_size() -> None:
    cost = CostModel(half_spread_bps=2.0, impact_bps=10.0)
    sizes = np.array([0.0, 0.5, 1.0, 2.0, 10.0, 100.0])
    mid = np.full(len(sizes), 100.0)
    q = _quote(mid=mid)
    buy = fill_order(_order(sizes), q, cost, "a")
    sell = fill_order(_order(-sizes), q, cost, "a")
    # Per-unit concession = half spread + impact * |q| (linear in |q|).
    expected = 100.0 * 2e-4 + 100.0 * 10e-4 * sizes
    np.testing.assert_allclose((buy.price - mid)[1:], expected[1:], rtol=1e-12)
    np.testing.assert_allclose((mid - sell.price)[1:], expected[1:], rtol=1e-12)
    assert np.all(np.diff(buy.price[1:]) > 0)
    assert np.all(np.diff(sell.price[1:]) < 0)
    assert np.all(np.diff(buy.cost) > 0)
    np.testing.assert_allclose(buy.cost, sell.cost, rtol=1e-15)
    np.testing.assert_allclose(buy.cost, expected * sizes, rtol=1e-12)


def test_zero_quantity_costs_nothing() -> None:
    cost = CostModel(
        half_spread_bps=5, half_spread_vol=1, half_spread_pct=1, fee_pct=1, impact_bps=10
    )
    for kind, inst in (("underlying", "underlying"), ("option", "opt")):
        f = fill_order(_order(np.zeros(4), inst), _quote(kind), cost, "a")
        np.testing.assert_array_equal(f.price, MID)
        np.testing.assert_array_equal(f.cost, np.zeros(4))


@pytest.mark.parametrize("field", ["half_spread_bps", "half_spread_vol", "fee_pct", "impact_bps"])
def test_cost_model_refuses_negative(field: str) -> None:
    with pytest.raises(ValidationError):
        CostModel(**{field: -1.0})


def test_cost_model_refuses_unknown_field() -> None:
    with pytest.raises(ValidationError):
        CostModel(spread=1.0)


_pos = st.floats(0.01, 1e4, allow_nan=False, allow_infinity=False)
_rate = st.floats(0.0, 100.0, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(["underlying", "option"]),
    qty=hnp.arrays(np.float64, 6, elements=st.floats(-1e4, 1e4)),
    mid=hnp.arrays(np.float64, 6, elements=_pos),
    vega=hnp.arrays(np.float64, 6, elements=st.floats(-1e3, 1e3)),
    bps=_rate,
    vol=_rate,
    pct=_rate,
    fee=_rate,
    impact=_rate,
)
def test_cost_identity_and_non_negative(kind, qty, mid, vega, bps, vol, pct, fee, impact) -> None:
    cost = CostModel(
        half_spread_bps=bps,
        half_spread_vol=vol,
        half_spread_pct=pct,
        fee_pct=fee,
        impact_bps=impact,
    )
    q = _quote(kind, mid=mid, vega=vega)
    f = fill_order(_order(qty, q.instrument), q, cost, "a")
    assert np.all(f.cost >= 0.0)
    fee_paid = 0.01 * fee * np.abs(qty) * mid
    identity = (f.price - mid) * qty + fee_paid
    scale = np.abs(f.price) * np.abs(qty) + fee_paid
    np.testing.assert_allclose(f.cost, identity, rtol=0, atol=1e-12 * float(scale.max() + 1.0))
    # Buys never fill below mid, sells never above.
    assert np.all(f.price[qty > 0] >= mid[qty > 0])
    assert np.all(f.price[qty < 0] <= mid[qty < 0])
    np.testing.assert_array_equal(f.cost[qty == 0], 0.0)


# ------------------------------------------------------------------ fast markets
def test_event_multiplier_is_k_at_the_release_and_halves_its_excess_each_half_life() -> None:
    from market.execution import event_multiplier

    c = CostModel(half_spread_bps=2.0, release_spread_mult=9.0, release_half_life_minutes=5.0)
    assert event_multiplier(c, None) == 1.0  # nothing released yet
    assert event_multiplier(c, 0.0) == 9.0
    assert event_multiplier(c, 5.0) == pytest.approx(5.0, rel=1e-15)
    assert event_multiplier(c, 10.0) == pytest.approx(3.0, rel=1e-15)
    assert event_multiplier(c, 1e6) == pytest.approx(1.0, abs=1e-12)
    assert event_multiplier(CostModel(half_spread_bps=2.0), 0.0) == 1.0


def test_the_multiplier_scales_the_half_spread_only() -> None:
    c = CostModel(half_spread_bps=2.0, fee_pct=0.1, impact_bps=1.0)
    q = np.array([3.0, -2.0, 1.0, 0.0])
    base = fill_order(_order(q), _quote(), c, "d")
    fast = fill_order(_order(q), _quote(), c, "d", spread_mult=4.0)
    half = MID * 2e-4
    np.testing.assert_allclose(fast.cost - base.cost, 3.0 * half * np.abs(q), rtol=1e-12)
    np.testing.assert_array_equal(fill_order(_order(q), _quote(), c, "d", 1.0).cost, base.cost)


@pytest.mark.parametrize(
    "kw",
    [
        {"release_spread_mult": 0.5},
        {"release_half_life_minutes": 0.0},
        {"release_spread_mult": math.nan},
    ],
)
def test_bad_fast_market_settings_are_refused(kw) -> None:
    with pytest.raises(ValidationError):
        CostModel(**kw)
