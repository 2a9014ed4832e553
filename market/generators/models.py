"""Model worlds: Heston stochastic variance and Merton jumps, quoted by their own law.

Both move the spot by the model and publish a surface whose ``law`` is the
model: every listed option is quoted at the model's price (its implied vol
is the Black-Scholes vol of that price), so option quotes come from the
world's law and a BSM hedger in such a world meets model risk.

Heston paths use full truncation (Lord et al. 2010): the variance may go
negative between steps but only its positive part drives the spot and the
variance's own drift and diffusion, so the scheme copes with a violated
Feller condition (``2 kappa theta < xi²``). Merton paths add a compound
Poisson sum of normal log jumps per step, drift-compensated.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from market._rng import BlockRNG
from market.config import MarketConfig
from market.generators.gbm import GBMGenerator, Release
from market.surface import SurfaceState


class HestonGenerator(GBMGenerator):
    """Heston world: spot and instantaneous variance per path.

    Args:
        config: The market config; ``config.heston`` holds the parameters.
        rng: Random draws (two normals per step).
        year_days: Days per year.
    """

    def __init__(self, config: MarketConfig, rng: BlockRNG, year_days: float) -> None:
        super().__init__(config, rng, year_days)
        self.variance = np.full(rng.n, config.heston.v0)

    def surface(self, time: float) -> SurfaceState:
        """The surface: Heston law at the current variance."""
        h = self.config.heston
        vp = np.maximum(self.variance, 0.0)
        n = vp.shape[0]
        return SurfaceState(
            atm=np.sqrt(vp),
            skew=np.zeros(n),
            term=np.zeros(n),
            event_var=np.zeros(n),
            event_time=math.inf,
            law="heston",
            law_params={
                "kappa": h.kappa,
                "theta_var": h.theta_var,
                "xi": h.xi,
                "rho": h.rho,
                "rate": self.rate,
                "div": self.div,
            },
            variance=vp,
        )

    def advance(self, t0: float, t1: float) -> list[Release]:
        """Full-truncation Euler step of spot and variance over ``(t0, t1]``."""
        h, dt = self.config.heston, t1 - t0
        z = self.rng.standard_normal(2)
        zv = h.rho * z[0] + math.sqrt(1.0 - h.rho * h.rho) * z[1]
        vp = np.maximum(self.variance, 0.0)
        mu = self.rate if self.config.drift is None else self.config.drift
        self.spot = self.spot * np.exp((mu - self.div - 0.5 * vp) * dt + np.sqrt(vp * dt) * z[0])
        self.variance = (
            self.variance + h.kappa * (h.theta_var - vp) * dt + h.xi * np.sqrt(vp * dt) * zv
        )
        return []

    def snapshot(self) -> dict[str, Any]:
        """State to restore later."""
        return {**super().snapshot(), "variance": self.variance.copy()}

    def restore(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`snapshot`."""
        super().restore(state)
        self.variance = state["variance"].copy()


class MertonGenerator(GBMGenerator):
    """Merton jump-diffusion world.

    Args:
        config: The market config; ``config.merton`` holds the parameters.
        rng: Random draws (two normals and a Poisson count per step).
        year_days: Days per year.
    """

    def surface(self, time: float) -> SurfaceState:
        """The surface: Merton law at the diffusion vol."""
        m = self.config.merton
        n = self.spot.shape[0]
        return SurfaceState(
            atm=np.full(n, m.vol),
            skew=np.zeros(n),
            term=np.zeros(n),
            event_var=np.zeros(n),
            event_time=math.inf,
            law="merton",
            law_params={
                "lam": m.lam,
                "jump_mean": m.jump_mean,
                "jump_std": m.jump_std,
                "rate": self.rate,
                "div": self.div,
            },
            variance=np.full(n, m.vol * m.vol),
        )

    def advance(self, t0: float, t1: float) -> list[Release]:
        """Diffuse, then add this step's jumps, over ``(t0, t1]``."""
        m, dt = self.config.merton, t1 - t0
        z = self.rng.standard_normal(2)
        count = self.rng.poisson(m.lam * dt)
        k = math.exp(m.jump_mean + 0.5 * m.jump_std**2) - 1.0
        mu = self.rate if self.config.drift is None else self.config.drift
        jumps = count * m.jump_mean + np.sqrt(count) * m.jump_std * z[1]
        self.spot = self.spot * np.exp(
            (mu - self.div - m.lam * k - 0.5 * m.vol**2) * dt + m.vol * math.sqrt(dt) * z[0] + jumps
        )
        return []
