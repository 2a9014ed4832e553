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

The desk's frontier (``gammaray sweep ... --budgets 300,600,1200 --frontier``):
every grid point at each budget (every configuration's budget set alike,
:func:`with_budgets`), then transaction cost against CVaR95 per configuration
(:func:`frontier`) as ``frontier.csv``/``frontier.json`` and a plot
``frontier.png``, written atomically into the sweep folder.
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


# ------------------------------------------------------------------ frontier
#: Columns of the frontier table, in order.
FRONTIER_COLUMNS = (
    "config",
    "point",
    "budget",
    "runs",
    "transaction_cost",
    "cvar_95",
    "efficient",
    "dominated_by",
)


def budget_field(scenario: Scenario, config: str) -> str:
    """The ``--set`` path of a configuration's stressed-loss budget."""
    from agents import ManagerSpec

    spec = scenario.configs[config].manager
    inner = ".config" if isinstance(spec, ManagerSpec) else ""
    return f"configs.{config}.manager{inner}.budget"


def parse_budgets(text: str) -> list[float]:
    """``"300,600,1200"`` as budgets.

    Raises:
        ScenarioError: Not a comma-separated list of positive numbers.
    """
    try:
        vals = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ScenarioError(f"--budgets {text!r}: give comma-separated numbers") from None
    if not vals:
        raise ScenarioError(f"--budgets {text!r}: give at least one budget")
    return vals


def with_budgets(
    scenario: Scenario, runs: list[dict[str, Any]], budgets: list[float]
) -> list[dict[str, Any]]:
    """Every run of ``runs`` at every budget (every configuration's budget set alike).

    Args:
        scenario: The base scenario.
        runs: From :func:`expand`.
        budgets: Stressed-loss budgets, currency (> 0).

    Raises:
        ScenarioError: A budget is not a positive finite number.
    """
    for b in budgets:
        if not isinstance(b, int | float) or isinstance(b, bool) or not 0.0 < b < float("inf"):
            raise ScenarioError(f"--budgets: {b!r} is not a positive finite number")
    fields = [budget_field(scenario, c) for c in scenario.configs]
    out: list[dict[str, Any]] = []
    for spec in runs:
        for b in budgets:
            over = {**spec["overrides"], **dict.fromkeys(fields, float(b))}
            out.append({"run": len(out), "seed": spec["seed"], "overrides": over})
    return out


def _row_budget(row: dict[str, Any]) -> float | None:
    cfg = row.get("config")
    for key in (f"configs.{cfg}.manager.budget", f"configs.{cfg}.manager.config.budget"):
        if isinstance(row.get(key), int | float):
            return float(row[key])
    return None


def frontier(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Transaction cost against CVaR95 per configuration and grid point (the desk's frontier).

    Rows of one configuration at one grid point (its overrides but the seed)
    are averaged over the seeds. A point is ``efficient`` when no other point
    of its own configuration has both a lower (or equal) cost and CVaR95,
    one of them strictly; ``dominated_by`` lists the other configurations
    with such a point.

    Args:
        rows: Sweep rows (:func:`run_sweep`); error rows are left out.

    Returns:
        One dict per configuration and point (:data:`FRONTIER_COLUMNS`),
        sorted by configuration, then cost.
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if r.get("error") or r.get("config") is None:
            continue
        skip = {"run", "seed", "config", "error", *METRIC_COLUMNS}
        point = {k: v for k, v in r.items() if k not in skip and not k.startswith("configs.")}
        budget = _row_budget(r)
        label = json.dumps({**point, "budget": budget}, sort_keys=True, default=str)
        groups.setdefault((r["config"], label), []).append(r)
    out = []
    for (cfg, label), rs in groups.items():
        out.append(
            {
                "config": cfg,
                "point": label,
                "budget": _row_budget(rs[0]),
                "runs": len(rs),
                "transaction_cost": float(sum(x["transaction_cost"] for x in rs) / len(rs)),
                "cvar_95": float(sum(x["cvar_95"] for x in rs) / len(rs)),
            }
        )

    def dominates(a: dict[str, Any], b: dict[str, Any]) -> bool:
        ca, va, cb, vb = a["transaction_cost"], a["cvar_95"], b["transaction_cost"], b["cvar_95"]
        return ca <= cb and va <= vb and (ca < cb or va < vb)

    for p in out:
        p["efficient"] = not any(
            dominates(q, p) for q in out if q["config"] == p["config"] and q is not p
        )
        p["dominated_by"] = ",".join(
            sorted(
                {str(q["config"]) for q in out if q["config"] != p["config"] and dominates(q, p)}
            )
        )
    out.sort(key=lambda p: (p["config"], p["transaction_cost"], p["cvar_95"]))
    return out


def write_frontier(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """Write ``frontier.csv``, ``frontier.json`` and ``frontier.png`` atomically.

    Returns:
        The files written.
    """
    table = frontier(rows)
    out.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(FRONTIER_COLUMNS))
    writer.writeheader()
    writer.writerows(table)
    files = [out / "frontier.csv", out / "frontier.json", out / "frontier.png"]
    atomic_write_text(files[0], buf.getvalue())
    atomic_write_text(files[1], json.dumps(table, indent=2) + "\n")
    atomic_write_bytes(files[2], frontier_png(table))
    return files


def frontier_png(table: list[dict[str, Any]]) -> bytes:
    """The frontier plot (cost on x, CVaR95 on y, one line per configuration), PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    try:
        for cfg in sorted({p["config"] for p in table}):
            pts = sorted(
                (p for p in table if p["config"] == cfg), key=lambda p: p["transaction_cost"]
            )
            xs = [p["transaction_cost"] for p in pts]
            ys = [p["cvar_95"] for p in pts]
            (line,) = ax.plot(xs, ys, marker="o", label=cfg)
            for p in pts:
                if p["budget"] is not None:
                    ax.annotate(
                        f"{p['budget']:g}",
                        (p["transaction_cost"], p["cvar_95"]),
                        fontsize=7,
                        color=line.get_color(),
                        xytext=(3, 3),
                        textcoords="offset points",
                    )
        ax.set_xlabel("transaction cost (mean per path)")
        ax.set_ylabel("CVaR95 of loss")
        ax.set_title("cost against tail risk over the budget sweep (labels: budget)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        sink = io.BytesIO()
        fig.savefig(sink, format="png", dpi=90, bbox_inches="tight")
    finally:
        plt.close(fig)
    return sink.getvalue()
