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

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from agents import Agent, ConfigResult, QuoteMemo, RiskManager, cascade_order
from market._rng import BLOCK_SIZE, BlockRNG
from market.simulator import MarketSimulator
from orchestration._agent_rng import agent_rng
from orchestration.config import Scenario

#: Random stream of the book's client flow (the market's is 0).
FLOW_STREAM = 1
#: Most leading paths whose per-step values the report's fans and bands use.
REPORT_SAMPLE_PATHS = 512
#: Most numbers one configuration's report sample holds (paths x steps x
#: values); a long timeline samples fewer paths.
REPORT_SAMPLE_ELEMENTS = 1_000_000
#: Fewest paths sampled (when the run has them), however long the timeline.
REPORT_SAMPLE_MIN = 50


def report_sample_paths(scenario: Scenario) -> int:
    """How many leading paths (global indices ``0..k-1``) the report samples.

    The same number on any shard layout: each shard records the part of
    ``[0, k)`` it holds, and :func:`concat_results` joins them in path order,
    so a sharded run's report data equal the unsharded run's.
    """
    values = 8 + 2 * len(scenario.market.instruments)
    fit = REPORT_SAMPLE_ELEMENTS // max(1, scenario.n_steps * values)
    return min(scenario.n_paths, REPORT_SAMPLE_PATHS, max(REPORT_SAMPLE_MIN, fit))


class RunFailed(RuntimeError):
    """A run could not finish (e.g. a component kept dying): exit status 1."""


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
        due: Agent name to the steps it is called at (``[n_steps + 1]`` bool,
            from its clock schedule and the timeline); absent = every step.
    """

    name: str
    manager: Any
    agents: list[tuple[str, Any]]
    due: dict[str, np.ndarray] | None = None


def schedule_due(scenario: Scenario) -> dict[str, dict[str, np.ndarray]]:
    """The steps each agent is called at, per configuration (agents called at every
    step are left out).

    Clock schedules are read off the timeline: ``every_step`` and the state
    triggers (``spot_move``, ``band``: the manager then marks the due paths)
    at every decision-grid step, ``every`` at its wake-ups, ``on_release``
    at the release steps. The driver skips an agent that is not due: no call
    at all, on any runtime.
    """
    tl = scenario.timeline
    out: dict[str, dict[str, np.ndarray]] = {}
    for cname, hc in scenario.configs.items():
        due = {}
        for spec in hc.agents:
            sch = spec.agent_class.Config.model_validate(spec.config).schedule
            if sch.kind == "every":
                d = tl.due_every(sch.minutes)
            elif sch.kind == "on_release":
                d = tl.due_events(sch.names)
            else:
                d = np.asarray(tl.on_grid)
            if not d[:-1].all():
                due[spec.agent_name] = d
        out[cname] = due
    return out


def slippage_window(scenario: Scenario) -> float | None:
    """Minutes after the first release over which slippage is measured: the
    release's refinement window after it, else one day (None: no release)."""
    m = scenario.market
    if m.kind != "macro_gap":
        return None
    return m.gap.refine.after_minutes if m.gap.refine is not None else 1440.0


def agent_settings(
    agents: dict[str, Agent],
) -> tuple[dict[str, float], dict[str, tuple[str, Any]]]:
    """Latencies (seconds) and state triggers of built agents, for their manager."""
    latencies: dict[str, float] = {}
    triggers: dict[str, tuple[str, Any]] = {}
    for name, a in agents.items():
        cfg = a.config
        if cfg.latency > 0.0:
            latencies[name] = cfg.latency
        sch = cfg.schedule
        if sch.kind == "spot_move":
            triggers[name] = ("spot_move", sch.threshold)
        elif sch.kind == "band":
            greek = sch.greek or a.greek
            if greek is None:
                raise ValueError(f"agent {name!r}: a band schedule needs a greek")
            triggers[name] = ("band", greek)
    return latencies, triggers


def make_pipelines(scenario: Scenario, managers: Any, agents: Any) -> list[Pipeline]:
    """The pipelines of a scenario from its managers and agents (objects or handles).

    Args:
        scenario: The scenario.
        managers: Configuration name to its manager.
        agents: Configuration name to its ``(name, agent)`` in cascade order.
    """
    due = schedule_due(scenario)
    return [Pipeline(n, managers[n], list(agents[n]), due[n] or None) for n in scenario.configs]


