"""The book: positions, cash, mark-to-market P&L, costs and greeks, per path.

All quantities are arrays of shape ``[n]`` (one value per path). Options are
held per contract (a listing of an instrument: strike per path, one expiry);
they are valued with Black-Scholes-Merton at the surface's implied vol for
their strike and expiry, so a listed contract is marked at its quoted mid.
Cash accrues at the risk-free rate, the underlying pays its dividend yield,
and an option settles its intrinsic value into cash at expiry.

Wealth is ``cash + stock * spot + sum(qty * option value)``; the initial book
is put on at mid against cash, so the P&L is the wealth itself.

A contract's value and greeks per unit depend only on its terms (strike per
path, expiry, call/put) and the market event, never on the book that holds
it: :class:`QuoteMemo` evaluates them once per event and contract, and every
configuration of a run in one process shares one memo (the engine passes it),
so the book's contracts -- the same in every configuration -- are priced
once per step, not once per configuration and per use, and a listed hedge
series takes the greeks its quote already carries. The memo holds nothing
but the current event's results (it resets when the event changes) and is
not part of any snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from agents._ledger import cash_after_fill, dividends, interest, intrinsic
from market.events import Fill, InstrumentQuote, MarketEvent
from market.pricing import bsm_greeks
from market.surface import implied_vol

#: Tolerance on expiry times, years (well under a second).
EXPIRY_EPS = 1e-9


@dataclass(slots=True)
class OptionLine:
    """A position in one option contract.

    Attributes:
        instrument: Listing name it was traded under (or ``"book"``).
        contract: Contract identity.
        is_call: Call or put.
        expiry: Expiry, years since the run start.
        strike: Strike per path, currency, shape ``[n]``.
        qty: Units held per path (negative = short), shape ``[n]``.
    """

    instrument: str
    contract: str
    is_call: bool
    expiry: float
    strike: np.ndarray
    qty: np.ndarray


@dataclass(frozen=True, slots=True)
class BookGreeks:
    """Value and greeks of the whole book per path (``[n]`` each).

    Attributes:
        value: Option value, currency (excludes cash and stock).
        delta: Per unit of spot (stock included).
        gamma: Per unit of spot squared.
        vega: Per 1.00 of vol.
        theta: Per year.
    """

    value: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray


class UnitQuote(NamedTuple):
    """Implied vol, value and greeks of one unit of a contract at one event.

    Every field is a ``float64`` array of shape ``[n]`` (per path).

    Attributes:
        iv: Implied vol at the contract's strike and expiry, decimal.
        price: Value per unit, currency.
        delta: Per unit of spot.
        gamma: Per unit of spot squared.
        vega: Per 1.00 of vol.
        theta: Per year.
    """

    iv: np.ndarray
    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray


#: Fields of :class:`UnitQuote` that a position's quantity scales (book greeks).
_BOOK_FIELDS = ("price", "delta", "gamma", "vega", "theta")
#: Up to this many paths the book's sums are one stacked reduction (less call
#: overhead); beyond, they accumulate in place (less memory traffic).
STACKED_SUM_PATHS = 256


class QuoteMemo:
    """Per-unit quotes of contracts at the current market event, computed once.

    Keyed by the contract's terms: expiry, call/put and the strike array (by
    identity, else by value; a line whose strike equals a known one by value
    is given that array, so that the next lookup is an identity check). The
    event's listed option quotes seed it, so a listed series costs nothing.
    Misses are priced together, stacked into one :func:`bsm_greeks` call
    (one call per contract when ``n == 1``, where the scalar fast path is
    cheaper). Every value is what a separate call per contract would give,
    bit for bit: the pricing is elementwise.

    Under another pricing model (a hedger's Heston or Merton greeks), per-unit
    greeks are memoised the same way under the model's key
    (:meth:`model_units`).

    Share one memo between the portfolios of one process only; it keeps no
    state beyond the current event and resets when another event arrives.
    """

    def __init__(self) -> None:
        self._event: MarketEvent | None = None
        self._bsm: dict[tuple[float, bool], list[tuple[np.ndarray, UnitQuote]]] = {}
        self._models: dict[Any, list[tuple[np.ndarray, Any]]] = {}

    def _at(self, event: MarketEvent) -> None:
        if event is self._event:
            return
        self._event = event
        self._bsm = {}
        self._models = {}
        for q in event.quotes:
            if q.kind == "option":
                unit = UnitQuote(q.iv, q.mid, q.delta, q.gamma, q.vega, q.theta)
                self._bsm.setdefault((q.expiry, q.is_call), []).append((q.strike, unit))

    @staticmethod
    def _find(entries: list[tuple[np.ndarray, Any]] | None, line: OptionLine) -> Any:
        if not entries:
            return None
        strike = line.strike
        for known, unit in entries:
            if known is strike:
                return unit
        for known, unit in entries:
            if np.array_equal(known, strike):
                line.strike = known  # the same values: share the array
                return unit
        return None

    def unit(self, event: MarketEvent, line: OptionLine) -> UnitQuote:
        """The BSM quote per unit of one contract at ``event`` (see :meth:`units`)."""
        if event is self._event:
            found = self._find(self._bsm.get((line.expiry, line.is_call)), line)
            if found is not None:
                return found  # type: ignore[no-any-return]
        return self.units(event, (line,))[0]

    def units(self, event: MarketEvent, lines: Sequence[OptionLine]) -> list[UnitQuote]:
        """BSM quotes per unit of ``lines`` at ``event``, at the surface's vols.

        Args:
            event: The market event.
            lines: Contracts (their strike, expiry and call/put are used).

        Returns:
            One :class:`UnitQuote` per line, in order.
        """
        self._at(event)
        out: list[UnitQuote | None] = []
        missing: list[int] = []
        for i, ln in enumerate(lines):
            unit = self._find(self._bsm.get((ln.expiry, ln.is_call)), ln)
            out.append(unit)
            if unit is None:
                missing.append(i)
        if missing:
            todo = [lines[i] for i in missing]
            for i, unit in zip(missing, self._price(event, todo), strict=True):
                ln = lines[i]
                entries = self._bsm.setdefault((ln.expiry, ln.is_call), [])
                found = self._find(entries, ln)  # an equal contract earlier in this call
                if found is None:
                    entries.append((ln.strike, unit))
                out[i] = found if found is not None else unit
        return out  # type: ignore[return-value]

    @staticmethod
    def _price(event: MarketEvent, lines: list[OptionLine]) -> list[UnitQuote]:
        spot, t = event.spot, event.time
        ivs = [implied_vol(event.surface, spot, ln.strike, t, ln.expiry) for ln in lines]
        if spot.shape[0] == 1 or len(lines) == 1:
            out = []
            for ln, iv in zip(lines, ivs, strict=True):
                g = bsm_greeks(
                    spot, ln.strike, ln.expiry - t, iv, event.rate, event.div, ln.is_call
                )
                out.append(UnitQuote(iv, g.price, g.delta, g.gamma, g.vega, g.theta))
            return out
        # Stacked: [m, n] strikes and vols, [m, 1] expiries and call flags.
        strike = np.stack([np.broadcast_to(ln.strike, spot.shape) for ln in lines])
        tau = np.array([[ln.expiry - t] for ln in lines])
        call = np.array([[ln.is_call] for ln in lines])
        iv = np.stack(ivs)
        g = bsm_greeks(spot, strike, tau, iv, event.rate, event.div, call)
        return [
            UnitQuote(iv[j], g.price[j], g.delta[j], g.gamma[j], g.vega[j], g.theta[j])
            for j in range(len(lines))
        ]

    def model_units(
        self,
        key: Any,
        event: MarketEvent,
        line: OptionLine,
        compute: Callable[[], Any],
    ) -> Any:
        """Per-unit greeks of a contract under a model, computed once per event.

        Args:
            key: Identifies the model (e.g. its JSON).
            event: The market event.
            line: The contract (strike, expiry, call/put).
            compute: Computes the greeks on a miss.
        """
        self._at(event)
        entries = self._models.setdefault((key, line.expiry, line.is_call), [])
        found = self._find(entries, line)
        if found is None:
            found = compute()
            entries.append((line.strike, found))
        return found


class Portfolio:
    """Positions and cash of one book across ``n`` paths.

    Args:
        n_paths: Number of paths.
        memo: The per-event quote memo to use (shared between the portfolios
            of one run in one process); a private one when None.
    """

    def __init__(self, n_paths: int, memo: QuoteMemo | None = None) -> None:
        self.memo = memo if memo is not None else QuoteMemo()
        self.n = n_paths
        self.cash = np.zeros(n_paths)
        self.stock = np.zeros(n_paths)
        self.lines: dict[str, OptionLine] = {}
        self.cost = np.zeros(n_paths)
        self.turnover = np.zeros(n_paths)
        self.carry = np.zeros(n_paths)
        self._time = 0.0
        self._spot: np.ndarray | None = None

    def add_option(self, line: OptionLine, price: np.ndarray) -> None:
        """Put on an option position against cash at ``price`` (no cost).

        Args:
            line: The position (its ``qty`` is added to an existing line of the
                same contract).
            price: Price per unit, currency, shape ``[n]``.
        """
        self._add_qty(line, line.qty)
        self.cash = self.cash - line.qty * price

    def _add_qty(self, line: OptionLine, qty: np.ndarray) -> None:
        held = self.lines.get(line.contract)
        if held is None:
            self.lines[line.contract] = OptionLine(
                line.instrument, line.contract, line.is_call, line.expiry, line.strike, qty.copy()
            )
        else:
            held.qty = held.qty + qty

    def apply_fill(self, fill: Fill, quote: InstrumentQuote) -> None:
        """Book a fill: position, cash (at mid, plus the cost) and costs.

        Args:
            fill: The fill (quantity, mid and cost per path).
            quote: The quote of the filled contract (strike and expiry).
        """
        if quote.kind == "underlying":
            self.stock = self.stock + fill.qty
        else:
            line = OptionLine(
                quote.instrument,
                quote.contract,
                quote.is_call,
                quote.expiry,
                quote.strike,
                fill.qty,
            )
            self._add_qty(line, fill.qty)
        self.cash = cash_after_fill(self.cash, fill.qty, fill.mid, fill.cost)
        self.cost = self.cost + fill.cost
        self.turnover = self.turnover + np.abs(fill.qty * fill.mid)

    def roll_to(self, event: MarketEvent) -> None:
        """Carry the book to the event's time: interest, dividends, expiries.

        Cash earns ``rate`` and the stock pays ``div`` (on the previous spot)
        over the elapsed time (both added to :attr:`carry` too); every option
        expiring by then settles its intrinsic value at the event's spot.
        """
        dt = event.time - self._time
        if dt > 0.0:
            if event.rate != 0.0:
                earned = interest(self.cash, event.rate, dt)
                self.cash = self.cash + earned
                self.carry = self.carry + earned
            if event.div != 0.0 and self._spot is not None:
                paid = dividends(self.stock, self._spot, event.div, dt)
                self.cash = self.cash + paid
                self.carry = self.carry + paid
        self._time = event.time
        self._spot = event.spot
        for key in [k for k, ln in self.lines.items() if ln.expiry <= event.time + EXPIRY_EPS]:
            ln = self.lines.pop(key)
            self.cash = self.cash + ln.qty * intrinsic(event.spot, ln.strike, ln.is_call)

    def prune(self) -> None:
        """Drop contracts held flat on every path."""
        for key in [k for k, ln in self.lines.items() if not ln.qty.any()]:
            del self.lines[key]

    def quote_line(self, contract: str, event: MarketEvent) -> InstrumentQuote:
        """Quote a held contract off the surface, as the market would quote it.

        Args:
            contract: A held contract's identity.
            event: The market event to quote at.
        """
        ln = self.lines[contract]
        u = self.memo.unit(event, ln)
        return InstrumentQuote(
            ln.instrument,
            ln.contract,
            "option",
            ln.is_call,
            ln.expiry,
            ln.strike,
            u.price,
            u.iv,
            u.delta,
            u.gamma,
            u.vega,
            u.theta,
        )

    def line_greeks(self, event: MarketEvent) -> dict[str, UnitQuote]:
        """BSM value and greeks per unit of each open contract, at the surface vol.

        Returns:
            Contract identity to its :class:`UnitQuote` (per unit).
        """
        units = self.memo.units(event, list(self.lines.values()))
        return dict(zip(self.lines, units, strict=True))

    def greeks(self, event: MarketEvent) -> BookGreeks:
        """The book's option value and greeks at the event (sum over positions).

        The per-unit quotes of every position come from the memo in one call
        (priced together where missing). Each greek sums in book order,
        ``start + q_1 g_1 + q_2 g_2 + ...`` (that order is part of the P&L's
        bits): on few paths as one stacked product and one reduction over a
        ``[positions + 1, 5, n]`` array whose row 0 holds the start (the
        stock's delta), which has the least call overhead; on many paths in
        place, position by position over all paths, which has the least
        memory traffic. Both give the same bits.
        """
        n = self.n
        lines = list(self.lines.values())
        units = self.memo.units(event, lines) if lines else []
        if n <= STACKED_SUM_PATHS:
            terms = np.zeros((len(lines) + 1, len(_BOOK_FIELDS), n))
            terms[0, 1] = self.stock
            if lines:
                unit = np.array([[getattr(u, f) for f in _BOOK_FIELDS] for u in units])
                qty = np.array([ln.qty for ln in lines])
                np.multiply(qty[:, None, :], unit, out=terms[1:])
            out = np.add.reduce(terms, axis=0)
        else:
            out = np.zeros((len(_BOOK_FIELDS), n))
            out[1] = self.stock
            tmp = np.empty(n)
            mul, add = np.multiply, np.add
            for ln, u in zip(lines, units, strict=True):
                for row, field in zip(out, _BOOK_FIELDS, strict=True):
                    add(row, mul(ln.qty, getattr(u, field), out=tmp), out=row)
        value, delta, gamma, vega, theta = out
        return BookGreeks(value, delta, gamma, vega, theta)

    def wealth(self, event: MarketEvent, book: BookGreeks) -> np.ndarray:
        """Mark-to-market wealth per path (the P&L), currency."""
        return self.cash + self.stock * event.spot + book.value

    def positions(self) -> dict[str, np.ndarray]:
        """Units held per listing name (summed over its contracts), plus the stock."""
        out: dict[str, np.ndarray] = {"underlying": self.stock.copy()}
        for ln in self.lines.values():
            out[ln.instrument] = out.get(ln.instrument, 0.0) + ln.qty
        return out

    def snapshot(self) -> dict[str, Any]:
        """State to restore later (plain types and arrays)."""
        return {
            "cash": self.cash.copy(),
            "stock": self.stock.copy(),
            "cost": self.cost.copy(),
            "turnover": self.turnover.copy(),
            "carry": self.carry.copy(),
            "time": self._time,
            "spot": None if self._spot is None else self._spot.copy(),
            "lines": [
                [ln.instrument, ln.contract, ln.is_call, ln.expiry, ln.strike.copy(), ln.qty.copy()]
                for ln in self.lines.values()
            ],
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`snapshot`."""
        self.cash = state["cash"].copy()
        self.stock = state["stock"].copy()
        self.cost = state["cost"].copy()
        self.turnover = state["turnover"].copy()
        self.carry = state["carry"].copy()
        self._time = float(state["time"])
        self._spot = None if state["spot"] is None else state["spot"].copy()
        self.lines = {
            c: OptionLine(i, c, bool(call), float(e), k.copy(), q.copy())
            for i, c, call, e, k, q in state["lines"]
        }
