"""Learned and hybrid agents in the engine: in-process == Ray bits, routing end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import small_gap_scenario
from test_deep_policies import learned_config, write_policy

from orchestration import AgentSpec, HedgeConfig, Scenario, run_local
from orchestration.metrics import pnl_sha256

MODEL = {"cls": "gamma", "config": {"instrument": "gamma_opt"}}


def _scenario(tmp_path: Path, monitor: dict[str, Any] | None = None) -> Scenario:
    base = small_gap_scenario(n_paths=128, days=6.0)
    ckpt = write_policy(tmp_path / "gru.pt", "gru", scale=0.3, family=base.family)
    learned = learned_config(ckpt, horizon_days=6.0)
    manager = base.configs["delta_gamma"].manager.model_copy(update={"monitor": None})
    if monitor is not None:
        manager = manager.model_validate(manager.model_dump() | {"monitor": monitor})

    def config(*agents: AgentSpec) -> HedgeConfig:
        return HedgeConfig(agents=(*agents, AgentSpec(cls="delta")), manager=manager)

    def hybrid(**kw: Any) -> AgentSpec:
        cfg = {
            "model_based": MODEL,
            "learned": {"cls": "agents.deep.LearnedHedger", "config": learned},
        }
        return AgentSpec(cls="agents.hybrid.HybridHedger", name="hybrid", config=cfg | kw)

    configs = {
        "model": config(AgentSpec(cls="gamma", name="hybrid", config=MODEL["config"])),
        "gru": config(AgentSpec(cls="agents.deep.LearnedHedger", name="hybrid", config=learned)),
        "switch": config(hybrid()),
        "blend_all_learned": config(hybrid(route="blend", w_calm=1.0, w_alert=1.0)),
        "blend": config(hybrid(route="blend", w_calm=0.3, w_alert=0.9)),
    }
    # validated as a loaded scenario is: each learned agent's checkpoint is checked
    return Scenario.model_validate(base.model_dump() | {"configs": configs})


def _bits(res: Any) -> dict[str, str]:
    return {k: pnl_sha256(v.pnl) for k, v in res.items()}


@pytest.mark.slow
def test_without_an_alert_the_switch_trades_the_model_and_the_all_learned_blend_the_gru(
    tmp_path: Path,
) -> None:
    h = _bits(run_local(_scenario(tmp_path)))
    assert h["switch"] == h["model"]  # only the routed (model) orders traded
    assert h["blend_all_learned"] == h["gru"]  # 1·learned + 0·model is the learned orders
    assert len({h["model"], h["gru"], h["blend"]}) == 3


@pytest.mark.slow
def test_the_monitors_alert_switches_the_hybrid_in_a_run(tmp_path: Path) -> None:
    from orchestration import apply_overrides

    monitor = {"window": 4, "threshold": 0.3}
    sc = apply_overrides(_scenario(tmp_path, monitor), ["market.gap.size_std=0.08"])
    h = _bits(run_local(sc))
    # the gap raises the alert: from then on the switch trades the learned child, so it
    # leaves the model configuration (identical until then: same paths, same orders)
    assert h["switch"] not in (h["model"], h["gru"])
    assert h["blend_all_learned"] == h["gru"]


@pytest.mark.slow
@pytest.mark.usefixtures("ray_session")
def test_gru_and_hybrid_runs_have_the_same_bits_in_process_and_on_ray(tmp_path: Path) -> None:
    from orchestration.ray_runtime import run_ray

    sc = _scenario(tmp_path)
    sc = sc.model_validate(
        sc.model_dump() | {"configs": {k: sc.configs[k] for k in ("gru", "blend")}}
    )
    local = _bits(run_local(sc))
    assert _bits(run_ray(sc, shards=2)) == local  # two shards: a GRU state per shard


@pytest.mark.slow
def test_model_risk_hybrid_configuration_runs_and_switches(tmp_path: Path) -> None:
    """The scenario wiring: the hybrid trades the BSM delta hedger's orders until the
    monitor's alert in the Heston world, then the learned policy's."""
    from orchestration import apply_overrides
    from scenarios import model_risk

    base = apply_overrides(model_risk.SCENARIO, ["n_paths=64"])
    ckpt = write_policy(
        tmp_path / "mr.pt",
        "gru",
        features=model_risk.LEARNED["features"],
        actions=model_risk.LEARNED["actions"],
        family=base.family,
        scale=0.3,
    )
    configs = {k: base.configs[k] for k in ("bsm_delta",)} | model_risk.learned_configs(ckpt)
    sc = Scenario.model_validate(base.model_dump() | {"configs": configs})
    h = _bits(run_local(sc))
    assert len(set(h.values())) == 3  # the alert fires: the hybrid is neither child alone
    quiet = apply_overrides(sc, ["configs.hybrid.manager.monitor.threshold=1e9"])
    hq = _bits(run_local(quiet))
    assert hq["hybrid"] == h["bsm_delta"]  # no alert: exactly the model-based hedger
