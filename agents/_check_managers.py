"""``check_policy`` / ``check_manager``: the policy and manager contracts.

Re-exported from :mod:`agents.testing`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import ValidationError

from agents._imports import module_imports_ray
from agents._policy_base import AllocationPolicy, AllocationState, PolicyError
from agents.book import BookPosition
from agents.delta import DeltaHedger, DeltaHedgerConfig
from agents.gamma import GammaHedger, GammaHedgerConfig
from agents.manager import RiskManager
from agents.manager_config import ManagerConfig
from agents.policy_config import PolicySpec
from agents.vega import VegaHedger, VegaHedgerConfig
from market.config import GapConfig, InstrumentSpec, MarketConfig
from market.execution import CostModel
from market.simulator import MarketSimulator

#: Paths and steps of the check's scenario (one step a day, a release on day 6).
N_PATHS, N_STEPS = 64, 12
_COSTS = {
    "underlying": CostModel(half_spread_bps=1.0),
    "gamma_opt": CostModel(half_spread_vol=0.25),
    "vega_opt": CostModel(half_spread_vol=0.25),
}


class ManagerContractError(AssertionError):
    """A policy or manager breaks the contract; the message says what to fix."""


def _market(seed: int) -> MarketSimulator:
    cfg = MarketConfig(
        kind="macro_gap",
        gap=GapConfig(name="CPI", day=6.0, size_std=0.03),
        instruments=(
            InstrumentSpec(name="underlying", kind="underlying"),
            InstrumentSpec(name="gamma_opt", tenor_days=14.0, relist_days=7.0),
            InstrumentSpec(name="vega_opt", tenor_days=90.0, relist_days=7.0),
        ),
    )
    return MarketSimulator(cfg, N_STEPS, 1 / 365, 365.0, seed, 0, N_PATHS)


def _agents() -> list[Any]:
    return [
        VegaHedger("vega", VegaHedgerConfig(instrument="vega_opt", target=0.8)),
        GammaHedger("gamma", GammaHedgerConfig(instrument="gamma_opt", target=0.8)),
        DeltaHedger("delta", DeltaHedgerConfig()),
    ]


def _manager(cls: type[RiskManager], config: ManagerConfig) -> RiskManager:
    book = (
        BookPosition(is_call=True, expiry_days=30.0, qty=-10.0),
        BookPosition(is_call=False, expiry_days=90.0, qty=-10.0),
    )
    return cls(config, ["vega", "gamma", "delta"], book, N_PATHS, 365.0, _COSTS)


def _drive(
    manager: RiskManager, seed: int, stop_at: int | None = None, resume: Any = None
) -> tuple[list[bytes], Any, Any]:
    """Run the manager with three band hedgers; return per-step share bits, the
    final P&L bits (or the snapshot of every component after ``stop_at``)."""
    market, agents = _market(seed), _agents()
    start = 0
    if resume is not None:
        market.restore(resume["market"])
        manager.restore(resume["manager"])
        for a in agents:
            a.restore(resume[a.name])
        start = resume["next"]
    trace: list[bytes] = []
    events: Any = None
    for step in range(start, N_STEPS):
        events = market.start() if step == 0 else market.step()
        turn = manager.begin_step(events)
        trace.append(_share_bits(manager))
        for a in agents:
            turn = manager.submit(a.name, a.step(events, turn))
        manager.settle(turn)
        if step == stop_at:
            snap = {"market": market.snapshot(), "manager": manager.snapshot(), "next": step + 1}
            snap.update({a.name: a.snapshot() for a in agents})
            return trace, None, snap
    events = market.step()
    result = manager.finish(events)
    return trace, result.pnl.tobytes() + result.rejected.tobytes(), None


def _share_bits(manager: RiskManager) -> bytes:
    out = b""
    for g in ("delta", "gamma", "vega"):
        out += np.broadcast_to(np.asarray(manager.shares.get(g, 0.0), float), (N_PATHS,)).tobytes()
    return out


def _check_config_model(name: str, model: Any, base: str) -> None:
    mc = getattr(model, "model_config", None)
    if mc is None or not mc.get("frozen") or mc.get("extra") != "forbid":
        raise ManagerContractError(
            f"{name}.Config must be frozen and forbid unknown fields: derive it from {base} "
            "(model_config = ConfigDict(frozen=True, extra='forbid'))"
        )


def _check_no_ray(cls: type, what: str) -> None:
    if module_imports_ray(cls):
        raise ManagerContractError(
            f"{cls.__name__}'s module imports ray: {what} must not; the runtime hosts "
            "them in actors (orchestration/ray_runtime.py)"
        )


def _run_checks(name: str, build: Any) -> None:
    """Determinism, the budget and snapshot/restore, for a ``build()`` of a fresh manager."""
    try:
        first, end1, _ = _drive(build(), seed=3)
        second, end2, _ = _drive(build(), seed=3)
    except PolicyError as exc:
        raise ManagerContractError(
            f"{name} broke the allocation contract at step {exc.step}: {exc.error}"
        ) from exc
    if first != second or end1 != end2:
        raise ManagerContractError(
            f"{name} is not deterministic: two runs with the same events gave different "
            "shares or P&L; keep no global state and draw no unseeded randomness"
        )
    mid = N_STEPS // 2
    head, _, snap = _drive(build(), seed=3, stop_at=mid)
    tail, end3, _ = _drive(build(), seed=3, resume=snap)
    if head + tail != first or end3 != end1:
        raise ManagerContractError(
            f"{name}: snapshot()/restore() does not round-trip: a fresh manager restored from "
            "a mid-run snapshot gave different shares or P&L; put every piece of state that "
            "changes during a run into snapshot() and read it back in restore()"
        )


def check_policy(cls: type[AllocationPolicy], config: dict[str, Any] | Any = None) -> None:
    """Check an allocation policy class against the contract.

    Checks, with a message that says what to fix: ``Config`` is frozen and
    strict and the config validates; the module does not import ray; under a
    manager with three band hedgers through a scheduled release, the shares
    are finite, ``>= 0`` and sum to at most the budget on every path and step;
    two runs give the same shares bit for bit; a fresh manager restored from a
    mid-run snapshot carries on with the same shares and P&L.

    Args:
        cls: The policy class (a subclass of :class:`~agents.AllocationPolicy`).
        config: Its config: a dict of fields or a ``cls.Config`` instance.

    Raises:
        ManagerContractError: The first broken point.
    """
    if not (isinstance(cls, type) and issubclass(cls, AllocationPolicy)):
        raise ManagerContractError(f"{cls!r} is not a subclass of agents.AllocationPolicy")
    _check_config_model(cls.__name__, cls.Config, "agents.PolicyConfig")
    fields = config.model_dump() if hasattr(config, "model_dump") else dict(config or {})
    try:
        cls.Config.model_validate(fields)
    except ValidationError as exc:
        raise ManagerContractError(
            f"{cls.__name__} cannot be built with {fields!r}: {exc}"
        ) from None
    _check_no_ray(cls, "policies")
    spec = PolicySpec(cls=cls, config=fields)
    cfg = ManagerConfig(budget=50.0, policy=spec)
    _run_checks(cls.__name__, lambda: _manager(RiskManager, cfg))


def check_manager(
    cls: type[RiskManager], config: dict[str, Any] | ManagerConfig | None = None
) -> None:
    """Check a manager class against the contract (as :func:`check_policy`, for the
    whole manager: its ``Config`` derives from :class:`~agents.ManagerConfig`,
    frozen and strict; shares within the budget; determinism of shares and P&L;
    snapshot/restore round trip; no ray import).

    Args:
        cls: The manager class (a subclass of :class:`~agents.RiskManager`).
        config: Its config: a dict of fields or a ``cls.Config`` instance.

    Raises:
        ManagerContractError: The first broken point.
    """
    if not (isinstance(cls, type) and issubclass(cls, RiskManager)):
        raise ManagerContractError(f"{cls!r} is not a subclass of agents.RiskManager")
    if not (isinstance(cls.Config, type) and issubclass(cls.Config, ManagerConfig)):
        raise ManagerContractError(
            f"{cls.__name__}.Config must be a subclass of agents.ManagerConfig"
        )
    _check_config_model(cls.__name__, cls.Config, "agents.ManagerConfig")
    fields = config.model_dump() if isinstance(config, ManagerConfig) else dict(config or {})
    fields.setdefault("budget", 50.0)
    try:
        cfg = cls.Config.model_validate(fields)
        _manager(cls, cfg)
    except Exception as exc:
        raise ManagerContractError(
            f"{cls.__name__} cannot be built with {fields!r}: {exc}"
        ) from None
    _check_no_ray(cls, "managers")
    _run_checks(cls.__name__, lambda: _manager(cls, cfg))


__all__ = ["AllocationState", "ManagerContractError", "check_manager", "check_policy"]
