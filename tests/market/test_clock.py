"""market.clock: the event-driven timeline, and the generators on non-uniform grids."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np
import pytest
from pydantic import ValidationError

from market._rng import BlockRNG
from market.clock import (
    ARRIVAL,
    BASE,
    CLOCK_TOL,
    ClockPoint,
    RefineWindow,
    base_grid,
    build_timeline,
    minutes_to_years,
    uniform_timeline,
)
from market.config import GapConfig, InstrumentSpec, MarketConfig, ReplayConfig
from market.events import Announcement, MarketEvent
from market.generators import make_generator
from market.simulator import MarketSimulator
from market.surface import SurfaceConfig

YEAR = 365.0
MINUTE = minutes_to_years(1.0, YEAR)
CPI = ClockPoint("CPI", (10 + 8.5 / 24) / YEAR, RefineWindow(before_minutes=30, after_minutes=120))


def _run(sim: MarketSimulator) -> list[tuple]:
    out = [sim.start()]
    while not sim.done:
        out.append(sim.step())
    return out


def test_base_grid_is_the_lock_step_grid_to_the_bit() -> None:
    tl = build_timeline(20.0, 4, YEAR)
    dt_ = 1.0 / (YEAR * 4)
    assert tl.n_steps == 80
    assert [float(t) for t in tl.times] == [k * dt_ for k in range(81)]
    assert tl.on_grid.all()
    np.testing.assert_array_equal(tl.times, uniform_timeline(80, dt_, YEAR).times)


def test_an_announcement_between_grid_points_is_a_step_at_its_exact_time() -> None:
    point = ClockPoint("CPI", (10 + 8.5 / 24) / YEAR)
    tl = build_timeline(20.0, 1, YEAR, [point])
    assert tl.n_steps == 21  # 20 daily steps and the release
    k = tl.events["CPI"]
    assert tl.times[k] == point.time
    assert tl.times[k - 1] == 10 / YEAR and tl.times[k + 1] == 11 / YEAR
    # the simulator releases it at that step, the quote carries that time
    cfg = MarketConfig(kind="macro_gap", gap=GapConfig(day=10.0, at="08:30"))
    assert cfg.clock_points(YEAR)[0].time == point.time
    sim = MarketSimulator(cfg, tl.n_steps, 1 / YEAR, YEAR, 1, 0, 8, tl)
    steps = _run(sim)
    released = [
        i for i, ev in enumerate(steps) if isinstance(ev[0], Announcement) and ev[0].released
    ]
    assert released == [k]
    assert steps[k][-1].time == point.time and steps[k][0].event_time == point.time


def test_an_event_on_a_grid_point_merges_into_it() -> None:
    tl = build_timeline(20.0, 4, YEAR, [ClockPoint("CPI", 10.0 / YEAR)])
    assert tl.n_steps == 80 and tl.events["CPI"] == 40
    assert tl.times[40] == 40 * (1.0 / (YEAR * 4))


def test_refinement_window_gives_the_configured_spacing() -> None:
    tl = build_timeline(20.0, 1, YEAR, [CPI])
    inside = tl.times[(tl.times >= CPI.time - 30 * MINUTE - CLOCK_TOL)]
    inside = inside[inside <= CPI.time + 120 * MINUTE + CLOCK_TOL]
    assert inside.size == 151  # 08:00 .. 10:30 every minute
    np.testing.assert_allclose(np.diff(inside), MINUTE, rtol=1e-9)
    assert abs(inside[0] - (10 + 8 / 24) / YEAR) < CLOCK_TOL
    assert abs(inside[-1] - (10 + 10.5 / 24) / YEAR) < CLOCK_TOL
    # daily elsewhere: 21 base points, of which day 10 00:00 and day 11 are outside
    assert tl.n_steps + 1 == 21 + 151
    assert tl.on_grid.all()
    # a 5-minute window elsewhere
    five = build_timeline(
        2.0,
        1,
        YEAR,
        [
            ClockPoint(
                "X", 1.5 / YEAR, RefineWindow(before_minutes=60, after_minutes=60, step_minutes=5)
            )
        ],
    )
    d = np.diff(five.times)
    assert np.sum(np.abs(d - 5 * MINUTE) < 1e-12) == 24


def test_wake_ups_and_arrivals_are_steps_off_the_decision_grid() -> None:
    tl = build_timeline(2.0, 1, YEAR, wake_minutes=[360.0], latencies=[(5.0, None)])
    five_s = minutes_to_years(5 / 60, YEAR)
    assert set(np.round(tl.times * YEAR * 1440, 6)) >= {0, 360, 720, 1080, 1440, 2880}
    for t in (0.0, 1 / YEAR):
        k = tl.step_at_or_after(t + five_s)
        assert k is not None and abs(tl.times[k] - t - five_s) < CLOCK_TOL
        assert tl.kinds[k] == ARRIVAL and not tl.on_grid[k]
    assert tl.kinds[0] == BASE
    due = tl.due_every(360.0)
    assert due.sum() == 9 and not due[tl.step_at_or_after(five_s)]
    # arrivals past the horizon are dropped
    assert tl.times[-1] == 2 / YEAR


@pytest.mark.parametrize(
    "kw",
    [
        {"refine": {"step_minutes": 0.0}},
        {"refine": {"step_minutes": -1.0}},
        {"refine": {"before_minutes": float("nan")}},
        {"at": "8:30"},
        {"at": "08:30", "day": 10.5},
    ],
)
def test_bad_clock_settings_are_refused(kw) -> None:
    with pytest.raises(ValidationError):
        GapConfig(**kw)


def test_event_outside_the_horizon_is_refused() -> None:
    with pytest.raises(ValueError, match="outside the horizon"):
        build_timeline(5.0, 1, YEAR, [ClockPoint("CPI", 6.0 / YEAR)])


# ------------------------------------------------------------------ generators, real dt
def _mixed_timeline() -> np.ndarray:
    tl = build_timeline(
        10.0,
        1,
        YEAR,
        [ClockPoint("X", (3 + 9.5 / 24) / YEAR, RefineWindow(step_minutes=7.0))],
        wake_minutes=[1000.0],
    )
    assert tl.dt.max() > 50 * tl.dt.min()  # genuinely mixed
    return np.asarray(tl.times)


def test_gbm_log_return_variance_is_sigma2_sum_dt_on_a_mixed_grid() -> None:
    times = _mixed_timeline()
    n, sigma = 40_000, 0.3
    cfg = MarketConfig(kind="gbm", spot=100.0, surface=SurfaceConfig(atm=sigma))
    gen = make_generator(cfg, BlockRNG(11, 0, 0, n), YEAR)
    s0 = gen.spot.copy()
    for t0, t1 in itertools.pairwise(times):
        gen.advance(float(t0), float(t1))
    r = np.log(gen.spot / s0)
    horizon = times[-1] - times[0]
    var = sigma**2 * horizon
    assert abs(r.var() - var) < 4 * var * math.sqrt(2 / n)
    assert abs(r.mean() + 0.5 * var) < 4 * math.sqrt(var / n)


@pytest.mark.parametrize("kind", ["heston", "merton", "regime"])
def test_other_worlds_variance_scales_with_the_real_dt(kind: str) -> None:
    # A coarse and a mixed grid over the same horizon: the same law of the
    # terminal log return (within Monte Carlo error) -- no per-step constants.
    times = _mixed_timeline()
    coarse = base_grid(10.0, 1, YEAR)
    n = 20_000
    cfg = MarketConfig(kind=kind, spot=100.0)
    out = []
    for grid in (coarse, times):
        gen = make_generator(cfg, BlockRNG(5, 0, 0, n), YEAR)
        s0 = gen.spot.copy()
        for t0, t1 in itertools.pairwise(grid):
            gen.advance(float(t0), float(t1))
        out.append(np.log(gen.spot / s0).var())
    assert abs(out[0] - out[1]) < 5 * out[0] * math.sqrt(4 / n), out


def test_surface_mean_reversion_uses_the_real_dt() -> None:
    # Tiny vol of vol: the log ATM level is deterministic to 1e-7 and decays as
    # exp(-k * sum(dt)) whatever the steps.
    times = _mixed_timeline()
    k, x0, xbar = 4.0, math.log(0.4), math.log(0.2)
    cfg = MarketConfig(
        kind="gbm",
        surface=SurfaceConfig(atm=0.4, long_run_atm=0.2, mean_reversion=k, vol_of_vol=1e-9),
    )
    gen = make_generator(cfg, BlockRNG(3, 0, 0, 16), YEAR)
    for t0, t1 in itertools.pairwise(times):
        gen.advance(float(t0), float(t1))
    expect = xbar + (x0 - xbar) * math.exp(-k * times[-1])
    np.testing.assert_allclose(np.log(gen.surface(times[-1]).atm), expect, atol=1e-7)


def test_macro_gap_crush_recovers_with_real_time() -> None:
    cfg = MarketConfig(kind="macro_gap", gap=GapConfig(day=2.0, at="08:30", crush=0.5, bid=0.0))
    tl = build_timeline(4.0, 1, YEAR, cfg.clock_points(YEAR))
    sim = MarketSimulator(cfg, tl.n_steps, 1 / YEAR, YEAR, 1, 0, 4, tl)
    steps = _run(sim)
    k = cfg.surface.mean_reversion
    te = tl.times[tl.events["CPI"]]
    for ev in steps[tl.events["CPI"] :]:
        m = ev[-1]
        np.testing.assert_allclose(
            m.surface.atm, 0.2 * (1 - 0.5 * math.exp(-k * (m.time - te))), rtol=1e-12
        )


def test_post_release_intraday_vol_and_drift() -> None:
    # Elevated vol decaying with its half-life, and a follow-through drift of
    # a fraction of the gap: exact on any grid.
    base = {
        "day": 1.0,
        "at": "08:30",
        "distribution": "normal",
        "size_std": 0.02,
        "bid": 0.0,
        "crush": 0.0,
    }
    gap = GapConfig(
        **base,
        refine=RefineWindow(before_minutes=0, after_minutes=240, step_minutes=1),
        post_vol=4.0,
        post_vol_half_life_minutes=20.0,
        post_drift=0.5,
        post_drift_minutes=30.0,
    )
    n = 20_000
    results = {}
    for name, g in {"plain": GapConfig(**base, refine=gap.refine), "fast": gap}.items():
        cfg = MarketConfig(kind="macro_gap", surface=SurfaceConfig(atm=0.2), gap=g)
        tl = build_timeline(2.0, 1, YEAR, cfg.clock_points(YEAR))
        sim = MarketSimulator(cfg, tl.n_steps, 1 / YEAR, YEAR, 9, 0, n, tl)
        steps = _run(sim)
        k = tl.events["CPI"]
        gap_draw = steps[k][0].gap
        s_rel = steps[k][-1].spot
        s_end = steps[tl.step_at_or_after(tl.times[k] + 240 * MINUTE)][-1].spot
        results[name] = (gap_draw, np.log(s_end / s_rel))
    g_draw, after = results["fast"]
    _, plain_after = results["plain"]
    # follow-through: regression of the post-release move on the gap ~ 0.5 * (1 - e^-8)
    beta = np.cov(after, g_draw)[0, 1] / g_draw.var()
    assert abs(beta - 0.5 * (1 - math.exp(-8))) < 0.05, beta
    # integrated variance over 4 h: sigma² (T + 2a/l (1-e^-lT) + a²/(2l) (1-e^-2lT)), a = 3
    lam = math.log(2) / (20 * MINUTE)
    t4 = 240 * MINUTE
    a = 3.0
    iv = 0.04 * (
        t4
        + 2 * a / lam * (1 - math.exp(-lam * t4))
        + a * a / (2 * lam) * (1 - math.exp(-2 * lam * t4))
    )
    resid = after - beta * g_draw
    assert abs(resid.var() / iv - 1) < 0.05
    assert abs(plain_after.var() / (0.04 * t4) - 1) < 0.05


# ------------------------------------------------------------------------ calendars
def test_clock_start_stamps_every_step() -> None:
    cfg = MarketConfig(
        kind="macro_gap", gap=GapConfig(day=1.0, at="08:30"), clock={"start": "2024-06-12T00:00"}
    )
    tl = build_timeline(2.0, 1, YEAR, cfg.clock_points(YEAR))
    steps = _run(MarketSimulator(cfg, tl.n_steps, 1 / YEAR, YEAR, 1, 0, 4, tl))
    assert [ev[-1].stamp for ev in steps] == [
        "2024-06-12T00:00:00.000",
        "2024-06-13T00:00:00.000",
        "2024-06-13T08:30:00.000",
        "2024-06-14T00:00:00.000",
    ]
    assert dt.datetime.fromisoformat(steps[2][-1].stamp).hour == 8


def test_dates_survive_replays() -> None:
    dates = ("2020-03-09", "2020-03-10", "2020-03-11", "2020-03-12")
    table = {"date": dates, "spot": (100.0, 95.0, 97.0, 90.0), "atm_vol": (0.3, 0.4, 0.35, 0.5)}
    cfg = MarketConfig(
        kind="replay",
        replay=ReplayConfig(table=table),
        instruments=(InstrumentSpec(name="underlying", kind="underlying"),),
    )
    tl = build_timeline(3.0, 2, YEAR)
    steps = _run(MarketSimulator(cfg, tl.n_steps, 1 / (2 * YEAR), YEAR, 1, 0, 2, tl))
    stamps = [ev[-1].stamp for ev in steps]
    assert stamps[::2] == [f"{d}T00:00:00.000" for d in dates]
    assert stamps[1] == "2020-03-09T12:00:00.000"
    assert all(isinstance(ev[-1], MarketEvent) for ev in steps)
    assert [float(ev[-1].spot[0]) for ev in steps[::2]] == [100.0, 95.0, 97.0, 90.0]


def test_an_event_logged_before_stamps_existed_still_decodes() -> None:
    import dataclasses

    import msgpack

    from market import events as ev

    cfg = MarketConfig(kind="gbm", clock={"start": "2024-06-12T00:00"})
    m = MarketSimulator(cfg, 1, 1 / YEAR, YEAR, 1, 0, 2).start()[-1]
    assert m.stamp == "2024-06-12T00:00:00.000"
    fields = {f.name: getattr(m, f.name) for f in dataclasses.fields(m) if f.name != "stamp"}
    payload = msgpack.packb(["MarketEvent", fields], default=ev._default, use_bin_type=True)
    old = msgpack.packb(msgpack.ExtType(ev.DATACLASS_EXT, payload), use_bin_type=True)
    back = ev.decode(old)
    assert back.stamp == "" and ev.events_equal(dataclasses.replace(m, stamp=""), back)
    assert ev.events_equal(ev.decode(ev.encode(m)), m)
