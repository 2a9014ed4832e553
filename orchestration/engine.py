"""The step protocol, written once, and the in-process runtime.

:func:`run_protocol` drives one market and one pipeline per hedging
configuration (a manager and its agents in cascade order) through every step.
It talks to components only through a :class:`Runtime`'s ``call`` and ``get``:
:class:`LocalRuntime` calls the objects directly; the Ray runtime
(:mod:`orchestration.ray_runtime`) calls the very same objects inside actors,
where ``call`` returns an ``ObjectRef`` that later calls take as an argument.
Because the protocol, the objects and the order of every floating-point
operation are the same, both runtimes give the same bits.

One step, per configuration (DESIGN.md): ``manager.begin_step(events)`` gives
the first agent's turn; each agent in cascade order returns orders from
``agent.step(events, turn)`` and ``manager.submit`` hands the next agent the
book after them; ``manager.settle`` nets the orders, fills them with the
market's execution model at the step's quotes, books them and splits them
back; each agent receives its fills with its next turn. Configurations share
the market's events, so they are compared on identical paths.

Hops per configuration and step: ``2 + 2 * n_agents``. (An earlier version
sent the net orders to the market actor and the fills to each agent in
separate calls, ``5 + 3 * n_agents`` hops: the fill model is a pure function
of the step's quotes, so the manager applies it where the orders already are.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from agents import Agent, ConfigResult, RiskManager, cascade_order
from market.simulator import MarketSimulator
from orchestration.config import Scenario


class Runtime(Protocol):
    """How the protocol reaches a component."""

    def call(self, handle: Any, method: str, *args: Any) -> Any:
        """Invoke ``method`` on the component; may return a future."""
        ...

    def get(self, value: Any) -> Any:
        """Resolve what :meth:`call` returned."""
        ...


class LocalRuntime:
    """Components are plain objects in this process."""

    name = "local"

    def call(self, handle: Any, method: str, *args: Any) -> Any:
        """Call the method directly."""
        return getattr(handle, method)(*args)

    def get(self, value: Any) -> Any:
        """Values are already resolved."""
        return value


@dataclass
class Pipeline:
    """One hedging configuration: its manager and its agents in cascade order.

    Attributes:
        name: Configuration name.
        manager: The manager (object or runtime handle).
        agents: ``(name, object or handle)`` in cascade order.
    """

    name: str
    manager: Any
    agents: list[tuple[str, Any]]


@dataclass(frozen=True)
class Components:
    """The plain objects of one run (or one shard of it)."""

    market: MarketSimulator
    managers: dict[str, RiskManager]
    agents: dict[str, list[tuple[str, Agent]]]


def build_components(
    scenario: Scenario, path_start: int = 0, path_stop: int | None = None
) -> Components:
    """Build the market, managers and agents of a scenario for a range of paths.

    Args:
        scenario: A validated scenario.
        path_start: First path (a multiple of the RNG block size).
        path_stop: One past the last path (default: all paths).
    """
    stop = scenario.n_paths if path_stop is None else path_stop
    market = MarketSimulator(
        scenario.market,
        scenario.n_steps,
        scenario.dt,
        scenario.year_days,
        scenario.seed,
        path_start,
        stop,
    )
    costs = {i.name: i.cost for i in scenario.market.instruments}
    managers: dict[str, RiskManager] = {}
    agents: dict[str, list[tuple[str, Agent]]] = {}
    for cname, hc in scenario.configs.items():
        built = {spec.agent_name: spec.build() for spec in hc.agents}
        order = cascade_order([(n, a.greek) for n, a in built.items()])
        managers[cname] = RiskManager(
            hc.manager, order, scenario.book, stop - path_start, scenario.year_days, costs
        )
        agents[cname] = [(n, built[n]) for n in order]
    return Components(market, managers, agents)


def run_protocol(
    rt: Runtime,
    market: Any,
    pipelines: list[Pipeline],
    n_steps: int,
    on_step: Callable[[int], None] | None = None,
    record: Callable[[tuple[Any, ...]], None] | None = None,
) -> dict[str, ConfigResult]:
    """Run every step of every pipeline against one market.

    Args:
        rt: The runtime that reaches the components.
        market: The market source (object or handle): anything with
            ``start()`` and ``step()`` returning a step's events, the
            :class:`~market.events.MarketEvent` last (a simulator or a replay).
        pipelines: The hedging configurations.
        n_steps: Hedging steps.
        on_step: Called with the step number after each step (progress).
        record: Called with every step's events, resolved, in order (``n_steps
            + 1`` calls: the first quote, then each step's), e.g. to write an
            event log.

    Returns:
        Configuration name to its result.
    """
    events = rt.call(market, "start")
    if record is not None:
        record(rt.get(events))
    for step in range(n_steps):
        done = []
        for p in pipelines:
            turn = rt.call(p.manager, "begin_step", events)
            for name, agent in p.agents:
                orders = rt.call(agent, "step", events, turn)
                turn = rt.call(p.manager, "submit", name, orders)
            # settle takes the last turn: on Ray that makes it wait for (and
            # fail with) every call of the cascade, so no error goes unseen.
            done.append(rt.call(p.manager, "settle", turn))
        for d in done:
            rt.get(d)
        events = rt.call(market, "step")
        if record is not None:
            record(rt.get(events))
        if on_step is not None:
            on_step(step)
    for p in pipelines:
        last = rt.call(p.manager, "take_fills")
        for _, agent in p.agents:
            rt.get(rt.call(agent, "fills", last))
    return {p.name: rt.get(rt.call(p.manager, "finish", events)) for p in pipelines}


def run_local(
    scenario: Scenario,
    on_step: Callable[[int], None] | None = None,
    record: Callable[[tuple[Any, ...]], None] | None = None,
    market: Any = None,
) -> dict[str, ConfigResult]:
    """Run a scenario in this process.

    Args:
        scenario: A validated scenario.
        on_step: Progress callback, called with each finished step.
        record: Called with every step's events (see :func:`run_protocol`).
        market: A market source to use instead of the scenario's simulator
            (e.g. a recorded log's replay); it must cover ``scenario.n_paths``
            paths and ``scenario.n_steps`` steps.

    Returns:
        Configuration name to its result.
    """
    c = build_components(scenario)
    pipelines = [Pipeline(n, c.managers[n], list(c.agents[n])) for n in scenario.configs]
    source = c.market if market is None else market
    return run_protocol(LocalRuntime(), source, pipelines, scenario.n_steps, on_step, record)
