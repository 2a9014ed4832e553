"""Regime switching: each path is calm or stressed, a Markov chain in time.

At every step a path leaves its regime with that regime's per-day
probability, scaled to the step (``1 - (1 - p)**days``). The ATM implied
vol is the regime's level — it jumps when the regime flips, as listed vol
does when a market turns — and the spot diffuses at ``realized_vol_ratio``
times it, with the stressed drift while stressed. A stressed path may also
jump (``stressed_jump_rate`` per year: at most one jump a step, with
probability ``1 - exp(-rate dt)``, log size normal), its drift compensated so
the jumps add no expected return. Draw order per step: one uniform
(transition), one normal (spot), then, with jumps on, one uniform (jump or
not) and one normal (its size).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from market._rng import BlockRNG
from market.config import MarketConfig
from market.generators.gbm import GBMGenerator, Release


class RegimeGenerator(GBMGenerator):
    """Calm/stressed Markov-switching spot and ATM vol.

    Args:
        config: The market config; ``config.regime`` holds the two regimes.
        rng: Random draws for this generator's paths.
        year_days: Days per year (scales the per-day switching probabilities).
    """

    def __init__(self, config: MarketConfig, rng: BlockRNG, year_days: float) -> None:
        super().__init__(config, rng, year_days)
        r = config.regime
        self.stressed = np.full(rng.n, r.start_stressed)
        self._levels = np.log(np.array([r.calm_vol, r.stressed_vol]))
        self._log_atm = self._levels[self.stressed.astype(np.int64)]

    def advance(self, t0: float, t1: float) -> list[Release]:
        """Switch regimes, then move the spot over ``(t0, t1]``."""
        cfg, r = self.config, self.config.regime
        dt = t1 - t0
        days = dt * self.year_days
        u = self.rng.uniform(1)[0]
        z = self.rng.standard_normal(1)[0]
        sigma = cfg.realized_vol_ratio * np.exp(self._log_atm)
        calm_mu = self.rate if cfg.drift is None else cfg.drift
        stressed_mu = calm_mu if r.stressed_drift is None else r.stressed_drift
        mu = np.where(self.stressed, stressed_mu, calm_mu)
        log_move = (mu - self.div - 0.5 * sigma * sigma) * dt + sigma * math.sqrt(dt) * z
        if r.stressed_jump_rate > 0.0:
            p_jump = 1.0 - math.exp(-r.stressed_jump_rate * dt)
            hit = self.rng.uniform(1)[0] < p_jump
            size = r.stressed_jump_mean + r.stressed_jump_std * self.rng.standard_normal(1)[0]
            mean_jump = math.exp(r.stressed_jump_mean + 0.5 * r.stressed_jump_std**2) - 1.0
            comp = -math.log1p(p_jump * mean_jump)  # E[exp(jump part)] = 1 per step
            log_move = log_move + np.where(self.stressed, comp + np.where(hit, size, 0.0), 0.0)
        self.spot = self.spot * np.exp(log_move)
        leave = np.where(
            self.stressed,
            1.0 - (1.0 - r.p_stressed_to_calm) ** days,
            1.0 - (1.0 - r.p_calm_to_stressed) ** days,
        )
        self.stressed = np.where(u < leave, ~self.stressed, self.stressed)
        self._log_atm = self._levels[self.stressed.astype(np.int64)]
        return []

    def snapshot(self) -> dict[str, Any]:
        """State to restore later."""
        return {**super().snapshot(), "stressed": self.stressed.copy()}

    def restore(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`snapshot`."""
        super().restore(state)
        self.stressed = state["stressed"].copy()
