"""The same step protocol with each component inside a Ray actor.

One actor hosts the market, one each manager, one each agent (the brief's
per-agent layout). :class:`ComponentHost` is a plain class that holds any
component object; ``ray.remote`` wraps it here and nowhere else, so the core
packages never import Ray. :meth:`RayRuntime.call` returns an ``ObjectRef``;
the protocol passes those refs straight into the next call, so a step's chain
of calls is submitted without waiting and each component's inputs travel
through the object store once (numpy arrays are read zero-copy by actors on
the same node). The driver waits once per step, for progress and errors.

Code reaches the workers through the Python environment for installed
packages; a user's scenario module (loaded from a file) is pickled by value,
so workers that never saw the file still run the agents it defines.
"""

from __future__ import annotations

import copy
import logging
import os
import sys
import uuid
from collections.abc import Callable
from typing import Any

import ray
import structlog
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from agents import ConfigResult, cascade_order
from orchestration._logging import get_logger
from orchestration.config import Scenario
from orchestration.engine import (
    FusedShard,
    RunFailed,
    ShardProtocol,
    build_components,
    concat_results,
    make_pipelines,
    shard_ranges,
)


class ComponentHost:
    """Holds one component (market, manager or agent) and calls its methods.

    Args:
        component: The plain object to host. It is deep-copied on arrival:
            arrays Ray hands an actor are read-only views of the object
            store, and a component owns (and updates) its state.
    """

    def __init__(self, component: Any, context: dict[str, Any] | None = None) -> None:
        self.component = copy.deepcopy(component)
        self.context = {"component": type(component).__name__, **(context or {})}

    def call(self, method: str, *args: Any) -> Any:
        """Call ``method`` on the hosted component (run, shard and role bound into logs)."""
        structlog.contextvars.bind_contextvars(**self.context)
        try:
            return getattr(self.component, method)(*args)
        except Exception as exc:
            get_logger().warning("component.error", method=method, error=repr(exc))
            raise

    def pid(self) -> int:
        """The hosting process id (tests use it to kill an actor)."""
        return os.getpid()

    def node_id(self) -> str:
        """The Ray node this actor runs on."""
        return ray.get_runtime_context().get_node_id()


def ensure_ray(address: str | None = None) -> None:
    """Connect to Ray once: to ``address`` (or ``RAY_ADDRESS``), else start it in-process.

    Args:
        address: ``"auto"``, ``"HOST:PORT"`` or None.
    """
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {
        "logging_level": logging.WARNING,
        "log_to_driver": True,
        "configure_logging": True,
        "runtime_env": {
            "worker_process_setup_hook": "orchestration._logging.setup_worker",
            "env_vars": {
                k: os.environ.get(k, "0") for k in ("GAMMARAY_LOG_JSON", "GAMMARAY_LOG_VERBOSE")
            },
        },
    }
    if address is None and not os.environ.get("RAY_ADDRESS"):
        kwargs["include_dashboard"] = False
    ray.init(address=address, **kwargs)


class RayRuntime:
    """Reach components hosted in Ray actors.

    Actors of the per-agent placement reserve no CPU (the per-step work is
    sequential within a configuration); fused shards reserve one each.
    """

    name = "ray"

    def __init__(self) -> None:
        self._actor_cls = ray.remote(max_restarts=0)(ComponentHost)
        self.actors: list[Any] = []

    def host(
        self,
        component: Any,
        num_cpus: float = 0.0,
        context: dict[str, Any] | None = None,
        spread: bool = False,
    ) -> Any:
        """Start an actor holding ``component``; return its handle.

        Args:
            component: The plain object.
            num_cpus: CPUs the actor reserves (0: it only holds a process).
            context: Bound into the actor's log lines (run id, shard, role).
            spread: Place it with Ray's ``SPREAD`` strategy (across nodes).
        """
        opts: dict[str, Any] = {"num_cpus": num_cpus}
        if spread:
            opts["scheduling_strategy"] = "SPREAD"
        handle = self._actor_cls.options(**opts).remote(component, context)
        self.actors.append(handle)
        return handle

    def call(self, handle: Any, method: str, *args: Any) -> Any:
        """Submit ``method`` to the actor; return the ``ObjectRef``."""
        return handle.call.remote(method, *args)

    def get(self, value: Any) -> Any:
        """Wait for a ref; re-raise the component's own exception."""
        try:
            return ray.get(value)
        except RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, BaseException) else None
            if cause is not None and not _is_lost(exc):
                raise cause from None
            raise

    def shutdown(self) -> None:
        """Stop every actor this runtime started."""
        for a in self.actors:
            ray.kill(a)
        self.actors.clear()


