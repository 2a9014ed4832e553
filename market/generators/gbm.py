"""Geometric Brownian motion spot with a stochastic implied-vol surface.

Spot follows GBM whose instantaneous vol is ``realized_vol_ratio`` times the
surface's current base ATM vol; the log ATM vol follows an Ornstein-Uhlenbeck
process (exact discretisation) correlated with spot shocks. With
``vol_of_vol = 0`` and ``realized_vol_ratio = 1`` this is the Black-Scholes
world: constant vol, flat surface when skew and term are zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from market._rng import BlockRNG
from market.config import MarketConfig
from market.surface import SurfaceState


@dataclass(frozen=True, slots=True)
class Release:
    """A scheduled announcement released during a step.

    Attributes:
        name: Announcement name.
        event_time: Scheduled release time, years.
        expected_std: Std of the log gap priced in, decimal.
        gap: Realised log spot gap per path, shape ``[n]``.
    """

    name: str
    event_time: float
    expected_std: float
    gap: np.ndarray


@dataclass(frozen=True, slots=True)
class Scheduled:
    """An announcement known ahead: name, release time (years), priced gap std."""

    name: str
    event_time: float
    expected_std: float


class GBMGenerator:
    """Spot and surface paths for a range of paths, advanced one step at a time.

    Args:
        config: The market config (spot, drift, surface, rates).
        rng: Random draws for this generator's paths.
        year_days: Days per year.
    """

    def __init__(self, config: MarketConfig, rng: BlockRNG, year_days: float) -> None:
        self.config = config
        self.rng = rng
        self.rate = config.rate
        self.div = config.div
        self.year_days = year_days
        n = rng.n
        s = config.surface
        self.spot = np.full(n, config.spot)
        self._log_atm = np.full(n, math.log(s.atm))
        self._skew = np.full(n, s.skew)
        self._term = np.full(n, s.term)
        self._event_var = np.zeros(n)

    @property
    def schedule(self) -> list[Scheduled]:
        """Announcements known at the start (none in a plain GBM world)."""
        return []

    def stamp(self, time: float) -> str:
        """Calendar stamp of ``time`` from the world's own data ("" = none)."""
        return ""

    def _atm_multiplier(self, time: float) -> float:
        """Deterministic multiplier on the ATM level (1 in plain GBM)."""
        return 1.0

    def _event_time(self, time: float) -> float:
        return math.inf

    def surface(self, time: float) -> SurfaceState:
        """The surface state at ``time`` (years)."""
        atm = np.exp(self._log_atm) * self._atm_multiplier(time)
        return SurfaceState(
            atm=atm,
            skew=self._skew.copy(),
            term=self._term.copy(),
            event_var=self._event_var.copy(),
            event_time=self._event_time(time),
        )

    def advance(self, t0: float, t1: float) -> list[Release]:
        """Move spot and surface from ``t0`` to ``t1`` (years).

        Returns:
            Announcements released in ``(t0, t1]`` with their realised gaps.
        """
        cfg = self.config
        s = cfg.surface
        dt = t1 - t0
        z = self.rng.standard_normal(2)
        atm = np.exp(self._log_atm) * self._atm_multiplier(t0)
        sigma = cfg.realized_vol_ratio * atm
        scale = self._vol_scale(t0, t1)
        if scale is not None:
            sigma = sigma * scale
        mu = self.rate if cfg.drift is None else cfg.drift
        self.spot = self.spot * np.exp(
            (mu - self.div - 0.5 * sigma * sigma) * dt + sigma * math.sqrt(dt) * z[0]
        )
        drift = self._extra_drift(t0, t1)
        if drift is not None:
            self.spot = self.spot * np.exp(drift)
        if s.vol_of_vol > 0.0:
            x_bar = math.log(s.long_run_atm if s.long_run_atm is not None else s.atm)
            k = s.mean_reversion
            decay = math.exp(-k * dt)
            sd = s.vol_of_vol * (
                math.sqrt((1 - decay * decay) / (2 * k)) if k > 0 else math.sqrt(dt)
            )
            rho = s.spot_vol_corr
            shock = rho * z[0] + math.sqrt(1.0 - rho * rho) * z[1]
            self._log_atm = x_bar + (self._log_atm - x_bar) * decay + sd * shock
        return self._releases(t0, t1)

    def _releases(self, t0: float, t1: float) -> list[Release]:
        return []

    def _vol_scale(self, t0: float, t1: float) -> float | None:
        """RMS multiplier of the spot vol over ``(t0, t1]`` (None = 1, untouched)."""
        return None

    def _extra_drift(self, t0: float, t1: float) -> np.ndarray | None:
        """Extra log-spot drift over ``(t0, t1]`` per path (None = none)."""
        return None

    def snapshot(self) -> dict[str, Any]:
        """State to restore later (plain types and arrays)."""
        return {
            "spot": self.spot.copy(),
            "log_atm": self._log_atm.copy(),
            "event_var": self._event_var.copy(),
            "rng": self.rng.snapshot(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`snapshot`."""
        self.spot = state["spot"].copy()
        self._log_atm = state["log_atm"].copy()
        self._event_var = state["event_var"].copy()
        self.rng.restore(state["rng"])
