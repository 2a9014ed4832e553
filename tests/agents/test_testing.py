"""check_agent: passes correct agents, names what to fix for each broken contract point."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel

from agents import Agent, AgentConfig, DeltaHedger, GammaHedger
from agents.testing import AgentContractError, check_agent


class Counter(Agent):
    """Hedges half the delta every other step; keeps a step counter in its state."""

    def __init__(self, name, config=None, **kw):
        super().__init__(name, config, **kw)
        self.count = 0

    def on_market(self, event, view):
        self.count += 1
        if self.count % 2:
            return []
        return [self.order("underlying", -0.5 * view.delta)]

    def snapshot(self):
        return {"count": self.count}

    def restore(self, state):
        self.count = state["count"]


def test_correct_agents_pass() -> None:
    check_agent(DeltaHedger)
    check_agent(GammaHedger, {"instrument": "gamma_opt", "target": 0.5})
    check_agent(Counter)


class Loose(Agent):
    class Config(BaseModel):  # not frozen, extra allowed
        k: int = 1

    Config = Config  # type: ignore[assignment,misc]


class BadOrders(Agent):
    def on_market(self, event, view):
        return [self.order("underlying", np.ones(3))]


class Dice(Agent):
    def on_market(self, event, view):
        return [self.order("underlying", np.random.default_rng().normal(size=event.n_paths))]


class Forgetful(Counter):
    def snapshot(self):
        return {}

    def restore(self, state):
        pass


@pytest.mark.parametrize(
    ("cls", "config", "needle"),
    [
        (Loose, None, "frozen and forbid unknown fields"),
        (DeltaHedger, {"nope": 1}, "cannot be built"),
        (BadOrders, None, "order contract: ValueError: order qty must be an array of shape"),
        (Dice, None, "not deterministic"),
        (Forgetful, None, "snapshot()/restore() does not round-trip"),
    ],
)
def test_broken_agents_fail_with_what_to_fix(cls, config, needle) -> None:
    with pytest.raises(AgentContractError) as info:
        check_agent(cls, config)
    assert needle in str(info.value)


def test_an_agent_module_that_imports_ray_is_refused(tmp_path: Path) -> None:
    mod = tmp_path / "rayful_agent.py"
    mod.write_text("import ray  # noqa\nfrom agents import Agent\nclass Rayful(Agent):\n    pass\n")
    spec = importlib.util.spec_from_file_location("rayful_agent", mod)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["rayful_agent"] = module
    try:
        spec.loader.exec_module(module)
        with pytest.raises(AgentContractError, match="imports ray"):
            check_agent(module.Rayful)
    finally:
        del sys.modules["rayful_agent"]


def test_agent_config_base_is_frozen_and_strict() -> None:
    assert AgentConfig.model_config.get("frozen") and AgentConfig.model_config["extra"] == "forbid"