def ship_user_modules() -> None:
    """Pickle scenario scripts' modules by value, so workers need not import them.

    A scenario script loaded from a file (and the agent classes it defines)
    lives in a private module that exists only in this process; by value,
    its classes travel with the components to any node.
    """
    for name, module in list(sys.modules.items()):
        if name.startswith("_gammaray_scenario_") and module is not None:
            ray.cloudpickle.register_pickle_by_value(module)


class ComponentLost(RuntimeError):
    """An actor died (its process was killed, its node lost)."""


class _Unit:
    """One shard as the driver sees it: its actors by role and how to step them.

    ``per-agent``: one actor per component, the protocol driven from here.
    ``fused``: one actor holding a :class:`~orchestration.engine.FusedShard`.
    """

    def __init__(
        self,
        rt: RayRuntime,
        scenario: Scenario,
        placement: str,
        start: int,
        stop: int,
        n_units: int,
        market: Any,
        record: Callable[[tuple[Any, ...]], None] | None,
        run_id: str,
    ) -> None:
        self.rt, self.scenario, self.placement = rt, scenario, placement
        self.start, self.stop = start, stop
        self.n_units = n_units
        self.run_id = run_id
        self.market_override, self.record = market, record
        self.handles: dict[str, Any] = {}
        self.recorded = -1
        self.next_step = 0
        self.protocol: ShardProtocol | None = None
        for role, obj in self._fresh().items():
            self.handles[role] = self._host(role, obj)
        self._wire()

    def _fresh(self) -> dict[str, Any]:
        if self.placement == "fused":
            return {"shard": FusedShard(self.scenario, self.start, self.stop)}
        roles = build_components(self.scenario, self.start, self.stop).roles()
        if self.market_override is not None:
            roles["market"] = self.market_override
        return roles

    def _host(self, role: str, obj: Any) -> Any:
        label = {"run_id": self.run_id, "shard": self.start, "role": role}
        if self.placement != "fused":
            return self.rt.host(obj, num_cpus=0.0, context=label)
        # A fused shard computes all the time: it reserves up to a CPU, less
        # when there are more shards than CPUs (all must be placed at once),
        # and shards spread over the nodes.
        cpus = ray.cluster_resources().get("CPU", 1.0)
        share = min(1.0, cpus / max(1, self.n_units))
        return self.rt.host(obj, num_cpus=share, context=label, spread=True)

    def _wire(self) -> None:
        if self.placement == "fused":
            return
        h = self.handles
        sc = self.scenario
        pipelines = make_pipelines(
            sc,
            {n: h[f"{n}/manager"] for n in sc.configs},
            {n: [(a, h[f"{n}/{a}"]) for a in _cascade(sc, n)] for n in sc.configs},
        )
        self.protocol = ShardProtocol(
            self.rt, h["market"], pipelines, self.scenario.n_steps, self.record
        )
        self.protocol.next_step = self.next_step
        self.protocol.recorded = self.recorded

    def submit_step(self) -> list[Any]:
        if self.protocol is None:
            out = [self.rt.call(self.handles["shard"], "step")]
        else:
            out = self.protocol.submit_step()
            self.recorded = self.protocol.recorded
        self.next_step += 1
        return out

    def finish(self) -> dict[str, Any]:
        if self.protocol is None:
            return {"*": self.rt.call(self.handles["shard"], "finish")}
        return self.protocol.finish()

    def checkpoint(self) -> tuple[int, dict[str, Any]]:
        return self.next_step, {r: self.rt.call(h, "snapshot") for r, h in self.handles.items()}

    def restore(self, checkpoint: tuple[int, dict[str, Any]]) -> None:
        step, refs = checkpoint
        for role, h in self.handles.items():
            self.rt.get(self.rt.call(h, "restore", refs[role]))
        self.next_step = step
        self._wire()

    def replace_dead(self, failures: dict[str, int], max_failures: int) -> None:
        fresh: dict[str, Any] | None = None
        for role, h in list(self.handles.items()):
            try:
                ray.get(h.pid.remote(), timeout=60)
            except (RayActorError, GetTimeoutError):
                key = f"shard {self.start}:{role}"
                failures[key] = failures.get(key, 0) + 1
                if failures[key] > max_failures:
                    raise RunFailed(
                        f"component {role!r} of the shard at path {self.start} died "
                        f"{failures[key]} times; giving up"
                    ) from None
                fresh = fresh if fresh is not None else self._fresh()
                self.handles[role] = self._host(role, fresh[role])

    def nodes(self) -> set[str]:
        return {self.rt.get(h.node_id.remote()) for h in self.handles.values()}


def _cascade(scenario: Scenario, config: str) -> list[str]:
    hc = scenario.configs[config]
    return cascade_order([(a.agent_name, a.agent_class.greek) for a in hc.agents])


