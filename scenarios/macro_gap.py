"""Macro gap: a short-gamma, short-vega dealer book through a CPI-style announcement.

The book is short 30-day ATM calls and 90-day ATM puts on an index at 100.
Ten days in, a scheduled announcement gaps the spot by a fat-tailed draw
(Student-t, 3 degrees of freedom, 3% std); listed vol carries the event's
variance before it, is bid in the last three days and is crushed at release.

Five hedging configurations run on identical paths: ``unhedged``, ``delta``,
``delta_gamma``, ``delta_gamma_vega`` (static budget) and ``event_aware``
(the same agents, with the gamma and vega bands tightened from two days
before the release to half a day after it).

``learned`` (present when ``models/macro_gap.pt`` exists, relative to the
working directory) runs a learned policy (:class:`agents.deep.LearnedHedger`,
the spec :data:`LEARNED`) alone, under ``delta_gamma``'s static budget
(:data:`LEARNED_BASE`): one policy trading ``vega_opt``, ``gamma_opt`` and the
underlying (the ``cascade`` action), each a learned fraction in [0, 1] of the
trade that makes the book's vega, then gamma, then delta neutral after the
earlier trades, seeing the time to the announcement, the gamma and vega gaps,
the book's greeks, its ``vega_opt`` holding and the ATM vol. Train it on other
seeds' paths::

    gammaray train scenarios/macro_gap.py --out models/macro_gap.pt --base delta_gamma \
        --instruments vega_opt,gamma_opt,underlying --action cascade \
        --rules vega,gamma,delta --seed 100 --paths 10000 --epochs 60 --hidden 16 \
        --features gamma_gap:gamma_opt,vega_gap:vega_opt,time_to_event,book_delta,\
atm_vol,book_gamma,book_vega,holding:vega_opt

(``benchmarks/bench_learned_macro_gap.py`` does that and compares it on held-out paths).

Run it: ``gammaray run scenarios/macro_gap.py`` or ``python scenarios/macro_gap.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from agents import BookPosition, EventAwareAllocation, ManagerConfig
from market import CostModel, GapConfig, InstrumentSpec, MarketConfig, SurfaceConfig
from orchestration import AgentSpec, HedgeConfig, Scenario

MANAGER = ManagerConfig(
    budget=600.0,
    weights={"delta": 0.2, "gamma": 0.4, "vega": 0.4},
    stress_sigmas=3.0,
    stress_horizon_days=1.0,
    stress_vol=0.02,
    max_order={"gamma_opt": 5000.0, "vega_opt": 5000.0},
)
DELTA = AgentSpec(cls="delta", config={"target": 0.0})
GAMMA = AgentSpec(cls="gamma", config={"instrument": "gamma_opt", "target": 0.8})
VEGA = AgentSpec(cls="vega", config={"instrument": "vega_opt", "target": 0.8})

#: Where the ``learned`` configuration looks for its policy.
CHECKPOINT = Path("models/macro_gap.pt")
#: The configuration whose cascade the learned policy runs in (``--base``).
LEARNED_BASE = "delta_gamma"
#: The learned policy's spec (the checkpoint must be trained with it).
LEARNED = {
    "policy": "mlp",
    "features": [
        "gamma_gap:gamma_opt",
        "vega_gap:vega_opt",
        "time_to_event",
        "book_delta",
        "atm_vol",
        "book_gamma",
        "book_vega",
        "holding:vega_opt",
    ],
    "actions": {
        "kind": "cascade",
        "instruments": ["vega_opt", "gamma_opt", "underlying"],
        "rules": ["vega", "gamma", "delta"],
    },
    "horizon_days": 20.0,
    "year_days": 365.0,
}
EVENT_AWARE = MANAGER.model_copy(
    update={
        "policy": EventAwareAllocation(
            tighten={"gamma": 0.2, "vega": 0.2}, before_days=2.0, after_days=0.5
        )
    }
)


def learned_config(checkpoint: str | Path) -> HedgeConfig:
    """The ``learned`` configuration over a trained policy (see :data:`LEARNED`)."""
    spec = AgentSpec(
        cls="agents.deep.LearnedHedger",
        name="learned",
        config={"checkpoint": str(checkpoint), **LEARNED},
    )
    return HedgeConfig(agents=(spec,), manager=MANAGER)


SCENARIO = Scenario(
    name="macro_gap",
    version=1,
    description="short gamma/vega book through a scheduled CPI gap with a vol crush",
    seed=7,
    n_paths=10_000,
    days=20.0,
    steps_per_day=4,
    market=MarketConfig(
        kind="macro_gap",
        spot=100.0,
        surface=SurfaceConfig(
            atm=0.20, skew=-0.10, term=0.02, vol_of_vol=0.8, mean_reversion=4.0, spot_vol_corr=-0.7
        ),
        gap=GapConfig(
            name="CPI",
            day=10.0,
            distribution="student_t",
            size_std=0.03,
            df=3.0,
            premium=1.0,
            bid=0.10,
            bid_days=3.0,
            crush=0.25,
        ),
        instruments=(
            InstrumentSpec(
                name="underlying", kind="underlying", cost=CostModel(half_spread_bps=1.0)
            ),
            InstrumentSpec(
                name="gamma_opt",
                tenor_days=14.0,
                relist_days=7.0,
                recenter=0.05,
                cost=CostModel(half_spread_vol=0.25),
            ),
            InstrumentSpec(
                name="vega_opt",
                tenor_days=90.0,
                relist_days=7.0,
                recenter=0.05,
                cost=CostModel(half_spread_vol=0.25),
            ),
        ),
    ),
    book=(
        BookPosition(is_call=True, moneyness=1.0, expiry_days=30.0, qty=-1000.0),
        BookPosition(is_call=False, moneyness=1.0, expiry_days=90.0, qty=-1000.0),
    ),
    configs={
        "unhedged": HedgeConfig(manager=MANAGER),
        "delta": HedgeConfig(agents=(DELTA,), manager=MANAGER),
        "delta_gamma": HedgeConfig(agents=(GAMMA, DELTA), manager=MANAGER),
        "delta_gamma_vega": HedgeConfig(agents=(VEGA, GAMMA, DELTA), manager=MANAGER),
        "event_aware": HedgeConfig(agents=(VEGA, GAMMA, DELTA), manager=EVENT_AWARE),
        **({"learned": learned_config(CHECKPOINT)} if CHECKPOINT.is_file() else {}),
    },
)

if __name__ == "__main__":
    from orchestration.cli import main

    sys.exit(main(["run", __file__, *sys.argv[1:]]))
