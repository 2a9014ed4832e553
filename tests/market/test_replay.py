"""market.replay: the data importers and the generator that replays a table of market data."""

from __future__ import annotations

import datetime as dt
import gzip
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from market._rng import BlockRNG
from market.config import InstrumentSpec, MarketConfig, ReplayConfig
from market.generators import GENERATORS, make_generator
from market.replay import (
    MAX_VOL,
    ReplayDataError,
    ReplayGenerator,
    check_horizon,
    inline_config,
    load_table,
)
from market.simulator import MarketSimulator
from market.surface import TAU_REF, SurfaceConfig
from orchestration import AgentSpec, HedgeConfig, Scenario, ScenarioError, validate_scenario

DATES = ["2020-03-02", "2020-03-03", "2020-03-04", "2020-03-05", "2020-03-06", "2020-03-09"]
SPOTS = [100.0, 97.0, 101.5, 96.0, 90.0, 92.5]
VOLS = [20.0, 25.0, 24.0, 31.0, 45.0, 40.0]  # percent, as VIX is quoted


def _csv(path: Path, rows: list[tuple], header: str = "date,close,vix") -> Path:
    lines = [header] + [",".join(str(c) for c in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _good_rows() -> list[tuple]:
    return list(zip(DATES, SPOTS, VOLS, strict=True))


def _cfg(path: Path | None = None, **kw) -> ReplayConfig:
    base = dict(time_column="date", spot_column="close", atm_vol_column="vix", vol_units="percent")
    base.update(kw)
    if path is not None:
        base["path"] = str(path)
    return ReplayConfig.model_construct(**base)  # unvalidated: load_table checks the data


# ------------------------------------------------------------------------------ importers
def test_csv_parquet_and_inline_tables_read_the_same(tmp_path: Path) -> None:
    csv_data = load_table(_cfg(_csv(tmp_path / "m.csv", _good_rows())))
    gz = tmp_path / "m.csv.gz"
    gz.write_bytes(gzip.compress((tmp_path / "m.csv").read_bytes()))
    gz_data = load_table(_cfg(gz))
    table = pa.table(
        {
            "date": pa.array([dt.date.fromisoformat(d) for d in DATES]),
            "close": pa.array(SPOTS),
            "vix": pa.array(VOLS),
        }
    )
    pq.write_table(table, tmp_path / "m.parquet")
    pq_data = load_table(_cfg(tmp_path / "m.parquet"))
    inline = load_table(_cfg(table={"date": tuple(DATES), "close": SPOTS, "vix": VOLS}))
    for d in (gz_data, pq_data, inline):
        assert np.array_equal(d.times, csv_data.times)
        assert np.array_equal(d.spot, csv_data.spot)
        assert np.array_equal(d.atm_vol, csv_data.atm_vol)
    assert csv_data.labels() == DATES
    assert np.allclose(csv_data.atm_vol, np.array(VOLS) / 100.0)
    assert csv_data.skew is None and csv_data.term is None


def test_parquet_timestamps_with_time_zones_and_optional_columns(tmp_path: Path) -> None:
    times = [dt.datetime(2021, 1, 4 + i, 21, 0, tzinfo=dt.UTC) for i in range(4)]
    table = pa.table(
        {
            "ts": pa.array(times, type=pa.timestamp("ms", tz="UTC")),
            "px": pa.array([10, 11, 12, 11], type=pa.int64()),
            "iv": pa.array([0.2, 0.21, 0.22, 0.2]),
            "sk": pa.array([-0.1, -0.2, -0.3, -0.1]),
            "tm": pa.array([0.01, 0.0, -0.01, 0.02]),
        }
    )
    pq.write_table(table, tmp_path / "x.pq")
    cfg = ReplayConfig(
        path=str(tmp_path / "x.pq"),
        time_column="ts",
        spot_column="px",
        atm_vol_column="iv",
        skew_column="sk",
        term_column="tm",
    )
    data = load_table(cfg)
    assert data.spot.tolist() == [10.0, 11.0, 12.0, 11.0]
    assert data.skew is not None and data.skew.tolist() == [-0.1, -0.2, -0.3, -0.1]
    assert data.labels()[0] == "2021-01-04T21:00:00"


def test_numeric_time_column_and_date_window(tmp_path: Path) -> None:
    rows = [(i, s, v) for i, (s, v) in enumerate(zip(SPOTS, VOLS, strict=True))]
    data = load_table(_cfg(_csv(tmp_path / "n.csv", rows)))
    assert data.times.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    win = load_table(
        _cfg(_csv(tmp_path / "m.csv", _good_rows()), start="2020-03-03", end="2020-03-06")
    )
    assert win.labels() == DATES[1:5] and win.rows.tolist() == [2, 3, 4, 5]
    with pytest.raises(ReplayDataError, match="needs a time column of dates"):
        load_table(_cfg(tmp_path / "n.csv", start="2020-03-03"))


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda r: r, None),
        (lambda r: [(d, s) for d, s, _ in r], "missing column 'vix'"),
        (lambda r: [r[0], r[2], r[1], *r[3:]], "not sorted: row 3 (2020-03-03) comes after row 2"),
        (lambda r: [r[0], r[1], r[1], *r[3:]], "duplicate timestamp 2020-03-03"),
        (
            lambda r: [r[0], (r[1][0], "nan", r[1][2]), *r[2:]],
            "'close' has a missing value (NaN) at row 2",
        ),
        (
            lambda r: [r[0], (r[1][0], "", r[1][2]), *r[2:]],
            "'close' has a missing value (NaN) at row 2",
        ),
        (
            lambda r: [*r[:3], (r[3][0], r[3][1], "NaN"), *r[4:]],
            "'vix' has a missing value (NaN) at row 4",
        ),
        (
            lambda r: [*r[:4], (r[4][0], -5.0, r[4][2]), r[5]],
            "'close' must be positive, got -5.0 at row 5",
        ),
        (lambda r: [*r[:4], (r[4][0], 0.0, r[4][2]), r[5]], "'close' must be positive, got 0.0"),
        (
            lambda r: [*r[:2], (r[2][0], r[2][1], 0), *r[3:]],
            "'vix' must be positive, got 0.0 at row 3",
        ),
        (lambda r: [*r[:2], (r[2][0], "abc", r[2][2]), *r[3:]], "'abc' is not a number"),
        (lambda r: [*r[:2], ("yesterday", *r[2][1:]), *r[3:]], "'yesterday' is neither a date"),
        (lambda r: [*r[:2], ("", *r[2][1:]), *r[3:]], "row 3: missing timestamp"),
        (lambda r: r[:1], "1 row(s); a replay needs at least 2"),
    ],
)
def test_each_bad_csv_gives_its_own_one_line_error(tmp_path: Path, mutate, needle) -> None:
    rows = mutate(_good_rows())
    header = "date,close" if needle and "missing column" in needle else "date,close,vix"
    path = _csv(tmp_path / "bad.csv", rows, header)
    if needle is None:
        assert load_table(_cfg(path)).n_rows == 6
        return
    with pytest.raises(ReplayDataError) as info:
        load_table(_cfg(path))
    msg = str(info.value)
    assert needle in msg and len(msg.splitlines()) == 1, msg
    assert isinstance(info.value, ValueError)


