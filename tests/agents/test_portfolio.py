"""Portfolio: greeks aggregation, cash accounting, carry and settlement."""

from __future__ import annotations

import numpy as np
import pytest

from agents.portfolio import BookGreeks, OptionLine, Portfolio, QuoteMemo
from market.events import Fill, InstrumentQuote, MarketEvent
from market.pricing import bsm_greeks
from market.surface import SurfaceState, implied_vol


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


# --------------------------------------------------------------------------- the quote memo


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the options priced through the portfolio's bsm_greeks calls."""
    import agents.portfolio as pf

    calls: list[int] = []
    real = pf.bsm_greeks

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        g = real(*args, **kwargs)
        calls.append(int(np.size(g.price)))
        return g

    monkeypatch.setattr(pf, "bsm_greeks", counted)
    return calls


def test_shared_memo_prices_each_contract_once_with_the_private_bits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    n = 64
    ev = _event(np.linspace(85, 115, n), time=0.01)
    private = [_book(n), _book(n)]  # equal contracts, separate strike arrays
    alone = [p.greeks(ev) for p in private]
    memo = QuoteMemo()
    shared = []
    for p in (_book(n), _book(n)):
        q = Portfolio(n, memo)
        q.restore(p.snapshot())
        shared.append(q)
    calls = _counting(monkeypatch)
    together = [p.greeks(ev) for p in shared]
    assert calls == [3 * n]  # three contracts, priced once, in one stacked call
    for a, b in zip(alone, together, strict=True):
        for f in BookGreeks.__dataclass_fields__:
            assert getattr(a, f).tobytes() == getattr(b, f).tobytes()
    # the second book's lines now share the first's strike arrays (identity hits)
    assert all(shared[0].lines[k].strike is shared[1].lines[k].strike for k in shared[0].lines)
    # the attribution's re-quote of a line is a memo hit too
    shared[1].quote_line("c1", ev)
    assert calls == [3 * n]


@pytest.mark.parametrize("n", [1, 50, 300])
def test_stacked_pricing_equals_one_call_per_contract_bit_for_bit(n: int) -> None:
    p = _book(n)
    ev = _event(np.linspace(80, 120, n), time=0.02, rate=0.03, div=0.01)
    units = p.line_greeks(ev)
    for key, ln in p.lines.items():
        iv = implied_vol(ev.surface, ev.spot, ln.strike, ev.time, ln.expiry)
        g = bsm_greeks(ev.spot, ln.strike, ln.expiry - ev.time, iv, 0.03, 0.01, ln.is_call)
        assert units[key].iv.tobytes() == iv.tobytes()
        for f in ("price", "delta", "gamma", "vega", "theta"):
            assert getattr(units[key], f).tobytes() == getattr(g, f).tobytes(), (key, f)
    # and the book's greeks are the position-by-position sums, bit for bit
    book = p.greeks(ev)
    delta = p.stock.copy()
    value = np.zeros(n)
    for key, ln in p.lines.items():
        delta += ln.qty * units[key].delta
        value += ln.qty * units[key].price
    assert book.delta.tobytes() == delta.tobytes()
    assert book.value.tobytes() == value.tobytes()


def test_listed_series_take_the_quotes_greeks(monkeypatch: pytest.MonkeyPatch) -> None:
    n = 4
    spot = np.full(n, 100.0)
    strike = np.full(n, 101.0)
    marks = [np.full(n, x) for x in (0.21, 3.0, 0.5, 0.04, 11.0, -7.0)]
    quote = InstrumentQuote(
        "opt", "opt@0", "option", True, 0.1, strike, *marks[1:2], marks[0], *marks[2:]
    )
    base = _event(spot)
    ev = MarketEvent(0, "market", 0.0, spot, base.surface, (quote,), 0.0, 0.0)
    p = Portfolio(n)
    p.apply_fill(
        Fill(0, "market", "a", "opt", "opt@0", np.ones(n), marks[1], marks[1], np.zeros(n)), quote
    )
    calls = _counting(monkeypatch)
    g = p.greeks(ev)
    assert calls == []  # nothing priced: the quote carries its greeks
    np.testing.assert_array_equal(g.value, marks[1])
    np.testing.assert_array_equal(g.gamma, marks[3])
    assert p.quote_line("opt@0", ev).iv is marks[0]


def test_memo_resets_when_the_event_changes() -> None:
    n = 16
    p = _book(n)
    a = _event(np.full(n, 100.0), time=0.01)
    b = _event(np.full(n, 104.0), time=0.01)
    ga, gb = p.greeks(a), p.greeks(b)
    assert not np.array_equal(ga.delta, gb.delta)
    fresh = Portfolio(n)
    fresh.restore(p.snapshot())
    assert fresh.greeks(b).delta.tobytes() == gb.delta.tobytes()
    assert p.greeks(a).delta.tobytes() == ga.delta.tobytes()  # back to a: recomputed
