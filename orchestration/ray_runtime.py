"""The same step protocol with each component inside a Ray actor.

One actor hosts the market, one each manager, one each agent (the brief's
per-agent layout). :class:`ComponentHost` is a plain class that holds any
component object; ``ray.remote`` wraps it here and nowhere else, so the core
packages never import Ray. :meth:`RayRuntime.call` returns an ``ObjectRef``;
the protocol passes those refs straight into the next call, so a step's chain
of calls is submitted without waiting and each component's inputs travel
through the object store once (numpy arrays are read zero-copy by actors on
the same node). The driver waits once per step, for progress and errors.

Faults: every wait has a deadline (:class:`Deadlines`); an actor that misses
it is killed and, like one that died, restarted and restored from the last
checkpoint, in a loop that survives further deaths until a component has
died more than ``max_failures`` times. A component whose class cannot be
imported on a worker is :class:`UserCodeError` (bad input, not a crash), and
a cluster that is gone is :class:`ClusterLost`.

Code reaches the workers through the Python environment for installed
packages; a user's scenario script is pickled by value and the modules
beside it travel in the actors' ``runtime_env`` (:mod:`orchestration._ray_connect`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import RayActorError, RayError

from agents import ConfigResult, cascade_order
from orchestration._logging import get_logger
from orchestration._ray_actors import (
    DEFAULT_DEADLINE_S,
    DEFAULT_STARTUP_S,
    PER_PATH_CALL_S,
    ClusterLost,
    ComponentHost,
    ComponentLost,
    DeadlineMissed,
    Deadlines,
    RayRuntime,
    check_node,
    is_lost,
    wait_all,
)
from orchestration._ray_connect import (
    ClusterUnreachable,
    UserCodeError,
    ensure_ray,
    local_node_gone,
    probe_address,
    ship_user_modules,
    silence_worker_logs,
    user_code_runtime_env,
)
from orchestration.config import Scenario
from orchestration.engine import (
    FusedShard,
    RunFailed,
    ShardProtocol,
    build_components,
    concat_results,
    make_pipelines,
    shard_market,
    shard_ranges,
)

__all__ = [
    "DEFAULT_DEADLINE_S",
    "DEFAULT_STARTUP_S",
    "PER_PATH_CALL_S",
    "ClusterLost",
    "ClusterUnreachable",
    "ComponentHost",
    "ComponentLost",
    "DeadlineMissed",
    "Deadlines",
    "RayRun",
    "RayRuntime",
    "RunFailed",
    "UserCodeError",
    "ensure_ray",
    "probe_address",
    "run_ray",
    "ship_user_modules",
]


class _Unit:
    """One shard as the driver sees it: its actors by role and how to step them.

    ``per-agent``: one actor per component, the protocol driven from here.
    ``fused``: one actor holding a :class:`~orchestration.engine.FusedShard`.
    The step-0 checkpoint is taken here, from the fresh components, before
    they leave (so it exists whatever happens to the actors).
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
        self.where: dict[str, tuple[int, str]] = {}
        self.fresh_roles: set[str] = set()
        self.recorded = -1
        self.next_step = 0
        self.protocol: ShardProtocol | None = None
        fresh = self._fresh()
        self.initial = (0, {role: ray.put(obj.snapshot()) for role, obj in fresh.items()})
        for role, obj in fresh.items():
            self.handles[role] = self._host(role, obj)
        self._wire()

    @property
    def calls_per_step(self) -> int:
        """Component calls of one step: the market's, then per configuration 2 + 2 per agent."""
        return 1 + sum(2 + 2 * len(hc.agents) for hc in self.scenario.configs.values())

    def _fresh(self) -> dict[str, Any]:
        market = None
        if self.market_override is not None:
            market = shard_market(self.market_override, self.start, self.stop, self.n_units)
        if self.placement == "fused":
            return {"shard": FusedShard(self.scenario, self.start, self.stop, market)}
        roles = build_components(self.scenario, self.start, self.stop).roles()
        if market is not None:
            roles["market"] = market
        return roles

    def _host(self, role: str, obj: Any) -> Any:
        label = {"run_id": self.run_id, "shard": self.start, "role": role}
        self.fresh_roles.add(role)
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

    def await_started(self, timeout: float) -> None:
        """Wait until every freshly hosted actor has loaded its component.

        Raises:
            UserCodeError: A component's class cannot be imported there.
            DeadlineMissed: One did not come up in time (it is killed).
            RayActorError: One died.
        """
        roles = sorted(self.fresh_roles)
        refs = [self.handles[r].ready.remote() for r in roles]
        done = wait_all(refs, timeout)
        late = [r for r, ref in zip(roles, refs, strict=True) if ref not in done]
        for r in late:
            self.rt.kill(self.handles[r])
        if late:
            raise DeadlineMissed(f"{', '.join(late)} did not start within {timeout:g} s")
        for r, ref in zip(roles, refs, strict=True):
            self.where[r] = self.rt.get(ref)
        self.fresh_roles.clear()

    def submit_step(self, count: int = 1) -> list[Any]:
        """Submit the next ``count`` steps (more than one only for a fused shard)."""
        if self.protocol is None:
            out = [self.rt.call(self.handles["shard"], "steps", count)]
        else:
            assert count == 1, "the per-agent protocol is driven one step at a time"
            out = self.protocol.submit_step()
            self.recorded = self.protocol.recorded
        self.next_step += count
        return out

    def finish(self) -> dict[str, Any]:
        if self.protocol is None:
            return {"*": self.rt.call(self.handles["shard"], "finish")}
        return self.protocol.finish()

    def checkpoint(self) -> tuple[int, dict[str, Any]]:
        return self.next_step, {r: self.rt.call(h, "snapshot") for r, h in self.handles.items()}

    def submit_restore(self, checkpoint: tuple[int, dict[str, Any]]) -> list[Any]:
        _, refs = checkpoint
        return [self.rt.call(h, "restore", refs[role]) for role, h in self.handles.items()]

    def restored(self, checkpoint: tuple[int, dict[str, Any]]) -> None:
        self.next_step = checkpoint[0]
        self._wire()

    def replace_dead(self, failures: dict[str, int], max_failures: int, timeout: float) -> int:
        """Ping every actor; restart the dead and the silent ones. How many were replaced.

        Raises:
            RunFailed: A component died more than ``max_failures`` times.
        """
        roles = list(self.handles)
        pings = [self.handles[r].pid.remote() for r in roles]
        answered = wait_all(pings, timeout)
        fresh: dict[str, Any] | None = None
        replaced = 0
        for role, ping in zip(roles, pings, strict=True):
            why = f"no answer within {timeout:g} s"
            if ping in answered:
                try:
                    ray.get(ping)
                    continue
                except RayActorError as exc:
                    why = _first_line(exc)[:200]
            self.rt.kill(self.handles[role])
            key = f"shard {self.start}:{role}"
            failures[key] = failures.get(key, 0) + 1
            if failures[key] > max_failures:
                raise RunFailed(
                    f"component {role!r} of the shard at path {self.start} died "
                    f"{failures[key]} times; giving up (last: {why})"
                ) from None
            fresh = fresh if fresh is not None else self._fresh()
            self.handles[role] = self._host(role, fresh[role])
            replaced += 1
        return replaced

    def nodes(self) -> set[str]:
        return {node for _, node in self.where.values()}


