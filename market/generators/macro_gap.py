"""A scheduled macro announcement: vol bid before, spot gap and vol crush at release.

On top of :mod:`market.generators.gbm`: from the start the surface carries an
event premium ``premium * size_std**2`` of total variance on expiries after the
release; over the last ``bid_days`` before it the ATM level is bid up by the
fraction ``bid``; at release the spot gaps by a draw from the configured
distribution, the premium collapses and the ATM level is crushed by the
fraction ``crush``, recovering towards its pre-event level at the surface's
mean-reversion speed.

Fast markets (optional): after the release the spot's realised vol is
``post_vol`` times its normal level, the excess decaying with a half-life
(``post_vol_half_life_minutes``), and the spot drifts by ``post_drift`` times
the gap, exponentially over ``post_drift_minutes`` (continuation > 0,
reversal < 0). Both are integrated exactly over each step, so they hold on
any timeline: with ``m(u) = 1 + a e^{-λu}``, a step ``(u0, u1]`` after the
release diffuses with the variance ``σ² ∫ m²``; the drift adds
``post_drift · gap · (e^{-u0/τ} − e^{-u1/τ})``.
"""

from __future__ import annotations

import math

import numpy as np

from market._rng import BlockRNG
from market.config import MarketConfig
from market.generators.gbm import GBMGenerator, Release, Scheduled


class MacroGapGenerator(GBMGenerator):
    """GBM paths with one scheduled announcement.

    Args:
        config: The market config; ``config.gap`` describes the announcement.
        rng: Random draws for this generator's paths.
        year_days: Days per year, to place the announcement in years.
    """

    def __init__(self, config: MarketConfig, rng: BlockRNG, year_days: float) -> None:
        super().__init__(config, rng, year_days)
        self.gap = config.gap
        self.event_time = config.gap.release_day / year_days
        self.bid_window = config.gap.bid_days / year_days
        self._event_var[:] = config.gap.premium * config.gap.size_std**2
        self._released = False
        self._gap = np.zeros(rng.n)

    @property
    def schedule(self) -> list[Scheduled]:
        """The announcement, known from the start."""
        return [Scheduled(self.gap.name, self.event_time, self.gap.size_std)]

    def _event_time(self, time: float) -> float:
        return math.inf if self._released else self.event_time

    def _atm_multiplier(self, time: float) -> float:
        g = self.gap
        if not self._released:
            if self.bid_window <= 0.0 or time < self.event_time - self.bid_window:
                return 1.0
            frac = min(1.0, (time - (self.event_time - self.bid_window)) / self.bid_window)
            return 1.0 + g.bid * frac
        k = self.config.surface.mean_reversion
        return 1.0 - g.crush * math.exp(-k * (time - self.event_time))

    def _releases(self, t0: float, t1: float) -> list[Release]:
        g = self.gap
        if self._released or not (t0 < self.event_time <= t1 + 1e-12):
            return []
        u = self.rng.uniform(1)[0]
        z = self.rng.standard_normal(1)[0]
        if g.distribution == "normal":
            shock = g.size_std * z
        elif g.distribution == "student_t":
            shock = g.size_std * self.rng.standard_t(g.df) * math.sqrt((g.df - 2.0) / g.df)
        else:
            shock = np.where(u < g.p_up, 1.0, -1.0) * g.size_std * np.abs(z)
        gap = g.mean + shock
        self.spot = self.spot * np.exp(gap)
        self._event_var[:] = 0.0
        self._released = True
        self._gap = np.asarray(gap, dtype=np.float64)
        return [Release(g.name, self.event_time, g.size_std, gap)]

    def _minutes_after(self, t: float) -> float:
        return max(0.0, (t - self.event_time) * self.year_days * 1440.0)

    def _vol_scale(self, t0: float, t1: float) -> float | None:
        g = self.gap
        if not self._released or g.post_vol == 1.0 or t1 <= t0:
            return None
        a = g.post_vol - 1.0
        lam = math.log(2.0) / g.post_vol_half_life_minutes
        u0, u1 = self._minutes_after(t0), self._minutes_after(t1)
        e1 = math.exp(-lam * u0) - math.exp(-lam * u1)
        e2 = math.exp(-2.0 * lam * u0) - math.exp(-2.0 * lam * u1)
        mean_sq = 1.0 + (2.0 * a / lam * e1 + a * a / (2.0 * lam) * e2) / (u1 - u0)
        return math.sqrt(mean_sq)

    def _extra_drift(self, t0: float, t1: float) -> np.ndarray | None:
        g = self.gap
        if not self._released or g.post_drift == 0.0:
            return None
        u0, u1 = self._minutes_after(t0), self._minutes_after(t1)
        tau = g.post_drift_minutes
        return g.post_drift * self._gap * (math.exp(-u0 / tau) - math.exp(-u1 / tau))

    def snapshot(self) -> dict:
        """State to restore later."""
        state = super().snapshot()
        state["released"] = self._released
        state["gap"] = self._gap.copy()
        return state

    def restore(self, state: dict) -> None:
        """Restore a :meth:`snapshot`."""
        super().restore(state)
        self._released = bool(state["released"])
        self._gap = state["gap"].copy() if "gap" in state else np.zeros(self.spot.shape[0])
