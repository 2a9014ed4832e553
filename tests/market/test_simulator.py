"""market.simulator.MarketSimulator: clock, listings, quotes, sharding, snapshots."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from market.config import GapConfig, InstrumentSpec, MarketConfig
from market.events import Announcement, MarketEvent, events_equal
from market.pricing import bsm_price
from market.simulator import MarketSimulator
from market.surface import SurfaceConfig, implied_vol

YEAR = 365.0
DT = 1 / YEAR
UNDERLYING = InstrumentSpec(name="underlying", kind="underlying")
GAMMA = InstrumentSpec(name="gamma_opt", tenor_days=14.0, relist_days=7.0)
VEGA = InstrumentSpec(
    name="vega_opt", is_call=False, tenor_days=60.0, moneyness=0.95, relist_days=10.0
)


def _config(kind: str = "gbm", instruments=(UNDERLYING, GAMMA, VEGA), **kw) -> MarketConfig:
    kw.setdefault("surface", SurfaceConfig(atm=0.25, skew=-0.2, term=0.05, vol_of_vol=0.5))
    return MarketConfig(
        kind=kind, rate=0.03, div=0.01, instruments=instruments, gap=GapConfig(day=5.0), **kw
    )


def _sim(config=None, n_steps=30, start=0, stop=64, seed=7, dt=DT) -> MarketSimulator:
    return MarketSimulator(config or _config(), n_steps, dt, YEAR, seed, start, stop)


def _market(events) -> MarketEvent:
    assert isinstance(events[-1], MarketEvent)
    return events[-1]


def _run(sim: MarketSimulator) -> list[tuple]:
    out = [sim.start()]
    while not sim.done:
        out.append(sim.step())
    return out


# --------------------------------------------------------------------------------- clock


def test_start_gbm_is_one_market_event_at_step_zero() -> None:
    sim = _sim()
    events = sim.start()
    assert len(events) == 1
    ev = _market(events)
    assert ev.step == 0 and ev.time == 0.0 and ev.sender == "market"
    assert ev.n_paths == 64
    assert ev.rate == 0.03 and ev.div == 0.01
    np.testing.assert_array_equal(ev.spot, np.full(64, 100.0))
    assert [q.instrument for q in ev.quotes] == ["underlying", "gamma_opt", "vega_opt"]


def test_start_macro_gap_announces_then_quotes() -> None:
    sim = _sim(_config("macro_gap"))
    events = sim.start()
    assert len(events) == 2
    ann, ev = events
    assert isinstance(ann, Announcement)
    assert ann.step == 0 and ann.time == 0.0 and ann.sender == "market"
    assert ann.name == "CPI" and not ann.released
    assert ann.event_time == 5.0 / YEAR and ann.expected_std == 0.03
    assert ann.gap.shape == (0,)
    assert ev.step == 0 and ev.time == 0.0
    assert ev.surface.event_time == 5.0 / YEAR


def test_step_advances_clock_and_ends() -> None:
    dt = 0.25 / YEAR
    sim = _sim(n_steps=6, dt=dt)
    sim.start()
    for k in range(1, 7):
        assert not sim.done
        ev = _market(sim.step())
        assert ev.step == k
        assert ev.time == k * dt
        assert sim.time_of(k) == ev.time
    assert sim.done
    with pytest.raises(RuntimeError):
        sim.step()


def test_release_announcement_comes_in_its_step_before_the_quote() -> None:
    sim = _sim(_config("macro_gap"), n_steps=8)
    runs = _run(sim)
    released = [(k, ev) for k, evs in enumerate(runs) for ev in evs if isinstance(ev, Announcement)]
    assert [k for k, _ in released] == [0, 5]
    _, ann = released[1]
    assert ann.released and ann.step == 5 and ann.time == 5 * DT
    assert ann.gap.shape == (64,) and np.all(np.isfinite(ann.gap))
    assert runs[5][0] is ann and isinstance(runs[5][1], MarketEvent)
    assert runs[4][-1].surface.event_time == 5.0 / YEAR
    assert runs[5][-1].surface.event_time == math.inf
    np.testing.assert_array_equal(runs[5][-1].surface.event_var, np.zeros(64))


# --------------------------------------------------------------------------------- quotes


def test_underlying_quote() -> None:
    sim = _sim(n_steps=3)
    for events in _run(sim):
        ev = _market(events)
        u = ev.quote("underlying")
        assert u.kind == "underlying" and u.contract == "underlying"
        assert u.expiry == math.inf
        np.testing.assert_array_equal(u.mid, ev.spot)
        np.testing.assert_array_equal(u.delta, np.ones(64))
        for a in (u.strike, u.iv, u.gamma, u.vega, u.theta):
            np.testing.assert_array_equal(a, np.zeros(64))


def test_listed_options_contract_strike_expiry_and_price() -> None:
    sim = _sim(n_steps=25)
    listing_spot: dict[str, dict[int, np.ndarray]] = {"gamma_opt": {}, "vega_opt": {}}
    for events in _run(sim):
        ev = _market(events)
        t = ev.time
        for spec, every in ((GAMMA, 7), (VEGA, 10)):
            q = ev.quote(spec.name)
            list_step = (ev.step // every) * every
            assert q.contract == f"{spec.name}@{list_step}"
            assert q.kind == "option" and q.is_call == spec.is_call
            if ev.step == list_step:
                listing_spot[spec.name][list_step] = ev.spot.copy()
            np.testing.assert_array_equal(
                q.strike, spec.moneyness * listing_spot[spec.name][list_step]
            )
            assert q.expiry == list_step * DT + spec.tenor_days / YEAR
            assert q.expiry > t
            iv = implied_vol(ev.surface, ev.spot, q.strike, t, q.expiry)
            np.testing.assert_array_equal(q.iv, iv)
            price = bsm_price(ev.spot, q.strike, q.expiry - t, iv, 0.03, 0.01, spec.is_call)
            np.testing.assert_allclose(q.mid, price, rtol=1e-12, atol=1e-12)
            assert np.all(q.vega > 0) and np.all(q.gamma > 0)
            sign = 1.0 if spec.is_call else -1.0
            assert np.all(sign * q.delta > 0)
    assert sorted(listing_spot["gamma_opt"]) == [0, 7, 14, 21]
    assert sorted(listing_spot["vega_opt"]) == [0, 10, 20]


def test_relisting_with_several_steps_per_day() -> None:
    spec = InstrumentSpec(name="opt", tenor_days=2.0, relist_days=1.0)
    sim = _sim(_config(instruments=(UNDERLYING, spec)), n_steps=10, dt=DT / 4)
    contracts = [_market(e).quote("opt").contract for e in _run(sim)]
    assert contracts == ["opt@0"] * 4 + ["opt@4"] * 4 + ["opt@8"] * 3
    ev = _market(_run(_sim(_config(instruments=(UNDERLYING, spec)), n_steps=5, dt=DT / 4))[-1])
    assert ev.quote("opt").expiry == 4 * DT / 4 + 2.0 / YEAR


def test_options_quote_event_premium_before_release() -> None:
    spec = InstrumentSpec(name="opt", tenor_days=14.0, relist_days=7.0)
    cfg = _config("macro_gap", instruments=(UNDERLYING, spec), surface=SurfaceConfig(atm=0.2))
    ev = _market(_sim(cfg).start())
    tau = 14.0 / YEAR
    expected = math.sqrt(0.2**2 + 0.03**2 / tau)
    np.testing.assert_allclose(ev.quote("opt").iv, expected, rtol=1e-12)


def test_recenter_restrikes_far_paths_only() -> None:
    spec = InstrumentSpec(
        name="opt", tenor_days=30.0, relist_days=20.0, moneyness=1.05, recenter=0.03
    )
    cfg = _config(instruments=(UNDERLYING, spec), surface=SurfaceConfig(atm=0.8))
    sim = _sim(cfg, n_steps=15, stop=200)
    prev = None
    n_far = n_near = 0
    for events in _run(sim):
        ev = _market(events)
        q = ev.quote("opt")
        assert q.contract == "opt@0"
        assert q.expiry == 30.0 / YEAR
        if prev is None:
            np.testing.assert_array_equal(q.strike, 1.05 * ev.spot)
        else:
            far = np.abs(np.log(ev.spot / (prev / 1.05))) > 0.03
            np.testing.assert_array_equal(q.strike[far], 1.05 * ev.spot[far])
            np.testing.assert_array_equal(q.strike[~far], prev[~far])
            n_far += int(far.sum())
            n_near += int((~far).sum())
        prev = q.strike.copy()
    assert n_far > 100 and n_near > 100


def test_without_recenter_strikes_stay() -> None:
    spec = InstrumentSpec(name="opt", tenor_days=30.0, relist_days=20.0)
    cfg = _config(instruments=(UNDERLYING, spec), surface=SurfaceConfig(atm=0.8))
    strikes = [_market(e).quote("opt").strike for e in _run(_sim(cfg, n_steps=10))]
    for s in strikes[1:]:
        np.testing.assert_array_equal(s, strikes[0])


def test_event_arrays_are_read_only() -> None:
    sim = _sim(_config("macro_gap"), n_steps=6)
    for events in _run(sim):
        ev = _market(events)
        arrays = [ev.spot, ev.surface.atm, ev.surface.skew, ev.surface.term]
        arrays.append(ev.surface.event_var)
        for q in ev.quotes:
            arrays += [q.strike, q.mid, q.iv, q.delta, q.gamma, q.vega, q.theta]
        for a in arrays:
            with pytest.raises(ValueError, match="read-only"):
                a[0] = 1.0


def test_events_of_past_steps_are_unchanged_by_later_steps() -> None:
    sim = _sim(n_steps=5)
    first = _market(sim.start())
    spot0, mid0 = first.spot.copy(), first.quote("gamma_opt").mid.copy()
    while not sim.done:
        sim.step()
    np.testing.assert_array_equal(first.spot, spot0)
    np.testing.assert_array_equal(first.quote("gamma_opt").mid, mid0)


# ------------------------------------------------------------------------------- sharding


def test_sharding_invariance() -> None:
    cfg = _config("macro_gap")
    whole = _run(_sim(cfg, n_steps=7, stop=3000))
    shards = [_run(_sim(cfg, n_steps=7, start=a, stop=b)) for a, b in ((0, 1024), (1024, 3000))]
    tail = shards[1]
    for k, (w, *parts) in enumerate(zip(whole, *shards, strict=True)):
        mw = _market(w)
        np.testing.assert_array_equal(mw.spot[1024:], _market(tail[k]).spot)
        np.testing.assert_array_equal(mw.spot, np.concatenate([_market(p).spot for p in parts]))
        for name in ("gamma_opt", "vega_opt"):
            np.testing.assert_array_equal(
                mw.quote(name).mid, np.concatenate([_market(p).quote(name).mid for p in parts])
            )
        np.testing.assert_array_equal(
            mw.surface.atm, np.concatenate([_market(p).surface.atm for p in parts])
        )
    gaps = [evs[0].gap for evs in (whole[5], *(s[5] for s in shards))]
    np.testing.assert_array_equal(gaps[0], np.concatenate(gaps[1:]))


# ------------------------------------------------------------------------------- snapshot


@pytest.mark.parametrize("kind", ["gbm", "macro_gap"])
@pytest.mark.parametrize("at", [3, 8])
def test_snapshot_restore_reproduces_the_rest(kind: str, at: int) -> None:
    spec = InstrumentSpec(name="opt", tenor_days=10.0, relist_days=4.0, recenter=0.02)
    cfg = _config(kind, instruments=(UNDERLYING, GAMMA, spec))
    sim = _sim(cfg, n_steps=14, stop=1100)
    sim.start()
    for _ in range(at):
        sim.step()
    snap = sim.snapshot()
    rest = []
    while not sim.done:
        rest.append(sim.step())
    for target in (sim, _sim(cfg, n_steps=14, stop=1100, seed=12345)):
        target.restore(snap)
        assert target.step_index == at
        again = []
        while not target.done:
            again.append(target.step())
        assert len(again) == len(rest)
        for a, b in zip(again, rest, strict=True):
            assert len(a) == len(b)
            for x, y in zip(a, b, strict=True):
                assert events_equal(x, y)


# -------------------------------------------------------------------------------- configs


def test_relist_must_be_shorter_than_tenor() -> None:
    with pytest.raises(ValidationError, match="relist_days"):
        InstrumentSpec(name="opt", tenor_days=7.0, relist_days=7.0)
    with pytest.raises(ValidationError):
        InstrumentSpec(name="opt", tenor_days=7.0, relist_days=10.0)


def test_duplicate_instrument_names_refused() -> None:
    with pytest.raises(ValidationError, match="unique"):
        MarketConfig(instruments=(UNDERLYING, GAMMA, GAMMA))


def test_underlying_must_be_listed() -> None:
    with pytest.raises(ValidationError, match="underlying"):
        MarketConfig(instruments=(GAMMA,))


def test_underlying_name_and_kind_go_together() -> None:
    with pytest.raises(ValidationError):
        InstrumentSpec(name="underlying", kind="option")
    with pytest.raises(ValidationError):
        InstrumentSpec(name="spot", kind="underlying")


@pytest.mark.parametrize(
    "kw",
    [
        {"spot": 0.0},
        {"kind": "heston_typo"},
        {"unknown": 1},
        {"realized_vol_ratio": -1.0},
    ],
)
def test_market_config_validation(kw) -> None:
    with pytest.raises(ValidationError):
        MarketConfig(**kw)
