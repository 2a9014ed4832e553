"""Model-decay monitor: alerts on a gap the BSM greeks cannot explain, not in a BSM world."""

from __future__ import annotations

import json

import numpy as np
from conftest import bsm_world_scenario, small_gap_scenario

from agents.monitor import ModelMonitor, MonitorConfig
from orchestration import apply_overrides, build_components
from orchestration.engine import LocalRuntime, Pipeline, ShardProtocol


def _alerts(scenario, config: str, trace: bool = False):
    c = build_components(scenario)
    mgr = c.managers[config]
    pipes = [Pipeline(config, mgr, list(c.agents[config]))]
    proto = ShardProtocol(LocalRuntime(), c.market, pipes, scenario.n_steps)
    seen, steps = [], []
    for step in range(scenario.n_steps):
        proto.submit_step()
        seen += [n for n in mgr._notices if type(n).__name__ == "ModelAlert"]
        if mgr.monitor is not None:
            steps.append((step, mgr.monitor.active, dict(mgr.scales)))
    return (seen, mgr, steps) if trace else (seen, mgr)


def test_monitor_latches_and_rearms() -> None:
    mon = ModelMonitor(MonitorConfig(window=1, threshold=0.5, rearm=0.5))
    small = {"delta": np.ones(4), "gamma": np.zeros(4), "vega": np.zeros(4), "theta": np.zeros(4)}
    assert mon.update({**small, "unexplained": np.full(4, 0.1)}, 1, 0.0) is None
    alert = mon.update({**small, "unexplained": np.full(4, 2.0)}, 2, 0.1)
    assert alert is not None and alert.metric == "unexplained_ratio" and alert.value == 2.0
    assert mon.update({**small, "unexplained": np.full(4, 2.0)}, 3, 0.2) is None  # latched
    cleared = mon.update({**small, "unexplained": np.full(4, 0.1)}, 4, 0.3)
    assert cleared is not None and cleared.metric == "unexplained_ratio_cleared"
    assert not mon.active


def test_gap_world_triggers_the_alert_and_bsm_world_does_not() -> None:
    monitor = '{"window": 4, "threshold": 0.3, "action": "tighten"}'
    gap = apply_overrides(
        small_gap_scenario(n_paths=500, days=6.0),
        [f"configs.delta.manager.monitor={monitor}", "market.gap.size_std=0.08"],
    )
    alerts, _, trace = _alerts(gap, "delta", trace=True)
    gap_step = round(3.0 * gap.steps_per_day)
    assert alerts and alerts[0].step == gap_step
    # tighten: every band at tighten_scale (0.5) from the alert while the monitor
    # is on (the gap stays in the 4-step window), back at 1.0 once it re-arms
    on = [step for step, active, _ in trace if active]
    assert on == list(range(gap_step, gap_step + 4)), on
    for step, active, scales in trace:
        assert scales == dict.fromkeys(scales, 0.5 if active else 1.0), (step, scales)
    assert not trace[-1][1] and trace[-1][2]["gamma"] == 1.0
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


def _parts(unexplained: list[float], size: float = 1.0) -> dict[str, np.ndarray]:
    n = len(unexplained)
    return {
        "delta": np.full(n, 50.0),  # the hedge's position: not in the per-path scale
        "gamma": np.full(n, size),
        "vega": np.full(n, -size),  # cancels gamma: the per-path scale is the sizes' sum
        "theta": np.zeros(n),
        "unexplained": np.array(unexplained),
    }


