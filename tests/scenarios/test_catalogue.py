"""Every built-in scenario runs a few steps on a few paths (seeded smoke test); one on Ray."""

from __future__ import annotations

import pytest

from orchestration import apply_overrides, config_metrics, load_scenario, run_local
from orchestration.config import builtin_scenarios
from orchestration.ray_runtime import run_ray


def _small(name: str):
    sc = load_scenario(name)
    days = min(sc.days, 3.0)
    sets = [f"n_paths={min(sc.n_paths, 64)}", f"days={days}"]
    if sc.market.kind == "macro_gap" and sc.market.gap.release_day > days:
        sets.append("market.gap.day=1")  # a release outside the horizon is refused
    return apply_overrides(sc, sets)


@pytest.mark.parametrize("name", sorted(builtin_scenarios()))
def test_every_scenario_runs_a_few_steps_deterministically(name: str) -> None:
    sc = _small(name)
    a, b = run_local(sc), run_local(sc)
    assert set(a) == set(sc.configs)
    for cfg, res in a.items():
        assert res.pnl.shape == (sc.n_paths,)
        assert res.pnl.tobytes() == b[cfg].pnl.tobytes()


@pytest.mark.slow
@pytest.mark.usefixtures("ray_session")
def test_one_catalogue_scenario_on_ray_matches_local() -> None:
    sc = _small("custom_agent")
    local, remote = run_local(sc), run_ray(sc)
    for cfg in sc.configs:
        assert config_metrics(local[cfg], 1.645) == config_metrics(remote[cfg], 1.645)
