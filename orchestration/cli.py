"""``gammaray``: the command line.

``gammaray run SCENARIO`` loads a scenario script (or a built-in name), runs
every hedging configuration on identical paths, prints the metrics table and
writes ``summary.json``. ``gammaray list`` shows the built-in scenarios.

Exit status: 0 on success, 2 for bad input (one line naming what to fix,
nothing written), 1 for a run that failed (an agent raised, a worker died).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agents import AgentError
from orchestration._io import atomic_write_text
from orchestration._logging import configure_logging, get_logger
from orchestration.config import (
    Scenario,
    ScenarioError,
    apply_overrides,
    builtin_scenarios,
    load_scenario,
)
from orchestration.engine import RunFailed
from orchestration.metrics import config_metrics

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


class UsageError(ValueError):
    """Bad command-line input (exit status 2)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gammaray", description=__doc__.splitlines()[0])
    p.add_argument("--log-json", action="store_true", help="log JSON lines to stderr")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress events")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a scenario and write summary.json")
    run.add_argument("scenario", help="scenario script path or built-in name")
    run.add_argument("--paths", type=int, help="number of paths (n_paths)")
    run.add_argument("--seed", type=int, help="random seed")
    run.add_argument("--runtime", choices=("local", "ray"), default="ray")
    run.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS or local Ray)")
    run.add_argument("--shards", type=int, help="split the paths into K shards")
    run.add_argument(
        "--placement",
        choices=("per-agent", "fused"),
        help="Ray placement of components (default: the scenario's; on a Ray this run "
        "starts itself, fused shards, one per CPU)",
    )
    run.add_argument("--out", type=Path, help="output folder (default runs/<scenario>-<time>)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a scenario field by dotted path (repeatable)",
    )
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.add_argument("--no-report", action="store_true", help="skip report.html, PNGs, Parquet")
    run.add_argument("--record", type=Path, metavar="FILE", help="write the run's event log")
    run.add_argument("--log-json", action="store_true", default=argparse.SUPPRESS)

    sweep = sub.add_parser("sweep", help="run a grid of overrides × seeds, one table")
    sweep.add_argument("scenario", help="scenario script path or built-in name")
    sweep.add_argument("--grid", type=Path, help="grid TOML (default: the script's GRID)")
    sweep.add_argument("--paths", type=int, help="number of paths per run")
    sweep.add_argument("--runtime", choices=("local", "ray"), default="ray")
    sweep.add_argument("--address", help="Ray cluster address")
    sweep.add_argument("--max-in-flight", type=int, help="runs submitted at once")
    sweep.add_argument("--out", type=Path, help="output folder (default runs/<name>-sweep-<time>)")
    sweep.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE"
    )
    sweep.add_argument("--no-progress", action="store_true")

    rep = sub.add_parser("report", help="rebuild a run's report.html and plots")
    rep.add_argument("run_dir", type=Path)
    cmp_ = sub.add_parser("compare", help="two runs side by side")
    cmp_.add_argument("run_a", type=Path)
    cmp_.add_argument("run_b", type=Path)
    cmp_.add_argument("--out", type=Path, default=Path("."), help="folder for compare.html")

    sub.add_parser("list", help="list the built-in scenarios")
    for module in COMMAND_MODULES:
        COMMANDS.update(importlib.import_module(module).register(sub))
    return p


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

    Returns:
        The summary: ``scenario``, ``seed``, ``n_paths``, ``runtime`` and
        ``configs`` keyed by configuration name, each with ``metrics`` and
        ``pnl_sha256``.
    """
    start = time.perf_counter()
    layout: dict[str, Any] = {"shards": scenario.shards}
    if runtime == "ray":
        from orchestration.ray_runtime import RayRun, ensure_ray, ship_user_modules

        ensure_ray(address)
        ship_user_modules()
        run = RayRun(scenario, scenario.placement, scenario.shards, record=record, market=market)
        results = run.run(on_step)
        layout.update(
            placement=scenario.placement,
            shards=len(run.ranges),
            nodes=sorted(run.node_ids),
            recoveries=sum(run.failures.values()),
        )
    else:
        from orchestration.engine import run_local

        results = run_local(scenario, on_step, record, market, shards=scenario.shards)
    elapsed = time.perf_counter() - start
    if keep is not None:
        keep["results"] = results
    configs = {}
    for name, res in results.items():
        m = config_metrics(res, scenario.risk_aversion)
        configs[name] = {"metrics": m, "pnl_sha256": m["pnl_sha256"]}
    return {
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
    for _, header, _ in TABLE_COLUMNS:
        table.add_column(header, justify="right")
    for name, cfg in summary["configs"].items():
        m = cfg["metrics"]
        table.add_row(name, *(fmt.format(m[key]) for key, _, fmt in TABLE_COLUMNS))
    Console(width=max(120, Console().width)).print(table)


def cmd_run(args: argparse.Namespace) -> int:
    """``gammaray run``."""
    log = get_logger()
    scenario = resolve_scenario(args)
    if args.runtime == "ray" and args.placement is None and args.shards is None and not args.record:
        from orchestration._layout import default_layout

        layout = default_layout(scenario, args.address)
        if layout is not None:
            scenario = apply_overrides(scenario, [f"placement={layout[0]}", f"shards={layout[1]}"])
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out if args.out is not None else Path("runs") / f"{scenario.name}-{stamp}"
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} exists and is not a folder")
    log.info("run.start", scenario=scenario.name, n_paths=scenario.n_paths, runtime=args.runtime)
    from orchestration.cli_replay import recording

    kept: dict[str, Any] = {}
    with recording(args.record, scenario, args.runtime) as record:
        if args.no_progress:
            summary = execute(scenario, args.runtime, args.address, record=record, keep=kept)
        else:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                total = scenario.n_steps * _n_shards(scenario)
                task = bar.add_task(f"{scenario.name} [{args.runtime}]", total=total)
                summary = execute(
                    scenario,
                    args.runtime,
                    args.address,
                    lambda _: bar.advance(task),
                    record,
                    keep=kept,
                )
    print_table(summary)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    if not args.no_report:
        from orchestration.report import write_run_outputs

        write_run_outputs(out, summary, kept["results"])
    log.info("run.done", out=str(out), elapsed_s=summary["elapsed_s"])
    print(f"wrote {out / 'summary.json'}" + ("" if args.no_report else " and report.html"))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """``gammaray report RUN_DIR``."""
    from orchestration.report import build_report

    for name in ("summary.json", "series.parquet", "paths.parquet"):
        if not (args.run_dir / name).is_file():
            raise UsageError(f"{args.run_dir}: no {name} (is it a gammaray run folder?)")
    print(f"wrote {build_report(args.run_dir)}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """``gammaray compare RUN_A RUN_B``."""
    from orchestration.report import compare

    for run in (args.run_a, args.run_b):
        if not (run / "summary.json").is_file():
            raise UsageError(f"{run}: no summary.json (is it a gammaray run folder?)")
    print(compare(args.run_a, args.run_b, args.out))
    print(f"wrote {args.out / 'compare.html'}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """``gammaray sweep``."""
    from orchestration import sweep

    scenario = load_scenario(args.scenario, args.overrides)
    if args.paths is not None:
        scenario = apply_overrides(scenario, [f"n_paths={args.paths}"])
    if args.grid is not None:
        source: Any = args.grid
    else:
        from orchestration.config import builtin_scenarios, load_script

        path = builtin_scenarios().get(args.scenario, Path(args.scenario))
        source = getattr(load_script(path), "GRID", None)
        if source is None:
            raise UsageError("give --grid FILE or define GRID in the scenario script")
    runs = sweep.expand(*sweep.load_grid(source))
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out if args.out is not None else Path("runs") / f"{scenario.name}-sweep-{stamp}"
    if args.runtime == "ray":
        from orchestration.ray_runtime import ensure_ray, ship_user_modules

        ensure_ray(args.address)
        ship_user_modules()
    if args.no_progress:
        rows = sweep.run_sweep(scenario, runs, args.runtime, args.max_in_flight)
    else:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(f"sweep {scenario.name}", total=len(runs))
            rows = sweep.run_sweep(
                scenario,
                runs,
                args.runtime,
                args.max_in_flight,
                lambda n: bar.update(task, completed=n),
            )
    files = sweep.write_table(rows, out)
    failed = sum(1 for r in rows if r["error"])
    print(
        f"{len(runs)} runs, {len(rows)} rows, {failed} failed; wrote "
        + ", ".join(str(f) for f in files)
    )
    return 0


def _n_shards(scenario: Scenario) -> int:
    from orchestration.engine import shard_ranges

    return len(shard_ranges(scenario.n_paths, scenario.shards))


def cmd_list(args: argparse.Namespace) -> int:
    """``gammaray list``: built-in scenarios, version and one line each."""
    for name in builtin_scenarios():
        try:
            scenario = load_scenario(name)
        except ScenarioError as exc:
            print(f"{name:20s}  (does not load: {exc})")
            continue
        print(f"{name:20s} v{scenario.version}  {scenario.description}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run,
    "sweep": cmd_sweep,
    "report": cmd_report,
    "compare": cmd_compare,
    "list": cmd_list,
}

#: Modules adding subcommands; each has ``register(subparsers) -> {name: handler}``.
COMMAND_MODULES: tuple[str, ...] = (
    "orchestration.cli_replay",
    "orchestration.cli_bench",
    "orchestration.cli_train",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gammaray`` console script.

    Returns:
        The exit status.
    """
    args = _parser().parse_args(argv)
    configure_logging(json_lines=getattr(args, "log_json", False), verbose=args.verbose)
    try:
        return COMMANDS[args.command](args)
    except (ScenarioError, UsageError) as exc:
        print(f"gammaray: error: {exc}", file=sys.stderr)
        return 2
    except (AgentError, RunFailed) as exc:
        print(f"gammaray: run failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gammaray: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