def test_bad_parquet_inputs(tmp_path: Path) -> None:
    good = {
        "date": pa.array([dt.date.fromisoformat(d) for d in DATES]),
        "close": SPOTS,
        "vix": VOLS,
    }
    pq.write_table(pa.table({k: v for k, v in good.items() if k != "vix"}), tmp_path / "a.parquet")
    with pytest.raises(ReplayDataError, match="missing column 'vix'"):
        load_table(_cfg(tmp_path / "a.parquet"))
    spots = pa.array([100.0, None, 101.0, 96.0, 90.0, 92.5])
    pq.write_table(pa.table({**good, "close": spots}), tmp_path / "b.parquet")
    with pytest.raises(ReplayDataError, match=r"'close' has a missing value \(NaN\) at row 2"):
        load_table(_cfg(tmp_path / "b.parquet"))
    dates = list(good["date"].to_pylist())
    dates[3], dates[4] = dates[4], dates[3]
    pq.write_table(pa.table({**good, "date": pa.array(dates)}), tmp_path / "c.parquet")
    with pytest.raises(ReplayDataError, match="not sorted"):
        load_table(_cfg(tmp_path / "c.parquet"))
    (tmp_path / "d.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ReplayDataError, match="cannot read as Parquet"):
        load_table(_cfg(tmp_path / "d.parquet"))


def test_bad_files_and_inline_tables(tmp_path: Path) -> None:
    with pytest.raises(ReplayDataError, match="does not exist"):
        load_table(_cfg(tmp_path / "nope.csv"))
    (tmp_path / "x.xlsx").write_text("x")
    with pytest.raises(ReplayDataError, match="unsupported type"):
        load_table(_cfg(tmp_path / "x.xlsx"))
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(ReplayDataError, match="empty file"):
        load_table(_cfg(tmp_path / "e.csv"))
    (tmp_path / "s.csv").write_text("date,close,vix\n2020-01-01,1\n")
    with pytest.raises(ReplayDataError, match="line 2 has 2 cells"):
        load_table(_cfg(tmp_path / "s.csv"))
    with pytest.raises(ReplayDataError, match="different lengths"):
        load_table(
            _cfg(table={"date": ("2020-01-01", "2020-01-02"), "close": (1.0,), "vix": (1.0, 2.0)})
        )
    with pytest.raises(ReplayDataError, match="infinite"):
        load_table(
            _cfg(
                table={
                    "date": ("2020-01-01", "2020-01-02"),
                    "close": (1.0, math.inf),
                    "vix": (1.0, 2.0),
                }
            )
        )


@pytest.mark.parametrize(
    ("units", "scale", "needle"),
    [
        (
            "decimal",
            1.0,
            "column 'vix' row 1 (2020-03-02): vol 20 is above the 5 (500%) ceiling; vols are "
            "decimal (0.2 = 20%): write 0.2 for 20%, or set vol_units = 'percent'",
        ),
        # 4, 5 (at the ceiling: allowed), 4.8, 6.2: the first refused is row 4
        ("decimal", 0.2, "row 4 (2020-03-05): vol 6.2 is above the 5 (500%) ceiling"),
        ("percent", 100.0, "row 1 (2020-03-02): 2000 percent is a vol of 20, above the 5 (500%)"),
        ("decimal", 0.01, None),  # 0.20 ... 0.45: decimal, as it should be
        ("decimal", 0.1, None),  # up to 4.5 (450%): below the ceiling
    ],
)
def test_a_vol_above_the_ceiling_is_refused_suggesting_the_decimal_form(
    tmp_path: Path, units: str, scale: float, needle: str | None
) -> None:
    rows = [(d, s, v * scale) for d, s, v in _good_rows()]
    path = _csv(tmp_path / "v.csv", rows)
    if needle is None:
        data = load_table(_cfg(path, vol_units=units))
        assert np.array_equal(data.atm_vol, np.array(VOLS) * scale)
        assert data.atm_vol.max() <= MAX_VOL
        return
    with pytest.raises(ReplayDataError) as info:
        load_table(_cfg(path, vol_units=units))
    msg = str(info.value)
    assert needle in msg and len(msg.splitlines()) == 1, msg


def test_a_percent_table_read_as_decimal_is_a_one_line_exit_2(tmp_path: Path, capsys) -> None:
    from orchestration.cli import main

    path = _csv(tmp_path / "vix.csv", _good_rows())
    script = tmp_path / "pct.py"
    script.write_text(
        "from orchestration import Scenario\n"
        "SCENARIO = Scenario(name='pct', n_paths=1, days=3, configs={'x': {}}, market={\n"
        f"    'kind': 'replay', 'replay': {{'path': {str(path)!r}, 'time_column': 'date',\n"
        "    'spot_column': 'close', 'atm_vol_column': 'vix'}})\n"
    )
    out = tmp_path / "out"
    assert main(["run", str(script), "--runtime", "local", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'vix'" in err and "write 0.2 for 20%" in err, err
    assert not out.exists()


@pytest.mark.parametrize(
    ("cell", "column", "needle"),
    [
        ("inf", 1, "'close' is infinite at row 3 (2020-03-04)"),
        ("-inf", 1, "'close' is infinite at row 3"),
        ("Infinity", 2, "'vix' is infinite at row 3"),
        ("1e400", 2, "'vix' is infinite at row 3"),
    ],
)
def test_non_finite_spots_and_vols_are_refused(
    tmp_path: Path, cell: str, column: int, needle: str
) -> None:
    rows = [list(r) for r in _good_rows()]
    rows[2][column] = cell
    with pytest.raises(ReplayDataError) as info:
        load_table(_cfg(_csv(tmp_path / "f.csv", [tuple(r) for r in rows])))
    assert needle in str(info.value), info.value


def _gzip_cases(good: bytes) -> dict[str, bytes]:
    return {
        "truncated": good[: len(good) // 2],
        "flipped": good[:20] + bytes([good[20] ^ 0xFF]) + good[21:],
        "bad crc": good[:-8] + b"\0\0\0\0" + good[-4:],
        "not gzip": b"date,close,vix\n",
        "binary inside": gzip.compress(bytes(range(256)) * 4),
    }


@pytest.mark.parametrize("case", ["truncated", "flipped", "bad crc", "not gzip", "binary inside"])
def test_a_corrupt_csv_gz_is_one_line(tmp_path: Path, case: str) -> None:
    plain = _csv(tmp_path / "m.csv", _good_rows()).read_bytes()
    path = tmp_path / "m.csv.gz"
    path.write_bytes(_gzip_cases(gzip.compress(plain, mtime=0))[case])
    with pytest.raises(ReplayDataError) as info:
        load_table(_cfg(path))
    msg = str(info.value)
    assert msg.startswith(f"{path}: cannot read as CSV: ") and len(msg.splitlines()) == 1, msg


def test_replay_config_validates_its_data_as_a_scenario_error(tmp_path: Path) -> None:
    path = _csv(tmp_path / "m.csv", [_good_rows()[0], _good_rows()[0], *_good_rows()[1:]])
    with pytest.raises(ValidationError, match="duplicate timestamp"):
        ReplayConfig(path=str(path), spot_column="close", atm_vol_column="vix")
    with pytest.raises(ValidationError, match="exactly one of path"):
        ReplayConfig()
    with pytest.raises(ValidationError, match="required when kind is 'replay'"):
        MarketConfig(kind="replay")
    scenario = {
        "name": "r",
        "n_paths": 1,
        "days": 2,
        "market": {
            "kind": "replay",
            "replay": {"path": str(path), "spot_column": "close", "atm_vol_column": "vix"},
        },
        "configs": {"x": {}},
    }
    with pytest.raises(ScenarioError) as info:
        validate_scenario(scenario)
    msg = str(info.value)
    assert msg.startswith("invalid scenario: market.replay") and "duplicate timestamp" in msg
    assert len(msg.splitlines()) == 1


# ------------------------------------------------------------------------------ generator
def _market(tmp_path: Path, **replay) -> MarketConfig:
    path = _csv(tmp_path / "m.csv", _good_rows())
    cfg = ReplayConfig(
        path=str(path), spot_column="close", atm_vol_column="vix", vol_units="percent", **replay
    )
    return MarketConfig(
        kind="replay",
        spot=100.0,
        surface=SurfaceConfig(atm=0.5, skew=-0.2, term=0.01),
        replay=cfg,
        instruments=(
            InstrumentSpec(name="underlying", kind="underlying"),
            InstrumentSpec(name="atm", tenor_days=30.0, relist_days=1.0),
        ),
    )


def test_replay_is_registered_and_drives_the_simulator(tmp_path: Path) -> None:
    assert GENERATORS["replay"] is ReplayGenerator
    cfg = _market(tmp_path)
    sim = MarketSimulator(
        cfg, n_steps=5, dt=1 / 365, year_days=365.0, seed=1, path_start=0, path_stop=3
    )
    events = [sim.start()] + [sim.step() for _ in range(5)]
    assert sim.done
    for k, ev in enumerate(events):
        (m,) = ev  # nothing scheduled: only the quote
        assert m.spot.tolist() == [SPOTS[k]] * 3
        assert np.all(m.surface.atm == VOLS[k] / 100.0)
        assert np.all(m.surface.skew == -0.2) and np.all(m.surface.term == 0.01)
        q = m.quote("atm")
        # relisted every step at the money: the 30-day ATM quote is the recorded vol
        expected = VOLS[k] / 100.0 + 0.01 * (30 / 365 - TAU_REF)
        assert np.allclose(q.iv, expected, rtol=0, atol=1e-15)
    with pytest.raises(RuntimeError):
        sim.step()


def test_rebase_window_and_recorded_skew(tmp_path: Path) -> None:
    cfg = _market(tmp_path, rebase=True, start="2020-03-04")
    gen = make_generator(cfg, BlockRNG(0, 0, 0, 2), 252.0)
    assert gen.spot.tolist() == [100.0, 100.0]
    gen.advance(0.0, 1 / 252)
    assert np.allclose(gen.spot, 100.0 * SPOTS[3] / SPOTS[2])
    assert np.all(gen.surface(1 / 252).atm == VOLS[3] / 100.0)
    snap = gen.snapshot()
    gen.advance(1 / 252, 2 / 252)
    gen.restore(snap)
    assert np.allclose(gen.spot, 100.0 * SPOTS[3] / SPOTS[2])
    with pytest.raises(ReplayDataError, match="ends at row 4"):
        gen.advance(3 / 252, 4 / 252)


def test_intraday_steps_hold_the_previous_close(tmp_path: Path) -> None:
    gen = make_generator(_market(tmp_path), BlockRNG(0, 0, 0, 1), 252.0)
    dt_ = 1 / (252 * 4)
    seen = []
    for k in range(8):
        gen.advance(k * dt_, (k + 1) * dt_)
        seen.append(float(gen.spot[0]))
    assert seen == [SPOTS[0]] * 3 + [SPOTS[1]] * 4 + [SPOTS[2]]


def test_horizon_longer_than_the_table_is_refused(tmp_path: Path) -> None:
    cfg = _market(tmp_path)
    check_horizon(cfg, 5.0)
    with pytest.raises(ReplayDataError, match="at most 5 days"):
        check_horizon(cfg, 6.0)
    check_horizon(MarketConfig(), 1e6)  # not a replay: nothing to check


def test_inline_config_replays_the_same_without_the_file(tmp_path: Path) -> None:
    cfg = _market(tmp_path, start="2020-03-03").replay
    assert cfg is not None
    inline = inline_config(cfg)
    (tmp_path / "m.csv").unlink()
    a = load_table(inline)
    assert a.labels() == DATES[1:]
    assert a.spot.tolist() == SPOTS[1:] and np.allclose(a.atm_vol, np.array(VOLS[1:]) / 100)


def test_a_replay_scenario_runs_every_configuration(tmp_path: Path) -> None:
    from orchestration import run_local

    sc = Scenario(
        name="replayed",
        n_paths=1,
        days=5,
        year_days=252.0,
        market=_market(tmp_path),
        book=({"is_call": True, "qty": -10.0},),
        configs={"unhedged": HedgeConfig(), "delta": HedgeConfig(agents=(AgentSpec(cls="delta"),))},
    )
    res = run_local(sc)
    again = run_local(sc)
    assert set(res) == {"unhedged", "delta"}
    for k in res:
        assert res[k].pnl.shape == (1,) and np.isfinite(res[k].pnl).all()
        assert res[k].pnl.tobytes() == again[k].pnl.tobytes()
