"""market.stress: real stress windows built from shipped data, the implied vol labelled."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from market.config import ReplayConfig
from market.replay import load_table
from market.stress import (
    STRESS_EVENTS,
    StressDataError,
    build_stress,
    describe,
    stress_replay,
    vix_closes,
    write_stress_table,
)

HAVE_SKFOLIO = importlib.util.find_spec("skfolio") is not None
NAMES = [
    pytest.param(
        n,
        marks=pytest.mark.skipif(
            STRESS_EVENTS[n].spot_source == "skfolio" and not HAVE_SKFOLIO,
            reason="needs skfolio (S&P 500 closes after 2018)",
        ),
    )
    for n in STRESS_EVENTS
]


def test_the_required_events_are_there() -> None:
    assert {
        "lehman_2008",
        "downgrade_2011",
        "flash_2015",
        "volmageddon_2018",
        "covid_2020",
    } <= set(STRESS_EVENTS)
    with pytest.raises(TypeError):
        STRESS_EVENTS["x"] = STRESS_EVENTS["lehman_2008"]  # type: ignore[index]


@pytest.mark.parametrize("name", NAMES)
def test_each_event_builds_a_clean_table_inside_its_window(name: str) -> None:
    data = build_stress(name)
    e = data.event
    assert data.dates[0] >= str(e.start) and data.dates[-1] <= str(e.end)
    assert str(e.focus) in data.dates
    assert list(data.dates) == sorted(set(data.dates))
    assert 15 <= data.days <= 60
    assert np.all(data.spot > 0) and np.all(np.isfinite(data.spot))
    assert np.all(data.atm_vol > 0.05) and np.all(data.atm_vol < 2.0)
    # the shock: the vol on the focus day is above where the window started
    focus = data.dates.index(str(e.focus))
    assert data.atm_vol[focus] > data.atm_vol[0]
    # the inline replay config reads back to the same rows
    cfg = stress_replay(name)
    assert isinstance(cfg, ReplayConfig) and cfg.rebase and cfg.iv_source == data.iv_source
    table = load_table(cfg)
    assert table.labels() == list(data.dates)
    assert np.array_equal(table.spot, data.spot) and np.array_equal(table.atm_vol, data.atm_vol)


@pytest.mark.parametrize("name", NAMES)
def test_the_implied_vol_source_is_labelled_honestly(name: str) -> None:
    data = build_stress(name)
    text = describe(data)
    if STRESS_EVENTS[name].iv == "garch":
        assert data.derived
        assert data.iv_source.startswith("derived: GARCH(1,1)") and "not a market quote" in (
            data.iv_source
        )
        assert "derived" in text
    else:
        assert not data.derived
        assert data.iv_source.startswith("VIX close") and "VIX" in text


def test_volmageddon_uses_the_recorded_vix_jump() -> None:
    data = build_stress("volmageddon_2018")
    i = data.dates.index("2018-02-05")
    assert data.dates[i - 1] == "2018-02-02"
    assert data.atm_vol[i - 1] == pytest.approx(0.1731, abs=1e-9)
    assert data.atm_vol[i] == pytest.approx(0.3732, abs=1e-9)
    assert data.spot[i] / data.spot[i - 1] - 1 == pytest.approx(-0.041, abs=0.001)
    vix = vix_closes()
    assert str(vix.index[0].date()) == "2014-01-03"  # VIX ships from 2014 only


def test_derived_vol_is_deterministic_and_reacts_to_the_shock() -> None:
    a = build_stress("lehman_2008")
    b = build_stress("lehman_2008")
    assert a.atm_vol.tobytes() == b.atm_vol.tobytes()
    assert np.array_equal(a.atm_vol, np.round(a.atm_vol, 6))
    assert a.atm_vol.max() > 2.5 * a.atm_vol[0]
    i = a.dates.index("2008-09-15")
    assert a.spot[i] / a.spot[i - 1] - 1 == pytest.approx(-0.047, abs=0.001)


def test_unknown_event() -> None:
    with pytest.raises(StressDataError, match="unknown stress event 'nope'"):
        build_stress("nope")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_write_stress_table_round_trips_through_the_importers(tmp_path: Path, suffix: str) -> None:
    path = write_stress_table("flash_2015", tmp_path / f"flash{suffix}")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    data = build_stress("flash_2015")
    table = load_table(ReplayConfig(path=str(path)))
    assert table.labels() == list(data.dates)
    assert np.array_equal(table.spot, data.spot) and np.array_equal(table.atm_vol, data.atm_vol)
