"""The fitted world (``market.kind = "fitted"``): GJR-GARCH-t fitted to real index data.

Each path carries its own conditional variance ``h`` (decimal² per day).
A step of ``f = dt * year_days`` days (one scenario day is one trading day:
give the scenario ``year_days = 252``) moves the spot by
``exp((mu - div) dt - h f / 2 + sqrt(h f) z)`` and the variance by
``h += f (omega + (alpha + gamma 1[z < 0]) h z² + (beta - 1) h)`` — at one
step a day exactly the fitted GJR recursion. ``z`` is a unit-variance
Student-t with the fitted degrees of freedom. (Filtered historical
simulation — bootstrapped standardised residuals — was tried and dropped:
the residuals' negative skew puts ``E[z² 1[z<0]]`` at 0.58, which makes the
fitted GJR's persistence ``alpha + 0.58 gamma + beta`` exceed 1, and paths
explode.) ``mu`` is the scenario's drift (the risk-free rate by default), not
the fitted mean.

The ATM implied vol is tied to the conditional variance by the relation
fitted on the real VIX (:func:`~market.generators.fitted_fit.implied_atm`);
skew and term slope are the market's ``surface.skew`` / ``surface.term``.

With ``init = "stationary"`` every path first runs ``burn_in_days`` daily
steps from the long-run variance, so the paths start from the model's own
distribution of variance, as real windows do. Draw order per step: one
t draw per path, from the market's
:class:`~market._rng.BlockRNG`: a path's numbers do not depend on the sharding.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from market._rng import BlockRNG
from market.config import FittedWorldParams, MarketConfig
from market.generators.fitted_fit import implied_atm, resolve_world
from market.generators.gbm import GBMGenerator, Release
from market.surface import SurfaceState


class FittedGenerator(GBMGenerator):
    """Spot and conditional variance of the fitted GJR-GARCH world, per path.

    Args:
        config: The market config; ``config.fitted`` names the fit.
        rng: Random draws for this generator's paths.
        year_days: Days per year (one scenario day = one day of the fit).
    """

    def __init__(self, config: MarketConfig, rng: BlockRNG, year_days: float) -> None:
        super().__init__(config, rng, year_days)
        assert config.fitted is not None
        self.fitted = config.fitted
        self.world: FittedWorldParams = resolve_world(config.fitted)
        w = self.world
        self._t_scale = math.sqrt((w.nu - 2.0) / w.nu)
        start = w.last_variance if self.fitted.init == "last" else w.unconditional_variance
        self.variance = np.full(rng.n, start)
        if self.fitted.init == "stationary":
            for _ in range(self.fitted.burn_in_days):
                self._update(self._shock(), 1.0)

    def _shock(self) -> np.ndarray:
        """One unit-variance Student-t innovation per path, ``[n]``."""
        return self.rng.standard_t(self.world.nu) * self._t_scale

    def _update(self, z: np.ndarray, f: float) -> None:
        w, h = self.world, self.variance
        arch = np.where(z < 0.0, w.alpha + w.gamma, w.alpha)
        self.variance = h + f * (w.omega + arch * h * z * z + (w.beta - 1.0) * h)

    def surface(self, time: float) -> SurfaceState:
        """ATM vol from the conditional variance; the market's skew and term."""
        n = self.variance.shape[0]
        s = self.config.surface
        return SurfaceState(
            atm=implied_atm(self.variance, self.world),
            skew=np.full(n, s.skew),
            term=np.full(n, s.term),
            event_var=np.zeros(n),
            event_time=math.inf,
        )

    def advance(self, t0: float, t1: float) -> list[Release]:
        """One GJR step of spot and variance over ``(t0, t1]`` (years)."""
        dt = t1 - t0
        f = dt * self.year_days
        z = self._shock()
        h = self.variance
        mu = self.rate if self.config.drift is None else self.config.drift
        self.spot = self.spot * np.exp((mu - self.div) * dt - 0.5 * h * f + np.sqrt(h * f) * z)
        self._update(z, f)
        return []

    def snapshot(self) -> dict[str, Any]:
        """State to restore later."""
        return {**super().snapshot(), "variance": self.variance.copy()}

    def restore(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`snapshot`."""
        super().restore(state)
        self.variance = state["variance"].copy()
