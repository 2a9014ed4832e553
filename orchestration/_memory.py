"""Will a run fit in memory? An estimate made before it starts.

The engine keeps per-path state only: a step's events, every book, the
allocation and the P&L attribution are arrays over paths, and the per-step
series are a few scalars per step (summaries across paths), so the peak
memory grows with the number of paths and of configurations, not with the
number of steps. The constants below are peak resident sizes measured on
the built-in scenarios (``/usr/bin/time -f %M gammaray run ... --runtime
local`` at 4,096 to 65,536 paths; see docs/architecture.md), rounded down a
little: the estimate errs low rather than refuse a run that fits.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import Any

#: Peak bytes of the in-process engine per path, and per path and configuration.
ENGINE_PER_PATH = 600
ENGINE_PER_PATH_CONFIG = 380
#: Peak bytes while the report is built (Parquet tables, plots), the same way.
REPORT_PER_PATH = 800
REPORT_PER_PATH_CONFIG = 480
#: Bytes per path and configuration of the per-path results (12 float64 arrays).
RESULT_PER_PATH_CONFIG = 12 * 8
#: The interpreter and its libraries, without / with matplotlib and pyarrow.
BASE = 70 << 20
BASE_REPORT = 200 << 20


def estimate_run_bytes(
    n_paths: int, n_configs: int, largest_shard: int, remote: bool, report: bool
) -> int:
    """Peak bytes a run needs on this machine.

    Args:
        n_paths: Paths of the run.
        n_configs: Hedging configurations.
        largest_shard: Paths of the largest shard (the in-process runtime runs
            shards one after the other; give ``n_paths`` for Ray, whose
            shards run at once).
        remote: The simulation runs on another machine (a Ray cluster
            address): only the driver's results and report count here.
        report: The report (Parquet, plots, HTML) is written.

    Returns:
        Bytes.
    """
    results = n_paths * n_configs * RESULT_PER_PATH_CONFIG
    need = 0 if remote else largest_shard * (ENGINE_PER_PATH + n_configs * ENGINE_PER_PATH_CONFIG)
    if largest_shard < n_paths or remote:
        need += 2 * results  # the shards' results and their concatenation
    if report:
        need = max(need, n_paths * (REPORT_PER_PATH + n_configs * REPORT_PER_PATH_CONFIG))
    return need + (BASE_REPORT if report else BASE)


def _meminfo(field: str) -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _cgroup_room() -> int | None:
    """Room left under this process's cgroup memory limit (v2, then v1)."""
    for limit, usage in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        lim, use = _read_int(limit), _read_int(usage)
        if lim is not None and use is not None and lim < 1 << 60:
            return max(0, lim - use)
    return None


def _address_space_room() -> int | None:
    """Room left under ``ulimit -v`` (RLIMIT_AS), if one is set."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return max(0, soft - int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    return soft


def available_bytes() -> int | None:
    """Memory this process can still use: the least of what the system says
    is available (``MemAvailable``), the cgroup's room and ``ulimit -v``.

    Returns:
        Bytes, or None when nothing can be read.
    """
    sysconf = None
    try:
        sysconf = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        pass
    mem = _meminfo("MemAvailable")
    candidates = [mem if mem is not None else sysconf, _cgroup_room(), _address_space_room()]
    known = [c for c in candidates if c is not None]
    return min(known) if known else None


def memory_shortfall(scenario: Any, runtime: str, address: str | None, report: bool) -> str | None:
    """One line saying the run cannot fit in memory, or None when it can.

    Args:
        scenario: A validated scenario.
        runtime: ``"local"`` or ``"ray"``.
        address: The Ray address given (or None); a cluster address (or
            ``RAY_ADDRESS``) means the simulation runs elsewhere.
        report: The report is written.
    """
    from orchestration.engine import shard_ranges

    ranges = shard_ranges(scenario.n_paths, scenario.shards)
    largest = max(b - a for a, b in ranges) if runtime == "local" else scenario.n_paths
    remote = runtime == "ray" and bool(address or os.environ.get("RAY_ADDRESS"))
    need = estimate_run_bytes(scenario.n_paths, len(scenario.configs), largest, remote, report)
    have = available_bytes()
    if have is None or need <= have:
        return None
    hint = "fewer --paths"
    if runtime == "local" and len(ranges) == 1 and scenario.n_paths > 1:
        hint += ", --shards K"
    if report:
        hint += ", --no-report"
    return (
        f"{scenario.n_paths:,} paths × {len(scenario.configs)} configurations needs about "
        f"{need / 1e9:.1f} GB of memory, {have / 1e9:.1f} GB available; use {hint}"
    )
