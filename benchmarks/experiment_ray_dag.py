"""Ray compiled graphs (``ray.dag``) vs ordinary actor calls for a per-agent step's chain.

The per-agent placement sends one step of one configuration through a chain
of ``2 + 2 * agents`` actor calls (manager, agent, manager, ..., manager),
each taking the previous call's result. This measures that chain's cost per
step on this machine, without the hedging work: two actors (a "manager" and
an "agent") pass a payload of ``--paths`` float64 values back and forth
``--hops`` times, submitted as chained ``.remote()`` calls (what
:class:`orchestration.ray_runtime.RayRuntime` does), and as one compiled graph
(``dag.experimental_compile()``, shared-memory channels, no per-call task
submission). It is an experiment for the per-agent layout, not wired into it,
and not part of ``gammaray bench`` (not a ``bench_*`` module): with Ray 2.60
on the shared 2-CPU machine the process segfaulted on shutting Ray down after
the compiled graph's teardown, every time (the medians are printed to stderr
before that), and the compiled graph's channels poll, so on oversubscribed
cores its timing swung from 3.5x faster to 2x slower than the chained calls.

Run: ``python benchmarks/experiment_ray_dag.py [--hops 8] [--paths 10000] [--steps 200]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from typing import Any

import numpy as np
import ray


class Hop:
    """An actor that adds one to its payload (the stand-in for a component)."""

    def step(self, x: np.ndarray) -> np.ndarray:
        return x + 1.0


def _chain(actors: list[Any], x: Any, hops: int) -> Any:
    for i in range(hops):
        x = actors[i % 2].step.remote(x)
    return x


def run(quick: bool = False, hops: int = 8, paths: int = 10_000, steps: int | None = None) -> list:
    """Rows: µs per step of the chain, compiled graph vs chained calls."""
    from ray.dag import InputNode

    steps = steps or (30 if quick else 200)
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    try:
        cls = ray.remote(num_cpus=0)(Hop)
        actors = [cls.remote(), cls.remote()]
        payload = np.zeros(paths)
        ray.get(_chain(actors, payload, hops))
        plain = []
        for _ in range(steps):
            t = time.perf_counter()
            out = ray.get(_chain(actors, payload, hops))
            plain.append(time.perf_counter() - t)
        assert out[0] == hops
        with InputNode() as inp:
            node: Any = inp
            for i in range(hops):
                node = actors[i % 2].step.bind(node)
        compiled = node.experimental_compile()
        try:
            ray.get(compiled.execute(payload))
            fast = []
            for _ in range(steps):
                t = time.perf_counter()
                out = ray.get(compiled.execute(payload))
                fast.append(time.perf_counter() - t)
            assert out[0] == hops
            print(
                f"chained {statistics.median(plain) * 1e6:.0f} µs/step, "
                f"compiled {statistics.median(fast) * 1e6:.0f} µs/step",
                file=sys.stderr,
                flush=True,
            )
        finally:
            compiled.teardown()
            time.sleep(1.0)  # let the actors' channel loops exit before Ray stops
    finally:
        if started:
            ray.shutdown()
    p, c = statistics.median(plain) * 1e6, statistics.median(fast) * 1e6
    return [
        {
            "name": f"{hops}-call chain, {paths:,} floats, chained .remote()",
            "value": p,
            "unit": "µs/step",
            "baseline": None,
            "ratio": None,
        },
        {
            "name": f"{hops}-call chain, {paths:,} floats, compiled graph",
            "value": c,
            "unit": "µs/step",
            "baseline": round(p, 1),
            "ratio": c / p,
        },
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hops", type=int, default=8)
    p.add_argument("--paths", type=int, default=10_000)
    p.add_argument("--steps", type=int, default=200)
    a = p.parse_args(argv)
    rows = run(False, a.hops, a.paths, a.steps)
    load = " ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "-"
    print(f"command: python benchmarks/experiment_ray_dag.py {' '.join(argv or sys.argv[1:])}")
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, load {load}, ray {ray.__version__}"
    )
    for r in rows:
        ratio = "" if r["ratio"] is None else f"  ({r['ratio']:.2f}x the chained calls)"
        print(
            f"{r['name']:52s} {r['value']:10.0f} µs/step "
            f"({r['value'] / a.hops:.0f} per call){ratio}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
