"""Portfolio: greeks aggregation, cash accounting, carry and settlement."""

from __future__ import annotations

import numpy as np
import pytest

from agents.portfolio import OptionLine, Portfolio
from market.events import Fill, InstrumentQuote, MarketEvent
from market.pricing import bsm_greeks
from market.surface import SurfaceState


def _event(spot: np.ndarray, time: float = 0.0, rate: float = 0.0, div: float = 0.0) -> MarketEvent:
    n = spot.shape[0]
    surface = SurfaceState(
        atm=np.full(n, 0.2),
        skew=np.full(n, -0.1),
        term=np.zeros(n),
        event_var=np.zeros(n),
        event_time=np.inf,
    )
    return MarketEvent(0, "market", time, spot, surface, (), rate, div)


def _book(n: int) -> Portfolio:
    p = Portfolio(n)
    rng = np.random.default_rng(1)
    for i, (call, expiry) in enumerate([(True, 0.1), (False, 0.25), (True, 0.5)]):
        line = OptionLine(
            "book", f"c{i}", call, expiry, rng.uniform(80, 120, n), rng.normal(0, 10, n)
        )
        p.add_option(line, np.zeros(n))
    p.stock = rng.normal(0, 5, n)
    return p


def test_book_greeks_equal_the_sum_of_position_greeks() -> None:
    n = 64
    p = _book(n)
    ev = _event(np.linspace(85, 115, n), time=0.01)
    book = p.greeks(ev)
    per_line = p.line_greeks(ev)
    for name in ("price", "delta", "gamma", "vega", "theta"):
        total = sum(p.lines[k].qty * getattr(g, name) for k, g in per_line.items())
        if name == "delta":
            total = total + p.stock
        got = book.value if name == "price" else getattr(book, name)
        np.testing.assert_allclose(got, total, rtol=1e-13, atol=1e-12)
    # and each position's greeks are BSM at the surface vol of its own strike
    ln = p.lines["c1"]
    k = np.log(ln.strike / ev.spot)
    iv = 0.2 - 0.1 * k
    ref = bsm_greeks(ev.spot, ln.strike, ln.expiry - ev.time, iv, 0.0, 0.0, False)
    np.testing.assert_allclose(per_line["c1"].vega, ref.vega, rtol=1e-12)


def test_fill_moves_cash_by_mid_plus_cost_and_accrues_costs() -> None:
    n = 3
    p = Portfolio(n)
    spot = np.array([100.0, 101.0, 99.0])
    q = InstrumentQuote(
        "underlying",
        "underlying",
        "underlying",
        True,
        np.inf,
        np.zeros(n),
        spot,
        np.zeros(n),
        np.ones(n),
        np.zeros(n),
        np.zeros(n),
        np.zeros(n),
    )
    qty = np.array([2.0, -1.0, 0.0])
    cost = np.array([0.02, 0.01, 0.0])
    p.apply_fill(Fill(0, "market", "a", "underlying", "underlying", qty, spot, spot, cost), q)
    np.testing.assert_array_equal(p.stock, qty)
    np.testing.assert_array_equal(p.cash, -qty * spot - cost)
    np.testing.assert_array_equal(p.cost, cost)
    # wealth at the same spot is minus the cost paid
    ev = _event(spot)
    np.testing.assert_allclose(p.wealth(ev, p.greeks(ev)), -cost, atol=1e-12)


def test_expiry_settles_intrinsic_into_cash() -> None:
    p = Portfolio(2)
    line = OptionLine("book", "c", True, 0.05, np.array([100.0, 100.0]), np.array([-3.0, -3.0]))
    p.add_option(line, np.array([1.0, 1.0]))
    p.roll_to(_event(np.array([110.0, 90.0]), time=0.05))
    assert p.lines == {}
    np.testing.assert_allclose(p.cash, [3.0 - 30.0, 3.0])


def test_carry_accrues_interest_and_dividends() -> None:
    p = Portfolio(1)
    p.cash = np.array([100.0])
    p.stock = np.array([2.0])
    p.roll_to(_event(np.array([50.0]), time=0.0, rate=0.05, div=0.02))
    p.roll_to(_event(np.array([60.0]), time=0.5, rate=0.05, div=0.02))
    expected = 100.0 * np.exp(0.05 * 0.5) + 2.0 * 50.0 * np.expm1(0.02 * 0.5)
    assert p.cash[0] == pytest.approx(expected, rel=1e-14)


def test_snapshot_restore_round_trip() -> None:
    p = _book(8)
    state = p.snapshot()
    q = Portfolio(8)
    q.restore(state)
    ev = _event(np.full(8, 100.0), time=0.02)
    np.testing.assert_array_equal(p.greeks(ev).gamma, q.greeks(ev).gamma)
    np.testing.assert_array_equal(p.cash, q.cash)
