"""market.generators: GBM spot and surface dynamics, the macro-gap announcement."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from market._rng import BlockRNG
from market.config import GapConfig, MarketConfig
from market.generators import (
    GENERATORS,
    GBMGenerator,
    MacroGapGenerator,
    Release,
    Scheduled,
    make_generator,
)
from market.surface import SurfaceConfig

YEAR = 365.0
N = 20_000


def _gen(config: MarketConfig, n: int = N, seed: int = 1, start: int = 0) -> GBMGenerator:
    return make_generator(config, BlockRNG(seed, 0, start, start + n), YEAR)


def _run(gen: GBMGenerator, n_steps: int, dt: float, first: int = 0) -> list[list[Release]]:
    out = []
    for k in range(first, first + n_steps):
        out.append(gen.advance(k * dt, (k + 1) * dt))
    return out


def _gap_cfg(**gap) -> MarketConfig:
    vol = gap.pop("vol", 0.2)
    ratio = gap.pop("realized_vol_ratio", 1.0)
    vov = gap.pop("vol_of_vol", 0.0)
    return MarketConfig(
        kind="macro_gap",
        realized_vol_ratio=ratio,
        surface=SurfaceConfig(atm=vol, vol_of_vol=vov),
        gap=GapConfig(**gap),
    )


def test_make_generator_picks_the_class() -> None:
    assert GENERATORS["gbm"] is GBMGenerator and GENERATORS["macro_gap"] is MacroGapGenerator
    assert set(GENERATORS) == {
        *("gbm", "macro_gap", "replay", "regime", "heston", "merton", "fitted", "history_windows")
    }
    assert type(_gen(MarketConfig(kind="gbm"), n=4)) is GBMGenerator
    assert type(_gen(MarketConfig(kind="macro_gap"), n=4)) is MacroGapGenerator


# ------------------------------------------------------------------------------------ GBM


@pytest.mark.parametrize(("drift", "rate", "div"), [(0.3, 0.01, 0.02), (None, 0.05, 0.01)])
def test_gbm_terminal_mean_and_log_variance(drift, rate, div) -> None:
    sigma, s0, T, n_steps = 0.25, 100.0, 0.5, 10
    cfg = MarketConfig(spot=s0, drift=drift, rate=rate, div=div, surface=SurfaceConfig(atm=sigma))
    gen = _gen(cfg)
    assert gen.schedule == []
    np.testing.assert_array_equal(gen.spot, np.full(N, s0))
    assert _run(gen, n_steps, T / n_steps) == [[]] * n_steps
    mu = rate if drift is None else drift
    st = gen.spot
    se = st.std(ddof=1) / math.sqrt(N)
    assert abs(st.mean() - s0 * math.exp((mu - div) * T)) < 4 * se
    logret = np.log(st / s0)
    var = logret.var(ddof=1)
    var_se = sigma**2 * T * math.sqrt(2.0 / (N - 1))
    assert abs(var - sigma**2 * T) < 4 * var_se
    mean_se = sigma * math.sqrt(T / N)
    assert abs(logret.mean() - (mu - div - 0.5 * sigma**2) * T) < 4 * mean_se


def test_gbm_realized_vol_ratio_scales_the_diffusion_exactly() -> None:
    sigma, T, n_steps = 0.2, 0.25, 5
    paths = {}
    for ratio in (0.5, 1.0, 2.0):
        gen = _gen(MarketConfig(realized_vol_ratio=ratio, surface=SurfaceConfig(atm=sigma)), n=500)
        _run(gen, n_steps, T / n_steps)
        s = ratio * sigma
        # Same draws: the standardised Brownian part is the same whatever the ratio.
        paths[ratio] = (np.log(gen.spot / 100.0) + 0.5 * s * s * T) / s
    np.testing.assert_allclose(paths[0.5], paths[1.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(paths[2.0], paths[1.0], rtol=0, atol=1e-12)


def test_gbm_realized_vol_ratio_variance() -> None:
    sigma, ratio, T = 0.2, 1.5, 0.25
    gen = _gen(MarketConfig(realized_vol_ratio=ratio, surface=SurfaceConfig(atm=sigma)))
    _run(gen, 5, T / 5)
    var = np.log(gen.spot / 100.0).var(ddof=1)
    target = (ratio * sigma) ** 2 * T
    assert abs(var - target) < 4 * target * math.sqrt(2.0 / (N - 1))


def test_gbm_zero_realized_vol_is_deterministic_drift() -> None:
    gen = _gen(MarketConfig(realized_vol_ratio=0.0, drift=0.1, div=0.03), n=10)
    _run(gen, 4, 0.25)
    np.testing.assert_allclose(gen.spot, 100.0 * math.exp(0.07), rtol=1e-14)


def test_gbm_constant_surface_without_vol_of_vol() -> None:
    cfg = MarketConfig(surface=SurfaceConfig(atm=0.3, skew=-0.1, term=0.02, vol_of_vol=0.0))
    gen = _gen(cfg, n=200)
    s0 = gen.surface(0.0)
    np.testing.assert_allclose(s0.atm, 0.3, rtol=1e-15)
    np.testing.assert_array_equal(s0.skew, np.full(200, -0.1))
    np.testing.assert_array_equal(s0.term, np.full(200, 0.02))
    np.testing.assert_array_equal(s0.event_var, np.zeros(200))
    assert s0.event_time == math.inf
    dt = 1 / YEAR
    for k in range(20):
        gen.advance(k * dt, (k + 1) * dt)
        s = gen.surface((k + 1) * dt)
        assert s.atm.tobytes() == s0.atm.tobytes()
        assert s.event_time == math.inf


@pytest.mark.parametrize("rho", [-0.7, 0.5])
def test_gbm_vol_of_vol_moves_atm_correlated_with_spot(rho: float) -> None:
    vov, k = 1.5, 3.0
    cfg = MarketConfig(
        surface=SurfaceConfig(atm=0.2, vol_of_vol=vov, mean_reversion=k, spot_vol_corr=rho)
    )
    gen = _gen(cfg)
    dt = 1 / YEAR
    gen.advance(0.0, dt)
    dlog_spot = np.log(gen.spot / 100.0)
    dlog_atm = np.log(gen.surface(dt).atm / 0.2)
    assert dlog_atm.std() > 0.0
    corr = np.corrcoef(dlog_spot, dlog_atm)[0, 1]
    assert abs(corr - rho) < 0.03
    # Exact OU step from the long-run level: sd = vov * sqrt((1 - e^{-2k dt}) / 2k).
    sd = vov * math.sqrt((1 - math.exp(-2 * k * dt)) / (2 * k))
    assert abs(dlog_atm.std(ddof=1) / sd - 1.0) < 4 * math.sqrt(1 / (2 * N))


def test_gbm_vol_of_vol_ou_reverts_to_long_run() -> None:
    cfg = MarketConfig(
        surface=SurfaceConfig(atm=0.2, vol_of_vol=0.8, mean_reversion=4.0, long_run_atm=0.4)
    )
    gen = _gen(cfg, n=5000)
    dt = 1 / 52
    _run(gen, 52, dt)
    log_atm = np.log(gen.surface(1.0).atm)
    mean_target = math.log(0.4) + (math.log(0.2) - math.log(0.4)) * math.exp(-4.0)
    var_target = 0.8**2 * (1 - math.exp(-8.0)) / 8.0
    assert abs(log_atm.mean() - mean_target) < 4 * math.sqrt(var_target / 5000)
    assert abs(log_atm.var(ddof=1) / var_target - 1.0) < 4 * math.sqrt(2 / 5000)


def test_gbm_snapshot_restore_reproduces_continuation() -> None:
    cfg = MarketConfig(surface=SurfaceConfig(vol_of_vol=1.0))
    gen = _gen(cfg, n=1500)
    dt = 1 / YEAR
    _run(gen, 3, dt)
    snap = gen.snapshot()
    _run(gen, 4, dt, first=3)
    spot, atm = gen.spot.copy(), gen.surface(7 * dt).atm
    for g in (gen, _gen(cfg, n=1500, seed=99)):
        g.restore(snap)
        _run(g, 4, dt, first=3)
        assert g.spot.tobytes() == spot.tobytes()
        assert g.surface(7 * dt).atm.tobytes() == atm.tobytes()


# ------------------------------------------------------------------------------ macro gap


def test_schedule_lists_the_announcement() -> None:
    gen = _gen(_gap_cfg(name="NFP", day=12.5, size_std=0.04), n=4)
    assert gen.schedule == [Scheduled("NFP", 12.5 / YEAR, 0.04)]
    assert gen.event_time == 12.5 / YEAR


@pytest.mark.parametrize(
    ("day", "steps_per_day", "release_step"),
    [(10.0, 1, 10), (10.5, 1, 11), (2.3, 4, 10), (3.0, 4, 12), (0.1, 1, 1)],
)
def test_release_happens_in_the_step_containing_the_event(day, steps_per_day, release_step):
    gen = _gen(_gap_cfg(day=day), n=8)
    dt = 1 / (YEAR * steps_per_day)
    releases = _run(gen, release_step + 5, dt)
    hits = [k + 1 for k, r in enumerate(releases) if r]
    assert hits == [release_step]
    t0, t1 = (release_step - 1) * dt, release_step * dt
    assert t0 < day / YEAR <= t1 + 1e-12
    (rel,) = releases[release_step - 1]
    assert rel.name == "CPI"
    assert rel.event_time == day / YEAR
    assert rel.expected_std == 0.03
    assert rel.gap.shape == (8,)


def _release_gaps(**gap) -> np.ndarray:
    gen = _gen(_gap_cfg(day=1.0, **gap))
    (rel,) = gen.advance(0.0, 1 / YEAR)
    return rel.gap


def test_normal_gap_has_configured_mean_and_std() -> None:
    gap = _release_gaps(distribution="normal", size_std=0.03, mean=-0.01)
    assert abs(gap.mean() + 0.01) < 4 * 0.03 / math.sqrt(N)
    assert abs(gap.std(ddof=1) / 0.03 - 1.0) < 4 * math.sqrt(1 / (2 * N))
    assert abs(stats.skew(gap)) < 4 * math.sqrt(6 / N)


def test_student_t_gap_is_scaled_to_size_std() -> None:
    df, size = 3.0, 0.03
    gap = _release_gaps(distribution="student_t", size_std=size, df=df)
    scale = size * math.sqrt((df - 2) / df)
    # Heavy tails: compare quantiles with the scaled t (the variance estimate is too noisy).
    for q in (0.1, 0.25, 0.75, 0.9):
        target = scale * stats.t.ppf(q, df)
        assert np.quantile(gap, q) == pytest.approx(target, rel=0.06)
    # Far fatter tails than a normal of the same std (P(|Z| > 4) ~ 6e-5).
    tail = np.mean(np.abs(gap) > 4 * size)
    expected_tail = 2 * stats.t.sf(4 * size / scale, df)
    assert tail > 50 * 2 * stats.norm.sf(4)
    assert tail == pytest.approx(expected_tail, rel=0.3)


def test_student_t_gap_with_moderate_df_has_std_size_std() -> None:
    gap = _release_gaps(distribution="student_t", size_std=0.02, df=12.0)
    assert gap.std(ddof=1) == pytest.approx(0.02, rel=0.03)


def test_two_sided_gap_direction_probability_and_size() -> None:
    p_up, size = 0.7, 0.05
    gap = _release_gaps(distribution="two_sided", size_std=size, p_up=p_up)
    up = np.mean(gap > 0)
    assert abs(up - p_up) < 4 * math.sqrt(p_up * (1 - p_up) / N)
    # |gap| is half-normal with scale size_std: E|gap| = size*sqrt(2/pi), E[gap^2] = size^2.
    assert np.mean(np.abs(gap)) == pytest.approx(size * math.sqrt(2 / math.pi), rel=0.03)
    assert math.sqrt(np.mean(gap**2)) == pytest.approx(size, rel=0.03)


@pytest.mark.parametrize("p_up", [0.0, 1.0])
def test_two_sided_gap_degenerate_direction(p_up: float) -> None:
    gap = _release_gaps(distribution="two_sided", p_up=p_up)
    assert np.all(gap >= 0) if p_up == 1.0 else np.all(gap <= 0)


def test_gap_moves_spot_exactly() -> None:
    # Zero realised vol and zero rate: the only spot move is the gap.
    gen = _gen(_gap_cfg(day=3.0, realized_vol_ratio=0.0, distribution="normal"), n=64)
    dt = 1 / YEAR
    _run(gen, 2, dt)
    np.testing.assert_array_equal(gen.spot, np.full(64, 100.0))
    (rel,) = gen.advance(2 * dt, 3 * dt)
    np.testing.assert_allclose(gen.spot, 100.0 * np.exp(rel.gap), rtol=1e-15)
    assert np.all(rel.gap != 0.0)


def test_event_var_and_time_through_release() -> None:
    gen = _gen(_gap_cfg(day=5.0, premium=1.7, size_std=0.04), n=32)
    te, dt = 5.0 / YEAR, 1 / YEAR
    released_at = None
    for k in range(9):
        s = gen.surface(k * dt)
        if released_at is None:
            assert s.event_time == te
            np.testing.assert_array_equal(s.event_var, np.full(32, 1.7 * 0.04**2))
        else:
            assert s.event_time == math.inf
            np.testing.assert_array_equal(s.event_var, np.zeros(32))
        if gen.advance(k * dt, (k + 1) * dt):
            released_at = k + 1
    assert released_at == 5


def test_atm_bid_ramp_and_crush() -> None:
    atm0, bid, bid_days, crush, k = 0.2, 0.3, 2.0, 0.4, 2.0
    day, spd = 6.0, 4
    gen = _gen(
        _gap_cfg(day=day, bid=bid, bid_days=bid_days, crush=crush, vol=atm0, vol_of_vol=0.0),
        n=16,
    )
    dt = 1 / (YEAR * spd)
    te, start = day / YEAR, (day - bid_days) / YEAR
    n_release = int(day * spd)
    for step in range(n_release + 8):
        t = step * dt
        atm = gen.surface(t).atm
        if step < n_release:
            frac = min(1.0, max(0.0, (t - start) / (bid_days / YEAR)))
            expected = atm0 * (1 + bid * frac)
        else:
            expected = atm0 * (1 - crush * math.exp(-k * (t - te)))
        np.testing.assert_allclose(atm, expected, rtol=1e-12, err_msg=f"step {step}")
        gen.advance(t, t + dt)
    # Peak bid just before release, crush right at release (t1 == event time).
    g2 = _gen(_gap_cfg(day=day, bid=bid, bid_days=bid_days, crush=crush, vol=atm0), n=4)
    _run(g2, n_release - 1, dt)
    np.testing.assert_allclose(g2.surface(te).atm, atm0 * (1 + bid), rtol=1e-12)
    ((_rel,),) = _run(g2, 1, dt, first=n_release - 1)
    np.testing.assert_allclose(g2.surface(te).atm, atm0 * (1 - crush), rtol=1e-12)


def test_no_bid_before_window() -> None:
    gen = _gen(_gap_cfg(day=10.0, bid=0.5, bid_days=2.0, vol=0.2), n=4)
    for day in (0.0, 3.0, 7.9):
        np.testing.assert_allclose(gen.surface(day / YEAR).atm, 0.2, rtol=1e-15)
    np.testing.assert_allclose(gen.surface(9.0 / YEAR).atm, 0.2 * 1.25, rtol=1e-12)


@pytest.mark.parametrize("at_step", [2, 7])
@pytest.mark.parametrize("distribution", ["normal", "student_t", "two_sided"])
def test_macro_gap_snapshot_restore_continuation_bit_for_bit(at_step, distribution) -> None:
    cfg = _gap_cfg(day=4.0, distribution=distribution, vol_of_vol=0.8)
    dt = 1 / YEAR
    gen = _gen(cfg, n=1100)
    _run(gen, at_step, dt)
    snap = gen.snapshot()
    tail = _run(gen, 10 - at_step, dt, first=at_step)
    spot, surf = gen.spot.copy(), gen.surface(10 * dt)
    for g in (gen, _gen(cfg, n=1100, seed=42)):
        g.restore(snap)
        again = _run(g, 10 - at_step, dt, first=at_step)
        assert [len(r) for r in again] == [len(r) for r in tail]
        for a, b in zip(again, tail, strict=True):
            for ra, rb in zip(a, b, strict=True):
                assert ra.gap.tobytes() == rb.gap.tobytes()
        assert g.spot.tobytes() == spot.tobytes()
        s = g.surface(10 * dt)
        assert s.atm.tobytes() == surf.atm.tobytes()
        assert s.event_var.tobytes() == surf.event_var.tobytes()
        assert s.event_time == surf.event_time
