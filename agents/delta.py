"""DeltaHedger: keeps the book's delta inside its band with the underlying."""

from __future__ import annotations

from typing import ClassVar

from agents._band import BandConfig, BandHedger


class DeltaHedgerConfig(BandConfig):
    """Config of :class:`DeltaHedger` (trades ``instrument``, default the underlying)."""


class DeltaHedger(BandHedger):
    """Trades to bring ``|delta|`` (per unit of spot) inside the manager's delta band.

    It runs last in the default cascade and so neutralises the delta that the
    option hedgers' trades brought in.
    """

    Config: ClassVar[type[DeltaHedgerConfig]] = DeltaHedgerConfig
    greek: ClassVar[str | None] = "delta"
