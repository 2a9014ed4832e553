"""The Ray layout a run gets when the user picks none: fused shards on a local Ray.

A Ray the run starts itself (no ``--address``, no ``RAY_ADDRESS``) lives on
this machine's CPUs. There the per-agent placement (an actor per component:
15 processes for ``macro_gap``, each starting Python and importing numpy,
and a Ray round trip per call, ``2 + 2 * agents`` per configuration and
step) is the slowest layout; one fused shard per CPU (each an actor running
its whole pipeline in-process, the driver calling it once per step) is the
fastest, and gives the same bits. A cluster (``--address``), an explicit
``--placement`` or ``--shards``, a scenario that sets either, and recording
or replaying (one per-agent shard by design) keep what they ask for.

Before that, a run that names no runtime (``--runtime auto``, the default)
on no cluster asks whether Ray pays at all (:func:`auto_runtime`): Ray's own
start-up (``ray.init`` and the shards' actors, ~8 s on the 2-CPU project
machine) is a fixed cost, and fused shards save a measured part of the ideal
share ``1 - 1/shards`` of the in-process run; a run shorter than that
break-even runs in-process, with the same bits.
"""

from __future__ import annotations

import os

from market._rng import BLOCK_SIZE
from orchestration.config import Scenario


def local_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


#: In-process cost of one path through one step of one configuration, seconds
#: (``benchmarks/bench_engine.py``: 3.2-4.1e6 path-steps/s on one core, macro_gap).
LOCAL_PATH_STEP_S = 0.3e-6
#: Ray's start-up for a run on a local Ray, seconds (``ray.init`` and the fused
#: shards' actors; ``benchmarks/bench_default_run.py``: ~8-9 s on 2 CPUs).
RAY_START_S = 8.0
#: Share of the ideal saving ``1 - 1/shards`` that fused shards realise
#: (``bench_engine.py``, 100,000 paths, 2 shards on 2 CPUs: 0.58x the in-process
#: time once the actors are up, i.e. 0.42 of the ideal 0.5).
FUSED_EFFICIENCY = 0.8


def auto_runtime(
    scenario: Scenario, address: str | None, layout_given: bool, cpus: int | None = None
) -> str:
    """``"local"`` or ``"ray"`` for a run that named no runtime.

    Ray when there is a cluster (``address`` or ``RAY_ADDRESS``), when a layout
    was asked for (``--placement``/``--shards``, or the scenario sets one), or
    when fused shards on this machine's CPUs would save more than Ray's
    start-up costs: ``work * (1 - 1/shards) * FUSED_EFFICIENCY > RAY_START_S``
    with ``work`` the estimated in-process time (``paths * steps *
    configurations * LOCAL_PATH_STEP_S``). Otherwise in-process, which then is
    the fastest.

    Args:
        scenario: The scenario as loaded.
        address: The ``--address`` given, or None.
        layout_given: ``--placement`` or ``--shards`` was given.
        cpus: CPUs of the local machine (default: :func:`local_cpus`).
    """
    layout = None if layout_given else default_layout(scenario, address, cpus)
    if layout is None:  # a cluster, or a layout asked for
        return "ray"
    shards = layout[1]
    work = scenario.n_paths * scenario.n_steps * len(scenario.configs) * LOCAL_PATH_STEP_S
    saving = work * (1.0 - 1.0 / shards) * FUSED_EFFICIENCY
    return "ray" if saving > RAY_START_S else "local"


def default_layout(
    scenario: Scenario, address: str | None, cpus: int | None = None
) -> tuple[str, int] | None:
    """The ``(placement, shards)`` for a run that asked for no layout, or None.

    Args:
        scenario: The scenario as loaded (its own ``placement``/``shards``).
        address: The ``--address`` given, or None.
        cpus: CPUs of the local machine (default: :func:`local_cpus`).

    Returns:
        ``("fused", min(cpus, random blocks))`` when the run starts its own
        Ray and the scenario keeps the defaults (``per-agent``, one shard);
        None to keep the scenario's layout (a cluster, or a chosen layout).
    """
    if address is not None or os.environ.get("RAY_ADDRESS"):
        return None
    if scenario.placement != "per-agent" or scenario.shards != 1:
        return None
    cpus = local_cpus() if cpus is None else cpus
    blocks = -(-scenario.n_paths // BLOCK_SIZE)
    return "fused", max(1, min(cpus, blocks))
