"""The fill model: half-spread, proportional fee and linear impact, per instrument.

A buy of ``q > 0`` units (a sell is ``q < 0``) of an instrument quoted at ``mid``
fills at::

    price = mid + sign(q) * (half_spread + impact * |q|)
    fee   = fee_rate * |q| * mid

and its cost against mid is ``(price - mid) * q + fee >= 0``. The half-spread
of the underlying is in basis points of mid; an option's is in vol points
(times its vega) plus a percentage of premium, the two ways desks quote them.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from market.events import Fill, InstrumentQuote, Order
from market.validation import StrictModel


class CostModel(StrictModel):
    """Trading costs of one instrument (all non-negative and finite).

    Attributes:
        half_spread_bps: Half bid-ask spread, basis points of mid (underlying).
        half_spread_vol: Half spread in implied-vol points (0.5 = half a vol
            point), converted to price with the option's vega (options).
        half_spread_pct: Half spread as a percent of the premium (options).
        fee_pct: Proportional fee, percent of the traded notional at mid.
        impact_bps: Linear price impact, basis points of mid per unit traded.
    """

    half_spread_bps: float = Field(0.0, ge=0.0, le=10_000.0)
    half_spread_vol: float = Field(0.0, ge=0.0, le=100.0)
    half_spread_pct: float = Field(0.0, ge=0.0, le=100.0)
    fee_pct: float = Field(0.0, ge=0.0, le=100.0)
    impact_bps: float = Field(0.0, ge=0.0, le=10_000.0)


def fill_order(order: Order, quote: InstrumentQuote, cost: CostModel, agent: str) -> Fill:
    """Fill one order against its quote.

    Args:
        order: The order, quantity per path ``[n]`` (units; + buys).
        quote: The instrument's quote this step.
        cost: The instrument's cost model.
        agent: Name of the agent the fill is for.

    Returns:
        The fill: price, mid and cost (currency, >= 0) per path.
    """
    q = order.qty
    mid = quote.mid
    half = mid * (cost.half_spread_bps * 1e-4)
    if quote.kind == "option":
        half = np.abs(quote.vega) * (cost.half_spread_vol * 0.01) + mid * (
            cost.half_spread_pct * 0.01
        )
    aq = np.abs(q)
    concession = half + mid * (cost.impact_bps * 1e-4) * aq
    price = mid + np.sign(q) * concession
    fee = (cost.fee_pct * 0.01) * aq * np.abs(mid)
    return Fill(
        step=order.step,
        sender="market",
        agent=agent,
        instrument=order.instrument,
        contract=quote.contract,
        qty=q,
        price=price,
        mid=mid,
        cost=concession * aq + fee,
    )
