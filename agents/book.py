"""The book's own flows: the initial positions, client trades, and rolls.

:class:`BookKeeper` owns the operations that change the book without an
agent's order: putting on the initial options at mid, the client flow that
keeps arriving (:class:`BookFlow`), and rolling hedge positions out of
series the exchange no longer lists. The :class:`~agents.manager.RiskManager`
calls it at the start of every step.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import Field

from agents.portfolio import OptionLine, Portfolio
from market._rng import BlockRNG
from market.events import MarketEvent, Order
from market.execution import CostModel, fill_order
from market.pricing import bsm_price
from market.surface import implied_vol
from market.validation import StrictModel

#: Longest expiry of a book option, days (100 years).
MAX_EXPIRY_DAYS = 36_525.0
#: Largest position or client trade, units.
MAX_QTY = 1e9


class BookPosition(StrictModel):
    """An option the book holds from the start, put on at mid.

    Attributes:
        is_call: Call (True) or put.
        moneyness: Strike as a multiple of the initial spot.
        expiry_days: Days to expiry at the start.
        qty: Units held (negative = short).
    """

    is_call: bool = True
    moneyness: float = Field(1.0, gt=0.0, le=100.0)
    expiry_days: float = Field(30.0, gt=0.0, le=MAX_EXPIRY_DAYS)
    qty: float = Field(ge=-MAX_QTY, le=MAX_QTY)


class BookFlow(StrictModel):
    """Client trades that keep arriving in the book (e.g. Cao et al. 2023).

    Each day (at the first step at or after the start of days 1, 2, ...) every path receives
    ``N ~ Poisson(rate_per_day)`` client trades of one new option each
    (strike ``moneyness × spot``, ``expiry_days`` to expiry), each adding
    ``+qty`` or ``-qty`` units to the book with probability ½ (``side =
    "random"``), or always ``+qty`` / ``-qty`` (``"long"`` / ``"short"``). Trades
    are done at mid. The draws come from their own random stream, the same
    in every configuration.

    Attributes:
        rate_per_day: Mean client trades per day.
        qty: Units per client trade.
        side: ``"random"``, ``"long"`` or ``"short"`` (the book's side).
        is_call: Call or put.
        moneyness: Strike as a multiple of spot at the trade.
        expiry_days: Days to expiry at the trade.
    """

    rate_per_day: float = Field(1.0, ge=0.0, le=1000.0)
    qty: float = Field(100.0, gt=0.0, le=MAX_QTY)
    side: Literal["random", "long", "short"] = "random"
    is_call: bool = True
    moneyness: float = Field(1.0, gt=0.0, le=100.0)
    expiry_days: float = Field(60.0, gt=0.0, le=MAX_EXPIRY_DAYS)


class BookKeeper:
    """Puts on the book, its client flow and its rolls.

    Args:
        portfolio: The book's positions and cash.
        positions: The options held from the start.
        year_days: Days per year.
        costs: Cost model per listed instrument (for rolls).
        no_roll: Instruments whose old series are held to expiry, not rolled.
        flow: Client trades with their random draws (``(flow, rng,
            steps_per_day)``), or None.
    """

    def __init__(
        self,
        portfolio: Portfolio,
        positions: tuple[BookPosition, ...],
        year_days: float,
        costs: dict[str, CostModel],
        no_roll: frozenset[str],
        flow: tuple[BookFlow, BlockRNG, int] | None,
    ) -> None:
        self.portfolio = portfolio
        self.positions = positions
        self.year_days = year_days
        self.costs = costs
        self.no_roll = no_roll
        self.flow = flow
        self.booked = False
        self._day = 0

    def roll_delisted(self, market: MarketEvent) -> None:
        """Close positions in series their instrument no longer lists (a roll).

        When a hedge instrument lists a new series, positions in the old one
        are closed at its surface mid plus the instrument's costs; where the
        exchange re-struck the current series on some paths (the spot moved
        away), those paths' positions are closed the same way and the line
        takes the new strike there. The agents then hedge with what is listed.
        This keeps hedge options near the money and away from expiry, where
        an option's gamma vanishes or blows up, as a desk's rolls do.
        """
        listed = {q.instrument: q for q in market.quotes}
        lines = self.portfolio.lines
        for key, ln in list(lines.items()):
            current = listed.get(ln.instrument)
            if current is None or ln.instrument in self.no_roll:
                continue
            if current.contract == key:
                moved = ln.strike != current.strike
                if not moved.any():
                    continue
                qty = np.where(moved, -ln.qty, 0.0)
            else:
                moved, qty = None, -ln.qty
            quote = self.portfolio.quote_line(key, market)
            order = Order(market.step, "roll", ln.instrument, qty)
            fill = fill_order(order, quote, self.costs.get(ln.instrument, CostModel()), "roll")
            self.portfolio.apply_fill(fill, quote)
            if moved is not None and key in lines:
                lines[key].strike = current.strike.copy()

    def client_flow(self, market: MarketEvent) -> None:
        """Put this day's client trades on the book (at mid), if one starts now."""
        if self.flow is None:
            return
        flow, rng, _ = self.flow
        # The first step of each new day (on any timeline: the first step at
        # or after midnight; on a lock-step grid, every steps_per_day-th).
        day = math.floor(market.time * self.year_days + 1e-6)
        if day <= self._day:
            return
        self._day = day
        count = rng.poisson(flow.rate_per_day)
        if flow.side == "random":
            units = 2 * rng.binomial(count, 0.5) - count
        else:
            units = count if flow.side == "long" else -count
        qty = flow.qty * units.astype(np.float64)
        self.add_option(
            f"flow@{market.step}", market, flow.is_call, flow.moneyness, flow.expiry_days, qty
        )

    def add_option(
        self,
        contract: str,
        market: MarketEvent,
        is_call: bool,
        moneyness: float,
        expiry_days: float,
        qty: np.ndarray,
    ) -> None:
        strike = moneyness * market.spot
        expiry = market.time + expiry_days / self.year_days
        iv = implied_vol(market.surface, market.spot, strike, market.time, expiry)
        price = bsm_price(
            market.spot, strike, expiry - market.time, iv, market.rate, market.div, is_call
        )
        line = OptionLine("book", contract, is_call, expiry, strike, qty)
        self.portfolio.add_option(line, price)

    def open(self, market: MarketEvent) -> None:
        n = market.n_paths
        for i, pos in enumerate(self.positions):
            qty = np.full(n, pos.qty)
            self.add_option(f"book#{i}", market, pos.is_call, pos.moneyness, pos.expiry_days, qty)
        self.booked = True

    def snapshot(self) -> dict[str, Any]:
        """State to restore later (the portfolio is the manager's to snapshot)."""
        return {
            "booked": self.booked,
            "day": self._day,
            "flow_rng": None if self.flow is None else self.flow[1].snapshot(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`snapshot`."""
        self.booked = bool(state["booked"])
        self._day = int(state.get("day", 0))
        if self.flow is not None:
            self.flow[1].restore(state["flow_rng"])
