"""Issue 10, experiment 2: deep gamma hedging under model uncertainty (Armstrong & Tatlow 2024).

The world of ``scenarios/deep_gamma_heston.py``: Heston dynamics, every
option quoted at its Heston implied vol; the book is short 100 ATM 30-day
calls, hedged daily. Four configurations on the same held-out paths:
``delta`` (BSM delta at the implied vol), ``gamma`` (BSM gamma neutral in a
32-day ATM call, then delta neutral), ``learned_1`` (a policy's target
holdings of the underlying) and ``learned_2`` (target holdings of the
underlying and the option). Both policies are trained by
:func:`orchestration.train.train` on other seeds of the same scenario, with
the mean-std objective at ``--level`` (a large level is close to the table's
metric, the P&L std). The metric is the std of the terminal hedged P&L over
the book's initial premium (:func:`scenarios.deep_gamma_heston.relative_std`),
printed beside the paper's figures under normal costs, with the two aims:
learned_1 at most 0.9x delta, learned_2 at most 0.8x gamma.

Run: ``python benchmarks/bench_deep_gamma.py [--train-paths N] [--epochs E]
[--paths N] [--level C] [--keep DIR]``. Numbers: ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from orchestration import Scenario, config_metrics, run_local
from orchestration.train import save_checkpoint, train
from scenarios import deep_gamma_heston as dg

#: The paper's figures under normal costs, in the table's order.
PAPER = {"delta": 6.27e-2, "gamma": 0.97e-2, "learned_1": 5.37e-2, "learned_2": 0.73e-2}
#: The aims: configuration, the one it is compared with, the largest ratio.
AIMS = (("learned_1", "delta", 0.9), ("learned_2", "gamma", 0.8))
#: How each policy is trained: its spec, instruments and the configuration it replaces.
POLICIES: dict[str, tuple[dict[str, Any], str]] = {
    "learned_1": (dg.LEARNED_1, "delta"),
    "learned_2": (dg.LEARNED_2, "gamma"),
}


def train_policy(
    name: str, paths: int, epochs: int, level: float, seed: int, out: Path, lr: float = 0.01
) -> tuple[float, list[float]]:
    """Train ``learned_1`` or ``learned_2`` and write its checkpoint; (seconds, losses)."""
    spec, base = POLICIES[name]
    t0 = time.perf_counter()
    blob, losses = train(
        dg.SCENARIO,
        instruments=tuple(spec["actions"]["instruments"]),
        policy=spec["policy"],
        features=tuple(spec["features"]),
        action=spec["actions"]["kind"],
        base=base,
        paths=paths,
        epochs=epochs,
        seed=seed,
        objective="mean_std",
        level=level,
        lr=lr,
    )
    save_checkpoint(blob, out)
    return time.perf_counter() - t0, losses


def held_out(checkpoints: dict[str, Path], paths: int) -> Scenario:
    """The scenario's rule configurations plus the trained ones, on ``paths`` held-out paths."""
    configs = dict(dg.SCENARIO.configs)
    for name, path in checkpoints.items():
        configs[name] = dg.learned_config(POLICIES[name][0], path)
    data = dg.SCENARIO.model_dump() | {"n_paths": paths}
    data["configs"] = {k: v.model_dump() for k, v in configs.items()}
    return Scenario.model_validate(data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-paths", type=int, default=5000)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--paths", type=int, default=10_000, help="held-out paths")
    ap.add_argument("--level", type=float, default=10.0, help="c of the mean-std objective")
    ap.add_argument("--seed", type=int, default=100, help="training seed (held out: 11)")
    ap.add_argument("--lr", type=float, default=0.01, help="Adam's learning rate")
    ap.add_argument(
        "--only", choices=tuple(POLICIES), default=None, help="train and show one policy"
    )
    ap.add_argument(
        "--gru", action="append", default=[], choices=tuple(POLICIES), help="a GRU policy"
    )
    ap.add_argument(
        "--add-feature", action="append", default=[], help="one more feature of both policies"
    )
    ap.add_argument("--keep", type=Path, default=None, help="write the checkpoints here")
    args = ap.parse_args()
    for name in args.gru:
        spec, base = POLICIES[name]
        POLICIES[name] = ({**spec, "policy": "gru"}, base)
    for name, (spec, base) in list(POLICIES.items()):
        POLICIES[name] = ({**spec, "features": [*spec["features"], *args.add_feature]}, base)
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep if args.keep is not None else Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        ckpts = {}
        for name in [args.only] if args.only else POLICIES:
            ckpts[name] = where / f"deep_gamma_heston_{name[-1]}.pt"
            secs, losses = train_policy(
                name, args.train_paths, args.epochs, args.level, args.seed, ckpts[name], args.lr
            )
            print(
                f"{name}: trained on {args.train_paths:,} paths x {args.epochs} epochs in "
                f"{secs:.1f} s (objective {losses[0]:.2f} -> {losses[-1]:.2f})"
            )
        sc = held_out(ckpts, args.paths)
        t0 = time.perf_counter()
        res = run_local(sc)
        run_s = time.perf_counter() - t0
    print(
        f"held out: {args.paths:,} paths, seed {sc.seed}, in {run_s:.1f} s; premium "
        f"{dg.premium():.2f}; metric = std(P&L) / premium"
    )
    print("| configuration | std / premium | paper | P&L mean | mean_std_objective | cost |")
    print("|---|---|---|---|---|---|")
    rel = {}
    for name in [n for n in PAPER if n in res]:
        m = config_metrics(res[name], sc.risk_aversion)
        rel[name] = dg.relative_std(res[name].pnl)
        print(
            f"| {name} | {rel[name]:.4f} | {PAPER[name]:.4f} | {m['pnl_mean']:.2f} | "
            f"{m['mean_std_objective']:.2f} | {m['transaction_cost']:.2f} |"
        )
    for name, ref, cap in AIMS:
        if name not in rel:
            continue
        ratio = rel[name] / rel[ref]
        paper = PAPER[name] / PAPER[ref]
        verdict = "met" if ratio <= cap else "missed"
        print(f"aim {name} <= {cap}x {ref}: {ratio:.3f}x (paper {paper:.3f}x): {verdict}")


if __name__ == "__main__":
    main()
