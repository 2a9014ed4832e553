"""Agent: dispatch by hook name, order checks, error wrapping, config models."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
from pydantic import ValidationError

from agents import Agent, AgentConfig, AgentError, DeltaHedger, ManagerConfig, RiskManager
from market import MarketConfig, MarketSimulator


def _setup(n: int = 4):
    sim = MarketSimulator(MarketConfig(), 5, 1 / 365, 365.0, 0, 0, n)
    mgr = RiskManager(ManagerConfig(), ["a"], (), n, 365.0)
    events = sim.start()
    return sim, mgr, events, mgr.begin_step(events)


class Recorder(Agent):
    def __init__(self, name, config=None, **kw):
        super().__init__(name, config, **kw)
        self.seen: list[str] = []

    def on_budget(self, update):
        self.seen.append(f"budget:{update.reason}")

    def on_market(self, event, view):
        self.seen.append(f"market:{event.step}")
        return [self.order("underlying", np.ones(event.n_paths))]


def test_step_dispatches_notices_then_market_and_returns_checked_orders() -> None:
    _, _, events, turn = _setup()
    a = Recorder("a")
    orders = a.step(events, turn)
    assert a.seen == ["budget:initial", "market:0"]
    assert orders[0].sender == "a" and orders[0].step == 0


class Boom(Agent):
    def on_market(self, event, view):
        raise ZeroDivisionError("bad model")


def test_a_raising_hook_names_agent_time_and_exception() -> None:
    sim, mgr, _, _ = _setup()
    events = sim.step()
    turn = mgr.begin_step(events)
    with pytest.raises(AgentError) as info:
        Boom("boomer").step(events, turn)
    msg = str(info.value)
    assert "'boomer' (Boom)" in msg and "step 1" in msg and "t=0.002740y" in msg
    assert "ZeroDivisionError: bad model" in msg


@pytest.mark.parametrize(
    ("orders", "match"),
    [
        ("nope", "must return a list"),
        ([1], "not an Order"),
        ("unlisted", "unlisted instrument"),
        ("shape", "shape"),
        ("nan", "non-finite"),
    ],
)
def test_malformed_orders_are_refused(orders, match) -> None:
    _, _, events, turn = _setup()

    class Bad(Agent):
        def on_market(self, event, view):
            if orders == "unlisted":
                return [self.order("spx_opt", np.ones(4))]
            if orders == "shape":
                return [self.order("underlying", np.ones(3))]
            if orders == "nan":
                return [self.order("underlying", np.array([1, np.nan, 0, 0]))]
            return orders

    with pytest.raises(AgentError, match=match):
        Bad("bad").step(events, turn)


def test_config_models_are_frozen_and_strict() -> None:
    cfg = DeltaHedger.Config(target=0.5)
    with pytest.raises(ValidationError):
        cfg.target = 0.1  # type: ignore[misc]
    with pytest.raises(ValidationError, match="band_width"):
        DeltaHedger.Config(band_width=1.0)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="DeltaHedgerConfig"):
        DeltaHedger("d", AgentConfig())


class Stateful(Agent):
    class Config(AgentConfig):
        k: int = 1

    Config: ClassVar[type[AgentConfig]]

    def __init__(self, name, config=None, **kw):
        super().__init__(name, config, **kw)
        self.count = 0

    def on_fill(self, fill):
        self.count += 1

    def snapshot(self):
        return {"count": self.count}

    def restore(self, state):
        self.count = state["count"]


def test_snapshot_restore_and_fills_delivery() -> None:
    a = Stateful("s")
    a.fills({"s": [object(), object()], "other": [object()]})  # type: ignore[list-item]
    b = Stateful("s")
    b.restore(a.snapshot())
    assert b.count == 2
