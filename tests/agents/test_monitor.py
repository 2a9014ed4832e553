"""Model-decay monitor: alerts on a gap the BSM greeks cannot explain, not in a BSM world."""

from __future__ import annotations

import numpy as np
from conftest import bsm_world_scenario, small_gap_scenario

from agents.monitor import ModelMonitor, MonitorConfig
from orchestration import apply_overrides, build_components
from orchestration.engine import LocalRuntime, Pipeline, ShardProtocol


def _alerts(scenario, config: str):
    c = build_components(scenario)
    mgr = c.managers[config]
    pipes = [Pipeline(config, mgr, list(c.agents[config]))]
    proto = ShardProtocol(LocalRuntime(), c.market, pipes, scenario.n_steps)
    seen = []
    for _ in range(scenario.n_steps):
        proto.submit_step()
        seen += [n for n in mgr._notices if type(n).__name__ == "ModelAlert"]
    return seen, mgr


def test_monitor_latches_and_rearms() -> None:
    mon = ModelMonitor(MonitorConfig(window=1, threshold=0.5, rearm=0.5))
    small = {"delta": np.ones(4), "gamma": np.zeros(4), "vega": np.zeros(4), "theta": np.zeros(4)}
    assert mon.update({**small, "unexplained": np.full(4, 0.1)}, 1, 0.0) is None
    alert = mon.update({**small, "unexplained": np.full(4, 2.0)}, 2, 0.1)
    assert alert is not None and alert.metric == "unexplained_ratio" and alert.value == 2.0
    assert mon.update({**small, "unexplained": np.full(4, 2.0)}, 3, 0.2) is None  # latched
    assert mon.update({**small, "unexplained": np.full(4, 0.1)}, 4, 0.3) is None
    assert not mon.active


def test_gap_world_triggers_the_alert_and_bsm_world_does_not() -> None:
    monitor = '{"window": 4, "threshold": 0.3, "action": "tighten"}'
    gap = apply_overrides(
        small_gap_scenario(n_paths=500, days=6.0),
        [f"configs.delta.manager.monitor={monitor}", "market.gap.size_std=0.08"],
    )
    alerts, mgr = _alerts(gap, "delta")
    assert alerts and alerts[0].step == round(3.0 * gap.steps_per_day)
    assert mgr.scales["gamma"] < 1.0 or not mgr.monitor.active
    bsm = apply_overrides(
        bsm_world_scenario(n_paths=500), [f"configs.delta.manager.monitor={monitor}"]
    )
    alerts, _ = _alerts(bsm, "delta")
    assert alerts == []


def test_alert_can_switch_every_agents_model() -> None:
    monitor = (
        '{"window": 4, "threshold": 0.3, '
        '"switch_model": {"kind": "merton", "lam": 1.0, "jump_mean": -0.05, "jump_std": 0.05}}'
    )
    gap = apply_overrides(
        small_gap_scenario(n_paths=300, days=6.0),
        [f"configs.delta.manager.monitor={monitor}", "market.gap.size_std=0.08"],
    )
    alerts, mgr = _alerts(gap, "delta")
    assert alerts and {m.kind for m in mgr.models.values()} == {"merton"}
