"""Shared fixtures: small scenarios and one Ray session for the whole test run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agents import BookPosition, ManagerConfig
from market import InstrumentSpec, MarketConfig, SurfaceConfig
from orchestration import AgentSpec, HedgeConfig, Scenario


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """One local Ray (2 CPUs) shared by every Ray test; stopped at the end."""
    import ray

    from orchestration.ray_runtime import ensure_ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ensure_ray()
    yield
    ray.shutdown()


def bsm_world_scenario(
    n_paths: int = 2000,
    steps_per_day: int = 1,
    days: float = 30.0,
    budget: float = 1e-9,
    seed: int = 3,
) -> Scenario:
    """A Black-Scholes world (constant 20% vol, flat surface, no costs):
    short one 30-day ATM call, delta-hedged at every step."""
    return Scenario(
        name="bsm_world",
        seed=seed,
        n_paths=n_paths,
        days=days,
        steps_per_day=steps_per_day,
        market=MarketConfig(kind="gbm", spot=100.0, surface=SurfaceConfig(atm=0.2)),
        book=(BookPosition(is_call=True, moneyness=1.0, expiry_days=days, qty=-1.0),),
        configs={
            "unhedged": HedgeConfig(manager=ManagerConfig(budget=budget)),
            "delta": HedgeConfig(
                agents=(AgentSpec(cls="delta"),),
                manager=ManagerConfig(budget=budget, weights={"delta": 1.0}),
            ),
        },
    )


def small_gap_scenario(n_paths: int = 256, days: float = 6.0) -> Scenario:
    """A small macro-gap scenario with all three hedgers (fast, for protocol tests)."""
    from orchestration import apply_overrides
    from scenarios.macro_gap import SCENARIO

    return apply_overrides(
        SCENARIO, [f"n_paths={n_paths}", f"days={days}", f"market.gap.day={days / 2}"]
    )


@pytest.fixture
def gap_scenario() -> Scenario:
    """The built-in macro-gap scenario cut down to 256 paths and 6 days."""
    return small_gap_scenario()


@pytest.fixture
def option_instrument() -> InstrumentSpec:
    """A 14-day ATM call relisted weekly, no costs."""
    return InstrumentSpec(name="gamma_opt", tenor_days=14.0, relist_days=7.0)
