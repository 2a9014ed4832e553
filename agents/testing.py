"""``check_agent``: the agent contract, checked the way a user's own tests can.

Run it in your test suite::

    from agents.testing import check_agent

    def test_my_agent():
        check_agent(MyHedger, {"threshold": 0.5})

It drives the agent through a short seeded scenario (a Black-Scholes world with
a short option book and listed hedge options) and checks, with a message that
says what to fix:

* the config: ``Config`` is a frozen pydantic model that forbids unknown fields,
  and the given config validates;
* orders: ``on_market`` returns a list of :class:`~market.events.Order` for
  listed instruments, shape ``[n_paths]``, finite quantities (via the
  framework's own checks);
* snapshot/restore: an agent restored from a mid-run snapshot into a fresh
  instance gives the same orders, bit for bit, as the original from there on;
* determinism: two fresh instances given the same events and seed give the same
  orders bit for bit;
* no Ray: the agent's module does not import ``ray`` (agents run unchanged
  in-process and inside actors; the runtime owns Ray).

``check_policy(MyPolicy, {...})`` and ``check_manager(MyManager, {...})`` do the
same for an allocation policy and a manager (:mod:`agents._check_managers`):
config frozen and strict, shares within the budget on every path and step,
deterministic, snapshot/restore round trip, no Ray import.
"""

from __future__ import annotations

from typing import Any

from agents._check_managers import ManagerContractError, check_manager, check_policy
from agents._imports import module_imports_ray
from agents.base import Agent, AgentConfig, AgentError
from agents.book import BookPosition
from agents.manager import RiskManager
from agents.manager_config import ManagerConfig
from market._rng import PathGenerator
from market.config import InstrumentSpec, MarketConfig
from market.simulator import MarketSimulator

__all__ = [
    "AgentContractError",
    "ManagerContractError",
    "check_agent",
    "check_manager",
    "check_policy",
]

#: Paths and steps of the check's scenario.
N_PATHS, N_STEPS = 64, 12


class AgentContractError(AssertionError):
    """An agent breaks the contract; the message says what to fix."""


def _market(seed: int) -> MarketSimulator:
    cfg = MarketConfig(
        instruments=(
            InstrumentSpec(name="underlying", kind="underlying"),
            InstrumentSpec(name="gamma_opt", tenor_days=14.0, relist_days=7.0),
            InstrumentSpec(name="vega_opt", tenor_days=90.0, relist_days=7.0),
        )
    )
    return MarketSimulator(cfg, N_STEPS, 1 / 365, 365.0, seed, 0, N_PATHS)


def _build(cls: type[Agent], config: Any, seed: int) -> Agent:
    cfg = config if isinstance(config, AgentConfig) else cls.Config.model_validate(config or {})
    # The kind of generator a run hands every agent (orchestration/_agent_rng.py).
    return cls("checked", cfg, rng=PathGenerator(seed, (2,), 0, N_PATHS))


def _drive(
    agent: Agent,
    seed: int,
    snapshot_at: int | None = None,
    replay: list[list[Any]] | None = None,
    restore: tuple[int, Any] | None = None,
) -> tuple[list[list[Any]], Any]:
    """Run the agent alone under a manager.

    Args:
        agent: The agent.
        seed: Market seed.
        snapshot_at: Take the agent's snapshot after this step.
        replay: Orders to feed the manager instead of calling the agent, for the
            steps before ``restore``.
        restore: ``(step, state)``: restore the agent just before that step.

    Returns:
        The orders of every step, and the snapshot (or None).
    """
    market = _market(seed)
    manager = RiskManager(
        ManagerConfig(budget=50.0),
        [agent.name],
        (BookPosition(is_call=True, expiry_days=30.0, qty=-10.0),),
        N_PATHS,
        365.0,
    )
    trace: list[list[Any]] = []
    snap = None
    for step in range(N_STEPS):
        events = market.start() if step == 0 else market.step()
        turn = manager.begin_step(events)
        if restore is not None and step < restore[0]:
            assert replay is not None
            orders = replay[step]
        else:
            if restore is not None and step == restore[0]:
                agent.restore(restore[1])
            orders = agent.step(events, turn)
        manager.submit(agent.name, orders)
        manager.settle()
        if step == snapshot_at:
            snap = agent.snapshot()
        trace.append(orders)
    return trace, snap


def _bits(trace: list[list[Any]]) -> list[list[tuple[str, bytes]]]:
    return [[(o.instrument, o.qty.tobytes()) for o in orders] for orders in trace]


def check_agent(cls: type[Agent], config: dict[str, Any] | AgentConfig | None = None) -> None:
    """Check an agent class against the contract (see the module docstring).

    Args:
        cls: The agent class (a subclass of :class:`~agents.base.Agent`).
        config: Its config: a dict of fields or a ``cls.Config`` instance.

    Raises:
        AgentContractError: The first broken contract point, with what to fix.
    """
    if not (isinstance(cls, type) and issubclass(cls, Agent)):
        raise AgentContractError(f"{cls!r} is not a subclass of agents.Agent: subclass it")
    model_cfg = cls.Config.model_config
    if not model_cfg.get("frozen") or model_cfg.get("extra") != "forbid":
        raise AgentContractError(
            f"{cls.__name__}.Config must be frozen and forbid unknown fields: derive it from "
            "agents.AgentConfig (model_config = ConfigDict(frozen=True, extra='forbid'))"
        )
    try:
        _build(cls, config, 0)
    except Exception as exc:
        raise AgentContractError(f"{cls.__name__} cannot be built with {config!r}: {exc}") from exc
    _check_no_ray(cls)
    try:
        first, _ = _drive(_build(cls, config, 0), seed=3)
        second, _ = _drive(_build(cls, config, 0), seed=3)
    except AgentError as exc:
        raise AgentContractError(f"{cls.__name__} broke the order contract: {exc.error}") from exc
    if _bits(first) != _bits(second):
        raise AgentContractError(
            f"{cls.__name__} is not deterministic: two runs with the same events and seed gave "
            "different orders; draw randomness only from self.rng and keep no global state"
        )
    mid = N_STEPS // 2
    original, snap = _drive(_build(cls, config, 0), seed=3, snapshot_at=mid)
    # A fresh instance that never saw the first half: restored from the snapshot,
    # it must carry on exactly as the original did.
    restored, _ = _drive(_build(cls, config, 1), seed=3, replay=original, restore=(mid + 1, snap))
    if _bits(original)[mid + 1 :] != _bits(restored)[mid + 1 :]:
        raise AgentContractError(
            f"{cls.__name__}: snapshot()/restore() does not round-trip: a fresh agent restored "
            "from a mid-run snapshot gave different orders; put every piece of state that "
            "changes during a run into snapshot() and read it back in restore()"
        )


def _check_no_ray(cls: type[Agent]) -> None:
    if module_imports_ray(cls):
        raise AgentContractError(
            f"{cls.__name__}'s module imports ray: agents must not; the runtime hosts them "
            "in actors (orchestration/ray_runtime.py)"
        )
