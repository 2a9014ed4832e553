"""Model-decay monitor: is the hedger's model still explaining the book's P&L?

Each step the attribution splits the book's P&L move into what the model's
greeks explain (delta, gamma, vega, theta) and the remainder. In the world
the model assumes, the remainder is third-order and small; when the world
moves by another law (jumps, stochastic vol, a regime change) it grows. The
monitor keeps the last ``window`` steps and computes::

    ratio = RMS(unexplained) / RMS(explained)        (over paths and the window)

and raises a :class:`~market.events.ModelAlert` (metric :data:`ALERT_METRIC`)
when the ratio crosses ``threshold`` (once, until it falls back below
``threshold * rearm``; then it sends one with metric :data:`CLEAR_METRIC`, so
an agent can undo what it did on the alert, e.g. the hybrid). The
manager reacts as configured: ``tighten`` scales every greek's band by
``tighten_scale`` while the alert is on (less model risk kept on the book);
``switch_model`` moves every agent's view (book and hedge greeks) to another
pricing model from the first alert on; and the alert reaches the agents'
``on_alert`` hooks.

With ``per_path`` the ratio, the latch and the re-arm are kept for each path
on its own (its window of steps, no other path's): where paths live in
different states of the world (a calm/stressed regime per path) the alert is
that path's, and it does not depend on which paths share a batch or shard.
On one path the explained buckets cancel (gamma against theta on a quiet
day), so there the scale is the RMS of their sizes' sum, without the delta
bucket (that is the hedge's own position, which a switched hedger changes,
not how well the model explains the book)::

    ratio = RMS(unexplained) / RMS(|gamma| + |vega| + |theta|)   (over the window)

A step on which any path's alert turns on or off sends one alert carrying
every path's state (:attr:`~market.events.ModelAlert.paths`): metric
:data:`ALERT_METRIC` while any path is on, :data:`CLEAR_METRIC` when the last
one clears; its value is the share of paths on. A per-path alert only
informs (``action="none"``, no ``switch_model``); the hybrid routes on it per
path.
"""

from __future__ import annotations

from collections import deque
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from agents.models import PricingModel
from market.events import ModelAlert
from market.validation import StrictModel

#: The metric of the model-decay alert.
ALERT_METRIC = "unexplained_ratio"
#: The metric of the notice that the alert cleared (the ratio fell below ``threshold * rearm``).
CLEAR_METRIC = "unexplained_ratio_cleared"


class MonitorConfig(StrictModel):
    """Model-decay monitor settings.

    Attributes:
        window: Steps in the rolling window.
        threshold: Alert when RMS(unexplained) / RMS(explained) exceeds this.
        rearm: The alert clears when the ratio falls below ``threshold * rearm``.
        action: ``"none"`` (alert only) or ``"tighten"`` (tighten every band).
        tighten_scale: Band scale while the alert is on (``action="tighten"``).
        switch_model: On the first alert, every agent's view switches to this
            pricing model (e.g. ``{"kind": "merton", ...}`` when a BSM book
            meets jumps); None keeps the agents' own models.
        per_path: Keep the ratio and the alert per path (see the module doc).
    """

    window: int = Field(10, ge=1)
    threshold: float = Field(0.5, gt=0.0)
    rearm: float = Field(0.8, gt=0.0, le=1.0)
    action: Literal["none", "tighten"] = "none"
    tighten_scale: float = Field(0.5, gt=0.0, le=1.0)
    switch_model: PricingModel | None = None
    per_path: bool = False

    @model_validator(mode="after")
    def _check(self) -> MonitorConfig:
        if self.per_path and (self.action != "none" or self.switch_model is not None):
            raise ValueError(
                "a per-path monitor only alerts: set action 'none' and no switch_model"
            )
        return self


