"""The band rule shared by the greek hedgers."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from agents.base import Agent, AgentConfig
from agents.models import BSMModel, PricingModel
from market.events import MarketEvent, Order, RiskSnapshot

#: Instrument greeks below this (per unit) are treated as zero: no trade.
MIN_UNIT_GREEK = 1e-12


class BandConfig(AgentConfig):
    """Config of a band hedger.

    Attributes:
        instrument: Listing name of the instrument it trades.
        target: Where to bring the greek when it leaves its band, as a fraction
            of the band (0 = back to zero, 1 = just inside the band edge).
        model: The pricing model its greeks come from (the book's, in its
            view, and its instrument's): ``{"kind": "bsm"}`` (default),
            ``"heston"`` or ``"merton"`` with the hedger's parameters
            (:mod:`agents.models`).
    """

    instrument: str = "underlying"
    target: float = Field(0.0, ge=0.0, le=1.0)
    model: PricingModel = BSMModel()


def band_trade(
    exposure: np.ndarray, band: np.ndarray, per_unit: np.ndarray, target: float, xp: Any = np
) -> np.ndarray:
    """Units to trade so that ``|exposure|`` returns inside ``target * band``.

    Args:
        exposure: The book's greek per path, shape ``[n]``.
        band: Largest allowed ``|exposure|`` per path, same unit, shape ``[n]``.
        per_unit: The instrument's greek per unit traded, shape ``[n]``.
        target: Fraction of the band to re-hedge to, in [0, 1].
        xp: The array namespace (numpy; the trainer passes its torch shim).

    Returns:
        Units per path, shape ``[n]``: zero inside the band or where the
        instrument carries (almost) none of the greek.
    """
    goal = xp.sign(exposure) * (target * band)
    outside = xp.abs(exposure) > band
    usable = xp.abs(per_unit) > MIN_UNIT_GREEK
    safe = xp.where(usable, per_unit, 1.0)
    return xp.where(outside & usable, (goal - exposure) / safe, 0.0)


class BandHedger(Agent):
    """A hedger that keeps one greek of the book inside its band.

    Subclasses set ``greek`` and ``Config``; the rule is :func:`band_trade`
    with the book's greek from the view and the instrument's from its quote.
    """

    Config: ClassVar[type[BandConfig]] = BandConfig
    config: BandConfig

    def on_market(self, event: MarketEvent, view: RiskSnapshot) -> list[Order]:
        """Trade the configured instrument by the greek outside the band."""
        greek = self.greek
        assert greek is not None
        inst = self.config.instrument
        per_unit = view.hedge_greeks.get(inst, {}).get(greek)
        if per_unit is None:
            per_unit = getattr(event.quote(inst), greek)
        qty = band_trade(getattr(view, greek), view.bands[greek], per_unit, self.config.target)
        return [self.order(self.config.instrument, qty)]
