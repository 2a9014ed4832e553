"""One path through a scenario: microseconds per configuration-step, in-process.

With one path every array has one element, so this measures the step's fixed
cost -- the Python and numpy call overhead of the protocol, the manager, the
agents, pricing and the report's series -- not arithmetic. A configuration-
step is one step of one hedging configuration (the market's step is shared by
the configurations and counted in). Each scenario runs ``--repeat`` times
after a warm-up; the median wall time and the median CPU time of the process
are reported (on a shared machine the CPU time is the steadier of the two).

Scenarios: ``macro_gap`` (80 steps x 5 configurations) and, once the file
``scenarios/cpi_intraday.py`` exists, ``cpi_intraday``.

Run: ``python benchmarks/bench_single_path.py [--repeat 7] [--scenarios macro_gap ...]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from orchestration import load_scenario, run_local

ROOT = Path(__file__).resolve().parents[1]


def default_scenarios() -> list[str]:
    """``macro_gap``, plus ``cpi_intraday`` where the scenario exists."""
    names = ["macro_gap"]
    if (ROOT / "scenarios" / "cpi_intraday.py").is_file():
        names.append("cpi_intraday")
    return names


def run(quick: bool = False, scenarios: list[str] | None = None, repeat: int | None = None) -> list:
    """Rows: µs per configuration-step (median wall), with the CPU-time median."""
    repeat = repeat or (3 if quick else 7)
    rows = []
    for name in scenarios or default_scenarios():
        sc = load_scenario(name, ["n_paths=1"])
        config_steps = sc.n_steps * len(sc.configs)
        run_local(sc)  # warm up
        wall, cpu = [], []
        for _ in range(repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            run_local(sc)
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
        rows.append(
            {
                "name": f"{name}: 1 path, {sc.n_steps} steps x {len(sc.configs)} configurations",
                "value": statistics.median(wall) / config_steps * 1e6,
                "unit": "µs/config-step",
                "cpu_us": statistics.median(cpu) / config_steps * 1e6,
                "run_ms": statistics.median(wall) * 1e3,
                "baseline": None,
                "ratio": None,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--scenarios", nargs="+")
    a = p.parse_args(argv)
    rows = run(False, a.scenarios, a.repeat)
    load = " ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "-"
    print(f"command: python benchmarks/bench_single_path.py {' '.join(argv or sys.argv[1:])}")
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, load {load}, python "
        f"{platform.python_version()}, numpy {np.__version__}"
    )
    print(f"{'scenario':56s} {'µs/config-step':>15s} {'cpu µs':>8s} {'run ms':>8s}")
    for r in rows:
        print(f"{r['name']:56s} {r['value']:15.1f} {r['cpu_us']:8.1f} {r['run_ms']:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
