"""macro_gap end to end: hedged path-steps per second, in-process vs Ray, side by side.

A path-step is one path through one step of one hedging configuration (the
scenario's five configurations all count). Three layouts, same bits:

* ``local``: the in-process runtime, one core;
* ``ray per-agent``: the market, each manager and each agent in its own actor
  (15 actors for macro_gap), one shard;
* ``ray fused x2``: two shards, one actor each running all of its shard's
  components in-process (one CPU each).

Once ``scenarios/cpi_intraday.py`` exists it is measured too (10,000 paths,
in-process and fused on 2 shards). The script fails (exit 1) when any Ray
layout does not reproduce the in-process P&L bits.

Ray's time is reported ``steady`` (actors already up, from the first step to
the result) and ``total`` (with actor start-up).

Run: ``python benchmarks/bench_engine.py [--paths 10000 100000] [--days 20]``
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import ray

from orchestration import load_scenario, run_local
from orchestration.ray_runtime import RayRun, ship_user_modules

ROOT = Path(__file__).resolve().parents[1]
#: (label, placement, shards) of the Ray layouts measured.
LAYOUTS = (("per-agent", "per-agent", 1), ("fused x2", "fused", 2))


def _ray_run(scenario: Any, placement: str, shards: int) -> tuple[float, float, dict[str, Any]]:
    t0 = time.perf_counter()
    run = RayRun(scenario, placement, shards, checkpoint_every=10**9)
    ray.get([h.pid.remote() for h in run.rt.actors])
    t1 = time.perf_counter()
    res = run.run()
    t2 = time.perf_counter()
    return t2 - t0, t2 - t1, res


def run(quick: bool = False, paths: list[int] | None = None, days: float = 20.0) -> list[dict]:
    """Measure; return table rows (name, value, unit, baseline, ratio)."""
    if quick:
        paths, days = paths or [2000], min(days, 5.0)
    paths = paths or [10_000, 100_000]
    if not ray.is_initialized():
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    ship_user_modules()
    rows = []
    gap = f"market.gap.day={min(10.0, days / 2)}"  # the release inside the horizon
    cases = [("macro_gap", n, [f"days={days}", gap], LAYOUTS) for n in paths]
    if (ROOT / "scenarios" / "cpi_intraday.py").is_file():  # issue 16's intraday scenario
        cases.append(("cpi_intraday", 2000 if quick else 10_000, [], LAYOUTS[1:]))
    for scenario_name, n, extra, layouts in cases:
        sc = load_scenario(scenario_name, [f"n_paths={n}", *extra])
        work = n * sc.n_steps * len(sc.configs)
        tag = "" if scenario_name == "macro_gap" else f"{scenario_name} "
        t = time.perf_counter()
        local = run_local(sc)
        t_local = time.perf_counter() - t
        rows.append(
            dict(
                name=f"{tag}local {n:,} paths",
                value=work / t_local,
                unit="path-steps/s",
                baseline=None,
                ratio=None,
                seconds=t_local,
            )
        )
        for label, placement, shards in layouts:
            total, steady, remote = _ray_run(sc, placement, shards)
            same = all(local[k].pnl.tobytes() == remote[k].pnl.tobytes() for k in sc.configs)
            for kind, secs in (("steady", steady), ("total", total)):
                rows.append(
                    dict(
                        name=f"{tag}ray {label} {n:,} paths ({kind})",
                        value=work / secs,
                        unit="path-steps/s",
                        baseline=f"{tag}local {n:,} paths",
                        ratio=secs / t_local,
                        seconds=secs,
                        same_bits=same,
                    )
                )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--paths", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--days", type=float, default=20.0)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args(argv)
    rows = run(a.quick, a.paths, a.days)
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python "
        f"{platform.python_version()}, numpy {np.__version__}, ray {ray.__version__}"
    )
    print(f"command: python benchmarks/bench_engine.py {' '.join(argv or sys.argv[1:])}")
    print(f"{'benchmark':42s} {'path-steps/s':>14s} {'seconds':>9s} {'time/local':>11s} same bits")
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        same = "" if "same_bits" not in r else str(r["same_bits"])
        print(f"{r['name']:42s} {r['value']:14,.0f} {r['seconds']:9.2f} {ratio:>11s} {same}")
    ray.shutdown()
    if not all(r.get("same_bits", True) for r in rows):
        print("FAIL: a Ray layout did not reproduce the in-process P&L bits")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
