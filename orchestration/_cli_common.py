"""What the ``gammaray`` subcommands share: the usage error, running a scenario, the table.

Both :mod:`orchestration.cli` and the subcommand modules
(:mod:`orchestration.cli_replay`, :mod:`orchestration.cli_bench`, ...) import
from here, so no subcommand module imports :mod:`orchestration.cli` back (no
import circle; ``python -m orchestration.cli`` sees one ``UsageError``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from orchestration.config import Scenario, apply_overrides, load_scenario
from orchestration.metrics import config_metrics

__all__ = [
    "TABLE_COLUMNS",
    "UsageError",
    "execute",
    "print_table",
    "progress",
    "resolve_scenario",
    "write_lines",
]


class UsageError(ValueError):
    """Bad command-line input (exit status 2)."""


#: Columns of the results table: (metrics key, header, format).
TABLE_COLUMNS = (
    ("pnl_mean", "P&L mean", "{:,.2f}"),
    ("pnl_std", "P&L std", "{:,.2f}"),
    ("var_95", "VaR95", "{:,.2f}"),
    ("cvar_95", "CVaR95", "{:,.2f}"),
    ("mean_std_objective", "mean+c·std", "{:,.2f}"),
    ("transaction_cost", "t-cost", "{:,.2f}"),
    ("budget_breaches", "breaches", "{:,d}"),
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
        The summary: ``scenario``, ``seed``, ``n_paths``, ``runtime`` and
        ``configs`` keyed by configuration name, each with ``metrics`` and
        ``pnl_sha256``.
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
            nodes=sorted(run.node_ids),
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
        m = config_metrics(res, scenario.risk_aversion)
        configs[name] = {"metrics": m, "pnl_sha256": m["pnl_sha256"]}
    summary = {
        "scenario": scenario.name,
        "scenario_version": scenario.version,
        "seed": scenario.seed,
        "n_paths": scenario.n_paths,
        "n_steps": scenario.n_steps,
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


def _class_path(obj: Any) -> Any:
    if isinstance(obj, type):
        return f"{obj.__module__}.{obj.__qualname__}"
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def print_table(summary: dict[str, Any]) -> None:
    """Print the per-configuration metrics table to stdout."""
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{summary['scenario']}: {summary['n_paths']:,} paths, seed {summary['seed']}, "
        f"{summary['runtime']} runtime (losses positive)"
    )
    table.add_column("config")
    columns = list(TABLE_COLUMNS)
    if all("slippage" in c["metrics"] for c in summary["configs"].values()):
        columns.insert(-1, ("slippage", "slippage", "{:,.2f}"))
    for _, header, _ in columns:
        table.add_column(header, justify="right")
    for name, cfg in summary["configs"].items():
        m = cfg["metrics"]
        table.add_row(name, *(fmt.format(m[key]) for key, _, fmt in columns))
    console = Console(width=max(120, Console().width))
    console.print(table)
    for name, rows in summary.get("worst_windows", {}).items():
        worst = ", ".join(f"{w['start']}..{w['end']} {w['pnl']:,.0f}" for w in rows[:5])
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


#: Exit status of a command whose reader went away (128 + SIGPIPE), as a shell reports it.
EXIT_BROKEN_PIPE = 141


def write_lines(lines: list[str]) -> int:
    """Print lines to stdout; a reader that stops early (``| head``) ends it quietly.

    On ``EPIPE`` the rest is dropped, stdout is pointed at ``/dev/null`` (so
    the interpreter's final flush cannot fail again) and the status is
    :data:`EXIT_BROKEN_PIPE`, what a standard tool killed by ``SIGPIPE``
    reports; nothing is written to stderr.

    Returns:
        0, or :data:`EXIT_BROKEN_PIPE`.
    """
    try:
        for line in lines:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # stdout is not a file (a test's capture)
            pass
        return EXIT_BROKEN_PIPE
    return 0
