"""Issue 10, experiments 1 and 5: a learned policy on macro_gap, trained on the engine's events.

The policy (``scenarios.macro_gap.LEARNED``: an MLP scaling the gamma-neutral
trade in ``gamma_opt`` by a learned fraction, between the vega and the delta
hedgers, under the event-aware budget) is trained by ``orchestration.train``
on macro_gap paths of another seed (``--train-seed``, default 100), then run by
the engine (``agents.deep.LearnedHedger``) on the scenario's own seed (7):
held-out paths, beside every rule-based configuration. Reported: CVaR95,
``mean_std_objective`` (lower is better) and transaction cost per
configuration; training time (experiment 5: at 10,000 paths, aim <= 5 min on
2 cores); the device.

Run: ``python benchmarks/bench_learned_macro_gap.py [--paths 20000]
[--train-paths 10000] [--epochs 60] [--device cpu|cuda|auto] [--objective cvar]``
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from orchestration import config_metrics, load_scenario, run_local
from orchestration.train import check_device, save_checkpoint, train
from scenarios.macro_gap import LEARNED, learned_config


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--paths", type=int, default=20_000, help="held-out paths (seed 7)")
    p.add_argument("--train-paths", type=int, default=10_000)
    p.add_argument("--train-seed", type=int, default=100)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--hidden", type=int, default=16)
    p.add_argument("--objective", default="mean_std")
    p.add_argument("--level", type=float)
    p.add_argument("--device", default="cpu")
    p.add_argument("--save", type=Path, help="also keep the checkpoint here")
    a = p.parse_args()
    torch.set_num_threads(2)
    device = check_device(a.device)
    sc = load_scenario("macro_gap", [f"n_paths={a.paths}"])
    start = time.perf_counter()
    blob, losses = train(
        sc,
        instrument="gamma_opt",
        mode="residual",
        features=tuple(LEARNED["features"]),
        base="event_aware",
        paths=a.train_paths,
        epochs=a.epochs,
        seed=a.train_seed,
        hidden=a.hidden,
        objective=a.objective,
        level=a.level,
        device=device,
    )
    took = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        path = a.save or Path(tmp) / "macro_gap.pt"
        save_checkpoint(blob, path)
        configs = {**sc.configs, "learned": learned_config(path)}
        res = run_local(sc.model_copy(update={"configs": configs}))
    print(
        f"macro_gap learned: trained on {a.train_paths:,} paths (seed {a.train_seed}), "
        f"{a.epochs} epochs, {a.objective}, {device}: {took:.1f} s; objective "
        f"{losses[0]:.2f} -> {losses[-1]:.2f}; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, torch threads {torch.get_num_threads()}"
    )
    print(f"held out: {a.paths:,} paths, seed {sc.seed}")
    print("| configuration | CVaR95 | mean_std_objective | transaction cost |")
    print("|---|---|---|---|")
    for name, r in res.items():
        m = config_metrics(r, sc.risk_aversion)
        print(
            f"| {name} | {m['cvar_95']:.1f} | {m['mean_std_objective']:.1f} "
            f"| {m['transaction_cost']:.2f} |"
        )


if __name__ == "__main__":
    main()
