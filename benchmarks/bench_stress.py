"""``gammaray stress`` against an exhaustive grid of the same fields, in the same run.

For each configuration measured, the grid evaluates every combination of
``--levels`` values per field (bounds included); the stress search gets a
quarter of the grid's evaluations (rounded down). Both evaluate the same
scenario in the same way (:func:`orchestration.sweep.run_sweep`, one
configuration per evaluation, in-process or on Ray), so a point both
evaluate gives the same bits: the script fails if one of the grid's points
that the search also evaluated has a different P&L hash. The aim: the
search's worst loss at least as bad as the grid's with at most a quarter
of the evaluations.

Run: ``python benchmarks/bench_stress.py [--paths 1000] [--levels 5]
[--configs delta,event_aware] [--case size|timing] [--runtime local|ray] [--seed 0]``
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import sys
import time

from orchestration import apply_overrides, load_scenario, parse_bounds, run_stress
from orchestration.stress_search import OBJECTIVES, only_config
from orchestration.sweep import run_sweep

#: Field sets: ``size`` (the loss rises with each field: the worst is a corner
#: of the box) and ``timing`` (gap direction and day, spot-vol correlation:
#: the worst need not be a corner).
CASES = {
    "size": [
        "market.gap.size_std=0.01:0.08",
        "market.gap.crush=0:0.6",
        "market.surface.vol_of_vol=0.2:2.0",
    ],
    "timing": [
        "market.gap.mean=-0.04:0.04",
        "market.gap.day=2:18",
        "market.surface.spot_vol_corr=-0.9:0.3",
    ],
}


def main() -> int:
    """Measure and print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=1000)
    ap.add_argument("--levels", type=int, default=5)
    ap.add_argument("--configs", default="delta,event_aware")
    ap.add_argument("--objective", default="cvar_95", choices=tuple(OBJECTIVES))
    ap.add_argument("--runtime", default="local", choices=("local", "ray"))
    ap.add_argument("--seed", type=int, default=0, help="the searcher's seed")
    ap.add_argument("--case", default="size", choices=tuple(CASES))
    args = ap.parse_args()
    scenario = apply_overrides(load_scenario("macro_gap"), [f"n_paths={args.paths}"])
    fields = CASES[args.case]
    bounds = parse_bounds(scenario, fields)
    if args.runtime == "ray":
        from orchestration._ray_connect import ensure_ray

        ensure_ray(None)
    n_grid = args.levels ** len(bounds)
    budget = n_grid // 4
    levels = [[b.value(i / (args.levels - 1)) for i in range(args.levels)] for b in bounds]
    loss_of = OBJECTIVES[args.objective]
    print(
        f"# macro_gap, {args.paths:,} paths, {args.objective}, fields "
        f"{', '.join(fields)}; grid {args.levels}^{len(bounds)} = {n_grid} evaluations, "
        f"stress budget {budget} (seed {args.seed}), runtime {args.runtime}; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    )
    print(
        "| config | grid worst | grid evals | grid time | stress worst | stress evals "
        "| stress time | stress/grid loss | found at eval |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    failed = False
    for config in args.configs.split(","):
        one = only_config(scenario, config)
        names = [b.field for b in bounds]
        runs = [
            {"run": i, "seed": None, "overrides": dict(zip(names, c, strict=True))}
            for i, c in enumerate(itertools.product(*levels))
        ]
        t = time.perf_counter()
        grid = run_sweep(one, runs, args.runtime)
        t_grid = time.perf_counter() - t
        t = time.perf_counter()
        res = run_stress(scenario, config, bounds, args.objective, budget, args.seed, args.runtime)
        t_stress = time.perf_counter() - t
        g_worst = max(loss_of(r) for r in grid if r["error"] is None)
        s = res.worst
        by_point = {tuple(r[b.field] for b in bounds): r["pnl_sha256"] for r in grid}
        for r in res.rows:
            h = by_point.get(tuple(r[b.field] for b in bounds))
            if h is not None and h != r["pnl_sha256"]:
                print(f"WRONG BITS: {config} at {r}", file=sys.stderr)
                failed = True
        point = ", ".join(f"{k.split('.')[-1]}={v:.4g}" for k, v in res.point().items())
        print(
            f"| {config} | {g_worst:,.1f} | {len(grid)} | {t_grid:.1f} s | {s['loss']:,.1f} "
            f"({point}) | {len(res.rows)} | {t_stress:.1f} s | {s['loss'] / g_worst:.4f} "
            f"| {s['eval']} |"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
