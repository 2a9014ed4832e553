"""The manager's configuration, its result type, and the cascade order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from agents.monitor import MonitorConfig
from agents.policy_config import PolicyRef, StaticAllocation
from market.validation import StrictModel, Vol

#: Default cascade: option hedges first, delta last (the desk's order).
CASCADE_RANK = {"vega": 0, "gamma": 1, "delta": 2}


class ManagerConfig(StrictModel):
    """The manager's budget, stress grid, allocation policy and hard limits.

    Attributes:
        budget: Total stressed-loss budget, currency (> 0).
        weights: Share of the budget per greek (sum <= 1).
        stress_sigmas: Spot move of the stress grid, in standard deviations.
        stress_horizon_days: Horizon of the stress move, days.
        stress_vol: Vol move of the stress grid, decimal (0.02 = 2 vol points).
        policy: Allocation policy: a built-in's config by ``kind``
            (``static``, ``event_aware``, ``vol_scaled``, ``cost_aware``) or
            ``{"cls": <class or dotted path>, "config": {...}}`` naming an
            :class:`~agents.AllocationPolicy` subclass.
        max_order: Hard limit per instrument: largest ``|units|`` one agent may
            order per path and step; larger orders are rejected on those paths.
        hard_limit: Hard limit on the stressed loss as a multiple of the budget:
            an order that takes a path's stressed loss above it (and raises it)
            is rejected on that path. None = no such limit.
        monitor: Model-decay monitor (None = off); see :mod:`agents.monitor`.
    """

    budget: float = Field(1000.0, gt=0.0)
    # pydantic copies a mutable default per instance (the models are frozen anyway)
    weights: dict[Literal["delta", "gamma", "vega"], Annotated[float, Field(ge=0.0)]] = {  # noqa: RUF012
        "delta": 0.2,
        "gamma": 0.4,
        "vega": 0.4,
    }
    stress_sigmas: float = Field(3.0, gt=0.0, le=100.0)
    stress_horizon_days: float = Field(1.0, gt=0.0, le=36_525.0)
    stress_vol: Vol = 0.02
    policy: PolicyRef = StaticAllocation()
    max_order: dict[str, Annotated[float, Field(gt=0.0)]] = Field(default_factory=dict)
    hard_limit: float | None = Field(None, gt=0.0)
    monitor: MonitorConfig | None = None

    @model_validator(mode="after")
    def _check(self) -> ManagerConfig:
        if sum(self.weights.values()) > 1.0 + 1e-12:
            raise ValueError(f"weights must sum to at most 1, got {sum(self.weights.values())}")
        return self


@dataclass(frozen=True, slots=True)
class ConfigResult:
    """The outcome of one hedging configuration, per path.

    Attributes:
        pnl: Terminal P&L (mark-to-market wealth), currency, ``[n]``.
        cost: Transaction costs paid, currency, ``[n]``.
        turnover: Traded notional at mid, currency, ``[n]``.
        breaches: Steps whose post-trade stressed loss exceeded the budget, ``[n]``.
        rejected: Path-orders rejected by hard limits, ``[n]``.
        attribution: Bucket name (:data:`agents.attribution.BUCKETS`) to its
            total over the run per path, currency, ``[n]``; they sum to ``pnl``.
        series: Per-step summaries across paths (greek percentiles, budget
            usage and scales, mean P&L), one dict per step.
        slippage: Cost of the trades executed in the window after the first
            release, against the pre-release mids, currency, ``[n]`` (empty
            when the run has no release or no window).
        sampled: Per-step values on the run's first paths, for the report's
            fans and bands (:meth:`RiskManager.sampled`): name to
            ``[steps, k]`` arrays, plus ``"stamp"`` (``[steps]`` ISO text);
            empty when nothing was sampled.
    """

    pnl: np.ndarray
    cost: np.ndarray
    turnover: np.ndarray
    breaches: np.ndarray
    rejected: np.ndarray
    attribution: dict[str, np.ndarray] = field(default_factory=dict)
    series: list[dict[str, float]] = field(default_factory=list)
    slippage: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sampled: dict[str, np.ndarray] = field(default_factory=dict)


def cascade_order(agents: list[tuple[str, str | None]]) -> list[str]:
    """Agent names in the default cascade: vega, gamma, delta, then the rest.

    Args:
        agents: ``(name, greek)`` in scenario order.
    """
    ranked = sorted(enumerate(agents), key=lambda ia: (CASCADE_RANK.get(ia[1][1] or "", 3), ia[0]))
    return [name for _, (name, _) in ranked]