class ModelMonitor:
    """Rolling unexplained-vs-explained P&L ratio with a latched alert.

    Args:
        config: The monitor settings.
    """

    def __init__(self, config: MonitorConfig) -> None:
        self.config = config
        self._unexplained: deque[float] = deque(maxlen=config.window)
        self._explained: deque[float] = deque(maxlen=config.window)
        self._u_paths: deque[np.ndarray] = deque(maxlen=config.window)
        self._e_paths: deque[np.ndarray] = deque(maxlen=config.window)
        self.active = False
        self.ratio = 0.0
        #: Per path (``per_path``): each path's ratio and alert state, ``[n]``.
        self.ratios: np.ndarray | None = None
        self.paths: np.ndarray | None = None

    def update(self, parts: dict[str, np.ndarray], step: int, time: float) -> ModelAlert | None:
        """Add one step's attribution; return an alert when the ratio crosses, or clears.

        Args:
            parts: The step's attribution buckets per path (``[n]`` each).
            step: Step number.
            time: Years since start.
        """
        if self.config.per_path:
            size = sum(np.abs(parts[b]) for b in ("gamma", "vega", "theta"))
            return self._update_paths(parts["unexplained"], np.asarray(size), step, time)
        explained = parts["delta"] + parts["gamma"] + parts["vega"] + parts["theta"]
        self._unexplained.append(float(np.mean(parts["unexplained"] ** 2)))
        self._explained.append(float(np.mean(explained**2)))
        den = np.sqrt(np.mean(self._explained))
        self.ratio = float(np.sqrt(np.mean(self._unexplained)) / den) if den > 0 else 0.0
        cfg = self.config
        if not self.active and self.ratio > cfg.threshold:
            self.active = True
            return ModelAlert(step, "manager", time, ALERT_METRIC, self.ratio, cfg.threshold)
        if self.active and self.ratio < cfg.threshold * cfg.rearm:
            self.active = False
            return ModelAlert(
                step, "manager", time, CLEAR_METRIC, self.ratio, cfg.threshold * cfg.rearm
            )
        return None

    def _update_paths(
        self, unexplained: np.ndarray, size: np.ndarray, step: int, time: float
    ) -> ModelAlert | None:
        """The per-path ratio, latch and re-arm (``per_path``; ``size``: the explained scale)."""
        cfg = self.config
        self._u_paths.append(unexplained**2)
        self._e_paths.append(size**2)
        num = np.sqrt(np.mean(np.stack(self._u_paths), axis=0))
        den = np.sqrt(np.mean(np.stack(self._e_paths), axis=0))
        ratios = np.where(den > 0.0, num / np.where(den > 0.0, den, 1.0), 0.0)
        was = np.zeros(ratios.shape, dtype=bool) if self.paths is None else self.paths
        now = np.where(was, ratios >= cfg.threshold * cfg.rearm, ratios > cfg.threshold)
        self.ratios, self.paths = ratios, now
        self.ratio = float(np.mean(ratios))
        self.active = bool(now.any())
        if np.array_equal(now, was):
            return None
        metric = ALERT_METRIC if self.active else CLEAR_METRIC
        return ModelAlert(
            step, "manager", time, metric, float(now.mean()), cfg.threshold, now.copy()
        )

    def snapshot(self) -> dict[str, object]:
        """State to restore later."""
        return {
            "unexplained": list(self._unexplained),
            "explained": list(self._explained),
            "active": self.active,
            "ratio": self.ratio,
            "u_paths": [u.copy() for u in self._u_paths],
            "e_paths": [e.copy() for e in self._e_paths],
            "ratios": None if self.ratios is None else self.ratios.copy(),
            "paths": None if self.paths is None else self.paths.copy(),
        }

    def restore(self, state: dict[str, object]) -> None:
        """Restore a :meth:`snapshot`."""
        self._unexplained = deque(state["unexplained"], maxlen=self.config.window)  # type: ignore[call-overload]
        self._explained = deque(state["explained"], maxlen=self.config.window)  # type: ignore[call-overload]
        self.active = bool(state["active"])
        self.ratio = float(state["ratio"])  # type: ignore[arg-type]
        w = self.config.window
        self._u_paths = deque((u.copy() for u in state.get("u_paths", [])), maxlen=w)  # type: ignore[attr-defined]
        self._e_paths = deque((e.copy() for e in state.get("e_paths", [])), maxlen=w)  # type: ignore[attr-defined]
        r, p = state.get("ratios"), state.get("paths")
        self.ratios = None if r is None else np.array(r, dtype=np.float64)
        self.paths = None if p is None else np.array(p, dtype=bool)
