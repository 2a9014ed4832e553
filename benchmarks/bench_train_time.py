"""Issue 10, experiment 5: training time of the macro_gap policy at 10,000 paths.

The policy is experiment 1's (``scenarios.macro_gap.LEARNED`` on ``LEARNED_BASE``).

Times the training set's construction (the engine's events, once) and the Adam
steps separately, so that the time of a full run is ``build + epochs x step``.

Run: ``python benchmarks/bench_train_time.py [--paths 10000] [--epochs 3] [--device cpu]``
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from orchestration import load_scenario
from orchestration.train import check_device, train
from scenarios.macro_gap import LEARNED, LEARNED_BASE


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--paths", type=int, default=10_000)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--device", default="cpu")
    a = p.parse_args()
    torch.set_num_threads(2)
    device = check_device(a.device)
    sc = load_scenario("macro_gap")
    stamps: list[float] = []
    start = time.perf_counter()
    acts = LEARNED["actions"]
    train(
        sc,
        instruments=tuple(acts["instruments"]),
        action=acts["kind"],
        rule=acts.get("rule"),
        rules=tuple(acts["rules"]) if "rules" in acts else None,
        policy=LEARNED["policy"],
        features=tuple(LEARNED["features"]),
        base=LEARNED_BASE,
        paths=a.paths,
        epochs=a.epochs,
        seed=100,
        hidden=16,
        device=device,
        on_epoch=lambda e, v: stamps.append(time.perf_counter()),
    )
    total = time.perf_counter() - start
    step = (stamps[-1] - stamps[0]) / max(1, len(stamps) - 1)
    first = stamps[0] - start  # training set + the normalising rollout + epoch 1
    print(
        f"macro_gap, {a.paths:,} paths, {device}, {os.cpu_count()} cores "
        f"({platform.machine()}): set-up + first epoch {first:.1f} s, "
        f"{step:.1f} s per further epoch, {total:.1f} s for {a.epochs}; "
        f"60 epochs would take ~{first + 59 * step:.0f} s"
    )


if __name__ == "__main__":
    main()
