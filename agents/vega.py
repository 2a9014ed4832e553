"""VegaHedger: keeps the book's vega inside its band with a longer-dated option."""

from __future__ import annotations

from typing import ClassVar

from agents._band import BandConfig, BandHedger


class VegaHedgerConfig(BandConfig):
    """Config of :class:`VegaHedger` (``instrument``: a longer-dated option)."""

    instrument: str = "vega_opt"


class VegaHedger(BandHedger):
    """Trades an option to bring ``|vega|`` (per 1.00 of vol) inside the vega band.

    It runs first in the default cascade: long-dated options carry much vega
    and little gamma, so the gamma hedger then fixes the gamma it left.
    """

    Config: ClassVar[type[VegaHedgerConfig]] = VegaHedgerConfig
    greek: ClassVar[str | None] = "vega"
