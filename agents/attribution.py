"""P&L attribution per step and per path: delta, gamma, vega, theta, carry, cost, unexplained.

Between the post-trade book at step ``t`` and the book at step ``t+1`` (before
its trades), the change in wealth is explained by the post-trade greeks at
``t`` and the market's moves::

    delta = Δ_t · dS            gamma = ½ Γ_t · dS²
    vega  = Σ_lines q · vega_line,t · (iv_line,t+1 − iv_line,t)
    theta = Θ_t · dt            carry = interest + dividends earned
    cost  = − costs paid (trades at mid ± spread, fees, rolls)

and ``unexplained`` is the remainder, so the buckets sum to the total P&L
exactly (up to float rounding: the test holds them to 1e-9 relative). For a
BSM book in a BSM world it is the third-order and cross terms, small; under
jumps or stochastic vol it grows — what the manager's model-decay monitor
watches. Vega uses each contract's own implied vol change (the surface moves
differently at different strikes and expiries); an option that expires or
is rolled within the step contributes its change to ``unexplained`` / ``cost``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.portfolio import Portfolio
from market.events import MarketEvent

#: Attribution buckets, in report order.
BUCKETS = ("delta", "gamma", "vega", "theta", "carry", "cost", "unexplained")


class PnLAttribution:
    """Accumulates the attribution of one book, per path.

    Args:
        n_paths: Number of paths.
    """

    def __init__(self, n_paths: int) -> None:
        self.totals = {b: np.zeros(n_paths) for b in BUCKETS}
        #: Per-step means across paths of each bucket (for reports).
        self.steps: list[dict[str, float]] = []
        self._post: dict[str, Any] | None = None

    def after_trades(
        self,
        portfolio: Portfolio,
        market: MarketEvent,
        greeks: dict[str, np.ndarray],
        wealth: np.ndarray,
    ) -> None:
        """Remember the post-trade book at this step.

        Args:
            portfolio: The book after this step's fills.
            market: This step's market event.
            greeks: Post-trade book ``delta``, ``gamma``, ``theta`` (``[n]``).
            wealth: Post-trade wealth at this step's mids, ``[n]``.
        """
        lines = {}
        for key, ln in portfolio.lines.items():
            q = portfolio.quote_line(key, market)
            lines[key] = (ln.qty.copy(), q.vega, q.iv)
        self._post = {
            "spot": market.spot,
            "time": market.time,
            "delta": greeks["delta"],
            "gamma": greeks["gamma"],
            "theta": greeks["theta"],
            "lines": lines,
            "wealth": wealth,
            "cost": portfolio.cost.copy(),
            "carry": portfolio.carry.copy(),
        }

    def line_vega_pnl(self, portfolio: Portfolio, market: MarketEvent) -> np.ndarray:
        """Vega P&L of the remembered lines still held (call before rolls)."""
        out = np.zeros(market.n_paths)
        if self._post is None:
            return out
        for key, (qty, vega, iv0) in self._post["lines"].items():
            ln = portfolio.lines.get(key)
            if ln is None:
                continue
            iv1 = portfolio.memo.unit(market, ln).iv  # the surface's vol, memoised
            out += qty * vega * (iv1 - iv0)
        return out

    def at_quote(
        self, portfolio: Portfolio, market: MarketEvent, wealth: np.ndarray, vega: np.ndarray
    ) -> dict[str, np.ndarray] | None:
        """Attribute the move from the remembered post-trade book to this quote.

        Args:
            portfolio: The book now (rolled to the quote, before trades).
            market: The new market event.
            wealth: Wealth now at the new mids, ``[n]``.
            vega: :meth:`line_vega_pnl` computed before any roll.

        Returns:
            The step's buckets per path, or None at the first quote.
        """
        post = self._post
        if post is None:
            return None
        ds = market.spot - post["spot"]
        parts = {
            "delta": post["delta"] * ds,
            "gamma": 0.5 * post["gamma"] * ds * ds,
            "vega": vega,
            "theta": post["theta"] * (market.time - post["time"]),
            "carry": portfolio.carry - post["carry"],
        }
        roll_cost = portfolio.cost - post["cost"]
        explained = parts["delta"] + parts["gamma"] + parts["vega"] + parts["theta"]
        parts["unexplained"] = wealth + roll_cost - post["wealth"] - explained - parts["carry"]
        parts["cost"] = -roll_cost
        for b, v in parts.items():
            self.totals[b] = self.totals[b] + v
        if ds.shape[0] <= 4096:  # one pass on few paths (same bits), less call overhead
            means = np.mean(np.stack(list(parts.values())), axis=-1)
            self.steps.append({b: float(m) for b, m in zip(parts, means, strict=True)})
        else:
            self.steps.append({b: float(v.mean()) for b, v in parts.items()})
        self._post = None
        return parts

    def trade_cost(self, cost: np.ndarray) -> None:
        """Book this step's trading costs (cost against mid, ``[n]``, >= 0)."""
        self.totals["cost"] = self.totals["cost"] - cost

    def snapshot(self) -> dict[str, Any]:
        """State to restore later."""
        return {
            "totals": {b: v.copy() for b, v in self.totals.items()},
            "post": self._post,
            "steps": list(self.steps),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`snapshot`."""
        self.totals = {b: v.copy() for b, v in state["totals"].items()}
        self._post = state["post"]
        self.steps = list(state["steps"])
