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
"""

from __future__ import annotations

from collections import deque
from typing import Literal

import numpy as np
from pydantic import Field

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
    """

    window: int = Field(10, ge=1)
    threshold: float = Field(0.5, gt=0.0)
    rearm: float = Field(0.8, gt=0.0, le=1.0)
    action: Literal["none", "tighten"] = "none"
    tighten_scale: float = Field(0.5, gt=0.0, le=1.0)
    switch_model: PricingModel | None = None


class ModelMonitor:
    """Rolling unexplained-vs-explained P&L ratio with a latched alert.

    Args:
        config: The monitor settings.
    """

    def __init__(self, config: MonitorConfig) -> None:
        self.config = config
        self._unexplained: deque[float] = deque(maxlen=config.window)
        self._explained: deque[float] = deque(maxlen=config.window)
        self.active = False
        self.ratio = 0.0

    def update(self, parts: dict[str, np.ndarray], step: int, time: float) -> ModelAlert | None:
        """Add one step's attribution; return an alert when the ratio crosses, or clears.

        Args:
            parts: The step's attribution buckets per path (``[n]`` each).
            step: Step number.
            time: Years since start.
        """
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

    def snapshot(self) -> dict[str, object]:
        """State to restore later."""
        return {
            "unexplained": list(self._unexplained),
            "explained": list(self._explained),
            "active": self.active,
            "ratio": self.ratio,
        }

    def restore(self, state: dict[str, object]) -> None:
        """Restore a :meth:`snapshot`."""
        self._unexplained = deque(state["unexplained"], maxlen=self.config.window)  # type: ignore[call-overload]
        self._explained = deque(state["explained"], maxlen=self.config.window)  # type: ignore[call-overload]
        self.active = bool(state["active"])
        self.ratio = float(state["ratio"])  # type: ignore[arg-type]
