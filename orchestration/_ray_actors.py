"""Ray actors hosting components, and the runtime that calls them under deadlines.

:class:`ComponentHost` holds any component object (``ray.remote`` wraps it
here and nowhere else, so the core packages never import Ray).
:class:`RayRuntime` starts hosts, submits calls (an ``ObjectRef`` each, passed
straight into the next call) and waits for them until the armed deadline;
when a deadline passes it kills the actors that hold calls whose inputs were
all ready — those that could have answered and did not.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import ray
import structlog
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from orchestration._logging import get_logger
from orchestration._ray_connect import UserCodeError, local_node_gone, silence_worker_logs
from orchestration.engine import RunFailed

#: Seconds between checks that this driver's node is still there, while waiting.
NODE_CHECK_S = 1.0


class ComponentHost:
    """Holds one component (market, manager or agent) and calls its methods.

    Args:
        payload: The component, pickled (``ray.cloudpickle``) on the driver.
            Unpickling it here yields the actor's own, writable copy; a class
            that cannot be imported on this worker is remembered and every
            call raises :class:`UserCodeError` naming it.
        context: Bound into the actor's log lines (run id, shard, role,
            component class).
        classes: Dotted paths of the user classes the component may hold
            (the scenario's agent classes), to name the one a missing module
            takes down.
    """

    def __init__(
        self,
        payload: bytes,
        context: dict[str, Any] | None = None,
        classes: tuple[str, ...] = (),
    ) -> None:
        self.context = dict(context or {})
        self.component: Any = None
        self.load_error: str | None = None
        try:
            self.component = ray.cloudpickle.loads(payload)
        except (ImportError, AttributeError) as exc:
            missing = getattr(exc, "name", None) or ""
            hit = [c for c in classes if missing and c.startswith(f"{missing}.")]
            what = ", ".join(hit) if hit else str(self.context.get("class", "?"))
            self.load_error = (
                f"{what} cannot be imported on a Ray worker ({type(exc).__name__}: {exc}; "
                f"component {self.context.get('role', '?')!r}): keep your modules beside "
                "the scenario script, which ships them, or install them on every node"
            )

    def _check(self) -> None:
        if self.load_error is not None:
            raise UserCodeError(self.load_error)

    def ready(self) -> tuple[int, str]:
        """The process id and node id, once the component is loaded."""
        self._check()
        return os.getpid(), ray.get_runtime_context().get_node_id()

    def call(self, method: str, *args: Any) -> Any:
        """Call ``method`` on the hosted component (run, shard and role bound into logs)."""
        self._check()
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


class ComponentLost(RuntimeError):
    """An actor died (its process was killed, its node lost)."""


class DeadlineMissed(ComponentLost):
    """Calls did not finish by their deadline; the actors holding them were killed."""


class ClusterLost(RunFailed):
    """The Ray cluster itself failed (its only node, the raylet or the GCS lost)."""


def check_node() -> None:
    """Raise :class:`ClusterLost` if this driver's node is gone."""
    gone = local_node_gone()
    if gone is not None:
        silence_worker_logs()
        raise ClusterLost(f"lost the Ray cluster: {gone}")


def wait_all(refs: list[Any], timeout: float | None) -> set[Any]:
    """Wait until every ref is ready or ``timeout`` passes; the ready ones.

    Waits in slices, checking between them that this driver's node is still
    up (a node that is gone tells no one).

    Raises:
        ClusterLost: This driver's node is gone.
    """
    if not refs:
        return set()
    end = None if timeout is None else time.monotonic() + timeout
    while True:
        left = NODE_CHECK_S if end is None else min(NODE_CHECK_S, end - time.monotonic())
        done, rest = ray.wait(
            refs, num_returns=len(refs), timeout=max(0.0, left), fetch_local=False
        )
        if not rest or (end is not None and time.monotonic() >= end):
            return set(done)
        check_node()


#: Seconds every wait may take beyond its expected work (``--deadline``).
DEFAULT_DEADLINE_S = 60.0
#: Expected work of one call, seconds per path (about 10x the measured cost).
PER_PATH_CALL_S = 2e-6
#: Seconds a (re)started actor may take to come up and load its component.
DEFAULT_STARTUP_S = 120.0


@dataclass(frozen=True)
class Deadlines:
    """How long the driver waits before it treats an actor as dead.

    A step's calls must all finish within
    ``slack_s + per_path_call_s * shard_paths * calls_per_step``: a fixed,
    generous slack for scheduling and pauses plus the step's expected work
    (its calls run one after another in the worst case). Restores get the
    same deadline; a fresh actor gets ``startup_s`` to start and load.

    Attributes:
        slack_s: Fixed allowance of every wait, seconds (``--deadline``).
        per_path_call_s: Expected seconds per path per component call.
        startup_s: Allowance for starting an actor, seconds.
    """

    slack_s: float = DEFAULT_DEADLINE_S
    per_path_call_s: float = PER_PATH_CALL_S
    startup_s: float = DEFAULT_STARTUP_S

    def step(self, shard_paths: int, calls: int) -> float:
        """The deadline of one step's wait, seconds."""
        return self.slack_s + self.per_path_call_s * shard_paths * calls


class RayRuntime:
    """Reach components hosted in Ray actors.

    Actors of the per-agent placement reserve no CPU (the per-step work is
    sequential within a configuration); fused shards reserve one each. Every
    call is remembered until :meth:`settled`, so that when a wait misses its
    deadline (:meth:`arm`) the actors holding calls that could run and did
    not (all their inputs ready) are the ones killed.

    Args:
        runtime_env: Given to every actor (the user's modules).
        classes: Dotted paths of the user classes components may hold (named
            when one cannot be imported on a worker).
    """

    name = "ray"

    def __init__(
        self, runtime_env: dict[str, Any] | None = None, classes: tuple[str, ...] = ()
    ) -> None:
        self._actor_cls = ray.remote(max_restarts=0)(ComponentHost)
        self.actors: list[Any] = []
        self.runtime_env = dict(runtime_env or {})
        self.labels: dict[Any, str] = {}
        self.inflight: list[tuple[Any, Any, tuple[Any, ...]]] = []
        self.deadline_at: float | None = None
        self.missed: list[str] = []
        self.classes = tuple(classes)

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
        if self.runtime_env:
            opts["runtime_env"] = self.runtime_env
        cls = type(component)
        ctx = {
            "component": cls.__name__,
            "class": f"{cls.__module__}.{cls.__qualname__}",
            **(context or {}),
        }
        payload = ray.cloudpickle.dumps(component)
        handle = self._actor_cls.options(**opts).remote(payload, ctx, self.classes)
        self.actors.append(handle)
        self.labels[handle] = str(ctx.get("role", ctx["component"]))
        return handle

    def call(self, handle: Any, method: str, *args: Any) -> Any:
        """Submit ``method`` to the actor; return the ``ObjectRef``."""
        ref = handle.call.remote(method, *args)
        deps = tuple(a for a in args if isinstance(a, ray.ObjectRef))
        self.inflight.append((handle, ref, deps))
        return ref

    def arm(self, seconds: float | None) -> None:
        """Waits from now on end ``seconds`` from now (None: no deadline)."""
        self.deadline_at = None if seconds is None else time.monotonic() + seconds

    def settled(self) -> None:
        """Every call so far has finished: forget them."""
        self.inflight.clear()

    def get(self, value: Any) -> Any:
        """Wait for a ref (until the armed deadline); re-raise the component's own exception.

        Raises:
            DeadlineMissed: The deadline passed; the stuck actors were killed.
        """
        try:
            while True:
                left = NODE_CHECK_S
                if self.deadline_at is not None:
                    left = min(left, max(0.0, self.deadline_at - time.monotonic()))
                try:
                    return ray.get(value, timeout=left)
                except GetTimeoutError:
                    if self.deadline_at is not None and time.monotonic() >= self.deadline_at:
                        raise
                    check_node()
        except GetTimeoutError:
            check_node()
            stuck = self.kill_stuck()
            raise DeadlineMissed(
                f"no answer by the deadline from {', '.join(stuck) or 'an actor'}"
            ) from None
        except RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, BaseException) else None
            if cause is not None and not is_lost(exc):
                raise cause from None
            raise

    def kill_stuck(self) -> list[str]:
        """Kill the actors holding calls that have all their inputs and no result.

        Returns:
            Their labels (roles).
        """
        refs = list({r for _, ref, deps in self.inflight for r in (ref, *deps)})
        done, _ = ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)
        ready = set(done)
        stuck: list[Any] = []
        for handle, ref, deps in self.inflight:
            if ref not in ready and all(d in ready for d in deps) and handle not in stuck:
                stuck.append(handle)
        labels = [self.labels.get(h, "?") for h in stuck]
        for h in stuck:
            self.kill(h)
        self.missed += labels
        return labels

    def kill(self, handle: Any) -> None:
        """End an actor (no restart); quiet if it is gone already."""
        try:
            ray.kill(handle, no_restart=True)
        except Exception:  # already dead, or the cluster is gone
            pass

    def shutdown(self) -> None:
        """Stop every actor this runtime started."""
        for a in self.actors:
            self.kill(a)
        self.actors.clear()
        self.labels.clear()
        self.inflight.clear()


def is_lost(exc: BaseException) -> bool:
    """Whether an error means an actor is gone (dead, or killed for missing a deadline)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, RayActorError | ComponentLost):
            return True
        seen = getattr(seen, "cause", None) or seen.__cause__
    return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__
