"""``gammaray sweep``: a grid of overrides x seeds (and budgets), one table, Ray or in-process."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from orchestration._cli_common import UsageError, add_run_options
from orchestration._signals import reclaim_signals
from orchestration.config import apply_overrides, load_scenario


def register(sub: Any) -> dict[str, Any]:
    """Add ``sweep`` to the CLI."""
    sweep = sub.add_parser("sweep", help="run a grid of overrides × seeds, one table")
    sweep.add_argument("scenario", help="scenario script path or built-in name")
    sweep.add_argument("--grid", type=Path, help="grid TOML (default: the script's GRID)")
    sweep.add_argument(
        "--paths", type=int, help="number of paths per run (default: the scenario's n_paths)"
    )
    sweep.add_argument(
        "--runtime",
        choices=("local", "ray"),
        default="ray",
        help="ray: one Ray task per run; local: one run after another, in-process",
    )
    sweep.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS or local Ray)")
    sweep.add_argument(
        "--max-in-flight",
        type=int,
        help="runs submitted at once (default: twice the cluster's CPUs)",
    )
    sweep.add_argument("--out", type=Path, help="output folder (default runs/<name>-sweep-<time>)")
    add_run_options(sweep, set_help="override a scenario field for every run, by dotted path")
    sweep.add_argument(
        "--frontier", action="store_true", help="also write frontier.csv/json/png (cost vs CVaR95)"
    )
    sweep.add_argument(
        "--budgets",
        help="comma-separated budgets: every grid point at each (for --frontier; "
        "default: the scenario's budget only)",
    )
    return {"sweep": cmd_sweep}


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
        if source is None and args.budgets is not None:
            source = {}
        if source is None:
            raise UsageError("give --grid FILE or define GRID in the scenario script")
    runs = sweep.expand(*sweep.load_grid(source))
    if args.budgets is not None:
        runs = sweep.with_budgets(scenario, runs, sweep.parse_budgets(args.budgets))
    sweep.validate_runs(scenario, runs)  # every grid point, before Ray starts
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out if args.out is not None else Path("runs") / f"{scenario.name}-sweep-{stamp}"
    if args.runtime == "ray":
        from orchestration.ray_runtime import ensure_ray, ship_user_modules

        ensure_ray(args.address)
        reclaim_signals()
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
    if args.frontier:
        files += sweep.write_frontier(rows, out)
    failed = sum(1 for r in rows if r["error"])
    print(
        f"{len(runs)} runs, {len(rows)} rows, {failed} failed; wrote "
        + ", ".join(str(f) for f in files)
    )
    return 0