def _is_lost(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, RayActorError):
            return True
        seen = getattr(seen, "cause", None) or seen.__cause__
    return False


class RayRun:
    """A scenario on Ray: shards, placement, checkpoints and crash recovery.

    Paths split into shards on random-block boundaries (the numbers do not
    depend on the split); each shard is an independent pipeline. With the
    ``per-agent`` placement every component of a shard is its own actor
    (0 CPUs reserved: they take turns); with ``fused`` one actor per shard
    runs all of them in-process and reserves a CPU, so shards spread over the
    cluster. Every ``checkpoint_every`` steps the driver takes every
    component's snapshot (kept in the object store, owned by the driver);
    when an actor dies, it is started afresh, every component is restored to
    the last checkpoint and the steps since are run again: the run ends with
    the bits an undisturbed run has. A component that dies more than
    ``max_failures`` times stops the run with :class:`RunFailed`.

    Args:
        scenario: A validated scenario.
        placement: ``"per-agent"`` or ``"fused"``.
        shards: Requested number of shards.
        checkpoint_every: Steps between checkpoints.
        max_failures: Deaths tolerated per component.
        record: Called with every step's events (single shard only).
        market: A market source replacing the simulator (single shard only).
    """

    def __init__(
        self,
        scenario: Scenario,
        placement: str = "per-agent",
        shards: int = 1,
        checkpoint_every: int = 10,
        max_failures: int = 3,
        record: Callable[[tuple[Any, ...]], None] | None = None,
        market: Any = None,
    ) -> None:
        if placement not in ("per-agent", "fused"):
            raise ValueError(f"placement must be 'per-agent' or 'fused', got {placement!r}")
        ranges = shard_ranges(scenario.n_paths, shards)
        if (record is not None or market is not None) and (len(ranges) > 1 or placement == "fused"):
            raise ValueError("recording and replay run as one per-agent shard")
        self.scenario = scenario
        self.placement = placement
        self.ranges = ranges
        self.checkpoint_every = max(1, checkpoint_every)
        self.max_failures = max_failures
        self.rt = RayRuntime()
        self.run_id = uuid.uuid4().hex[:12]
        self.units = [
            _Unit(self.rt, scenario, placement, a, b, len(ranges), market, record, self.run_id)
            for a, b in ranges
        ]
        self.failures: dict[str, int] = {}
        self.node_ids: set[str] = set()

    def run(self, on_step: Callable[[int], None] | None = None) -> dict[str, ConfigResult]:
        """Run to the end; configuration name to its result (shards joined in order)."""
        try:
            checkpoint = [u.checkpoint() for u in self.units]
            step = 0
            while True:
                try:
                    while step < self.scenario.n_steps:
                        waits = [w for u in self.units for w in u.submit_step()]
                        for w in waits:
                            self.rt.get(w)
                        step += 1
                        if step % self.checkpoint_every == 0:
                            checkpoint = [u.checkpoint() for u in self.units]
                        if on_step is not None:
                            for _ in self.units:
                                on_step(step - 1)
                    self.node_ids = set().union(*(u.nodes() for u in self.units))
                    parts = [{k: self.rt.get(v) for k, v in u.finish().items()} for u in self.units]
                    break
                except Exception as exc:
                    if not _is_lost(exc):
                        raise
                    log = get_logger(run_id=self.run_id, scenario=self.scenario.name)
                    log.warning("run.recover", error=f"{type(exc).__name__}", step=step)
                    for u in self.units:
                        u.replace_dead(self.failures, self.max_failures)
                    for u, c in zip(self.units, checkpoint, strict=True):
                        u.restore(c)
                    step = checkpoint[0][0]
            if self.placement == "fused":
                parts = [p["*"] for p in parts]
            return parts[0] if len(parts) == 1 else concat_results(parts)
        finally:
            self.rt.shutdown()


def run_ray(
    scenario: Scenario,
    address: str | None = None,
    on_step: Callable[[int], None] | None = None,
    record: Callable[[tuple[Any, ...]], None] | None = None,
    market: Any = None,
    shards: int = 1,
    placement: str = "per-agent",
) -> dict[str, ConfigResult]:
    """Run a scenario on Ray (see :class:`RayRun`).

    Args:
        scenario: A validated scenario.
        address: Cluster address (None: ``RAY_ADDRESS`` or a local Ray).
        on_step: Progress callback (called once per shard and step).
        record: Called with every step's events (see :func:`run_protocol`).
        market: A market source to host instead of the scenario's simulator.
        shards: Requested number of shards.
        placement: ``"per-agent"`` (an actor per component) or ``"fused"``.

    Returns:
        Configuration name to its result (the same bits as :func:`run_local`).
    """
    ensure_ray(address)
    ship_user_modules()
    return RayRun(scenario, placement, shards, record=record, market=market).run(on_step)
