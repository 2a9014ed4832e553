"""Allocation policies: the base class and the built-in policies.

Write your own by subclassing :class:`AllocationPolicy` (see
``docs/custom_managers.md``); name it in ``ManagerConfig.policy`` as
``{"cls": "pkg.module.Class", "config": {...}}`` (or the class itself).

Built-in (``kind``):

* ``static``: ``budget * weight`` per greek.
* ``event_aware``: a base policy's shares (default static), tightened around
  scheduled announcements.
* ``vol_scaled``: a base policy's shares times ``(implied / realised vol) ** p``,
  clipped (tighter when the market is wilder).
* ``cost_aware``: the budget split so that the expected cost of keeping each
  greek inside its band is least, from each instrument's quoted cost (closed
  form for proportional costs; :class:`~agents.policy_config.CostAwareAllocation`).

All work on every path at once (arrays ``[n]``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from agents._policy_base import (
    Allocation,
    AllocationPolicy,
    AllocationState,
    PolicyConfig,
    PolicyError,
    check_allocation,
)
from agents.allocation import GREEKS, policy_scales
from agents.policy_config import (
    CostAwareAllocation,
    EventAwareAllocation,
    PolicySpec,
    StaticAllocation,
    VolScaledAllocation,
)

__all__ = [
    "BUILTIN_POLICIES",
    "Allocation",
    "AllocationPolicy",
    "AllocationState",
    "CostAwarePolicy",
    "EventAwarePolicy",
    "PolicyConfig",
    "PolicyError",
    "StaticPolicy",
    "VolScaledPolicy",
    "build_policy",
    "check_allocation",
]

_ONES = dict.fromkeys(GREEKS, 1.0)


class StaticPolicy(AllocationPolicy):
    """``budget * weight`` per greek, every step."""

    Config = StaticAllocation

    def allocate(self, state: AllocationState) -> Allocation:
        """The static shares."""
        return Allocation(state.static, "static", _ONES)


class EventAwarePolicy(AllocationPolicy):
    """A base policy's shares, tightened from ``before_days`` ahead of a scheduled
    release until ``after_days`` after it."""

    Config = EventAwareAllocation

    def __init__(self, config: EventAwareAllocation, n_paths: int) -> None:
        super().__init__(config, n_paths)
        self.base = build_policy(config.base or StaticAllocation(), n_paths)
        self._on_static = isinstance(self.base, StaticPolicy)

    def allocate(self, state: AllocationState) -> Allocation:
        """The base's shares, times the ``tighten`` scales inside an event window."""
        inner = self.base.allocate(state)
        scales, reason = policy_scales(
            self.config, state.time, list(state.pending), list(state.released), state.year_days
        )
        if reason == "normal":
            return inner if not self._on_static else Allocation(inner.shares, "normal", _ONES)
        tight = self.config.tighten
        shares = {g: (s * tight[g] if g in tight else s) for g, s in inner.shares.items()}  # type: ignore[index]
        out_scales = None
        if inner.scales is not None:
            out_scales = {g: inner.scales[g] * scales[g] for g in GREEKS}
        return Allocation(shares, reason, out_scales)

    def snapshot(self) -> dict[str, Any]:
        """The base policy's state."""
        return {"base": self.base.snapshot()}

    def restore(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`snapshot`."""
        self.base.restore(state.get("base", {}))


class VolScaledPolicy(AllocationPolicy):
    """A base policy's shares times ``clip((atm / realised vol) ** power)`` per path."""

    Config = VolScaledAllocation

    def __init__(self, config: VolScaledAllocation, n_paths: int) -> None:
        super().__init__(config, n_paths)
        self.base = build_policy(config.base or StaticAllocation(), n_paths)
        self._spot: np.ndarray | None = None
        self._time = 0.0
        self._var = np.zeros(0)

    def realised_vol(self, state: AllocationState) -> np.ndarray:
        """Update and return the realised-vol estimate per path, decimal, ``[n]``."""
        atm2 = np.maximum(state.atm, 1e-4) ** 2
        if self._spot is None:
            self._var = atm2.copy()
        else:
            dt = state.time - self._time
            if dt > 0.0:
                lam = math.exp(-dt * state.year_days * math.log(2.0) / self.config.halflife_days)
                r = np.log(state.spot / self._spot)
                self._var = lam * self._var + (1.0 - lam) * (r * r / dt)
        self._spot, self._time = state.spot.copy(), state.time
        return np.sqrt(self._var)

    def allocate(self, state: AllocationState) -> Allocation:
        """The base's shares, the chosen greeks scaled by the vol ratio."""
        cfg = self.config
        rv = self.realised_vol(state)
        ratio = np.maximum(state.atm, 1e-4) / np.maximum(rv, 1e-12)
        scale = np.clip(ratio**cfg.power, cfg.min_scale, cfg.max_scale)
        inner = self.base.allocate(state)
        shares = {g: (s * scale if g in cfg.greeks else s) for g, s in inner.shares.items()}
        mean = float(np.mean(scale))
        scales = None
        if inner.scales is not None:
            scales = {g: inner.scales[g] * (mean if g in cfg.greeks else 1.0) for g in GREEKS}
        return Allocation(shares, "vol_scaled", scales)

    def snapshot(self) -> dict[str, Any]:
        """The realised-variance estimate and the last spot."""
        return {
            "spot": None if self._spot is None else self._spot.copy(),
            "time": self._time,
            "var": self._var.copy(),
            "base": self.base.snapshot(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`snapshot`."""
        spot = state.get("spot")
        self._spot = None if spot is None else np.asarray(spot, dtype=np.float64).copy()
        self._time = float(state.get("time", 0.0))
        self._var = np.asarray(state.get("var", np.zeros(0)), dtype=np.float64).copy()
        self.base.restore(state.get("base", {}))


def cost_aware_shares(
    static: dict[str, float],
    cost_ratio: dict[str, np.ndarray],
    power: float,
    floor: float,
) -> dict[str, np.ndarray]:
    """The cost-aware split of the static budget, per path (closed form).

    Args:
        static: Greek to its static share ``budget * weight``, currency.
        cost_ratio: Greek to ``r_i``: quoted cost per currency of stressed loss
            removed through that greek, ``[n]`` (``inf``/``nan`` where it cannot
            be hedged: treated as the dearest greek of its path).
        power: Exponent ``p`` on ``r`` (0.5 = the closed form).
        floor: Part of the budget split by the static weights.

    Returns:
        Greek to its share, currency, ``[n]``; a path's shares sum to the sum
        of the static shares; equal ``r`` gives the static shares.
    """
    live = [g for g in GREEKS if static.get(g, 0.0) > 0.0]
    total = sum(static.get(g, 0.0) for g in GREEKS)
    n = next(iter(cost_ratio.values())).shape[0]
    out = {g: np.zeros(n) for g in GREEKS}
    if not live:
        return out
    r = np.stack([np.asarray(cost_ratio[g], dtype=np.float64) for g in live])
    finite = np.isfinite(r)
    worst = np.max(np.where(finite, r, -np.inf), axis=0)
    r = np.where(finite, r, np.where(np.isfinite(worst), worst, 1.0))
    w = np.array([static[g] for g in live])[:, None]
    x = w * np.power(np.maximum(r, 0.0), power)
    tot = x.sum(axis=0)
    frac = np.where(tot > 0.0, x / np.where(tot > 0.0, tot, 1.0), w / total)
    shares = total * (floor * (w / total) + (1.0 - floor) * frac)
    for i, g in enumerate(live):
        out[g] = shares[i]
    return out


class CostAwarePolicy(AllocationPolicy):
    """The budget split between the greeks by the quoted cost of hedging each
    (see :class:`~agents.policy_config.CostAwareAllocation`)."""

    Config = CostAwareAllocation

    def allocate(self, state: AllocationState) -> Allocation:
        """The closed-form cost-aware shares."""
        unit = state.unit_costs()
        per = state.stress_per_unit()
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = {g: unit[g] / per[g] for g in GREEKS}
        shares = cost_aware_shares(dict(state.static), ratio, self.config.power, self.config.floor)
        return Allocation(shares, "cost_aware")


#: ``kind`` to the built-in policy class.
BUILTIN_POLICIES: dict[str, type[AllocationPolicy]] = {
    "static": StaticPolicy,
    "event_aware": EventAwarePolicy,
    "vol_scaled": VolScaledPolicy,
    "cost_aware": CostAwarePolicy,
}


def build_policy(ref: Any, n_paths: int) -> AllocationPolicy:
    """The policy object a ``ManagerConfig.policy`` names.

    Args:
        ref: A built-in policy's config, a :class:`PolicySpec`, or an
            :class:`AllocationPolicy` subclass (its default config).
        n_paths: Paths the manager runs.
    """
    if isinstance(ref, PolicySpec):
        cls = ref.policy_class
        return cls(cls.Config.model_validate(ref.config), n_paths)
    if isinstance(ref, type) and issubclass(ref, AllocationPolicy):
        return ref(ref.Config(), n_paths)
    kind = getattr(ref, "kind", None)
    if kind not in BUILTIN_POLICIES:
        raise ValueError(f"not a policy config: {ref!r}")
    return BUILTIN_POLICIES[kind](ref, n_paths)
