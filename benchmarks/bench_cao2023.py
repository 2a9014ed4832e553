"""Cao et al. (2023) reproduction: rule-based and learned hedgers, train time, on held-out paths.

For each option cost: the engine runs ``delta`` and ``delta_gamma`` on the
scenario's paths (seed 1); the learned residual hedger is trained on other
paths (seed 0, ``--train-paths``, ``--epochs``) and evaluated by the engine on
the held-out seed-1 paths beside them. The objective is
``-(mean(R) - 1.645 std(R))`` (lower is better). Paper: delta 24.61;
delta-gamma 5.78 / 9.93 / 18.74 and RL 5.44 / 8.36 / 12.73 at 0.5% / 1% / 2%.

Run: ``python benchmarks/bench_cao2023.py [--paths 20000] [--train-paths 10000] [--epochs 150]``
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from orchestration import AgentSpec, HedgeConfig, config_metrics, load_scenario, run_local
from orchestration.train import save_checkpoint, train
from scenarios.cao2023_gbm import MANAGER

PAPER = {0.005: (24.61, 5.78, 5.44), 0.01: (24.61, 9.93, 8.36), 0.02: (24.61, 18.74, 12.73)}


def run(
    quick: bool = False, paths: int = 20_000, train_paths: int = 10_000, epochs: int = 150
) -> list[dict]:
    """Measure; return table rows (name, value, unit, baseline, ratio)."""
    torch.set_num_threads(2)
    costs = [0.01] if quick else [0.005, 0.01, 0.02]
    if quick:
        paths, train_paths, epochs = 3000, 2000, 40
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for cost in costs:
            sc = load_scenario("cao2023_gbm", [f"n_paths={paths}", f"option_cost={cost}"])
            t = time.perf_counter()
            blob, _ = train(sc, paths=train_paths, epochs=epochs, seed=0)
            train_s = time.perf_counter() - t
            ckpt = Path(tmp) / f"cao_{cost}.pt"
            save_checkpoint(blob, ckpt)
            learned = HedgeConfig(
                agents=(
                    AgentSpec(
                        cls="agents.deep.ResidualHedger",
                        name="learned",
                        config={"checkpoint": str(ckpt)},
                    ),
                    AgentSpec(cls="delta"),
                ),
                manager=MANAGER,
            )
            sc = sc.model_copy(update={"configs": {**sc.configs, "learned": learned}})
            res = run_local(sc)
            m = {k: config_metrics(v, 1.645)["mean_std_objective"] for k, v in res.items()}
            paper = PAPER[cost]
            for name, ref in zip(("delta", "delta_gamma", "learned"), paper, strict=True):
                rows.append(
                    dict(
                        name=f"{name} @ {cost:.1%}",
                        value=m[name],
                        unit="objective",
                        baseline=f"paper {ref}",
                        ratio=m[name] / ref,
                        train_s=train_s if name == "learned" else None,
                    )
                )
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--paths", type=int, default=20_000)
    p.add_argument("--train-paths", type=int, default=10_000)
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args(argv)
    rows = run(a.quick, a.paths, a.train_paths, a.epochs)
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python "
        f"{platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}"
    )
    print(f"command: python benchmarks/bench_cao2023.py {' '.join(argv or sys.argv[1:])}")
    print(f"{'hedger @ cost':22s} {'objective':>10s} {'paper':>12s} {'ratio':>7s} {'train s':>8s}")
    for r in rows:
        ts = "" if r["train_s"] is None else f"{r['train_s']:.1f}"
        print(f"{r['name']:22s} {r['value']:10.2f} {r['baseline']:>12s} {r['ratio']:7.3f} {ts:>8s}")


if __name__ == "__main__":
    main()
