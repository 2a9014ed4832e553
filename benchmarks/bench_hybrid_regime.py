"""Issue 10, experiment 4: the switching hybrid in a calm/stressed regime world.

The model_risk book (short 30-day ATM calls, long 30-day 90% puts; 20 days,
one step a day) in a two-state Markov world (``market.kind = "regime"``,
:data:`REGIME`): calm at 15% vol, where the spot is the lognormal diffusion
Black-Scholes assumes; stressed at 25% implied vol *with jumps* (150 a year,
log size N(-4%, 4%), compensated), which the BSM greeks miss. A stressed
spell lasts ten days on average; how often one starts (``p_calm_to_stressed``
per calm day) is swept (``--p-stress``). ``bsm_delta`` hedges with BSM deltas
at the quoted implied vol: right in calm, decayed in stress.

``learned`` is a residual overlay on the BSM delta hedge: an MLP over
:data:`FEATURES` whose output ``a = sigmoid(f)`` scales the BSM
delta-neutralising trade in the underlying (``fraction`` action, rule
``delta``), trained with a CVaR95 objective on paths of the *stressed* regime
only (seed 100, a world that starts and stays stressed): a stress
specialist, run throughout. ``hybrid`` (:class:`agents.hybrid.HybridHedger`,
``route="switch"``) runs the BSM delta hedger, and on each path the learned
policy while that path's model-decay alert (:data:`MONITOR`, a per-path
monitor) is on. ``oracle`` routes the same way on the true regime (read off
the quoted vol), not on the alert: the bound on what a better alert could
give. All configurations run on the same held-out paths (the scenario's seed
17). Per world the table gives CVaR95, the mean-std objective, mean P&L and
transaction cost, and CVaR95 on the paths that stayed calm and on those with
a stressed spell; then the alert's on-share among the hybrid's path-steps in
each regime (the regime of the move the step's hedge is for).

Run: ``python benchmarks/bench_hybrid_regime.py [--train-paths N] [--epochs E]
[--paths N] [--p-stress P,P,...]``. Numbers: ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from agents import MonitorConfig
from agents.hybrid import HybridHedger
from market.events import MarketEvent, Order, RiskSnapshot
from orchestration import Scenario, build_components, config_metrics, run_local
from orchestration.engine import LocalRuntime, Pipeline, ShardProtocol
from orchestration.metrics import var_cvar
from orchestration.train import save_checkpoint, train
from scenarios import model_risk as mr

#: The regime world: calm 15% lognormal; stressed 25% with jumps the BSM greeks miss
#: (``p_calm_to_stressed`` is the default of ``--p-stress``'s middle value).
REGIME: dict[str, Any] = {
    "calm_vol": 0.15,
    "stressed_vol": 0.25,
    "p_calm_to_stressed": 0.02,
    "p_stressed_to_calm": 0.10,
    "stressed_jump_rate": 150.0,
    "stressed_jump_mean": -0.04,
    "stressed_jump_std": 0.04,
}
#: The hybrid's monitor: per path, over its last 10 steps, alert at an unexplained
#: share of 0.08 (in a calm-only world a path's 5-step ratio has median 0.02 and
#: 90th percentile 0.08; a stressed path's median is 0.11), clear below 0.04 (a
#: low re-arm: a quiet stressed day between jumps does not clear the alert).
MONITOR = MonitorConfig(window=10, threshold=0.08, rearm=0.5, per_path=True)
#: The learned policy's inputs.
FEATURES = ("book_delta", "book_gamma", "book_vega", "holding:underlying", "time_fraction")
#: The learned policy's action: a fraction of the BSM delta hedger's trade.
ACTION = "fraction"
TRAIN_SEED = 100
#: ATM vol above which a path is stressed (the oracle's and the tables' regime).
STRESSED_ABOVE = 0.5 * (REGIME["calm_vol"] + REGIME["stressed_vol"])


class RegimeOracleHybrid(HybridHedger):
    """The hybrid routed on the true regime (ATM vol above :data:`STRESSED_ABOVE`)."""

    def on_market(self, event: MarketEvent, view: RiskSnapshot) -> list[Order]:
        """Route each path on its regime now, then as the hybrid."""
        self.alert = np.asarray(event.surface.atm) > STRESSED_ABOVE
        return super().on_market(event, view)


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
        "actions": {"kind": ACTION, "instruments": ["underlying"], "rule": "delta"},
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
    oracle = f"{RegimeOracleHybrid.__module__}.{RegimeOracleHybrid.__name__}"
    if oracle.startswith("__main__."):  # run as a script: importable by its file's name
        oracle = f"{Path(__file__).stem}.{RegimeOracleHybrid.__name__}"
    data["configs"]["oracle"] = {
        "agents": [{"cls": oracle, "name": "delta", "config": hybrid}],
        "manager": manager,
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
    on, stressed = [], []
    for _ in range(sc.n_steps):
        proto.submit_step()
        assert mgr.monitor is not None and mgr._market is not None
        paths = mgr.monitor.paths
        on.append(np.zeros(sc.n_paths, dtype=bool) if paths is None else paths.copy())
        stressed.append(mgr._market.surface.atm > STRESSED_ABOVE)
    return np.array(on), np.array(stressed)


def report(held: Scenario, p_stress: float) -> None:
    """Run the held-out world; print its table and the alert's on-shares per regime."""
    res = run_local(held)
    on, stressed = alert_trace(held)
    ever = stressed[:-1].any(axis=0)  # a stressed move within the run (the last step has none)
    print(
        f"\np_calm_to_stressed {p_stress}: {held.n_paths:,} held-out paths (seed {held.seed}), "
        f"{ever.mean():.1%} with a stressed spell, {stressed[1:-1].mean():.1%} of path-steps "
        "stressed"
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
        f"{dec_on[~dec_st].mean():.1%} of calm path-steps ({dec_on.mean():.1%} of all)"
    )
    cvar = {k: config_metrics(r, held.risk_aversion)["cvar_95"] for k, r in res.items()}
    met = cvar["hybrid"] < min(cvar["bsm_delta"], cvar["learned"])
    print(f"aim (hybrid CVaR95 below bsm_delta's and learned's): {'met' if met else 'missed'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-paths", type=int, default=4000)
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--paths", type=int, default=10_000, help="held-out paths")
    ap.add_argument(
        "--p-stress", default="0.005,0.02,0.05", help="p_calm_to_stressed values, comma-separated"
    )
    args = ap.parse_args()
    try:
        sweep = [float(p) for p in args.p_stress.split(",")]
    except ValueError:
        ap.error(f"--p-stress must be numbers, comma-separated: {args.p_stress!r}")
    t0 = time.perf_counter()
    blob, losses = train(
        stressed_world(),
        instruments=("underlying",),
        policy="mlp",
        features=FEATURES,
        action=ACTION,
        rule="delta",
        base="bsm_delta",
        paths=args.train_paths,
        epochs=args.epochs,
        seed=TRAIN_SEED,
        objective="cvar",
        level=0.05,
    )
    train_s = time.perf_counter() - t0
    print(
        f"trained MLP overlay on {args.train_paths:,} stressed-regime paths (seed {TRAIN_SEED}) "
        f"x {args.epochs} epochs in {train_s:.1f} s (CVaR95 objective {losses[0]:.1f} -> "
        f"{losses[-1]:.1f})"
    )
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "regime_stress_mlp.pt"
        save_checkpoint(blob, ckpt)
        for p in sweep:
            world = regime_scenario({**REGIME, "p_calm_to_stressed": p})
            report(with_learned(world, ckpt, args.paths), p)


if __name__ == "__main__":
    main()