@dataclass(frozen=True)
class Components:
    """The plain objects of one run (or one shard of it)."""

    market: MarketSimulator
    managers: dict[str, RiskManager]
    agents: dict[str, list[tuple[str, Agent]]]

    def roles(self) -> dict[str, Any]:
        """Every component by role: ``market``, ``<config>/manager``, ``<config>/<agent>``."""
        out: dict[str, Any] = {"market": self.market}
        for cname, mgr in self.managers.items():
            out[f"{cname}/manager"] = mgr
            for aname, agent in self.agents[cname]:
                out[f"{cname}/{aname}"] = agent
        return out

    def snapshot(self) -> dict[str, Any]:
        """Every component's snapshot, by role."""
        return {role: obj.snapshot() for role, obj in self.roles().items()}

    def restore(self, state: dict[str, Any]) -> None:
        """Restore every component from :meth:`snapshot`."""
        for role, obj in self.roles().items():
            obj.restore(state[role])


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
    timeline = scenario.timeline
    market = MarketSimulator(
        scenario.market,
        timeline.n_steps,
        scenario.dt,
        scenario.year_days,
        scenario.seed,
        path_start,
        stop,
        timeline,
    )
    costs = scenario.instrument_costs()
    slippage = slippage_window(scenario)
    no_roll = frozenset(i.name for i in scenario.market.instruments if not i.roll)
    managers: dict[str, RiskManager] = {}
    agents: dict[str, list[tuple[str, Agent]]] = {}
    # One quote memo for the shard: every configuration's book holds the same
    # contracts, priced once per step (a pure cache of the current event).
    memo = QuoteMemo()
    sample = max(0, min(stop, report_sample_paths(scenario)) - path_start)
    for cname, hc in scenario.configs.items():
        built = {
            spec.agent_name: spec.build(
                agent_rng(scenario.seed, cname, spec.agent_name, path_start, stop)
            )
            for spec in hc.agents
        }
        order = cascade_order([(n, a.greek) for n, a in built.items()])
        latencies, triggers = agent_settings(built)
        flow = None
        if scenario.flow is not None:
            rng = BlockRNG(scenario.seed, FLOW_STREAM, path_start, stop)
            flow = (scenario.flow, rng, scenario.steps_per_day)
        managers[cname] = hc.manager_class(
            hc.manager_config,
            order,
            scenario.book,
            stop - path_start,
            scenario.year_days,
            costs,
            no_roll,
            flow,
            {n: a.config.model for n, a in built.items() if hasattr(a.config, "model")},
            latencies,
            triggers,
            slippage,
            memo=memo,
            sample_paths=sample,
        )
        agents[cname] = [(n, built[n]) for n in order]
    return Components(market, managers, agents)


