"""GammaHedger: keeps the book's gamma inside its band with a short-dated option."""

from __future__ import annotations

from typing import ClassVar

from agents._band import BandConfig, BandHedger


class GammaHedgerConfig(BandConfig):
    """Config of :class:`GammaHedger` (``instrument``: a short-dated option)."""

    instrument: str = "gamma_opt"


class GammaHedger(BandHedger):
    """Trades an option to bring ``|gamma|`` (per unit²) inside the gamma band.

    The option also carries delta and vega; the manager's cascade hands the
    delta on to the delta hedger that runs after it.
    """

    Config: ClassVar[type[GammaHedgerConfig]] = GammaHedgerConfig
    greek: ClassVar[str | None] = "gamma"
