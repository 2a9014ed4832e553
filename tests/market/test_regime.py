"""Regime switching: occupancy, jumps of listed vol, realised vol per regime, sharding."""

from __future__ import annotations

import numpy as np

from market._rng import BlockRNG
from market.config import MarketConfig, RegimeConfig
from market.generators import make_generator


def _gen(n: int = 4000, start: int = 0, **kw):
    cfg = MarketConfig(kind="regime", regime=RegimeConfig(**kw))
    return make_generator(cfg, BlockRNG(11, 0, start, start + n), 365.0)


def test_stationary_occupancy_matches_the_chain() -> None:
    g = _gen(p_calm_to_stressed=0.05, p_stressed_to_calm=0.20)
    dt = 1 / 365
    share = []
    for k in range(400):
        g.advance(k * dt, (k + 1) * dt)
        if k >= 100:
            share.append(g.stressed.mean())
    expected = 0.05 / (0.05 + 0.20)
    assert abs(np.mean(share) - expected) < 0.02


def test_listed_vol_is_the_regime_level_and_realised_vol_follows() -> None:
    g = _gen(p_calm_to_stressed=0.0, p_stressed_to_calm=0.0, start_stressed=True)
    assert np.allclose(g.surface(0.0).atm, 0.45)
    dt = 1 / 365
    logs = []
    for k in range(60):
        s0 = g.spot.copy()
        g.advance(k * dt, (k + 1) * dt)
        logs.append(np.log(g.spot / s0))
    realised = np.std(np.concatenate(logs)) / np.sqrt(dt)
    assert abs(realised - 0.45) < 0.01


def test_paths_do_not_depend_on_sharding() -> None:
    whole, shard = _gen(3000), _gen(3000 - 1024, start=1024)
    dt = 1 / 365
    for k in range(30):
        whole.advance(k * dt, (k + 1) * dt)
        shard.advance(k * dt, (k + 1) * dt)
    assert whole.spot[1024:].tobytes() == shard.spot.tobytes()
    assert np.array_equal(whole.stressed[1024:], shard.stressed)


def test_stressed_jumps_hit_only_stressed_paths_at_their_rate_without_drift() -> None:
    dt = 1 / 365
    calm = _gen(20_000, p_calm_to_stressed=0.0, stressed_jump_rate=50.0)
    plain = _gen(20_000, p_calm_to_stressed=0.0)
    stressed = _gen(
        20_000,
        p_calm_to_stressed=0.0,
        p_stressed_to_calm=0.0,
        start_stressed=True,
        stressed_jump_rate=50.0,
        stressed_jump_mean=-0.30,
        stressed_jump_std=0.0,
    )
    for g in (calm, plain, stressed):
        g.advance(0.0, dt)
    # a calm path never jumps (its spot move is the one without jumps, bit for bit)
    assert calm.spot.tobytes() == plain.spot.tobytes()
    logs = np.log(stressed.spot / 100.0)
    jumped = logs < -0.15  # a -30% log jump against a daily diffusion std of 2.4%
    assert abs(jumped.mean() - (1.0 - np.exp(-50.0 * dt))) < 0.01
    assert abs(stressed.spot.mean() / 100.0 - 1.0) < 0.002  # the jumps are compensated
