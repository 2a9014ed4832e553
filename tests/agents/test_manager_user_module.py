"""A policy and a manager from a user's own module (a file beside the scenario, not a
package module) run in-process and on Ray with the same bits and pass the check kit."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from orchestration import config_metrics, load_scenario, run_local

DESK_RULES = """
from typing import Any, ClassVar
import numpy as np
from pydantic import Field
from agents import Allocation, AllocationPolicy, ManagerConfig, PolicyConfig, RiskManager

class BrakeConfig(PolicyConfig):
    trigger: float = Field(0.5, gt=0.0, le=1.0)

class Brake(AllocationPolicy):
    Config: ClassVar[type[PolicyConfig]] = BrakeConfig

    def __init__(self, config, n_paths):
        super().__init__(config, n_paths)
        self.hot = np.zeros(n_paths)

    def allocate(self, state):
        self.hot = np.where(state.usage > self.config.trigger, self.hot + 1.0, 0.0)
        scale = 1.0 / (1.0 + self.hot)
        return Allocation({g: s * scale for g, s in state.static.items()}, "brake")

    def snapshot(self):
        return {"hot": self.hot.copy()}

    def restore(self, state):
        self.hot = state["hot"].copy()

class DeskConfig(ManagerConfig):
    max_units: float = Field(50.0, gt=0.0)

class Desk(RiskManager):
    Config: ClassVar[type[ManagerConfig]] = DeskConfig

    def check_order(self, agent, instrument, qty, quote):
        reject = super().check_order(agent, instrument, qty, quote)
        big = np.abs(qty) > self.config.max_units
        return big if reject is None else reject | big
"""

SCENARIO = """
from desk_rules import Desk
from orchestration import AgentSpec, HedgeConfig, Scenario
from scenarios.macro_gap import SCENARIO as GAP, DELTA, GAMMA, VEGA, MANAGER
from orchestration import apply_overrides

M = MANAGER.model_dump()
SCENARIO = apply_overrides(GAP.model_copy(update={"configs": {
    "static": HedgeConfig(agents=(VEGA, GAMMA, DELTA), manager=MANAGER),
    # the policy by dotted path, the manager by class
    "desk": HedgeConfig(agents=(VEGA, GAMMA, DELTA), manager={
        "cls": Desk,
        "config": {**M, "max_units": 40.0,
                   "policy": {"cls": "desk_rules.Brake", "config": {"trigger": 0.4}}}}),
    # the manager by dotted path, event_aware over the user's policy
    "desk_event": HedgeConfig(agents=(VEGA, GAMMA, DELTA), manager={
        "cls": "desk_rules.Desk",
        "config": {**M, "policy": {"kind": "event_aware",
                                    "base": {"cls": "desk_rules.Brake"}}}}),
}}), ["name=desk_user", "n_paths=192", "days=4", "market.gap.day=2"])
"""


def _project(tmp_path: Path) -> Path:
    (tmp_path / "desk_rules.py").write_text(DESK_RULES)
    script = tmp_path / "desk_scenario.py"
    script.write_text(SCENARIO)
    return script


@pytest.mark.slow
@pytest.mark.usefixtures("ray_session")
def test_a_user_policy_and_manager_run_with_the_same_bits_in_process_and_on_ray(
    tmp_path: Path,
) -> None:
    from orchestration.ray_runtime import run_ray

    sys.modules.pop("desk_rules", None)
    sc = load_scenario(str(_project(tmp_path)))
    local = run_local(sc)
    remote = run_ray(sc)
    hashes = {}
    for name in sc.configs:
        a = config_metrics(local[name], sc.risk_aversion)
        b = config_metrics(remote[name], sc.risk_aversion)
        assert a["pnl_sha256"] == b["pnl_sha256"], name
        assert a == b, name
        hashes[name] = a["pnl_sha256"]
    assert len(set(hashes.values())) == 3  # the user's rules change the numbers
    assert local["desk"].rejected.sum() > 0  # its pre-trade check ran


def test_the_user_classes_pass_the_check_kit_and_a_broken_copy_fails_it(tmp_path: Path) -> None:
    sys.modules.pop("desk_rules", None)
    load_scenario(str(_project(tmp_path)))
    from agents.testing import ManagerContractError, check_manager, check_policy

    rules = importlib.import_module("desk_rules")
    check_policy(rules.Brake, {"trigger": 0.4})
    check_manager(rules.Desk, {"max_units": 40.0, "policy": {"cls": rules.Brake}})

    class NoMemory(rules.Brake):  # type: ignore[name-defined,misc]
        def snapshot(self):  # type: ignore[no-untyped-def]
            return {}

        def restore(self, state):  # type: ignore[no-untyped-def]
            pass

    with pytest.raises(ManagerContractError, match="NoMemory: snapshot\\(\\)/restore\\(\\)"):
        check_policy(NoMemory, {"trigger": 0.01})


def test_a_workers_missing_module_error_can_name_the_users_policy_and_manager(
    tmp_path: Path,
) -> None:
    # The classes a Ray worker may fail to import, named in its one-line error:
    # the agents', the managers' and the policies' (event_aware's base included).
    from orchestration.ray_runtime import user_classes

    sys.modules.pop("desk_rules", None)
    names = user_classes(load_scenario(str(_project(tmp_path))))
    assert {"desk_rules.Desk", "desk_rules.Brake", "agents.manager.RiskManager"} <= set(names)
    assert any(n.endswith(".DeltaHedger") for n in names), names
