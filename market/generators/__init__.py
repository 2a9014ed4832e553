"""Path generators: each moves spot and the implied-vol surface one step at a time.

The scenario's ``market.kind`` names the generator; :func:`make_generator`
builds it from :data:`GENERATORS`. Generators draw from a
:class:`~market._rng.BlockRNG`, so the paths do not depend on how a run is
sharded.
"""

from __future__ import annotations

from market._rng import BlockRNG
from market.config import MarketConfig
from market.generators.fitted import FittedGenerator
from market.generators.fitted_history import HistoryWindowsGenerator
from market.generators.gbm import GBMGenerator, Release, Scheduled
from market.generators.macro_gap import MacroGapGenerator
from market.generators.models import HestonGenerator, MertonGenerator
from market.generators.regime import RegimeGenerator
from market.replay import ReplayGenerator

#: World model name (``market.kind``) to its generator class.
GENERATORS: dict[str, type[GBMGenerator]] = {
    "gbm": GBMGenerator,
    "macro_gap": MacroGapGenerator,
    "replay": ReplayGenerator,
    "regime": RegimeGenerator,
    "heston": HestonGenerator,
    "merton": MertonGenerator,
    "fitted": FittedGenerator,
    "history_windows": HistoryWindowsGenerator,
}


def make_generator(config: MarketConfig, rng: BlockRNG, year_days: float) -> GBMGenerator:
    """Build the generator ``config.kind`` names.

    Args:
        config: A validated market config.
        rng: Random draws for the generator's paths.
        year_days: Days per year (ACT/365 = 365).

    Returns:
        The generator, at time 0.
    """
    return GENERATORS[config.kind](config, rng, year_days)


__all__ = [
    "GENERATORS",
    "FittedGenerator",
    "GBMGenerator",
    "HestonGenerator",
    "HistoryWindowsGenerator",
    "MacroGapGenerator",
    "MertonGenerator",
    "RegimeGenerator",
    "Release",
    "Scheduled",
    "make_generator",
]
