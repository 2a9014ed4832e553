"""The book's accounting formulas, written once for any array namespace.

:class:`agents.portfolio.Portfolio` (the engine, numpy) and the trainer's
differentiable P&L (``orchestration._train_pnl``, torch float64) call the same
functions for every change of cash: a fill booked against cash, interest on
cash and dividends on the stock over a step, an option settled at expiry.
So the trainer keeps no second model of the book; the two agree to the bit
where the namespaces agree on elementwise IEEE arithmetic. ``xp`` is numpy or
the trainer's torch shim (it needs ``maximum(x, 0.0)``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def cash_after_fill(cash: Any, qty: Any, mid: Any, cost: Any) -> Any:
    """Cash after buying ``qty`` units at ``mid`` plus ``cost`` (all ``[n]``, currency)."""
    return cash - qty * mid - cost


def interest(cash: Any, rate: float, dt: float) -> Any:
    """Interest earned by ``cash`` (``[n]``, currency) at ``rate`` per year over ``dt`` years."""
    return cash * math.expm1(rate * dt)


def dividends(stock: Any, spot: Any, div: float, dt: float) -> Any:
    """Dividends on ``stock`` units at ``spot`` (``[n]``), yield ``div``, over ``dt`` years."""
    return stock * spot * math.expm1(div * dt)


def intrinsic(spot: Any, strike: Any, is_call: bool, xp: Any = np) -> Any:
    """An option's value at expiry per unit, currency, ``[n]``."""
    sign = 1.0 if is_call else -1.0
    return xp.maximum(sign * (spot - strike), 0.0)