class ShardProtocol:
    """The step protocol over one shard's components, submitted one step at a time.

    Each :meth:`submit_step` first moves the market to the step (``start()``
    for step 0, else ``step()``), then runs every pipeline's cascade and
    settlement; it returns what to wait for. Between two steps every
    component has finished the previous one and the market has not moved
    yet: the state a checkpoint captures (:attr:`next_step` says where to
    resume).

    Args:
        rt: The runtime that reaches the components.
        market: The market source (object or handle): anything with
            ``start()`` and ``step()`` returning a step's events, the
            :class:`~market.events.MarketEvent` last (a simulator or a replay).
        pipelines: The hedging configurations.
        n_steps: Hedging steps.
        record: Called with every step's events, resolved, once per step index
            (``n_steps + 1`` calls: the first quote, then each step's).
    """

    def __init__(
        self,
        rt: Runtime,
        market: Any,
        pipelines: list[Pipeline],
        n_steps: int,
        record: Callable[[tuple[Any, ...]], None] | None = None,
    ) -> None:
        self.rt = rt
        self.market = market
        self.pipelines = pipelines
        self.n_steps = n_steps
        self.record = record
        self.next_step = 0
        self.recorded = -1
        self.events: Any = None

    def _move_market(self) -> None:
        method = "start" if self.next_step == 0 else "step"
        self.events = self.rt.call(self.market, method)
        if self.record is not None and self.next_step > self.recorded:
            self.record(self.rt.get(self.events))
            self.recorded = self.next_step

    def submit_step(self) -> list[Any]:
        """Submit step :attr:`next_step` of every pipeline; return what to wait for."""
        rt, events = self.rt, None
        self._move_market()
        events = self.events
        done = []
        k = self.next_step
        for p in self.pipelines:
            called = p.agents
            if p.due:
                called = [(n, a) for n, a in p.agents if n not in p.due or p.due[n][k]]
            if len(called) == len(p.agents):
                turn = rt.call(p.manager, "begin_step", events)
            else:
                turn = rt.call(p.manager, "begin_step", events, tuple(n for n, _ in called))
            for name, agent in called:
                orders = rt.call(agent, "step", events, turn)
                turn = rt.call(p.manager, "submit", name, orders)
            # settle takes the last turn: on Ray that makes it wait for (and
            # fail with) every call of the cascade, so no error goes unseen.
            done.append(rt.call(p.manager, "settle", turn))
        self.next_step += 1
        return done

    def finish(self) -> dict[str, Any]:
        """Move to the last quote, hand out the last fills and the end of the run, close every book.

        Returns:
            Configuration name to its result (or a future of it).
        """
        self._move_market()
        for p in self.pipelines:
            last = self.rt.call(p.manager, "final_fills")
            for _, agent in p.agents:
                self.rt.get(self.rt.call(agent, "fills", last))
                self.rt.get(self.rt.call(agent, "end", self.events))
        return {p.name: self.rt.call(p.manager, "finish", self.events) for p in self.pipelines}


def run_protocol(
    rt: Runtime,
    market: Any,
    pipelines: list[Pipeline],
    n_steps: int,
    on_step: Callable[[int], None] | None = None,
    record: Callable[[tuple[Any, ...]], None] | None = None,
) -> dict[str, ConfigResult]:
    """Run every step of every pipeline against one market (see :class:`ShardProtocol`).

    Args:
        rt: The runtime that reaches the components.
        market: The market source (object or handle).
        pipelines: The hedging configurations.
        n_steps: Hedging steps.
        on_step: Called with the step number after each step (progress).
        record: Called with every step's events (see :class:`ShardProtocol`).

    Returns:
        Configuration name to its result.
    """
    proto = ShardProtocol(rt, market, pipelines, n_steps, record)
    for step in range(n_steps):
        for d in proto.submit_step():
            rt.get(d)
        if on_step is not None:
            on_step(step)
    return {k: rt.get(v) for k, v in proto.finish().items()}


