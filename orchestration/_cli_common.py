"""What the ``gammaray`` subcommands share: the usage error, running a scenario, the table.

Both :mod:`orchestration.cli` and the subcommand modules
(:mod:`orchestration.cli_replay`, :mod:`orchestration.cli_bench`, ...) import
from here, so no subcommand module imports :mod:`orchestration.cli` back (no
import circle; ``python -m orchestration.cli`` sees one ``UsageError``).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from orchestration._listing import EXIT_BROKEN_PIPE, write_lines  # noqa: F401
from orchestration.config import Scenario, apply_overrides, load_scenario
from orchestration.metrics import config_metrics

__all__ = [
    "TABLE_COLUMNS",
    "UsageError",
    "add_run_options",
    "execute",
    "print_table",
    "progress",
    "resolve_scenario",
    "write_lines",
]


def add_run_options(
    parser: argparse.ArgumentParser,
    set_help: str = "override a scenario field by dotted path",
    progress: bool = True,
) -> None:
    """Add the options every scenario-running subcommand shares.

    ``--set FIELD=VALUE`` (repeatable, into ``args.overrides``) and, with
    ``progress``, ``--no-progress``.
    """
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help=f"{set_help} (repeatable; default: none)",
    )
    if progress:
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


class UsageError(ValueError):
    """Bad command-line input (exit status 2)."""


#: Columns of the results table: (metrics key, header, format). Each header
#: says which way is good; money is in the scenario's currency (the title).
TABLE_COLUMNS = (
    ("pnl_mean", "mean P&L ↑", "{:,.2f}"),
    ("pnl_std", "P&L std ↓", "{:,.2f}"),
    ("var_95", "VaR95 loss ↓", "{:,.2f}"),
    ("cvar_95", "CVaR95 loss ↓", "{:,.2f}"),
    ("mean_std_objective", "mean+c·std loss ↓", "{:,.2f}"),
    ("transaction_cost", "t-cost ↓", "{:,.2f}"),
    ("breach_share", "breached steps ↓", "{:.2%}"),
    ("paths_breached", "paths breached ↓", "{:,d}"),
)
#: The columns of a one-path run (a replay of a real event): what one path means.
ONE_PATH_COLUMNS = (
    ("pnl_mean", "terminal P&L ↑", "{:,.2f}"),
    ("transaction_cost", "t-cost ↓", "{:,.2f}"),
    ("breach_share", "breached steps ↓", "{:.2%}"),
)


def resolve_scenario(args: argparse.Namespace) -> Scenario:
    """The scenario of a ``run`` command, overrides and flags applied."""
    scenario = load_scenario(args.scenario, args.overrides)
    extra = []
    if args.paths is not None:
        extra.append(f"n_paths={args.paths}")
    if args.seed is not None:
        extra.append(f"seed={args.seed}")
    if getattr(args, "shards", None) is not None:
        extra.append(f"shards={args.shards}")
    if getattr(args, "placement", None) is not None:
        extra.append(f"placement={args.placement}")
    return apply_overrides(scenario, extra)


def execute(
    scenario: Scenario,
    runtime: str,
    address: str | None = None,
    on_step: Callable[[int], None] | None = None,
    record: Callable[[tuple[Any, ...]], None] | None = None,
    market: Any = None,
    keep: dict[str, Any] | None = None,
    deadline: float | None = None,
) -> dict[str, Any]:
    """Run a scenario on a runtime and return its summary (not written).

    Args:
        scenario: A validated scenario.
        runtime: ``"local"`` or ``"ray"``.
        address: Ray address for the ray runtime.
        on_step: Progress callback.
        record: Called with every step's events (to write an event log).
        market: A market source replacing the scenario's simulator (a replay).
        keep: If given, ``keep["results"]`` receives the per-path results.
        deadline: Ray: the fixed part of every call's deadline, seconds
            (None: the default, see :class:`~orchestration.ray_runtime.Deadlines`).

    Returns:
        The summary: ``scenario``, ``seed``, ``n_paths``, ``n_steps``,
        ``currency``, ``runtime`` (on Ray ``placement``, ``shards``, ``nodes``:
        see :func:`node_map`) and ``configs`` keyed by configuration name, each
        with ``metrics`` (:func:`~orchestration.metrics.config_metrics`, less
        the hash) and its one ``pnl_sha256``.
    """
    start = time.perf_counter()
    layout: dict[str, Any] = {"shards": scenario.shards}
    if runtime == "ray":
        from orchestration._signals import reclaim_signals
        from orchestration.ray_runtime import Deadlines, RayRun, ensure_ray

        ensure_ray(address)
        reclaim_signals()  # ray.init installs its own SIGTERM handler
        limits = Deadlines() if deadline is None else Deadlines(slack_s=deadline)
        run = RayRun(
            scenario,
            scenario.placement,
            scenario.shards,
            record=record,
            market=market,
            deadlines=limits,
        )
        results = run.run(on_step)
        layout.update(
            placement=scenario.placement,
            shards=len(run.ranges),
            nodes=node_map(run),
            recoveries=sum(run.failures.values()),
        )
    else:
        from orchestration.config import script_dirs_on_path, user_code_dirs
        from orchestration.engine import run_local

        with script_dirs_on_path(user_code_dirs()):  # as while the script loaded
            results = run_local(scenario, on_step, record, market, shards=scenario.shards)
    elapsed = time.perf_counter() - start
    if keep is not None:
        keep["results"] = results
    configs = {}
    for name, res in results.items():
        m = config_metrics(res, scenario.risk_aversion, scenario.n_steps)
        configs[name] = {"metrics": m, "pnl_sha256": m.pop("pnl_sha256")}
    summary = {
        "scenario": scenario.name,
        "scenario_version": scenario.version,
        "seed": scenario.seed,
        "n_paths": scenario.n_paths,
        "n_steps": scenario.n_steps,
        "currency": scenario.currency,
        "runtime": runtime,
        **layout,
        "elapsed_s": elapsed,
        "configs": configs,
        "scenario_config": json.loads(scenario.model_dump_json(fallback=_class_path)),
    }
    if scenario.market.kind == "history_windows":  # out of sample: which real windows hurt
        from market.generators.fitted_history import worst_windows

        summary["worst_windows"] = {
            name: worst_windows(scenario.market.history, res.pnl) for name, res in results.items()
        }
    return summary


def node_map(run: Any) -> list[dict[str, Any]]:
    """The Ray nodes a run's shards ran on: id, address and shards, one entry per node.

    Args:
        run: A finished :class:`~orchestration.ray_runtime.RayRun`.

    Returns:
        ``[{"node_id", "address", "shards": [{"shard", "paths": [start, stop]}]}]``
        sorted by address then id; a shard whose components sat on several
        nodes (per-agent placement) is listed under each of them. ``address``
        is the node's IP address (None if Ray no longer lists the node).
    """
    import ray

    addresses = {n["NodeID"]: n.get("NodeManagerAddress") for n in ray.nodes()}
    by_node: dict[str, list[dict[str, Any]]] = {}
    for i, unit in enumerate(run.units):
        for node in sorted(unit.nodes()):
            by_node.setdefault(node, []).append({"shard": i, "paths": [unit.start, unit.stop]})
    out = [
        {"node_id": node, "address": addresses.get(node), "shards": shards}
        for node, shards in by_node.items()
    ]
    return sorted(out, key=lambda n: (str(n["address"]), n["node_id"]))


def _class_path(obj: Any) -> Any:
    if isinstance(obj, type):
        return f"{obj.__module__}.{obj.__qualname__}"
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def table_rows(summary: dict[str, Any]) -> tuple[str, list[str], list[list[str]], str]:
    """The results table as text: ``(title, headers, rows, caption)``.

    Money columns are in the summary's ``currency``; "loss" columns are
    positive when money is lost, the P&L column when it is made. A one-path
    run (``n_paths == 1``) shows that path's terminal P&L, cost and share of
    steps over budget: a std, a VaR or a CVaR of one number means nothing.
    """
    n = summary["n_paths"]
    currency = summary.get("currency", "USD")
    one = n == 1
    columns = list(ONE_PATH_COLUMNS if one else TABLE_COLUMNS)
    configs = summary["configs"]
    if all("slippage" in c["metrics"] for c in configs.values()):
        columns.insert(2 if one else 6, ("slippage", "slippage ↓", "{:,.2f}"))
    paths = "one path" if one else f"{n:,} paths"
    title = (
        f"{summary['scenario']}: {paths}, seed {summary['seed']}, "
        f"{summary['runtime']} runtime, money in {currency}"
    )
    if one:
        caption = (
            "↑ higher is better, ↓ lower is better. One path: the terminal P&L of that "
            "path (profit positive); one number has no std, VaR or CVaR. Breached steps: "
            "share of the steps over the stressed-loss budget"
        )
    else:
        steps = summary.get("n_steps")
        of = f" of {n:,} × {steps:,}" if steps else ""
        caption = (
            "↑ higher is better, ↓ lower is better. P&L: profit positive; loss columns: "
            f"money lost positive. Breached steps: share of the path-steps{of} over the "
            "stressed-loss budget; paths breached: paths with any breach"
        )
    rows = [
        [name, *(fmt.format(cfg["metrics"][key]) for key, _, fmt in columns)]
        for name, cfg in configs.items()
    ]
    return title, ["config", *(h for _, h, _ in columns)], rows, caption


def print_table(summary: dict[str, Any]) -> None:
    """Print the per-configuration metrics table to stdout (see :func:`table_rows`)."""
    from rich.console import Console
    from rich.table import Table

    title, headers, rows, caption = table_rows(summary)
    table = Table(title=title, caption=caption)
    table.add_column(headers[0], no_wrap=True)
    for i, header in enumerate(headers[1:], 1):  # numbers whole; headers wrap
        table.add_column(header, justify="right", min_width=max(len(r[i]) for r in rows))
    for row in rows:
        table.add_row(*row)
    console = Console(width=max(140, Console().width))
    console.print(table)
    for name, wrows in summary.get("worst_windows", {}).items():
        worst = ", ".join(f"{w['start']}..{w['end']} {w['pnl']:,.0f}" for w in wrows[:5])
        console.print(f"worst windows, {name}: {worst}")


@contextmanager
def progress(label: str, total: int, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    """A transient progress bar; yields an ``on_step`` callback (None when disabled).

    Args:
        label: Text in front of the bar.
        total: Number of steps.
        enabled: False for no bar (``--no-progress``).
    """
    if not enabled:
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True) as p:
        task = p.add_task(label, total=total)
        yield lambda _: p.advance(task)
