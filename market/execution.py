"""The fill model: half-spread, proportional fee and linear impact, per instrument.

A buy of ``q > 0`` units (a sell is ``q < 0``) of an instrument quoted at ``mid``
fills at::

    price = mid + sign(q) * (half_spread + impact * |q|)
    fee   = fee_rate * |q| * mid

and its cost against mid is ``(price - mid) * q + fee >= 0``. The half-spread
of the underlying is in basis points of mid; an option's is in vol points
(times its vega) plus a percentage of premium, the two ways desks quote them.

Fast markets: around a scheduled release the half-spread widens. With
``release_spread_mult = k`` it is ``k`` times its normal value at the release,
the excess decaying with a half-life of ``release_half_life_minutes``
(:func:`event_multiplier`); the manager passes the multiplier of the
execution time to :func:`fill_order`.
"""

from __future__ import annotations

from pydantic import Field

from market._fills import fill_terms
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
        release_spread_mult: Half-spread multiple at a release (>= 1; 1 = no
            fast-market widening).
        release_half_life_minutes: Half-life of the widening after a release, minutes.
    """

    half_spread_bps: float = Field(0.0, ge=0.0, le=10_000.0)
    half_spread_vol: float = Field(0.0, ge=0.0, le=100.0)
    half_spread_pct: float = Field(0.0, ge=0.0, le=100.0)
    fee_pct: float = Field(0.0, ge=0.0, le=100.0)
    impact_bps: float = Field(0.0, ge=0.0, le=10_000.0)
    release_spread_mult: float = Field(1.0, ge=1.0, le=1000.0)
    release_half_life_minutes: float = Field(5.0, gt=0.0, le=1e6)


def event_multiplier(cost: CostModel, minutes_since_release: float | None) -> float:
    """The fast-market half-spread multiplier ``1 + (k - 1) * 2**(-m / half_life)``.

    Args:
        cost: The instrument's cost model (``k = release_spread_mult``).
        minutes_since_release: Minutes since the latest release at or before
            now, or None when nothing has been released yet.

    Returns:
        The multiplier (1.0 before any release or without widening).
    """
    k = cost.release_spread_mult
    if minutes_since_release is None or k == 1.0 or minutes_since_release < 0.0:
        return 1.0
    return 1.0 + (k - 1.0) * 0.5 ** (minutes_since_release / cost.release_half_life_minutes)


def fill_order(
    order: Order, quote: InstrumentQuote, cost: CostModel, agent: str, spread_mult: float = 1.0
) -> Fill:
    """Fill one order against its quote.

    Args:
        order: The order, quantity per path ``[n]`` (units; + buys).
        quote: The instrument's quote this step.
        cost: The instrument's cost model.
        agent: Name of the agent the fill is for.
        spread_mult: Multiplier on the half-spread (fast markets,
            :func:`event_multiplier`).

    Returns:
        The fill: price, mid and cost (currency, >= 0) per path.
    """
    q = order.qty
    mid = quote.mid
    price, paid = fill_terms(q, mid, quote.vega, quote.kind == "option", cost, spread_mult)
    return Fill(
        step=order.step,
        sender="market",
        agent=agent,
        instrument=order.instrument,
        contract=quote.contract,
        qty=q,
        price=price,
        mid=mid,
        cost=paid,
    )