def _cascade(scenario: Scenario, config: str) -> list[str]:
    hc = scenario.configs[config]
    return cascade_order([(a.agent_name, a.agent_class.greek) for a in hc.agents])


def user_classes(scenario: Scenario) -> tuple[str, ...]:
    """Dotted paths of the classes a run's components hold: agents, managers, policies.

    Named in the one-line error when a worker cannot import one's module.
    """
    from agents.policy_config import PolicySpec

    out: set[str] = set()

    def add(cls: type) -> None:
        out.add(f"{cls.__module__}.{cls.__qualname__}")

    for hc in scenario.configs.values():
        for a in hc.agents:
            add(a.agent_class)
        add(hc.manager_class)
        policy: Any = hc.manager_config.policy
        while policy is not None:
            if isinstance(policy, dict):  # a spec's ``base``, as written
                policy = PolicySpec.model_validate(policy) if "cls" in policy else None
            elif isinstance(policy, PolicySpec):
                add(policy.policy_class)
                policy = policy.config.get("base")
            else:
                policy = getattr(policy, "base", None)
    return tuple(sorted(out))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


class RayRun:
    """A scenario on Ray: shards, placement, deadlines, checkpoints and crash recovery.

    Paths split into shards on random-block boundaries (the numbers do not
    depend on the split); each shard is an independent pipeline. With the
    ``per-agent`` placement every component of a shard is its own actor
    (0 CPUs reserved: they take turns); with ``fused`` one actor per shard
    runs all of them in-process and reserves a CPU, so shards spread over the
    cluster.

    Every wait has a deadline (:class:`Deadlines`); an actor that misses it
    is killed. Every ``checkpoint_every`` steps the driver takes every
    component's snapshot (kept in the object store, owned by the driver; it
    becomes the one to return to once the next step has finished, which
    proves every snapshot was taken). When an actor is lost, recovery loops
    until it holds: ping every actor, start the dead and silent ones afresh,
    restore every component to the last checkpoint; a death during recovery
    sends it round again. Then the steps since the checkpoint run again and
    the run ends with the bits an undisturbed run has. A component lost more
    than ``max_failures`` times stops the run with :class:`RunFailed`; a
    cluster that fails under it, with :class:`ClusterLost`.

    Args:
        scenario: A validated scenario.
        placement: ``"per-agent"`` or ``"fused"``.
        shards: Requested number of shards.
        checkpoint_every: Steps between checkpoints.
        max_failures: Deaths tolerated per component.
        record: Called with every step's events (single shard only).
        market: A market source replacing the simulator (cut per shard by its
            ``paths(start, stop)`` when there are several).
        deadlines: How long to wait before treating an actor as dead.

    Attributes:
        failures: Deaths (and deadline misses) per ``"shard S:role"``.
        on_recover: Test hook, called with the attempt number once the dead
            actors of a recovery have been replaced and before the restore.
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
        deadlines: Deadlines | None = None,
    ) -> None:
        if placement not in ("per-agent", "fused"):
            raise ValueError(f"placement must be 'per-agent' or 'fused', got {placement!r}")
        ranges = shard_ranges(scenario.n_paths, shards)
        if record is not None and (len(ranges) > 1 or placement == "fused"):
            raise ValueError("a recorded run is one per-agent shard")
        if market is not None and len(ranges) > 1 and not hasattr(market, "paths"):
            raise ValueError("a market source that cannot be cut by path runs as one shard")
        self.scenario = scenario
        # The timeline is derived from the scenario on every access: read it once here.
        self.n_steps = scenario.n_steps
        self.placement = placement
        self.ranges = ranges
        self.checkpoint_every = max(1, checkpoint_every)
        self.max_failures = max_failures
        self.deadlines = deadlines or Deadlines()
        ship_user_modules()
        self.rt = RayRuntime(user_code_runtime_env(), user_classes(scenario))
        self.run_id = run_id = uuid.uuid4().hex[:12]
        self.failures: dict[str, int] = {}
        self.node_ids: set[str] = set()
        self.on_recover: Callable[[int], None] | None = None
        self.units: list[_Unit] = []
        try:
            for a, b in ranges:
                unit = _Unit(
                    self.rt, scenario, placement, a, b, len(ranges), market, record, run_id
                )
                self.units.append(unit)
        except BaseException:
            self.rt.shutdown()
            raise
        widest = max(b - a for a, b in ranges)
        self.step_deadline = self.deadlines.step(widest, self.units[0].calls_per_step)

    def run(self, on_step: Callable[[int], None] | None = None) -> dict[str, ConfigResult]:
        """Run to the end; configuration name to its result (shards joined in order).

        Raises:
            RunFailed: A component kept dying.
            ClusterLost: The cluster failed (e.g. its only node is gone).
            UserCodeError: A component cannot be loaded on a worker.
        """
        lost = False
        try:
            return self._run(on_step)
        except ClusterLost:
            lost = True
            raise
        except RayError as exc:
            gone = local_node_gone()
            lost = gone is not None
            if lost:
                silence_worker_logs()
            raise ClusterLost(
                f"the Ray cluster failed under the run: {gone or _first_line(exc)}"
            ) from None
        finally:
            if not lost:  # the actors went with the node
                self.rt.shutdown()

    def _run(self, on_step: Callable[[int], None] | None) -> dict[str, ConfigResult]:
        good = [u.initial for u in self.units]
        pending: list[tuple[int, dict[str, Any]]] | None = None
        step = 0
        while True:
            try:
                self.rt.arm(None)
                for u in self.units:
                    u.await_started(self.deadlines.startup_s)
                while step < self.n_steps:
                    # A fused shard runs up to the next checkpoint in one call: the
                    # per-step round trip would otherwise contend for the cores the
                    # shards compute on. The per-agent protocol goes step by step.
                    count = 1
                    if self.placement == "fused":
                        to_checkpoint = self.checkpoint_every - step % self.checkpoint_every
                        count = min(to_checkpoint, self.n_steps - step)
                    self.rt.arm(self.step_deadline * count)
                    waits = [w for u in self.units for w in u.submit_step(count)]
                    for w in waits:
                        self.rt.get(w)
                    self.rt.settled()
                    if pending is not None:  # these steps ran after the snapshots
                        good, pending = pending, None
                    step += count
                    if step % self.checkpoint_every == 0:
                        pending = [u.checkpoint() for u in self.units]
                    if on_step is not None:
                        for done in range(step - count, step):
                            for _ in self.units:
                                on_step(done)
                self.rt.arm(2 * self.step_deadline)
                parts = [{k: self.rt.get(v) for k, v in u.finish().items()} for u in self.units]
                self.node_ids = set().union(*(u.nodes() for u in self.units))
                break
            except Exception as exc:
                if not is_lost(exc):
                    raise
                check_node()
                pending = None
                self._recover(good, exc, step)
                step = good[0][0]
        if self.placement == "fused":
            parts = [p["*"] for p in parts]
        return parts[0] if len(parts) == 1 else concat_results(parts)

    def _recover(
        self, good: list[tuple[int, dict[str, Any]]], exc: BaseException, step: int
    ) -> None:
        """Bring every unit back to ``good``, however many actors die meanwhile."""
        log = get_logger(run_id=self.run_id, scenario=self.scenario.name)
        log.warning("run.recover", error=_first_line(exc), step=step, to_step=good[0][0])
        idle = 0
        attempt = 0
        while True:
            attempt += 1
            self.rt.arm(None)
            self.rt.settled()
            replaced = sum(
                u.replace_dead(self.failures, self.max_failures, self.step_deadline)
                for u in self.units
            )
            if self.on_recover is not None:
                self.on_recover(attempt)
            try:
                for u in self.units:
                    u.await_started(self.deadlines.startup_s)
                self.rt.arm(self.step_deadline)
                pairs = zip(self.units, good, strict=True)
                refs = [r for u, c in pairs for r in u.submit_restore(c)]
                for r in refs:
                    self.rt.get(r)
                self.rt.settled()
                for u, c in zip(self.units, good, strict=True):
                    u.restored(c)
                return
            except Exception as again:
                if not is_lost(again):
                    raise
                check_node()
                idle = 0 if replaced else idle + 1
                if idle >= 2:
                    raise RunFailed(f"recovery makes no progress: {_first_line(again)}") from None
                log.warning("run.recover.again", error=_first_line(again), attempt=attempt)


def run_ray(
    scenario: Scenario,
    address: str | None = None,
    on_step: Callable[[int], None] | None = None,
    record: Callable[[tuple[Any, ...]], None] | None = None,
    market: Any = None,
    shards: int = 1,
    placement: str = "per-agent",
    deadlines: Deadlines | None = None,
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
        deadlines: How long to wait before treating an actor as dead.

    Returns:
        Configuration name to its result (the same bits as :func:`run_local`).
    """
    ensure_ray(address)
    run = RayRun(scenario, placement, shards, record=record, market=market, deadlines=deadlines)
    return run.run(on_step)