def shard_ranges(n_paths: int, shards: int) -> list[tuple[int, int]]:
    """Split ``[0, n_paths)`` into contiguous shards on random-block boundaries.

    Args:
        n_paths: Number of paths.
        shards: Requested number of shards (fewer are made when there are
            fewer random blocks than that).

    Returns:
        ``(start, stop)`` per shard, in path order.
    """
    blocks = -(-n_paths // BLOCK_SIZE)
    k = max(1, min(shards, blocks))
    edges = [(i * blocks // k) * BLOCK_SIZE for i in range(k)] + [n_paths]
    return [(edges[i], min(edges[i + 1], n_paths)) for i in range(k)]


def concat_results(parts: list[dict[str, ConfigResult]]) -> dict[str, ConfigResult]:
    """Join shard results in shard (= path) order.

    Per-path arrays are concatenated exactly. The per-step series are
    summaries across a shard's paths: they are combined as path-weighted
    means (exact for means and rates, an approximation for percentiles).
    The report's per-step samples (``sampled``, on the run's leading paths)
    are joined exactly, in path order.
    """
    out = {}
    for n in parts[0]:
        res = [p[n] for p in parts]
        weights = np.array([r.pnl.size for r in res], dtype=float)
        weights /= weights.sum()
        series = [
            {
                k: float(sum(w * r.series[i][k] for w, r in zip(weights, res, strict=True)))
                for k in res[0].series[i]
            }
            for i in range(len(res[0].series))
        ]
        out[n] = ConfigResult(
            pnl=np.concatenate([r.pnl for r in res]),
            cost=np.concatenate([r.cost for r in res]),
            turnover=np.concatenate([r.turnover for r in res]),
            breaches=np.concatenate([r.breaches for r in res]),
            rejected=np.concatenate([r.rejected for r in res]),
            attribution={
                b: np.concatenate([r.attribution[b] for r in res]) for b in res[0].attribution
            },
            series=series,
            slippage=np.concatenate([r.slippage for r in res]),
            sampled=_concat_sampled([r.sampled for r in res]),
        )
    return out


def shard_market(market: Any, start: int, stop: int, n_shards: int) -> Any:
    """The market source of one shard: ``market`` itself, or its ``paths(start, stop)``.

    Raises:
        ValueError: Several shards and a source that cannot be cut by path.
    """
    if n_shards == 1:
        return market
    if not hasattr(market, "paths"):
        raise ValueError(f"a {type(market).__name__} market source runs as one shard only")
    return market.paths(start, stop)


def _concat_sampled(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The shards' report samples joined along the path axis (the stamps once)."""
    parts = [p for p in parts if p]
    if not parts:
        return {}
    out = {k: np.concatenate([p[k] for p in parts], axis=1) for k in parts[0] if k != "stamp"}
    out["stamp"] = parts[0]["stamp"]
    return out


class FusedShard:
    """One shard's whole pipeline in one process: market, managers and agents.

    The fused placement hosts one of these per shard (one Ray actor each):
    the components talk in-process (:class:`LocalRuntime`), the driver calls
    :meth:`step` once per step. Same protocol, same numbers.

    Args:
        scenario: A validated scenario.
        path_start: First path of the shard.
        path_stop: One past its last path.
        market: A market source for the shard's paths replacing its simulator
            (a replay's :func:`shard_market`), or None.
    """

    def __init__(
        self, scenario: Scenario, path_start: int, path_stop: int, market: Any = None
    ) -> None:
        self.components = build_components(scenario, path_start, path_stop)
        if market is not None:
            self.components = dataclasses.replace(self.components, market=market)
        c = self.components
        pipelines = make_pipelines(scenario, c.managers, c.agents)
        self.protocol = ShardProtocol(LocalRuntime(), c.market, pipelines, scenario.n_steps)

    def step(self) -> int:
        """Run the next step; return its number."""
        self.protocol.submit_step()
        return self.protocol.next_step - 1

    def steps(self, count: int) -> int:
        """Run the next ``count`` steps (one Ray call for all of them); the last one's number."""
        for _ in range(count):
            self.protocol.submit_step()
        return self.protocol.next_step - 1

    def finish(self) -> dict[str, ConfigResult]:
        """Close the run; the shard's results."""
        return self.protocol.finish()

    def snapshot(self) -> dict[str, Any]:
        """The shard's state between steps."""
        return {"next_step": self.protocol.next_step, "components": self.components.snapshot()}

    def restore(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`snapshot`."""
        self.components.restore(state["components"])
        self.protocol.next_step = int(state["next_step"])


def run_local(
    scenario: Scenario,
    on_step: Callable[[int], None] | None = None,
    record: Callable[[tuple[Any, ...]], None] | None = None,
    market: Any = None,
    shards: int = 1,
) -> dict[str, ConfigResult]:
    """Run a scenario in this process.

    Args:
        scenario: A validated scenario.
        on_step: Progress callback, called with each finished step (per shard).
        record: Called with every step's events (see :class:`ShardProtocol`).
        market: A market source to use instead of the scenario's simulator
            (e.g. a recorded log's replay); it must cover ``scenario.n_paths``
            paths and ``scenario.n_steps`` steps; with more than one shard it
            must offer ``paths(start, stop)`` (:func:`shard_market`).
        shards: Run the paths as this many shards, one after the other (the
            results do not depend on it).

    Returns:
        Configuration name to its result.
    """
    parts = []
    ranges = shard_ranges(scenario.n_paths, shards)
    for start, stop in ranges:
        c = build_components(scenario, start, stop)
        pipelines = make_pipelines(scenario, c.managers, c.agents)
        source = c.market if market is None else shard_market(market, start, stop, len(ranges))
        parts.append(
            run_protocol(LocalRuntime(), source, pipelines, scenario.n_steps, on_step, record)
        )
    return parts[0] if len(parts) == 1 else concat_results(parts)
