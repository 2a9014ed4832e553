"""Model risk: BSM delta hedgers in a Heston world and in a jump world, beside true-model ones.

The book is short 30-day ATM calls (and long 30-day 90% puts, a risk
reversal that loads on the skew). In each world two delta hedgers run on
identical paths: ``bsm_delta`` hedges with Black-Scholes deltas at the quoted
implied vols; ``true_delta`` hedges with the world's own model and
parameters. The world quotes options at its own model's prices, so the BSM
hedger meets a smile its model does not have. ``unhedged`` is the book alone.

With a trained policy at ``models/model_risk_hybrid.pt`` (relative to the
working directory; train it on this scenario with :data:`LEARNED` as its
feature, policy and action spec) two more configurations run: ``learned``
(the policy alone) and ``hybrid`` (:class:`agents.hybrid.HybridHedger`: the
BSM delta hedger until the manager's model-decay monitor alerts, the learned
policy while the alert is on, see :func:`learned_configs`).

``gammaray run scenarios/model_risk.py`` runs the Heston world (``SCENARIO``);
``python scenarios/model_risk.py`` runs both worlds and prints the gap between
the BSM and true-model hedgers (P&L std, CVaR95 and the unexplained P&L).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from agents import BookPosition, ManagerConfig, MonitorConfig
from market import MarketConfig
from market.config import HestonWorld, MertonWorld
from orchestration import AgentSpec, HedgeConfig, Scenario, apply_overrides

HESTON = HestonWorld(v0=0.04, kappa=2.0, theta_var=0.04, xi=0.6, rho=-0.7)
MERTON = MertonWorld(vol=0.15, lam=2.0, jump_mean=-0.06, jump_std=0.08)
MANAGER = ManagerConfig(
    budget=1e-6,
    weights={"delta": 1.0},
    monitor=MonitorConfig(window=5, threshold=0.5),
)


def _configs(true_model: dict) -> dict[str, HedgeConfig]:
    return {
        "unhedged": HedgeConfig(manager=MANAGER),
        "bsm_delta": HedgeConfig(agents=(AgentSpec(cls="delta", name="delta"),), manager=MANAGER),
        "true_delta": HedgeConfig(
            agents=(AgentSpec(cls="delta", name="delta", config={"model": true_model}),),
            manager=MANAGER,
        ),
    }


#: The learned policy the ``learned`` and ``hybrid`` configurations run (the checkpoint
#: must be trained with these features, this policy kind and these actions).
LEARNED: dict[str, Any] = {
    "policy": "gru",
    "features": [
        "book_delta",
        "book_gamma",
        "book_vega",
        "holding:underlying",
        "atm_vol",
        "time_fraction",
    ],
    "actions": {"kind": "holdings", "instruments": ["underlying"]},
    "horizon_days": 20.0,
}
#: The hybrid's manager: its monitor alerts at a ratio of 0.2 (the BSM hedger's
#: unexplained/explained ratio climbs from about 0.15 to 0.24 in this Heston world as
#: the book nears expiry; 0.5, the rule configurations' threshold, is never reached).
HYBRID_MANAGER = MANAGER.model_copy(update={"monitor": MonitorConfig(window=5, threshold=0.2)})
#: Where the ``learned`` and ``hybrid`` configurations look for their policy.
HYBRID_CHECKPOINT = Path("models/model_risk_hybrid.pt")


def learned_configs(checkpoint: str | Path) -> dict[str, HedgeConfig]:
    """The ``learned`` and ``hybrid`` configurations over a trained policy.

    Args:
        checkpoint: A version-3 checkpoint trained for this scenario with :data:`LEARNED`.
    """
    learned = {"checkpoint": str(checkpoint), **LEARNED}
    hybrid = {
        "model_based": {"cls": "delta"},
        "learned": {"cls": "agents.deep.LearnedHedger", "config": learned},
        "route": "switch",
    }
    return {
        "learned": HedgeConfig(
            agents=(AgentSpec(cls="agents.deep.LearnedHedger", name="delta", config=learned),),
            manager=MANAGER,
        ),
        "hybrid": HedgeConfig(
            agents=(AgentSpec(cls="agents.hybrid.HybridHedger", name="delta", config=hybrid),),
            manager=HYBRID_MANAGER,
        ),
    }


BOOK = (
    BookPosition(is_call=True, moneyness=1.0, expiry_days=30.0, qty=-100.0),
    BookPosition(is_call=False, moneyness=0.9, expiry_days=30.0, qty=100.0),
)

SCENARIO = Scenario(
    name="model_risk",
    version=1,
    description="BSM vs true-model delta hedgers in a Heston world (and a jump world)",
    seed=17,
    n_paths=1000,
    days=20.0,
    steps_per_day=1,
    market=MarketConfig(kind="heston", spot=100.0, heston=HESTON),
    book=BOOK,
    configs=_configs({"kind": "heston", **HESTON.model_dump(exclude={"v0"})}),
)
_BASE = SCENARIO
if HYBRID_CHECKPOINT.is_file():
    SCENARIO = Scenario.model_validate(
        SCENARIO.model_dump() | {"configs": SCENARIO.configs | learned_configs(HYBRID_CHECKPOINT)}
    )

#: The same book and rule hedgers in a Merton jump world (a policy trained in the
#: Heston world is for that world's family only).
JUMP_SCENARIO = apply_overrides(
    _BASE,
    [
        "name=model_risk_jumps",
        'market.kind="merton"',
        f"market.merton={MERTON.model_dump_json()}",
        'configs.true_delta.agents.0.config={"model": '
        f'{{"kind": "merton", "lam": {MERTON.lam}, "jump_mean": {MERTON.jump_mean}, '
        f'"jump_std": {MERTON.jump_std}}}}}',
    ],
)


def compare(paths: int | None = None) -> list[dict[str, float | str]]:
    """Run both worlds in-process; one row per world with the BSM vs true-model gap."""
    from orchestration import config_metrics, run_local

    rows = []
    for sc in (SCENARIO, JUMP_SCENARIO):
        if paths is not None:
            sc = apply_overrides(sc, [f"n_paths={paths}"])
        res = run_local(sc)
        m = {k: config_metrics(v, sc.risk_aversion) for k, v in res.items()}
        unexpl = {k: float(abs(v.attribution["unexplained"]).mean()) for k, v in res.items()}
        rows.append(
            {
                "world": sc.market.kind,
                "bsm_std": m["bsm_delta"]["pnl_std"],
                "true_std": m["true_delta"]["pnl_std"],
                "std_gap": m["bsm_delta"]["pnl_std"] - m["true_delta"]["pnl_std"],
                "bsm_cvar95": m["bsm_delta"]["cvar_95"],
                "true_cvar95": m["true_delta"]["cvar_95"],
                "bsm_unexplained": unexpl["bsm_delta"],
                "true_unexplained": unexpl["true_delta"],
            }
        )
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1:
        from orchestration.cli import main

        sys.exit(main(["run", __file__, *sys.argv[1:]]))
    for row in compare():
        print(
            f"{row['world']:7s} P&L std: BSM {row['bsm_std']:8.2f}  true model "
            f"{row['true_std']:8.2f}  gap {row['std_gap']:+8.2f} | CVaR95 BSM "
            f"{row['bsm_cvar95']:8.2f} true {row['true_cvar95']:8.2f}"
        )
