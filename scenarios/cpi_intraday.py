"""CPI intraday: how fast must the auto-hedger react after the number?

A dealer is short 30-day ATM calls and puts on an index at 100 (short gamma,
short vega). CPI is released at 08:30 on day 2: the clock runs daily steps,
and 1-minute steps from 08:00 to 10:30 on release day (the release itself is
a step at its exact time). At the release the spot gaps (Student-t, 1.5%
std), the event premium is crushed, the market turns fast: spreads widen 10×
(underlying) and 4× (options) and normalise with a 5- and 10-minute
half-life, realised vol runs at 3× and decays with a 20-minute half-life, and
the move follows through by 30% of the gap over ~20 minutes.

The same delta-gamma-vega agents (every step of the decision grid) react
with latencies 0.1 s, 5 s, 60 s and 900 s (``latency_0.1s`` ...
``latency_900s``): an order decided at ``t`` executes at the first market
state at or after ``t + latency``, at that state's quotes and spread; plus
``unhedged``. The run prints P&L, slippage (the cost of the trades in the
2 h after the release against the pre-release mids) and CVaR95 per latency;
``summary.json`` carries them per configuration.

Run it: ``gammaray run scenarios/cpi_intraday.py`` or ``python scenarios/cpi_intraday.py``.
"""

from __future__ import annotations

import sys

from agents import BookPosition, ManagerConfig
from market import (
    CostModel,
    GapConfig,
    InstrumentSpec,
    MarketConfig,
    RefineWindow,
    SurfaceConfig,
)
from orchestration import AgentSpec, HedgeConfig, Scenario

#: Reaction latencies compared, seconds, by configuration name.
LATENCIES = {"latency_0.1s": 0.1, "latency_5s": 5.0, "latency_60s": 60.0, "latency_900s": 900.0}

MANAGER = ManagerConfig(
    budget=400.0,
    weights={"delta": 0.2, "gamma": 0.4, "vega": 0.4},
    stress_sigmas=3.0,
    stress_horizon_days=1.0,
    stress_vol=0.02,
    max_order={"gamma_opt": 5000.0, "vega_opt": 5000.0},
)


def hedgers(latency: float) -> tuple[AgentSpec, ...]:
    """The delta-gamma-vega agents with one reaction latency (seconds)."""
    return (
        AgentSpec(cls="vega", config={"instrument": "vega_opt", "target": 0.8, "latency": latency}),
        AgentSpec(
            cls="gamma", config={"instrument": "gamma_opt", "target": 0.8, "latency": latency}
        ),
        AgentSpec(cls="delta", config={"target": 0.0, "latency": latency}),
    )


SCENARIO = Scenario(
    name="cpi_intraday",
    version=1,
    description="short gamma/vega book through an 08:30 CPI release: P&L against reaction latency",
    seed=11,
    n_paths=2000,
    days=4.0,
    steps_per_day=1,
    market=MarketConfig(
        kind="macro_gap",
        spot=100.0,
        clock={"start": "2024-06-11T00:00"},
        surface=SurfaceConfig(
            atm=0.16, skew=-0.10, term=0.02, vol_of_vol=0.6, mean_reversion=4.0, spot_vol_corr=-0.7
        ),
        gap=GapConfig(
            name="CPI",
            day=2.0,
            at="08:30",
            refine=RefineWindow(before_minutes=30.0, after_minutes=120.0, step_minutes=1.0),
            distribution="student_t",
            size_std=0.015,
            df=3.0,
            premium=1.0,
            bid=0.05,
            bid_days=1.0,
            crush=0.15,
            post_vol=3.0,
            post_vol_half_life_minutes=20.0,
            post_drift=0.3,
            post_drift_minutes=20.0,
        ),
        instruments=(
            InstrumentSpec(
                name="underlying",
                kind="underlying",
                cost=CostModel(
                    half_spread_bps=0.5, release_spread_mult=10.0, release_half_life_minutes=5.0
                ),
            ),
            InstrumentSpec(
                name="gamma_opt",
                tenor_days=14.0,
                relist_days=7.0,
                recenter=0.05,
                cost=CostModel(
                    half_spread_vol=0.2, release_spread_mult=4.0, release_half_life_minutes=10.0
                ),
            ),
            InstrumentSpec(
                name="vega_opt",
                tenor_days=90.0,
                relist_days=7.0,
                recenter=0.05,
                cost=CostModel(
                    half_spread_vol=0.2, release_spread_mult=4.0, release_half_life_minutes=10.0
                ),
            ),
        ),
    ),
    book=(
        BookPosition(is_call=True, moneyness=1.0, expiry_days=30.0, qty=-1000.0),
        BookPosition(is_call=False, moneyness=1.0, expiry_days=30.0, qty=-1000.0),
    ),
    configs={
        "unhedged": HedgeConfig(manager=MANAGER),
        **{
            name: HedgeConfig(agents=hedgers(lat), manager=MANAGER)
            for name, lat in LATENCIES.items()
        },
    },
)

if __name__ == "__main__":
    from orchestration.cli import main

    sys.exit(main(["run", __file__, *sys.argv[1:]]))
