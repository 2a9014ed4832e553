"""Risk metrics against hand-computed values, every stable key checked."""

from __future__ import annotations

import hashlib
import inspect
import re

import numpy as np
import pytest

from agents import ConfigResult
from orchestration import config_metrics
from orchestration.metrics import var_cvar

#: The keys README's ``summary.json`` section calls stable.
STABLE = {
    "pnl_mean",
    "pnl_std",
    "var_95",
    "cvar_95",
    "var_99",
    "cvar_99",
    "mean_std_objective",
    "transaction_cost",
    "turnover",
    "budget_breaches",
    "breach_share",
    "paths_breached",
    "orders_rejected",
    "pnl_sha256",
}


def _result(pnl: np.ndarray) -> ConfigResult:
    n = pnl.size
    return ConfigResult(
        pnl=pnl,
        cost=np.arange(n, dtype=float) * 0.5,  # mean 24.75
        turnover=np.full(n, 3.0),
        breaches=(np.arange(n) % 10 == 0).astype(np.int64) * 2,  # 10 paths x 2 steps
        rejected=(np.arange(n) < 7).astype(np.int64),  # 7
        attribution={},
        series=[],
    )


def test_losses_zero_to_ninety_nine_give_the_hand_computed_metrics() -> None:
    # losses 0..99 in a shuffled order: VaR is numpy's linear quantile
    # (0.95 * 99 = 94.05), CVaR the mean loss at or beyond it (95..99 -> 97).
    loss = np.random.default_rng(0).permutation(100).astype(float)
    pnl = -loss
    m = config_metrics(_result(pnl), risk_aversion=2.0, n_steps=4)
    assert set(m) == STABLE
    std = np.sqrt((100**2 - 1) / 12)  # population std of 0..99
    expected = {
        "pnl_mean": -49.5,
        "pnl_std": std,
        "var_95": 94.05,
        "cvar_95": 97.0,
        "var_99": 98.01,
        "cvar_99": 99.0,
        "mean_std_objective": 49.5 + 2.0 * std,
        "transaction_cost": 24.75,
        "turnover": 3.0,
    }
    for key, value in expected.items():
        assert m[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
    assert m["budget_breaches"] == 20 and m["orders_rejected"] == 7
    # 20 breached path-steps of 100 paths x 4 steps; 10 paths with any breach
    assert m["breach_share"] == 20 / 400 and m["paths_breached"] == 10
    assert m["pnl_sha256"] == hashlib.sha256(pnl.astype("<f8").tobytes()).hexdigest()
    assert var_cvar(np.arange(100.0), 0.95) == pytest.approx((94.05, 97.0), rel=1e-12)


def test_the_docstring_lists_exactly_the_keys_returned() -> None:
    doc = inspect.getdoc(config_metrics) or ""
    returns = doc.split("Returns:")[1]
    listed = set(re.findall(r"``(\w+)``", returns))
    # ``slippage`` is there only when the run has a release (the event-time metric)
    assert listed == STABLE | {"slippage"}, listed ^ (STABLE | {"slippage"})
