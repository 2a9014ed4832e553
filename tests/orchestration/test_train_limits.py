"""The manager's hard limits bind in training as in the engine: ``max_order`` and
``hard_limit`` (the stressed-loss rejection) reject the same orders on the same
paths, so the trainer's P&L stays the engine's to 1e-9 where the limits bind."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from orchestration import load_scenario
from orchestration._train_pnl import to_device
from orchestration._train_policies import RuleActor, rollout
from orchestration._trainset import build_trainset, engine_trades
from orchestration.train import rule_cascade, train


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def _with_hard_limit(sc, limit: float):
    configs = {
        c: hc.model_copy(
            update={"manager": hc.manager_config.model_copy(update={"hard_limit": limit})}
        )
        for c, hc in sc.configs.items()
    }
    return sc.model_copy(update={"configs": configs})


@pytest.fixture(scope="module")
def limited():
    sc = _with_hard_limit(load_scenario("macro_gap", ["n_paths=48", "days=12"]), 0.5)
    results, _ = engine_trades(sc)
    return sc, results


@pytest.mark.slow
def test_a_binding_hard_limit_gives_the_engines_pnl_in_training(limited) -> None:
    sc, results = limited
    bound = 0
    for cname, hc in sc.configs.items():
        ds = to_device(build_trainset(sc, manager=hc.manager_config))
        assert ds.ts.hard_limit == 0.5 and ds.ts.budget == hc.manager_config.budget
        pnl, cost = rollout(ds, [RuleActor(*r) for r in rule_cascade(hc)])
        assert _rel(pnl.numpy(), results[cname].pnl) <= 1e-9, cname
        np.testing.assert_allclose(cost.numpy(), results[cname].cost, rtol=1e-9, atol=1e-9)
        if results[cname].rejected.sum() == 0:
            continue
        bound += 1
        # The limit matters: without it the trainer's P&L is not the engine's.
        free = dataclasses.replace(ds.ts, hard_limit=None)
        free_pnl, _ = rollout(to_device(free), [RuleActor(*r) for r in rule_cascade(hc)])
        assert _rel(free_pnl.numpy(), results[cname].pnl) > 1e-6, cname
    assert bound >= 2  # delta_gamma, delta_gamma_vega, event_aware reject orders at 0.5


@pytest.mark.slow
def test_training_on_a_base_with_a_hard_limit_runs(limited) -> None:
    sc, _ = limited
    blob, losses = train(
        sc,
        instrument="gamma_opt",
        mode="residual",
        base="event_aware",
        paths=32,
        epochs=2,
        seed=3,
        hidden=4,
    )
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert "meta" in blob
