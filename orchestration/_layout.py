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
