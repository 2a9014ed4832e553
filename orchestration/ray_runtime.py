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
from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import RayTaskError

from agents import ConfigResult
from orchestration.config import Scenario
from orchestration.engine import Pipeline, build_components, run_protocol


class ComponentHost:
    """Holds one component (market, manager or agent) and calls its methods.

    Args:
        component: The plain object to host. It is deep-copied on arrival:
            arrays Ray hands an actor are read-only views of the object
            store, and a component owns (and updates) its state.
    """

    def __init__(self, component: Any) -> None:
        self.component = copy.deepcopy(component)

    def call(self, method: str, *args: Any) -> Any:
        """Call ``method`` on the hosted component."""
        return getattr(self.component, method)(*args)

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
        "log_to_driver": False,
        "configure_logging": True,
    }
    if address is None and not os.environ.get("RAY_ADDRESS"):
        kwargs["include_dashboard"] = False
    ray.init(address=address, **kwargs)


class RayRuntime:
    """Reach components hosted in Ray actors.

    Args:
        num_cpus: CPUs each actor reserves (0: actors only hold a process;
            the per-step work is sequential within a configuration).
    """

    name = "ray"

    def __init__(self, num_cpus: float = 0) -> None:
        self._actor_cls = ray.remote(num_cpus=num_cpus, max_restarts=0)(ComponentHost)
        self.actors: list[Any] = []

    def host(self, component: Any) -> Any:
        """Start an actor holding ``component``; return its handle."""
        handle = self._actor_cls.remote(component)
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
            if cause is not None:
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


def run_ray(
    scenario: Scenario,
    address: str | None = None,
    on_step: Callable[[int], None] | None = None,
    record: Callable[[tuple[Any, ...]], None] | None = None,
    market: Any = None,
) -> dict[str, ConfigResult]:
    """Run a scenario with every component in its own Ray actor.

    Args:
        scenario: A validated scenario.
        address: Cluster address (None: ``RAY_ADDRESS`` or a local Ray).
        on_step: Progress callback.
        record: Called with every step's events (see :func:`run_protocol`).
        market: A market source to host instead of the scenario's simulator.

    Returns:
        Configuration name to its result (the same bits as :func:`run_local`).
    """
    ensure_ray(address)
    ship_user_modules()
    rt = RayRuntime()
    try:
        c = build_components(scenario)
        source = rt.host(c.market if market is None else market)
        pipelines = [
            Pipeline(n, rt.host(c.managers[n]), [(a, rt.host(obj)) for a, obj in c.agents[n]])
            for n in scenario.configs
        ]
        return run_protocol(rt, source, pipelines, scenario.n_steps, on_step, record)
    finally:
        rt.shutdown()
