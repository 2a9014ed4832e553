"""The book: positions, cash, mark-to-market P&L, costs and greeks, per path.

All quantities are arrays of shape ``[n]`` (one value per path). Options are
held per contract (a listing of an instrument: strike per path, one expiry);
they are valued with Black-Scholes-Merton at the surface's implied vol for
their strike and expiry, so a listed contract is marked at its quoted mid.
Cash accrues at the risk-free rate, the underlying pays its dividend yield,
and an option settles its intrinsic value into cash at expiry.

Wealth is ``cash + stock * spot + sum(qty * option value)``; the initial book
is put on at mid against cash, so the P&L is the wealth itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

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


class Portfolio:
    """Positions and cash of one book across ``n`` paths.

    Args:
        n_paths: Number of paths.
    """

    def __init__(self, n_paths: int) -> None:
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
        self.cash = self.cash - fill.qty * fill.mid - fill.cost
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
                interest = self.cash * math.expm1(event.rate * dt)
                self.cash = self.cash + interest
                self.carry = self.carry + interest
            if event.div != 0.0 and self._spot is not None:
                dividends = self.stock * self._spot * math.expm1(event.div * dt)
                self.cash = self.cash + dividends
                self.carry = self.carry + dividends
        self._time = event.time
        self._spot = event.spot
        for key in [k for k, ln in self.lines.items() if ln.expiry <= event.time + EXPIRY_EPS]:
            ln = self.lines.pop(key)
            sign = 1.0 if ln.is_call else -1.0
            self.cash = self.cash + ln.qty * np.maximum(sign * (event.spot - ln.strike), 0.0)

    def prune(self) -> None:
        """Drop contracts held flat on every path."""
        for key in [k for k, ln in self.lines.items() if not np.any(ln.qty)]:
            del self.lines[key]

    def quote_line(self, contract: str, event: MarketEvent) -> InstrumentQuote:
        """Quote a held contract off the surface, as the market would quote it.

        Args:
            contract: A held contract's identity.
            event: The market event to quote at.
        """
        ln = self.lines[contract]
        iv = implied_vol(event.surface, event.spot, ln.strike, event.time, ln.expiry)
        g = bsm_greeks(
            event.spot, ln.strike, ln.expiry - event.time, iv, event.rate, event.div, ln.is_call
        )
        return InstrumentQuote(
            ln.instrument,
            ln.contract,
            "option",
            ln.is_call,
            ln.expiry,
            ln.strike,
            g.price,
            iv,
            g.delta,
            g.gamma,
            g.vega,
            g.theta,
        )

    def line_greeks(self, event: MarketEvent) -> dict[str, Any]:
        """BSM value and greeks per unit of each open contract, at the surface vol.

        Returns:
            Contract identity to its :class:`~market.pricing.BSMGreeks` (per unit).
        """
        out = {}
        for key, ln in self.lines.items():
            tau = ln.expiry - event.time
            iv = implied_vol(event.surface, event.spot, ln.strike, event.time, ln.expiry)
            out[key] = bsm_greeks(event.spot, ln.strike, tau, iv, event.rate, event.div, ln.is_call)
        return out

    def greeks(self, event: MarketEvent) -> BookGreeks:
        """The book's option value and greeks at the event (sum over positions)."""
        n = self.n
        value, delta = np.zeros(n), self.stock.copy()
        gamma, vega, theta = np.zeros(n), np.zeros(n), np.zeros(n)
        for key, g in self.line_greeks(event).items():
            q = self.lines[key].qty
            value += q * g.price
            delta += q * g.delta
            gamma += q * g.gamma
            vega += q * g.vega
            theta += q * g.theta
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