def test_per_path_monitor_latches_and_rearms_each_path_on_its_own() -> None:
    mon = ModelMonitor(MonitorConfig(window=1, threshold=0.5, rearm=0.5, per_path=True))
    assert mon.update(_parts([0.1, 0.1, 0.1]), 1, 0.0) is None
    alert = mon.update(_parts([2.0, 0.1, 0.1]), 2, 0.1)  # ratio 2.0 / 2.0 = 1.0 on path 0
    assert alert is not None and alert.metric == "unexplained_ratio"
    assert alert.paths.tolist() == [True, False, False] and alert.value == 1 / 3
    assert mon.update(_parts([0.8, 0.1, 0.1]), 3, 0.2) is None  # 0.4: latched (re-arm 0.25)
    alert = mon.update(_parts([0.8, 0.1, 1.2]), 4, 0.3)  # path 2 on, path 0 still latched
    assert alert is not None and alert.paths.tolist() == [True, False, True]
    alert = mon.update(_parts([0.1, 0.1, 0.8]), 5, 0.4)  # path 0 re-arms
    assert alert is not None and alert.metric == "unexplained_ratio"
    assert alert.paths.tolist() == [False, False, True]
    cleared = mon.update(_parts([0.1, 0.1, 0.1]), 6, 0.5)
    assert cleared is not None and cleared.metric == "unexplained_ratio_cleared"
    assert not cleared.paths.any() and not mon.active
    fresh = ModelMonitor(mon.config)
    fresh.restore(mon.snapshot())
    assert fresh.update(_parts([2.0, 0.1, 0.1]), 7, 0.6).paths.tolist() == [True, False, False]


def test_per_path_monitor_only_alerts() -> None:
    import pytest

    with pytest.raises(ValueError, match="per-path monitor only alerts"):
        MonitorConfig(per_path=True, action="tighten")


def test_per_path_alert_does_not_depend_on_the_batch() -> None:
    """A path's alert is its own: the same on a shard as in the whole batch."""
    cfg = MonitorConfig(window=3, threshold=0.3, per_path=True)
    whole, part = ModelMonitor(cfg), ModelMonitor(cfg)
    rng = np.random.default_rng(3)
    for step in range(8):
        p = {b: rng.normal(size=50) for b in ("delta", "gamma", "vega", "theta", "unexplained")}
        p["unexplained"] = p["unexplained"] * (0.05 + 0.5 * (np.arange(50) % 2))
        whole.update(p, step, 0.0)
        part.update({b: v[20:] for b, v in p.items()}, step, 0.0)
        assert np.array_equal(whole.paths[20:], part.paths)
    assert 0 < whole.paths.sum() < 50


def test_per_path_alert_finds_the_stressed_regime_of_a_jump_world() -> None:
    """Calm lognormal / stressed with jumps: each path's alert is on mostly while stressed."""
    from scenarios import model_risk as mr

    regime = {
        "calm_vol": 0.15,
        "stressed_vol": 0.25,
        "p_calm_to_stressed": 0.05,
        "p_stressed_to_calm": 0.10,
        "stressed_jump_rate": 150.0,
        "stressed_jump_mean": -0.04,
        "stressed_jump_std": 0.04,
    }
    monitor = '{"window": 5, "threshold": 0.08, "per_path": true}'
    sc = apply_overrides(
        mr._BASE,
        [
            'market.kind="regime"',
            f"market.regime={json.dumps(regime)}",
            "n_paths=600",
            f"configs.bsm_delta.manager.monitor={monitor}",
        ],
    )
    c = build_components(sc)
    mgr = c.managers["bsm_delta"]
    proto = ShardProtocol(
        LocalRuntime(), c.market, [Pipeline("bsm_delta", mgr, list(c.agents["bsm_delta"]))], 20
    )
    on, stressed = [], []
    for step in range(sc.n_steps):
        proto.submit_step()
        if 1 <= step < sc.n_steps - 1:
            on.append(mgr.monitor.paths.copy())
            stressed.append(mgr._market.surface.atm > 0.2)
    on_, st = np.array(on), np.array(stressed)
    # 600 paths: on 69% of stressed and 18% of calm path-steps (10,000: 71% and 19%)
    assert on_[st].mean() > 0.6 and on_[~st].mean() < 0.25, (on_[st].mean(), on_[~st].mean())
