"""Issue 10, experiment 4: the switching hybrid in a calm/stressed regime world.

The model_risk book (short 30-day ATM calls, long 30-day 90% puts; 20 days,
one step a day) in a two-state Markov world (``market.kind = "regime"``,
:data:`REGIME`): calm at 15% vol, where the spot is the lognormal diffusion
Black-Scholes assumes; stressed at 25% vol *with jumps* (150 a year, log size
N(-4%, 4%)), which the BSM greeks miss. A stressed spell starts on 5% of calm
days and lasts ten days on average. ``bsm_delta`` hedges with BSM deltas at
the quoted implied vol: right in calm, decayed in stress.

``learned`` is an MLP over :data:`FEATURES` setting the underlying holding,
trained (CVaR95) on the paths of the *stressed* regime only (seed 100, a
world that starts and stays stressed): a stress specialist, run throughout.
``hybrid`` (:class:`agents.hybrid.HybridHedger`, ``route="switch"``) runs
the BSM delta hedger, and on each path the learned policy while that path's
model-decay alert (:data:`MONITOR`, a per-path monitor) is on. All configurations
run on the same held-out paths (the scenario's seed 17). The table gives
CVaR95, the mean-std objective, mean P&L and transaction cost, and CVaR95 on
the paths that stayed calm and on those with a stressed spell; then the
alert's on-share among the hybrid's path-steps in each regime (the regime
of the next step's move, which the hedge is for).

Run: ``python benchmarks/bench_hybrid_regime.py [--train-paths N] [--epochs E]
[--paths N]``. Numbers: ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from agents import MonitorConfig
from orchestration import Scenario, build_components, config_metrics, run_local
from orchestration.engine import LocalRuntime, Pipeline, ShardProtocol
from orchestration.metrics import var_cvar
from orchestration.train import save_checkpoint, train
from scenarios import model_risk as mr

#: The regime world: calm 15% lognormal; stressed 25% with jumps the BSM greeks miss.
REGIME: dict[str, Any] = {
    "calm_vol": 0.15,
    "stressed_vol": 0.25,
    "p_calm_to_stressed": 0.05,
    "p_stressed_to_calm": 0.10,
    "stressed_jump_rate": 150.0,
    "stressed_jump_mean": -0.04,
    "stressed_jump_std": 0.04,
}
#: The hybrid's monitor: per path, over its last 5 steps, alert at an unexplained
#: share of 0.08 (a calm path's ratio has median 0.02 and 90th percentile 0.08 in
#: a calm-only world; a stressed path's median is 0.11), clear below 0.064.
MONITOR = MonitorConfig(window=5, threshold=0.08, rearm=0.8, per_path=True)
#: The learned policy's inputs.
FEATURES = ("book_delta", "book_gamma", "book_vega", "holding:underlying", "time_fraction")
TRAIN_SEED = 100


def regime_scenario(regime: dict[str, Any] | None = None, n_paths: int = 1000) -> Scenario:
    """model_risk's book, BSM hedger and manager in the regime world (seed 17)."""
    data = mr._BASE.model_dump()
    data["name"] = "model_risk_regime"
    data["n_paths"] = n_paths
    data["market"]["kind"] = "regime"
    data["market"]["regime"] = REGIME if regime is None else regime
    data["configs"] = {k: v for k, v in data["configs"].items() if k != "true_delta"}
    return Scenario.model_validate(data)


def stressed_world() -> Scenario:
    """The training world: the stressed regime only (starts stressed, never leaves)."""
    return regime_scenario({**REGIME, "start_stressed": True, "p_stressed_to_calm": 0.0})


def learned_spec(checkpoint: Path) -> dict[str, Any]:
    """The LearnedHedger config of the trained policy."""
    return {
        "checkpoint": str(checkpoint),
        "policy": "mlp",
        "features": list(FEATURES),
        "actions": {"kind": "holdings", "instruments": ["underlying"]},
        "horizon_days": 20.0,
    }


