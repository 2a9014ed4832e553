"""Issue 10, experiment 4: the switching hybrid in a calm/stressed regime world.

The model_risk book (short 30-day ATM calls, long 90% puts; 20 days, one step
a day) in a two-state Markov world (``market.kind = "regime"``): implied vol
15% calm, 45% stressed. A BSM delta hedger (``bsm_delta``) hedges at the
quoted implied vol, so its model decays when a path switches regime. A GRU
policy over :data:`scenarios.model_risk.LEARNED`'s features, trading the
underlying, is trained on other seeds' paths of the same world (``learned``);
``hybrid`` runs the BSM hedger until the manager's model-decay monitor alerts
and the learned policy while the alert is on. All four configurations run on
the same held-out paths; the table gives CVaR95, the mean-std objective and
transaction cost per configuration, and how many path-steps the hybrid spent
on the learned policy is visible as its departure from ``bsm_delta``.

Run: ``python benchmarks/bench_hybrid_regime.py [--train-paths N] [--epochs E]
[--paths N]``. Numbers: ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from orchestration import Scenario, config_metrics, run_local
from orchestration.train import save_checkpoint, train
from scenarios import model_risk as mr

#: The regime world: calm 15% / stressed 45% implied vol, a stressed spell
#: every ~20 days on average, lasting ~10 days.
REGIME = {
    "calm_vol": 0.15,
    "stressed_vol": 0.45,
    "p_calm_to_stressed": 0.05,
    "p_stressed_to_calm": 0.10,
}


def regime_scenario() -> Scenario:
    """model_risk's book and BSM hedger in the regime world (no true-model hedger)."""
    data = mr._BASE.model_dump()
    data["name"] = "model_risk_regime"
    data["market"]["kind"] = "regime"
    data["market"]["regime"] = REGIME
    data["configs"] = {k: v for k, v in data["configs"].items() if k != "true_delta"}
    return Scenario.model_validate(data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-paths", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--paths", type=int, default=10_000, help="held-out paths")
    args = ap.parse_args()
    sc = regime_scenario()
    t0 = time.perf_counter()
    blob, losses = train(
        sc,
        instruments=("underlying",),
        policy="gru",
        features=tuple(mr.LEARNED["features"]),
        action="holdings",
        base="bsm_delta",
        paths=args.train_paths,
        epochs=args.epochs,
        seed=100,
    )
    train_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "regime_hybrid.pt"
        save_checkpoint(blob, ckpt)
        held = Scenario.model_validate(
            sc.model_dump() | {"configs": sc.configs | mr.learned_configs(ckpt)}
        )
        held = Scenario.model_validate(held.model_dump() | {"n_paths": args.paths})
        res = run_local(held)
    print(
        f"trained GRU on {args.train_paths:,} paths x {args.epochs} epochs in {train_s:.1f} s "
        f"(objective {losses[0]:.3f} -> {losses[-1]:.3f}); held out: {args.paths:,} paths, "
        f"seed {held.seed}"
    )
    print(f"{'config':12s} {'CVaR95':>10s} {'mean_std':>10s} {'t-cost':>8s} {'P&L mean':>9s}")
    for name, r in res.items():
        m = config_metrics(r, held.risk_aversion)
        print(
            f"{name:12s} {m['cvar_95']:10.2f} {m['mean_std_objective']:10.2f} "
            f"{m['transaction_cost']:8.2f} {m['pnl_mean']:9.2f}"
        )


if __name__ == "__main__":
    main()
