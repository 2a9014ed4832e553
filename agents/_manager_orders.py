"""The manager's order flow: hard limits at booking, orders in flight (latency),
state triggers, netting, and post-release slippage. Part of
:class:`agents.manager.RiskManager`."""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.models import MODEL_GREEKS
from market.clock import CLOCK_TOL
from market.events import Fill, InstrumentQuote, MarketEvent, Order


class OrderFlow:
    """The order half of :class:`~agents.manager.RiskManager` (a mixin; state set there)."""

    _market: MarketEvent | None
    _running: dict[str, np.ndarray]
    _orders: list[Order]
    _inflight: list[tuple[float, Order]]
    _by_model: dict[str, dict[str, np.ndarray]]
    _hedge_by_model: dict[str, dict[str, dict[str, np.ndarray]]]
    _bands: dict[str, np.ndarray]
    _last_spot: dict[str, np.ndarray]
    _pre_mid: dict[str, tuple[str, np.ndarray, np.ndarray]]
    triggers: dict[str, tuple[str, Any]]
    rejected: np.ndarray
    slippage: np.ndarray
    slippage_minutes: float | None

    def check_order(
        self, agent: str, instrument: str, qty: np.ndarray, quote: InstrumentQuote
    ) -> np.ndarray | None:
        """The pre-trade limit check: :meth:`BudgetHooks.check_order`, before this in the MRO."""
        raise NotImplementedError

    def _book_order(self, market: MarketEvent, agent: str, o: Order) -> None:
        """Apply the hard limits to an order executing now and add it to the book's greeks."""
        q = market.quote(o.instrument)
        qty = o.qty
        reject = self.check_order(agent, o.instrument, qty, q)
        if reject is not None and reject.any():
            self.rejected += reject & (qty != 0.0)
            qty = np.where(reject, 0.0, qty)
        for g in MODEL_GREEKS:
            self._running[g] = self._running[g] + qty * getattr(q, g)
        for key, running in self._by_model.items():
            unit = self._hedge_by_model[key][o.instrument]
            for g in MODEL_GREEKS:
                running[g] = running[g] + qty * unit[g]
        self._orders.append(Order(o.step, agent, o.instrument, qty))

    def _execute_arrivals(self, market: MarketEvent) -> None:
        """Book the orders in flight that arrive by this step (in decision order)."""
        due = [(t, o) for t, o in self._inflight if t <= market.time + CLOCK_TOL]
        if not due:
            return
        self._inflight = [(t, o) for t, o in self._inflight if t > market.time + CLOCK_TOL]
        for _, o in due:
            self._book_order(market, o.sender, o)

    def _inflight_greeks(
        self, market: MarketEvent, hedge: dict[str, Any] | None
    ) -> dict[str, np.ndarray] | None:
        """Greeks of the orders in flight at this step's quotes (None when none)."""
        if not self._inflight:
            return None
        out = {g: np.zeros(market.n_paths) for g in MODEL_GREEKS}
        for _, o in self._inflight:
            if hedge:
                unit = hedge[o.instrument]
            else:
                q = market.quote(o.instrument)
                unit = {g: getattr(q, g) for g in MODEL_GREEKS}
            for g in MODEL_GREEKS:
                out[g] = out[g] + o.qty * unit[g]
        return out

    def _due(self, agent: str | None, view: dict[str, np.ndarray]) -> np.ndarray | None:
        """Paths on which ``agent``'s state trigger fires (None = no state trigger)."""
        trig = self.triggers.get(agent) if agent is not None else None
        if trig is None:
            return None
        market = self._market
        assert market is not None
        kind, arg = trig
        if kind == "spot_move":
            last = self._last_spot[agent]  # type: ignore[index]
            moved = np.abs(market.spot / np.where(np.isnan(last), market.spot, last) - 1.0)
            return np.isnan(last) | (moved > arg)
        return np.abs(view[arg]) > self._bands[arg]

    def net_orders(self) -> list[Order]:
        """This step's orders netted per instrument (first-ordered first), non-zero only."""
        net: dict[str, np.ndarray] = {}
        for o in self._orders:
            net[o.instrument] = net[o.instrument] + o.qty if o.instrument in net else o.qty
        step = self._market.step if self._market is not None else 0
        return [Order(step, "manager", k, v) for k, v in net.items() if np.any(v)]

    def _slip(self, f: Fill, quote: Any, since: float) -> None:
        """Add a post-release fill's cost against the pre-release mid of its contract.

        Paths whose contract was relisted or re-struck since count the cost
        against their own mid (the spread and fees only).
        """
        if self.slippage_minutes is None or since > self.slippage_minutes + 1e-9:
            return
        pre = self._pre_mid.get(f.instrument)
        ref = f.mid
        if pre is not None and pre[0] == quote.contract:
            ref = np.where(pre[1] == quote.strike, pre[2], f.mid)
        fee = f.cost - f.qty * (f.price - f.mid)
        self.slippage = self.slippage + f.qty * (f.price - ref) + fee
