"""The stress scenarios: seeded smoke tests, and what a full replay of Lehman shows."""

from __future__ import annotations

import importlib.util

import pytest

from orchestration import config_metrics, load_scenario, run_local

STRESS = ["lehman_2008", "downgrade_2011", "flash_2015", "volmageddon_2018", "covid_2020"]
HAVE_SKFOLIO = importlib.util.find_spec("skfolio") is not None


def _params():
    for name in STRESS:
        skip = name == "covid_2020" and not HAVE_SKFOLIO
        yield pytest.param(name, marks=pytest.mark.skipif(skip, reason="needs skfolio"))


@pytest.mark.parametrize("name", list(_params()))
def test_smoke_a_few_steps_are_seeded_and_complete(name: str) -> None:
    full = load_scenario(name)
    assert full.n_paths == 1 and full.steps_per_day == 1 and full.year_days == 252.0
    assert full.market.kind == "replay" and full.market.replay is not None
    assert full.n_steps == len(full.market.replay.table["date"]) - 1
    assert set(full.configs) == {"unhedged", "delta", "delta_gamma_vega"}
    if "derived" in full.market.replay.iv_source:
        assert "derived" in full.description
    sc = load_scenario(name, ["days=4"])
    res = run_local(sc)
    again = run_local(sc)
    for cname, r in res.items():
        assert r.pnl.shape == (1,)
        assert r.pnl.tobytes() == again[cname].pnl.tobytes()


def test_hedging_cuts_the_dealer_loss_through_lehman() -> None:
    sc = load_scenario("lehman_2008")
    m = {k: config_metrics(v, sc.risk_aversion) for k, v in run_local(sc).items()}
    for k, v in m.items():
        print(f"{k:18s} P&L {v['pnl_mean']:12,.0f}  t-cost {v['transaction_cost']:9,.0f}")
    assert m["unhedged"]["pnl_mean"] < 0  # short vol through a crash loses
    assert m["delta"]["pnl_mean"] > m["unhedged"]["pnl_mean"]
    assert m["delta_gamma_vega"]["pnl_mean"] > m["delta"]["pnl_mean"]
    assert m["delta_gamma_vega"]["transaction_cost"] > m["delta"]["transaction_cost"]
