"""The fill model's formulas, written once for any array namespace.

:func:`market.execution.fill_order` (the engine, numpy) and the trainer's
differentiable P&L (``orchestration._train_pnl``, torch float64) both call
these, so a trade costs the same in training as in a run, to the bit where
the namespaces agree on elementwise IEEE arithmetic. ``xp`` is any object
with ``abs`` and ``sign`` (numpy itself, or the trainer's torch shim); the
arguments are arrays of that namespace (or floats where noted).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from market.clock import CLOCK_TOL


def half_spread(
    mid: Any, vega: Any, is_option: bool, cost: Any, spread_mult: Any = 1.0, xp: Any = np
) -> Any:
    """Half-spread per unit, currency, ``[n]``.

    Args:
        mid: Mid price per unit, currency, ``[n]``.
        vega: Vega per unit per 1.00 vol, ``[n]`` (options only).
        is_option: True for an option (vol points and % of premium), False
            for the underlying (basis points of mid).
        cost: The instrument's :class:`~market.execution.CostModel`.
        spread_mult: Fast-market multiplier (float, or an array ``[n]``).
        xp: The array namespace.
    """
    half = mid * (cost.half_spread_bps * 1e-4)
    if is_option:
        half = xp.abs(vega) * (cost.half_spread_vol * 0.01) + mid * (cost.half_spread_pct * 0.01)
    if spread_mult != 1.0:
        half = half * spread_mult
    return half


def fill_terms(
    qty: Any,
    mid: Any,
    vega: Any,
    is_option: bool,
    cost: Any,
    spread_mult: Any = 1.0,
    xp: Any = np,
) -> tuple[Any, Any]:
    """Execution price and cost against mid of a trade of ``qty`` units per path.

    ``price = mid + sign(q) (half + impact |q|)``, ``cost = (half + impact
    |q|) |q| + fee |q| |mid|`` (see :mod:`market.execution`).

    Args:
        qty: Units bought (+) or sold (-) per path, ``[n]``.
        mid: Mid per unit, currency, ``[n]``.
        vega: Vega per unit, ``[n]`` (options).
        is_option: Option or underlying.
        cost: The instrument's cost model.
        spread_mult: Fast-market multiplier of the half-spread.
        xp: The array namespace.

    Returns:
        ``(price [n], cost [n] >= 0)``, currency.
    """
    half = half_spread(mid, vega, is_option, cost, spread_mult, xp)
    aq = xp.abs(qty)
    concession = half + mid * (cost.impact_bps * 1e-4) * aq
    price = mid + xp.sign(qty) * concession
    fee = (cost.fee_pct * 0.01) * aq * xp.abs(mid)
    return price, concession * aq + fee


def fill_cost(
    qty: Any,
    mid: Any,
    vega: Any,
    is_option: bool,
    cost: Any,
    spread_mult: Any = 1.0,
    xp: Any = np,
) -> Any:
    """The cost against mid of :func:`fill_terms` alone, without its zero terms.

    The same formula, with each term whose coefficient in ``cost`` is zero
    left out (it is an exact zero for finite inputs), so this equals
    ``fill_terms(...)[1]``; the trainer calls it so that it neither computes
    the price nor differentiates terms that vanish.

    Args:
        qty: Units bought (+) or sold (-) per path, ``[n]``.
        mid: Mid per unit, currency, ``[n]``.
        vega: Vega per unit, ``[n]`` (options).
        is_option: Option or underlying.
        cost: The instrument's cost model.
        spread_mult: Fast-market multiplier of the half-spread.
        xp: The array namespace.

    Returns:
        The cost, currency, ``[n]`` (the float ``0.0`` when every coefficient is zero).
    """
    spread = (cost.half_spread_vol or cost.half_spread_pct) if is_option else cost.half_spread_bps
    out: Any = None
    if not (spread or cost.impact_bps or cost.fee_pct):
        return 0.0
    aq = xp.abs(qty)
    if spread or cost.impact_bps:
        impact = mid * (cost.impact_bps * 1e-4) * aq if cost.impact_bps else None
        if spread:
            half = half_spread(mid, vega, is_option, cost, spread_mult, xp)
            concession = half if impact is None else half + impact
        else:
            concession = impact
        out = concession * aq
    if cost.fee_pct:
        fee = (cost.fee_pct * 0.01) * aq * xp.abs(mid)
        out = fee if out is None else out + fee
    return out


def minutes_since_release(released: Sequence[float], time: float, year_days: float) -> float | None:
    """Minutes from the latest release at or before ``time`` (years), or None.

    Args:
        released: Release times so far, years.
        time: Now, years.
        year_days: Days per year.
    """
    past = [t for t in released if t <= time + CLOCK_TOL]
    return (time - max(past)) * year_days * 1440.0 if past else None
