"""Sweeps: a grid of scenario overrides × seeds, fanned over a Ray cluster.

A grid maps dotted scenario fields to lists of values (``--set`` paths), plus
a list of seeds; every combination is one run of the scenario (all its
hedging configurations, in-process inside one Ray task of one CPU). At most
``max_in_flight`` runs are in flight (``ray.wait``); rows come back as runs
finish and are sorted into grid order at the end, so the table does not
depend on timing. Every grid point is validated before the first run (its
scenario is built): an unknown field, a wrong-typed, non-finite or
implausible value is one line naming the point and the field (exit status
2), and nothing runs or is written. A run that fails at run time — an agent
that raises — is a row with its ``error``, not a lost sweep.

Grid file (TOML)::

    seeds = [1, 2, 3]
    [grid]
    "market.gap.size_std" = [0.02, 0.04]
    "configs.event_aware.manager.policy.tighten.gamma" = [0.1, 0.2]

or, in a scenario script, ``GRID = {"seeds": [...], "grid": {...}}``.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from market.validation import non_finite_path
from orchestration._io import atomic_write_bytes, atomic_write_text
from orchestration.config import Scenario, ScenarioError, apply_overrides
from orchestration.metrics import config_metrics

#: Metric columns of a sweep row, in order.
METRIC_COLUMNS = (
    "pnl_mean",
    "pnl_std",
    "var_95",
    "cvar_95",
    "mean_std_objective",
    "transaction_cost",
    "budget_breaches",
    "pnl_sha256",
)


def load_grid(source: Path | dict[str, Any]) -> tuple[list[str], list[list[Any]], list[int]]:
    """Read a grid: its field paths, their value lists, and the seeds.

    Args:
        source: A TOML file, or the dict a scenario script names ``GRID``.

    Raises:
        ScenarioError: The grid is missing, malformed or empty.
    """
    if isinstance(source, Path):
        if not source.is_file():
            raise ScenarioError(f"grid file {str(source)!r} does not exist")
        try:
            data = tomllib.loads(source.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"grid file {str(source)!r}: {exc}") from None
    else:
        data = source
    grid = data.get("grid", {})
    seeds = data.get("seeds", [None])
    if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
        raise ScenarioError("grid: each field needs a non-empty list of values")
    if not isinstance(seeds, list) or not seeds:
        raise ScenarioError("grid: seeds must be a non-empty list of integers")
    unknown = set(data) - {"grid", "seeds"}
    if unknown:
        raise ScenarioError(f"grid: unknown keys {sorted(unknown)} (use 'grid' and 'seeds')")
    for field, vals in grid.items():
        if not isinstance(field, str) or not field:
            raise ScenarioError(f"grid: field {field!r} is not a dotted field name")
        bad = non_finite_path(vals)
        if bad is not None:
            raise ScenarioError(
                f"grid: {field} value {vals[int(bad.split('.')[0])]!r} is not a finite number"
            )
    if seeds != [None]:
        for s in seeds:
            if not isinstance(s, int) or isinstance(s, bool) or s < 0:
                raise ScenarioError(f"grid: seeds must be non-negative integers, got {s!r}")
    return list(grid), list(grid.values()), seeds


def expand(fields: list[str], values: list[list[Any]], seeds: list[int]) -> list[dict[str, Any]]:
    """Every combination, in grid order: ``{"run": i, "seed": s, "overrides": {...}}``."""
    runs = []
    for i, (combo, seed) in enumerate(itertools.product(itertools.product(*values), seeds)):
        runs.append({"run": i, "seed": seed, "overrides": dict(zip(fields, combo, strict=True))})
    return runs


def _sets(spec: dict[str, Any]) -> list[str]:
    sets = [f"{k}={json.dumps(v, default=str)}" for k, v in spec["overrides"].items()]
    if spec["seed"] is not None:
        sets.append(f"seed={spec['seed']}")
    return sets


def validate_runs(scenario: Scenario, runs: list[dict[str, Any]]) -> None:
    """Build every grid point's scenario before anything runs.

    Raises:
        ScenarioError: The first point whose scenario is invalid: one line
            naming the point, its values and the field.
    """
    for spec in runs:
        try:
            apply_overrides(scenario, _sets(spec))
        except ScenarioError as exc:
            point = ", ".join(
                f"{k}={json.dumps(v, default=str)}" for k, v in spec["overrides"].items()
            )
            seed = "" if spec["seed"] is None else f", seed {spec['seed']}"
            raise ScenarioError(f"grid point {spec['run']} ({point}{seed}): {exc}") from None


def run_one(scenario: Scenario, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Run one grid point in this process; one row per configuration (or an error row).

    Args:
        scenario: The base scenario.
        spec: A run from :func:`expand`.
    """
    from orchestration.engine import run_local

    base = {"run": spec["run"], "seed": spec["seed"], **spec["overrides"]}
    try:
        sc = apply_overrides(scenario, _sets(spec))
        base["seed"] = sc.seed
        results = run_local(sc)
    except Exception as exc:
        return [{**base, "config": None, "error": f"{type(exc).__name__}: {exc}"}]
    rows = []
    for name, res in results.items():
        m = config_metrics(res, sc.risk_aversion)
        rows.append({**base, "config": name, **{k: m[k] for k in METRIC_COLUMNS}, "error": None})
    return rows


