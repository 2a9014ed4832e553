"""Risk metrics of terminal P&L across paths, and the run summary.

Losses are ``-pnl``: ``var_95``, ``cvar_95`` and ``mean_std_objective`` are
positive when money is lost. ``pnl_std`` is the population std (``ddof=0``).
``pnl_sha256`` hashes the terminal P&L array's float64 little-endian bytes,
so two runs can be compared bit for bit.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from agents import ConfigResult


def pnl_sha256(pnl: np.ndarray) -> str:
    """sha256 of the P&L array's float64 little-endian bytes."""
    return hashlib.sha256(np.ascontiguousarray(pnl, dtype="<f8").tobytes()).hexdigest()


def var_cvar(loss: np.ndarray, level: float) -> tuple[float, float]:
    """Value at risk (the ``level`` quantile of loss) and the mean loss at or beyond it."""
    var = float(np.quantile(loss, level))
    return var, float(loss[loss >= var].mean())


def config_metrics(
    result: ConfigResult, risk_aversion: float, n_steps: int | None = None
) -> dict[str, Any]:
    """The metrics of one configuration.

    Args:
        result: Per-path outcome of the configuration.
        risk_aversion: ``c`` in ``mean(loss) + c * std(loss)``.
        n_steps: Hedging steps of the run, the denominator of ``breach_share``
            (default: the length of ``result.series``, one row per step).

    Returns:
        ``pnl_mean``, ``pnl_std``, ``var_95``, ``cvar_95``, ``var_99``,
        ``cvar_99``, ``mean_std_objective``, ``transaction_cost`` (mean per
        path), ``turnover`` (mean traded notional per path),
        ``budget_breaches`` (path-steps over budget), ``breach_share``
        (``budget_breaches`` over all path-steps, 0..1), ``paths_breached``
        (paths with at least one breach), ``orders_rejected``
        (path-orders refused by hard limits) and ``pnl_sha256``; with a release
        in the run, ``slippage`` (mean per path: cost of the trades in the window
        after the release against the pre-release mids). (The per-step breach
        rate is in the report's series, not here.)
    """
    pnl = result.pnl
    loss = -pnl
    var95, cvar95 = var_cvar(loss, 0.95)
    var99, cvar99 = var_cvar(loss, 0.99)
    std = float(pnl.std())
    steps = len(result.series) if n_steps is None else n_steps
    steps = max(steps, int(result.breaches.max(initial=0)))  # a share never exceeds 1
    out: dict[str, Any] = {
        "pnl_mean": float(pnl.mean()),
        "pnl_std": std,
        "var_95": var95,
        "cvar_95": cvar95,
        "var_99": var99,
        "cvar_99": cvar99,
        "mean_std_objective": float(loss.mean()) + risk_aversion * std,
        "transaction_cost": float(result.cost.mean()),
        "turnover": float(result.turnover.mean()),
        "budget_breaches": int(result.breaches.sum()),
        "breach_share": float(result.breaches.sum()) / max(1, pnl.size * steps),
        "paths_breached": int(np.count_nonzero(result.breaches)),
        "orders_rejected": int(result.rejected.sum()),
        "pnl_sha256": pnl_sha256(pnl),
    }
    if result.slippage.size:
        out["slippage"] = float(result.slippage.mean())
    return out
