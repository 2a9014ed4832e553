"""The manager's per-step series: batched, the per-step numbers, sampled beyond 2048 paths."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import agents.manager as manager_module
from agents.manager import RiskManager
from orchestration import load_scenario, run_local


def _run_capturing(n: int, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[dict]]:
    """Run a short macro_gap; capture every step's post-trade inputs of the series."""
    sc = load_scenario("macro_gap", [f"n_paths={n}", "days=3", "market.gap.day=1"])
    seen: list[dict] = []
    real = RiskManager._series_add

    def spy(self: RiskManager, market: Any, loss: np.ndarray) -> None:
        if self.cascade == ["vega", "gamma", "delta"] and self.config.policy.kind == "static":
            r = self._running
            seen.append(
                {
                    "delta": r["delta"].copy(),
                    "gamma": r["gamma"].copy(),
                    "vega": r["vega"].copy(),
                    "loss": loss.copy(),
                    "wealth": self._wealth.copy(),
                    "budget": self.config.budget,
                }
            )
        real(self, market, loss)

    monkeypatch.setattr(RiskManager, "_series_add", spy)
    return run_local(sc), seen


def _row(step: dict, stride: int) -> dict[str, float]:
    row = {}
    for g in ("delta", "gamma", "vega"):
        q = np.percentile(step[g][::stride], (5, 50, 95))
        row.update({f"{g}_p5": q[0], f"{g}_p50": q[1], f"{g}_p95": q[2]})
    row["budget_usage"] = float(np.mean(step["loss"]) / step["budget"])
    row["breach_rate"] = float(np.mean(step["loss"] > step["budget"]))
    row["pnl_mean"] = float(np.mean(step["wealth"]))
    return row


@pytest.mark.parametrize("n", [1, 700, 5000])
def test_series_rows_are_the_per_step_numbers(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batched summaries equal a per-step pass bit for bit (percentiles of
    every path up to 2048, of the strided sample beyond; means of every path)."""
    monkeypatch.setattr(manager_module, "SERIES_BUFFER_ELEMENTS", 5 * 5 * 700)  # flush mid-run
    res, seen = _run_capturing(n, monkeypatch)
    rows = res["delta_gamma_vega"].series
    assert len(rows) == len(seen) == 12
    stride = -(-n // manager_module.SERIES_SAMPLE_PATHS)
    assert stride == (1 if n <= 2048 else 3)
    for got, step in zip(rows, seen, strict=True):
        want = _row(step, stride)
        for k, v in want.items():
            assert got[k] == float(v), k
    assert [r["step"] for r in rows] == [float(i) for i in range(12)]


def test_series_survive_a_snapshot_mid_buffer() -> None:
    sc = load_scenario("macro_gap", ["n_paths=300", "days=2", "market.gap.day=1"])
    whole = run_local(sc)["event_aware"].series
    from orchestration.engine import build_components

    c = build_components(sc)
    mgr = c.managers["event_aware"]
    from orchestration.engine import LocalRuntime, Pipeline, ShardProtocol

    pipes = [Pipeline(k, c.managers[k], list(c.agents[k])) for k in sc.configs]
    proto = ShardProtocol(LocalRuntime(), c.market, pipes, sc.n_steps)
    for _ in range(3):
        proto.submit_step()
    state = c.snapshot()
    assert len(state["event_aware/manager"]["series"]) == 3  # flushed into the snapshot
    for _ in range(3, sc.n_steps):
        proto.submit_step()
    mgr.restore(state["event_aware/manager"])
    assert mgr.series == whole[:3]
