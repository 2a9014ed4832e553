"""Issue 10, experiment 3: training time of the Cao et al. (2023) learned hedger.

Times ``orchestration.train.train`` on ``cao2023_gbm`` at 1% option cost
(torch on 2 threads): the set-up (training set from the engine's events, the
normalising rollout and the first epoch) and each further Adam step, so that
a full run is ``set-up + (epochs - 1) x step`` (aim: 150 epochs at 10,000
paths in at most 60 s on 2 cores).

Run: ``python benchmarks/bench_cao_train_time.py [--paths 10000] [--epochs 8]``
"""

from __future__ import annotations

import argparse
import time

import torch

from orchestration import load_scenario
from orchestration.train import train


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--paths", type=int, default=10_000)
    p.add_argument("--epochs", type=int, default=8)
    a = p.parse_args()
    torch.set_num_threads(2)
    sc = load_scenario("cao2023_gbm", ["option_cost=0.01"])
    stamps: list[float] = []
    start = time.perf_counter()
    _, losses = train(
        sc,
        paths=a.paths,
        epochs=a.epochs,
        seed=0,
        on_epoch=lambda e, v: stamps.append(time.perf_counter()),
    )
    first = stamps[0] - start
    step = (stamps[-1] - stamps[0]) / max(1, len(stamps) - 1)
    print(
        f"cao2023_gbm, {a.paths:,} paths: set-up + first epoch {first:.2f} s, "
        f"{step:.3f} s per further epoch; 150 epochs would take ~{first + 149 * step:.1f} s "
        f"(loss {losses[0]:.10g} -> {losses[-1]:.10g})"
    )


if __name__ == "__main__":
    main()
