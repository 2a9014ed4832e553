"""Out of sample on real history: the windows are the real ones, a path each."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from market._history import HistoryDataError, load_closes
from market._rng import BlockRNG
from market.config import HistoryWindowsConfig, MarketConfig
from market.generators import HistoryWindowsGenerator
from market.generators.fitted_history import history_table, worst_windows
from orchestration import load_scenario, run_local
from orchestration._cli_common import execute

CFG = HistoryWindowsConfig(window_days=30, rebase=False)


def test_the_windows_are_the_shipped_closes() -> None:
    closes = load_closes("sp500_skfolio")
    t = history_table(CFG)
    assert t.n_windows == closes.close.shape[0] - 30
    first, last = int(t.starts[0]), int(t.starts[-1]) + 30
    assert str(t.dates[first]) == "1990-01-02" and t.close[first] == 359.69
    assert str(t.dates[last]) == "2022-12-28"
    assert t.close[last] == closes.close[-1]
    # the generator: path i is window i, step k its close k
    market = MarketConfig(kind="history_windows", history=CFG)
    n = t.n_windows
    g = HistoryWindowsGenerator(market, BlockRNG(0, 0, 0, n), 252.0)
    assert g.spot[0] == 359.69 and g.spot[-1] == closes.close[-31]
    for k in range(30):
        g.advance(k / 252, (k + 1) / 252)
    assert g.spot[0] == closes.close[30] and g.spot[-1] == closes.close[-1]


def test_vol_is_vix_where_shipped_else_the_fitted_vol() -> None:
    from market._history import load_vix

    t = history_table(CFG)
    vdates, vix = load_vix()
    i = int(np.searchsorted(t.dates, np.datetime64("2015-08-24")))
    j = int(np.searchsorted(vdates, np.datetime64("2015-08-24")))
    assert t.from_vix[i] and t.atm_vol[i] == vix[j]
    k = int(np.searchsorted(t.dates, np.datetime64("2008-10-10")))
    assert not t.from_vix[k] and 0.4 < t.atm_vol[k] < 1.5  # fitted: the crash's vol
    assert np.all(np.isfinite(t.atm_vol)) and np.all(t.atm_vol > 0)


def test_shards_see_their_own_windows() -> None:
    market = MarketConfig(kind="history_windows", history=HistoryWindowsConfig(stride=5))
    whole = HistoryWindowsGenerator(market, BlockRNG(0, 0, 0, 1500), 252.0)
    tail = HistoryWindowsGenerator(market, BlockRNG(0, 0, 1024, 1500), 252.0)
    whole.advance(0.0, 3 / 252)
    tail.advance(0.0, 3 / 252)
    assert tail.spot.tobytes() == whole.spot[1024:].tobytes()
    assert tail.surface(0.0).atm.tobytes() == whole.surface(0.0).atm[1024:].tobytes()


def test_too_many_paths_or_days_are_one_line() -> None:
    small = HistoryWindowsConfig(start=dt.date(2000, 1, 1), end=dt.date(2000, 3, 31))
    market = MarketConfig(kind="history_windows", history=small)
    with pytest.raises(HistoryDataError, match=r"n_paths must be at most \d+, got 100") as e:
        HistoryWindowsGenerator(market, BlockRNG(0, 0, 0, 100), 252.0)
    assert "\n" not in str(e.value)
    g = HistoryWindowsGenerator(market, BlockRNG(0, 0, 0, 3), 252.0)
    with pytest.raises(HistoryDataError, match="past the window"):
        g.advance(30 / 252, 31 / 252)
    none = HistoryWindowsConfig(start=dt.date(1980, 1, 1), end=dt.date(1980, 6, 1))
    with pytest.raises(HistoryDataError, match="needs 31"):
        history_table(none)


def test_oos_scenarios_count_every_window() -> None:
    import scenarios.oos_macro_gap as oos
    import scenarios.oos_stress as oos_stress

    for mod in (oos, oos_stress):
        assert mod.N_WINDOWS == history_table(mod.SCENARIO.market.history).n_windows
        assert mod.SCENARIO.n_paths == mod.N_WINDOWS


@pytest.mark.parametrize("name", ["oos_macro_gap", "oos_stress"])
def test_oos_smoke_seeded_with_worst_windows_in_the_summary(name: str) -> None:
    sc = load_scenario(name, ["n_paths=64"])
    a, b = run_local(sc), run_local(sc)
    for name in sc.configs:
        assert a[name].pnl.tobytes() == b[name].pnl.tobytes()
    summary = execute(sc, "local")
    ww = summary["worst_windows"]
    assert set(ww) == set(sc.configs)
    pnl = a["unhedged"].pnl
    assert [w["pnl"] for w in ww["unhedged"]] == sorted(pnl)[:10]
    w0 = ww["unhedged"][0]
    closes = load_closes("sp500_skfolio")
    i = int(np.searchsorted(closes.dates, np.datetime64(w0["start"])))
    assert w0["spot_start"] == closes.close[i] and w0["spot_end"] == closes.close[i + 30]
    assert w0 == worst_windows(sc.market.history, pnl)[0]
    # other keys unchanged
    assert {"scenario", "configs", "n_paths", "scenario_config"} <= set(summary)


def test_oos_every_window_runs() -> None:
    sc = load_scenario("oos_macro_gap")
    res = run_local(sc)
    assert res["delta"].pnl.shape == (sc.n_paths,)
    assert np.all(np.isfinite(res["delta_gamma_vega"].pnl))