def run_sweep(
    scenario: Scenario,
    runs: list[dict[str, Any]],
    runtime: str = "ray",
    max_in_flight: int | None = None,
    on_done: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every grid point; return all rows in grid order.

    Args:
        scenario: The base scenario.
        runs: From :func:`expand`.
        runtime: ``"ray"`` (one task per run over the cluster) or ``"local"``.
        max_in_flight: Runs submitted at once (default: twice the cluster's CPUs).
        on_done: Called with the number of runs finished so far.

    Raises:
        ScenarioError: A grid point is invalid (checked before the first run).
    """
    validate_runs(scenario, runs)
    rows: list[dict[str, Any]] = []
    if runtime == "local":
        for i, spec in enumerate(runs):
            rows += run_one(scenario, spec)
            if on_done is not None:
                on_done(i + 1)
        return rows
    import ray

    task = ray.remote(num_cpus=1, max_retries=0)(run_one)
    base_ref = ray.put(scenario)
    limit = max_in_flight or max(1, 2 * int(ray.cluster_resources().get("CPU", 1)))
    pending: dict[Any, dict[str, Any]] = {}
    todo = list(runs)
    done = 0
    while todo or pending:
        while todo and len(pending) < limit:
            spec = todo.pop(0)
            pending[task.remote(base_ref, spec)] = spec
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            spec = pending.pop(ref)
            try:
                rows += ray.get(ref)
            except Exception as exc:  # the task itself died (worker lost)
                rows.append(
                    {
                        "run": spec["run"],
                        "seed": spec["seed"],
                        **spec["overrides"],
                        "config": None,
                        "error": f"{type(exc).__name__}: {exc}",
                    }
                )
            done += 1
            if on_done is not None:
                on_done(done)
    rows.sort(key=lambda r: (r["run"], r["config"] or ""))
    return rows


def write_table(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """Write ``sweep.csv``, ``sweep.json`` and (with pyarrow) ``sweep.parquet`` atomically.

    Returns:
        The files written.
    """
    out.mkdir(parents=True, exist_ok=True)
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    written = [out / "sweep.csv", out / "sweep.json"]
    atomic_write_text(written[0], buf.getvalue())
    atomic_write_text(written[1], json.dumps(rows, indent=2) + "\n")
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return written
    table = pa.Table.from_pylist([{c: _cell(r.get(c)) for c in columns} for r in rows])
    sink = io.BytesIO()
    pq.write_table(table, sink)
    atomic_write_bytes(out / "sweep.parquet", sink.getvalue())
    return [*written, out / "sweep.parquet"]


def _cell(v: Any) -> Any:
    # Parquet columns need one type: grid values of mixed types become JSON text.
    return v if v is None or isinstance(v, int | float | str | bool) else json.dumps(v)
