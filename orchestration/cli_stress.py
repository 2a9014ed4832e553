"""``gammaray stress SCENARIO --config NAME --search FIELD=LOW:HIGH ...``: the worst case.

Searches the box of scenario fields for the point where ``--config``'s loss
(``--objective``) is largest, ``--budget`` evaluations in all, every
evaluation a run (one Ray task on the cluster with ``--runtime ray``, the
default; in-process with ``local``); see :mod:`orchestration.stress_search`.
``--seed`` seeds the searcher; the scenario's own seed (its paths) is set
with ``--set seed=N``. The result does not depend on the runtime or the
number of Ray workers.

Writes, atomically, into ``--out`` (default ``runs/<name>-stress-<time>``):
``stress.csv`` and ``stress.parquet`` (every evaluation), ``stress.png``
(loss against each field), ``worst.py`` (the worst point as a scenario
script ``gammaray run`` takes) and ``stress.json`` (the search, the worst
point and every configuration compared there). Every argument is checked
before anything runs or is written: bad bounds, an unknown ``--config``, a
``--budget`` below 1, an unusable ``--out`` or an unreachable ``--address``
is one line, exit status 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
from pathlib import Path
from typing import Any

from orchestration._cli_common import UsageError, add_run_options, progress
from orchestration.config import builtin_scenarios, load_scenario


def _scenario_ref(ref: str) -> str:
    """How the worst-point script names the base scenario: a built-in name or an absolute path."""
    path = Path(ref)
    if not path.suffix and ref in builtin_scenarios():
        return ref
    return str(path.resolve())


def _print_comparison(result: Any, comparison: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    point = ", ".join(f"{k}={v:g}" for k, v in result.point().items())
    table = Table(
        title=f"every configuration at the worst point of {result.config!r} ({point}); "
        f"{result.objective}, losses positive"
    )
    for col in ("rank", "config", "base", "worst point", "change", ""):
        table.add_column(col, justify="left" if col in ("config", "") else "right")
    n = len(comparison)
    for c in comparison:
        note = "breaks first" if c["rank"] == 1 else "holds" if c["rank"] == n > 1 else ""
        if c["error"]:
            note = f"failed: {c['error'][:60]}"

        def fmt(x: float) -> str:
            return "-" if not math.isfinite(x) else f"{x:,.2f}"

        table.add_row(
            str(c["rank"]),
            c["config"],
            fmt(c["base_loss"]),
            fmt(c["worst_loss"]),
            fmt(c["change"]),
            note,
        )
    Console(width=120).print(table)


def cmd_stress(args: argparse.Namespace) -> int:
    """``gammaray stress``."""
    from orchestration import stress_search as ss
    from orchestration._outputs import OutputFolder
    from orchestration._stress_outputs import write_all

    overrides = list(args.overrides)
    if args.paths is not None:
        if args.paths < 1:
            raise UsageError(f"--paths {args.paths}: give at least 1 path")
        overrides.append(f"n_paths={args.paths}")
    scenario = load_scenario(args.scenario, overrides)
    bounds = ss.parse_bounds(scenario, args.search)
    ss.only_config(scenario, args.config)
    if args.budget < 1:
        raise UsageError(f"--budget {args.budget}: give at least 1 evaluation")
    if args.batch is not None and args.batch < 1:
        raise UsageError(f"--batch {args.batch}: give at least 1 point per batch")
    if args.max_in_flight is not None and args.max_in_flight < 1:
        raise UsageError(f"--max-in-flight {args.max_in_flight}: give at least 1")
    if args.seed < 0:
        raise UsageError(f"--seed {args.seed}: give a non-negative integer")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out if args.out is not None else Path("runs") / f"{scenario.name}-stress-{stamp}"
    OutputFolder(out, force=args.force).check()
    if args.runtime == "ray":
        from orchestration._ray_connect import ensure_ray, probe_address, ship_user_modules
        from orchestration._signals import reclaim_signals

        probe_address(args.address)
        ensure_ray(args.address)
        reclaim_signals()
        ship_user_modules()
    label = f"stress {scenario.name}/{args.config}"
    with OutputFolder(out, force=args.force) as folder:
        with progress(label, args.budget, not args.no_progress) as on_done:
            result = ss.run_stress(
                scenario,
                args.config,
                bounds,
                args.objective,
                args.budget,
                args.seed,
                args.runtime,
                args.batch,
                args.max_in_flight,
                on_done,
            )
        comparison = ss.compare_configs(scenario, result, args.runtime, args.max_in_flight)
        meta = {
            "scenario": scenario.name,
            "base": _scenario_ref(args.scenario),
            "overrides": overrides,
            "n_paths": scenario.n_paths,
            "scenario_seed": scenario.seed,
            "search_seed": args.seed,
            "budget": args.budget,
            "batch": args.batch or ss.default_batch(args.budget),
            "runtime": args.runtime,
        }
        files, summary = write_all(folder.path, result, comparison, meta["base"], overrides, meta)
    _print_comparison(result, comparison)
    w = summary["worst"]
    print(
        f"worst {result.objective} of {result.config!r}: {w['loss']:,.2f} at "
        + ", ".join(f"{k}={v:g}" for k, v in w["point"].items())
        + f" (evaluation {w['eval']} of {summary['evaluations']}"
        + (f"; at the bound of {', '.join(w['at_bound'])}" if w["at_bound"] else "")
        + f"); breaks first: {summary['breaks_first']}, holds: {summary['holds']}"
    )
    print("wrote " + ", ".join(str(out / f.name) for f in files))
    return 0


def register(sub: Any) -> dict[str, Any]:
    """Add ``stress`` to the CLI."""
    p = sub.add_parser("stress", help="search bounded scenario fields for a config's worst case")
    p.add_argument("scenario", help="scenario script path or built-in name")
    p.add_argument("--config", required=True, help="configuration whose loss is maximised")
    p.add_argument(
        "--search",
        action="append",
        default=[],
        metavar="FIELD=LOW:HIGH",
        help="a searched field (dotted path as --set takes it) and its bounds (repeatable; "
        "at least one; default: none)",
    )
    p.add_argument(
        "--objective",
        choices=tuple(_objectives()),
        default="cvar_95",
        help="the loss maximised (default: %(default)s)",
    )
    p.add_argument("--budget", type=int, default=32, help="evaluations in all (>= 1)")
    p.add_argument("--batch", type=int, help="points per batch (default budget/4, 2 to 8)")
    p.add_argument("--seed", type=int, default=0, help="the searcher's seed")
    p.add_argument(
        "--runtime",
        choices=("local", "ray"),
        default="ray",
        help="where evaluations run (default: %(default)s)",
    )
    p.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS or a local Ray)")
    p.add_argument(
        "--max-in-flight",
        type=int,
        help="Ray tasks submitted at once (default: twice the cluster's CPUs)",
    )
    p.add_argument(
        "--paths", type=int, help="paths per evaluation (default: the scenario's n_paths)"
    )
    p.add_argument("--out", type=Path, help="output folder (default runs/<name>-stress-<time>)")
    p.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    add_run_options(p)
    return {"stress": cmd_stress}


def _objectives() -> list[str]:
    from orchestration.stress_search import OBJECTIVES

    return list(OBJECTIVES)
