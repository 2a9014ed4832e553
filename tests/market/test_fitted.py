"""The fitted world: a GJR-GARCH-t fit that round-trips JSON, drives shard-invariant paths
with fat tails and clustering near real S&P 500's."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from market._rng import BlockRNG
from market.config import FitSpec, FittedConfig, FittedWorldParams, MarketConfig, read_world
from market.facts import kurtosis, matched_headline, real_returns, simulate_returns, windows
from market.generators import FittedGenerator
from market.generators.fitted_fit import (
    fit_world,
    forecast_vol_21,
    implied_atm,
    world_json,
    write_world,
)
from orchestration import apply_overrides, config_metrics, load_scenario, run_local
from orchestration.config import ScenarioError

SPEC = FitSpec(data="sp500", start=dt.date(2000, 1, 1), end=dt.date(2018, 12, 31))


@pytest.fixture(scope="module")
def world() -> FittedWorldParams:
    return fit_world(SPEC)


def test_fit_is_plausible_and_deterministic(world: FittedWorldParams) -> None:
    assert world.n_obs == 4778 and world.start == "2000-01-04" and world.end == "2018-12-31"
    assert 0.95 < world.persistence < 1.0  # vol clusters, and mean-reverts
    assert world.gamma > 0.05  # leverage: losses raise the variance more than gains
    assert 4.0 < world.nu < 15.0  # fat-tailed innovations
    assert 0.12 < math.sqrt(252 * world.unconditional_variance) < 0.25
    # the VIX relation: implied above the GARCH forecast (a variance risk premium)
    assert world.iv_n > 1000 and world.iv_r2 > 0.5
    hbar = np.array([world.unconditional_variance])
    assert implied_atm(hbar, world)[0] > forecast_vol_21(hbar, world)[0]
    fit_world.cache_clear()
    assert world_json(fit_world(SPEC)) == world_json(world)  # refit: the same bits


def test_fit_round_trips_json_bit_for_bit(world: FittedWorldParams, tmp_path: Path) -> None:
    path = write_world(world, tmp_path / "world.json")
    back = read_world(str(path))
    assert back == world
    for k, v in world.model_dump().items():
        if isinstance(v, float):
            assert np.float64(v).tobytes() == np.float64(getattr(back, k)).tobytes(), k
    assert world_json(back) == path.read_text()
    assert json.loads(path.read_text())["format"] == "gammaray.fitted_world"


def test_a_bad_world_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "w.json"
    bad.write_text('{"format": "gammaray.fitted_world", "alpha": 1}')
    with pytest.raises(ValueError, match="is not a fitted world") as exc:
        read_world(str(bad))
    assert "\n" not in str(exc.value)
    with pytest.raises(ScenarioError, match="is not a fitted world") as exc2:
        load_scenario("fitted_spx", [f'market.fitted={{"path": "{bad}"}}'])
    assert "\n" not in str(exc2.value)
    with pytest.raises(ValueError, match="cannot read the fitted world"):
        read_world(str(tmp_path / "missing.json"))


def test_fit_to_world_json_to_scenario_gives_real_looking_paths(
    world: FittedWorldParams, tmp_path: Path
) -> None:
    path = write_world(world, tmp_path / "world.json")
    sc = load_scenario("fitted_spx", [f'market.fitted={{"path": "{path}"}}', "n_paths=1500"])
    assert sc.market.fitted is not None and sc.market.fitted.path == str(path)
    assert sc.market.fitted.world == world and sc.market.fitted.fit is None  # read once, inline
    other = write_world(world.model_copy(update={"nu": 9.0}), tmp_path / "other.json")
    moved = apply_overrides(sc, [f"market.fitted.path={other}"])
    assert moved.market.fitted is not None and moved.market.fitted.world is not None
    assert moved.market.fitted.world.nu == 9.0  # a new path: its file wins
    path.unlink()  # the run does not need the file any more
    assert apply_overrides(sc, ["n_paths=1500"]).market.fitted == sc.market.fitted

    horizon = round(sc.days)
    real = windows(real_returns("sp500", SPEC.start, SPEC.end), horizon)
    r = simulate_returns(sc.market, sc.n_paths, horizon, sc.year_days, sc.seed)
    gbm = simulate_returns(MarketConfig(kind="gbm"), sc.n_paths, horizon, 252.0, sc.seed)
    got = matched_headline(r, real.shape[0])
    base = matched_headline(gbm, real.shape[0])
    want = matched_headline(real, real.shape[0])
    # far from GBM: fat tails and clustering
    assert abs(base["kurtosis"]) < 0.5 and abs(base["acf_abs_1"]) < 0.03
    assert got["kurtosis"] > 5.0 and got["acf_abs_1"] > 0.15
    # within the aim of real S&P 500 (±25%) on clustering at lags 1, 5 and 20
    for key in ("acf_abs_1", "acf_abs_5", "acf_abs_20"):
        assert abs(got[key] / want[key] - 1.0) < 0.25, (key, got[key], want[key])
    # kurtosis: within ±50% (the aim of ±25% is missed: see RESULTS.md); leverage has its sign
    assert abs(got["kurtosis"] / want["kurtosis"] - 1.0) < 0.5, (got["kurtosis"], want)
    assert got["leverage_1"] < -0.03 and want["leverage_1"] < -0.03
    assert kurtosis(r) > kurtosis(gbm) + 5.0


def test_paths_do_not_depend_on_the_sharding(world: FittedWorldParams) -> None:
    cfg = MarketConfig(kind="fitted", fitted=FittedConfig(world=world, burn_in_days=20))
    whole = FittedGenerator(cfg, BlockRNG(5, 0, 0, 2100), 252.0)
    parts = [
        FittedGenerator(cfg, BlockRNG(5, 0, a, b), 252.0) for a, b in ((0, 1024), (1024, 2100))
    ]
    for k in range(5):
        for g in (whole, *parts):
            g.advance(k / 252, (k + 1) / 252)
    joined = np.concatenate([p.spot for p in parts])
    assert joined.tobytes() == whole.spot.tobytes()
    assert np.concatenate([p.variance for p in parts]).tobytes() == whole.variance.tobytes()


def test_same_seed_same_pnl_on_one_and_two_shards(world: FittedWorldParams) -> None:
    sc = load_scenario("fitted_spx", ["n_paths=1100", "days=4"])
    sc = apply_overrides(sc, [f'market.fitted={{"world": {world_json(world)}}}'])
    one, two = run_local(sc, shards=1), run_local(sc, shards=2)
    for name in sc.configs:
        a = config_metrics(one[name], 1.0)["pnl_sha256"]
        assert a == config_metrics(two[name], 1.0)["pnl_sha256"], name
    assert np.all(np.isfinite(one["delta"].pnl))


def test_the_surface_follows_the_conditional_variance(world: FittedWorldParams) -> None:
    cfg = MarketConfig(kind="fitted", fitted=FittedConfig(world=world, init="unconditional"))
    g = FittedGenerator(cfg, BlockRNG(1, 0, 0, 64), 252.0)
    s = g.surface(0.0)
    np.testing.assert_array_equal(s.atm, implied_atm(g.variance, world))
    g.variance = g.variance * 4.0
    assert np.all(g.surface(0.0).atm > s.atm)  # more variance, a higher ATM vol


def test_the_fitted_scenario_smoke_seeded() -> None:
    sc = load_scenario("fitted_spx", ["n_paths=64", "days=3"])
    a, b = run_local(sc), run_local(sc)
    for name in sc.configs:
        assert a[name].pnl.tobytes() == b[name].pnl.tobytes()
        assert np.all(np.isfinite(a[name].pnl))


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.floats(-30.0, 30.0), min_size=1, max_size=20),
    st.floats(1e-3, 1.0),
)
def test_the_variance_stays_positive_for_any_shock_and_step(
    world_params: FittedWorldParams, zs: list[float], f: float
) -> None:
    cfg = MarketConfig(kind="fitted", fitted=FittedConfig(world=world_params, init="last"))
    g = FittedGenerator(cfg, BlockRNG(0, 0, 0, 1), 252.0)
    for z in zs:
        g._update(np.array([z]), f)
        assert g.variance[0] > 0.0 and np.isfinite(g.variance[0])


@pytest.fixture(scope="module")
def world_params(world: FittedWorldParams) -> FittedWorldParams:
    return world


@pytest.mark.slow
@pytest.mark.usefixtures("ray_session")
def test_the_fitted_world_on_two_ray_shards_matches_local(world: FittedWorldParams) -> None:
    from orchestration.ray_runtime import run_ray

    sc = load_scenario("fitted_spx", ["n_paths=1100", "days=3"])
    sc = apply_overrides(sc, [f'market.fitted={{"world": {world_json(world)}}}'])
    local, remote = run_local(sc), run_ray(sc, shards=2, placement="fused")
    for name in sc.configs:
        assert config_metrics(local[name], 1.0) == config_metrics(remote[name], 1.0), name
