"""Sweep scaling: the same 32-run sweep on a 1-node and a 2-node cluster (1 CPU each).

Each run is the macro_gap scenario (all five configurations, in-process inside
one Ray task) on a small path count; the grid is 4 gap sizes × 8 seeds. The
clusters are real ``ray start`` clusters on 127.0.0.2 with token
authentication, started and stopped by this script.

Run: ``python benchmarks/bench_sweep.py [--runs 32] [--paths 1000]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from orchestration._testcluster import start_cluster, stop_cluster


def _sweep(nodes: int, runs: int, paths: int, work: Path) -> tuple[float, list[dict]]:
    seeds = list(range(1, runs // 4 + 1))
    grid = work / "grid.toml"
    grid.write_text(f'seeds = {seeds}\n[grid]\n"market.gap.size_std" = [0.01, 0.02, 0.03, 0.04]\n')
    cluster = start_cluster(nodes)
    try:
        out = work / f"out{nodes}"
        cmd = [
            sys.executable,
            "-m",
            "orchestration.cli",
            "sweep",
            "macro_gap",
            "--grid",
            str(grid),
            "--paths",
            str(paths),
            "--address",
            cluster.address,
            "--out",
            str(out),
            "--no-progress",
            "--max-in-flight",
            str(2 * nodes),
        ]
        t = time.perf_counter()
        subprocess.run(cmd, env=cluster.env, check=True, capture_output=True, timeout=1800)
        elapsed = time.perf_counter() - t
    finally:
        stop_cluster(cluster)
    return elapsed, json.loads((out / "sweep.json").read_text())


def run(quick: bool = False, runs: int = 32, paths: int = 1000) -> list[dict]:
    """Measure; return table rows (name, value, unit, baseline, ratio)."""
    if quick:
        runs, paths = 8, 300
    with tempfile.TemporaryDirectory() as tmp:
        t1, rows1 = _sweep(1, runs, paths, Path(tmp))
        t2, rows2 = _sweep(2, runs, paths, Path(tmp))
    same = [r["pnl_sha256"] for r in rows1] == [r["pnl_sha256"] for r in rows2]
    return [
        dict(
            name=f"sweep {runs} runs, 1 node",
            value=runs / t1,
            unit="runs/s",
            baseline=None,
            ratio=None,
            seconds=t1,
        ),
        dict(
            name=f"sweep {runs} runs, 2 nodes",
            value=runs / t2,
            unit="runs/s",
            baseline=f"sweep {runs} runs, 1 node",
            ratio=t1 / t2,
            seconds=t2,
            same_bits=same,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=32)
    p.add_argument("--paths", type=int, default=1000)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args(argv)
    rows = run(a.quick, a.runs, a.paths)
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}"
    )
    print(f"command: python benchmarks/bench_sweep.py {' '.join(argv or sys.argv[1:])}")
    print(f"{'benchmark':32s} {'runs/s':>8s} {'seconds':>9s} {'speed-up':>9s} same bits")
    for r in rows:
        sp = "" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        print(
            f"{r['name']:32s} {r['value']:8.2f} {r['seconds']:9.2f} {sp:>9s} "
            f"{r.get('same_bits', '')}"
        )
    if not all(r.get("same_bits", True) for r in rows):
        print("FAILED: the 1-node and 2-node sweeps gave different bits")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
