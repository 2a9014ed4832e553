"""Cao et al. (2023) set-up: the rule-based hedgers reproduce the paper within ±3%."""

from __future__ import annotations

import pytest

from orchestration import config_metrics, load_scenario, run_local

PAPER = {0.01: {"delta": 24.61, "delta_gamma": 9.93}}


def test_smoke_few_steps() -> None:
    sc = load_scenario("cao2023_gbm", ["n_paths=64", "days=3"])
    res = run_local(sc)
    assert set(res) >= {"delta", "delta_gamma"}
    # the client flow put new options on the book: gamma hedging traded options
    assert res["delta_gamma"].cost.mean() > 0 and res["delta"].cost.mean() == 0


@pytest.mark.parametrize("cost", [0.01])
def test_rule_based_numbers_match_the_paper(cost: float) -> None:
    # 6,000 paths: the objective's Monte Carlo error is ~1% of its value here.
    sc = load_scenario("cao2023_gbm", ["n_paths=6000", f"option_cost={cost}"])
    res = run_local(sc)
    for name, paper in PAPER[cost].items():
        got = config_metrics(res[name], sc.risk_aversion)["mean_std_objective"]
        assert abs(got / paper - 1) < 0.03, (name, got, paper)
