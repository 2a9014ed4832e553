"""The dealer book, hedge instruments and configurations shared by the stress scenarios.

A short-vol dealer book on an index rebased to 100: short 1,000 three-month
(63 trading days) ATM straddles and 1,000 six-month 90% puts. It is hedged
with the index and two listed option series quoted off the recorded ATM vol:
a two-week ATM call (``gamma_opt``) and a three-month ATM call
(``vega_opt``), relisted weekly and re-struck when the index moves 5% away.
The surface's skew is an assumed constant (the data give the ATM level only).

Configurations: ``unhedged``, ``delta`` (the index only) and
``delta_gamma_vega`` (vega, then gamma, then delta). Time runs in trading
days (``year_days = 252``), one step a day, one path (a replay).
"""

from __future__ import annotations

from agents import BookPosition, ManagerConfig
from market import CostModel, InstrumentSpec, MarketConfig, SurfaceConfig
from market.stress import StressData, build_stress, describe
from orchestration import AgentSpec, HedgeConfig, Scenario

#: Assumed surface shape: skew in vol per unit log-moneyness, no term slope.
SURFACE = SurfaceConfig(atm=0.2, skew=-0.3, term=0.0)

INSTRUMENTS = (
    InstrumentSpec(name="underlying", kind="underlying", cost=CostModel(half_spread_bps=1.0)),
    InstrumentSpec(
        name="gamma_opt",
        tenor_days=10.0,
        relist_days=5.0,
        recenter=0.05,
        cost=CostModel(half_spread_vol=0.25),
    ),
    InstrumentSpec(
        name="vega_opt",
        tenor_days=63.0,
        relist_days=5.0,
        recenter=0.05,
        cost=CostModel(half_spread_vol=0.25),
    ),
)

BOOK = (
    BookPosition(is_call=True, moneyness=1.0, expiry_days=63.0, qty=-1000.0),
    BookPosition(is_call=False, moneyness=1.0, expiry_days=63.0, qty=-1000.0),
    BookPosition(is_call=False, moneyness=0.9, expiry_days=126.0, qty=-1000.0),
)

MANAGER = ManagerConfig(
    budget=1500.0,
    weights={"delta": 0.2, "gamma": 0.4, "vega": 0.4},
    stress_sigmas=3.0,
    stress_horizon_days=1.0,
    stress_vol=0.02,
    max_order={"gamma_opt": 20_000.0, "vega_opt": 20_000.0},
)
DELTA = AgentSpec(cls="delta", config={"target": 0.0})
GAMMA = AgentSpec(cls="gamma", config={"instrument": "gamma_opt", "target": 0.8})
VEGA = AgentSpec(cls="vega", config={"instrument": "vega_opt", "target": 0.8})

CONFIGS = {
    "unhedged": HedgeConfig(manager=MANAGER),
    "delta": HedgeConfig(agents=(DELTA,), manager=MANAGER),
    "delta_gamma_vega": HedgeConfig(agents=(VEGA, GAMMA, DELTA), manager=MANAGER),
}


def replay_market(data: StressData) -> MarketConfig:
    """The replay world of a stress event: its table inline, the index rebased to 100."""
    return MarketConfig(
        kind="replay",
        spot=100.0,
        surface=SURFACE,
        replay=data.replay_config(rebase=True),
        instruments=INSTRUMENTS,
    )


def stress_scenario(name: str, seed: int) -> Scenario:
    """The scenario of one stress event: its replay, the shared book and configurations.

    Args:
        name: A key of :data:`market.stress.STRESS_EVENTS` (the scenario's name too).
        seed: The scenario seed (a replay is one recorded path; it seeds nothing
            random but stays part of the run's identity).
    """
    data = build_stress(name)
    return Scenario(
        name=name,
        version=1,
        description=describe(data),
        seed=seed,
        n_paths=1,
        days=data.days,
        steps_per_day=1,
        year_days=252.0,
        market=replay_market(data),
        book=BOOK,
        configs=CONFIGS,
    )
