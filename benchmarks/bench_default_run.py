"""The default ``gammaray run`` (a Ray it starts itself) vs ``--runtime local``, whole commands.

Each case is the complete command a user types, timed from the shell's point
of view: Python start-up, imports, Ray start-up (for the Ray cases), the run
and writing ``summary.json`` (``--no-report``, ``--no-progress``):

* ``default``: ``gammaray run scenarios/macro_gap.py`` -- ``--runtime auto``:
  in-process unless fused shards on a local Ray would repay Ray's start-up
  (``orchestration._layout.auto_runtime``);
* ``local``: the same with ``--runtime local``;
* ``ray``: the same with ``--runtime ray`` (a Ray it starts itself: fused
  shards, one per CPU);
* ``per-agent``: the same with ``--placement per-agent`` (the old default: an
  actor per component, 15 for macro_gap).

The cases alternate within each repeat (same machine load) and the medians
are reported. Every run must give the same ``pnl_sha256`` per configuration,
else the script fails (exit 1).

Run: ``python benchmarks/bench_default_run.py [--paths 10000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CASES: dict[str, list[str]] = {
    "default": [],
    "local": ["--runtime", "local"],
    "ray": ["--runtime", "ray"],
    "per-agent": ["--placement", "per-agent"],
}


def _gammaray() -> list[str]:
    exe = shutil.which("gammaray")
    return [exe] if exe else [sys.executable, "-m", "orchestration.cli"]


def _one(args: list[str], paths: int, out: Path) -> tuple[float, dict[str, Any]]:
    cmd = [
        *_gammaray(),
        "run",
        str(ROOT / "scenarios" / "macro_gap.py"),
        f"--paths={paths}",
        "--no-progress",
        "--no-report",
        "--out",
        str(out),
        *args,
    ]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t0
    return elapsed, json.loads((out / "summary.json").read_text())


def run(quick: bool = False, paths: int | None = None, repeat: int | None = None) -> list:
    """Rows: each case's median seconds, local as the baseline."""
    paths = paths or (2000 if quick else 10_000)
    repeat = repeat or (1 if quick else 3)
    times: dict[str, list[float]] = {k: [] for k in CASES}
    hashes: dict[str, set[str]] = {}
    layout: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):
            for name, args in CASES.items():
                secs, summary = _one(args, paths, Path(tmp) / f"{name}-{i}")
                times[name].append(secs)
                layout[name] = (
                    f"{summary['runtime']}: {summary.get('placement', 'in-process')}, "
                    f"{summary.get('shards', 1)} shard(s)"
                )
                for cfg, v in summary["configs"].items():
                    hashes.setdefault(cfg, set()).add(v["pnl_sha256"])
    local = statistics.median(times["local"])
    same = all(len(h) == 1 for h in hashes.values())
    return [
        {
            "name": f"{name} ({layout[name]}), {paths:,} paths",
            "value": statistics.median(t),
            "unit": "s",
            "baseline": None if name == "local" else round(local, 2),
            "ratio": None if name == "local" else statistics.median(t) / local,
            "all_s": [round(x, 2) for x in t],
            "same_bits": same,
        }
        for name, t in times.items()
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--paths", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args(argv)
    rows = run(False, a.paths, a.repeat)
    load = " ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "-"
    print(f"command: python benchmarks/bench_default_run.py {' '.join(argv or sys.argv[1:])}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, load {load}")
    print(f"{'case':52s} {'median s':>9s} {'vs local':>9s}  runs")
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        print(f"{r['name']:52s} {r['value']:9.2f} {ratio:>9s}  {r['all_s']}")
    if not rows[0]["same_bits"]:
        print("FAIL: the layouts gave different pnl_sha256")
        return 1
    print("same pnl_sha256 in every run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