def with_learned(sc: Scenario, checkpoint: Path, n_paths: int) -> Scenario:
    """The held-out scenario: unhedged, bsm_delta, learned and hybrid."""
    data = sc.model_dump()
    manager = data["configs"]["bsm_delta"]["manager"]
    learned = learned_spec(checkpoint)
    hybrid = {
        "model_based": {"cls": "delta"},
        "learned": {"cls": "agents.deep.LearnedHedger", "config": learned},
        "route": "switch",
    }
    data["configs"]["learned"] = {
        "agents": [{"cls": "agents.deep.LearnedHedger", "name": "delta", "config": learned}],
        "manager": manager,
    }
    data["configs"]["hybrid"] = {
        "agents": [{"cls": "agents.hybrid.HybridHedger", "name": "delta", "config": hybrid}],
        "manager": {**manager, "monitor": MONITOR.model_dump()},
    }
    data["n_paths"] = n_paths
    return Scenario.model_validate(data)


def alert_trace(sc: Scenario, config: str = "hybrid") -> tuple[np.ndarray, np.ndarray]:
    """Run one configuration alone; per step and path its alert state and regime.

    Returns:
        ``(on, stressed)``, ``[steps, n]`` bool each: the monitor's per-path
        alert as the agents saw it at each step, and whether the path is
        stressed then (its ATM vol is the stressed level: the regime of the
        move to the next step).
    """
    c = build_components(sc)
    mgr = c.managers[config]
    proto = ShardProtocol(
        LocalRuntime(), c.market, [Pipeline(config, mgr, list(c.agents[config]))], sc.n_steps
    )
    mid = 0.5 * (REGIME["calm_vol"] + REGIME["stressed_vol"])
    on, stressed = [], []
    for _ in range(sc.n_steps):
        proto.submit_step()
        assert mgr.monitor is not None and mgr._market is not None
        paths = mgr.monitor.paths
        on.append(np.zeros(sc.n_paths, dtype=bool) if paths is None else paths.copy())
        stressed.append(mgr._market.surface.atm > mid)
    return np.array(on), np.array(stressed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-paths", type=int, default=4000)
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--paths", type=int, default=10_000, help="held-out paths")
    args = ap.parse_args()
    t0 = time.perf_counter()
    blob, losses = train(
        stressed_world(),
        instruments=("underlying",),
        policy="mlp",
        features=FEATURES,
        action="holdings",
        base="bsm_delta",
        paths=args.train_paths,
        epochs=args.epochs,
        seed=TRAIN_SEED,
        objective="cvar",
        level=0.05,
    )
    train_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "regime_stress_mlp.pt"
        save_checkpoint(blob, ckpt)
        held = with_learned(regime_scenario(), ckpt, args.paths)
        res = run_local(held)
        on, stressed = alert_trace(held)
    print(
        f"trained MLP on {args.train_paths:,} stressed-regime paths (seed {TRAIN_SEED}) x "
        f"{args.epochs} epochs in {train_s:.1f} s (CVaR95 objective {losses[0]:.1f} -> "
        f"{losses[-1]:.1f}); held out: {args.paths:,} regime paths, seed {held.seed}"
    )
    ever = stressed[:-1].any(axis=0)  # a stressed move within the run (the last step has none)
    print(
        f"paths with a stressed spell: {ever.mean():.1%}; stressed path-steps: "
        f"{stressed[1:-1].mean():.1%}"
    )
    head = ("config", "CVaR95", "mean_std", "P&L mean", "t-cost", "CVaR calm", "CVaR stress")
    print("{:10s} {:>9s} {:>9s} {:>9s} {:>7s} {:>10s} {:>11s}".format(*head))
    for name, r in res.items():
        m = config_metrics(r, held.risk_aversion)
        calm = var_cvar(-r.pnl[~ever], 0.95)[1]
        hit = var_cvar(-r.pnl[ever], 0.95)[1]
        print(
            f"{name:10s} {m['cvar_95']:9.2f} {m['mean_std_objective']:9.2f} "
            f"{m['pnl_mean']:9.2f} {m['transaction_cost']:7.3f} {calm:10.2f} {hit:11.2f}"
        )
    # decisions at steps 1 .. n-2 (step 0 has no attribution yet; the last step no move)
    dec_on, dec_st = on[1:-1], stressed[1:-1]
    print(
        f"hybrid's alert on: {dec_on[dec_st].mean():.1%} of stressed path-steps, "
        f"{dec_on[~dec_st].mean():.1%} of calm path-steps "
        f"({dec_on.mean():.1%} of all; stressed share of alert-on steps "
        f"{dec_st[dec_on].mean():.1%})"
    )


if __name__ == "__main__":
    main()
