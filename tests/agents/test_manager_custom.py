"""Custom managers and policies: the hooks, the runtime checks and the check kit."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest
from pydantic import ConfigDict, Field

from agents import (
    Allocation,
    AllocationPolicy,
    AllocationState,
    CostAwarePolicy,
    EventAwarePolicy,
    ManagerConfig,
    PolicyConfig,
    PolicyError,
    RiskManager,
    StaticPolicy,
    VolScaledPolicy,
)
from agents.testing import ManagerContractError, check_manager, check_policy
from market.validation import StrictModel


class Half(AllocationPolicy):
    """Half the static shares (a valid policy)."""

    def allocate(self, state: AllocationState) -> Allocation:
        return Allocation({g: 0.5 * s for g, s in state.static.items()}, "half")


class OverBudget(AllocationPolicy):
    """Gives every greek the whole budget (broken: the sum is three budgets)."""

    def allocate(self, state: AllocationState) -> Allocation:
        return Allocation(dict.fromkeys(("delta", "gamma", "vega"), state.budget))


class LoosePolicyConfig(StrictModel):
    model_config = ConfigDict(frozen=False, extra="forbid")


class Loose(Half):
    Config: ClassVar[type[StrictModel]] = LoosePolicyConfig


class Forgetful(AllocationPolicy):
    """Keeps a step count but no snapshot: broken round trip."""

    def __init__(self, config: Any, n_paths: int) -> None:
        super().__init__(config, n_paths)
        self.k = 0

    def allocate(self, state: AllocationState) -> Allocation:
        self.k += 1
        scale = 1.0 if self.k % 3 else 0.5
        return Allocation({g: s * scale for g, s in state.static.items()})


_GLOBAL = [0]


class Drifting(AllocationPolicy):
    """Depends on a module global: broken determinism."""

    def allocate(self, state: AllocationState) -> Allocation:
        _GLOBAL[0] += 1
        scale = 1.0 / (1 + _GLOBAL[0] % 7)
        return Allocation({g: s * scale for g, s in state.static.items()})


class CapConfig(ManagerConfig):
    cap: float = Field(0.3, gt=0.0, le=1.0)


class Capped(RiskManager):
    """Caps every share; counts rejected orders itself (with its snapshot)."""

    Config: ClassVar[type[ManagerConfig]] = CapConfig

    def __init__(self, config: Any, *a: Any, **kw: Any) -> None:
        super().__init__(config, *a, **kw)
        self.checked = 0

    def allocate(self, state: AllocationState) -> Allocation:
        alloc = super().allocate(state)
        cap = self.config.cap * state.budget
        return Allocation({g: np.minimum(s, cap) for g, s in alloc.shares.items()})

    def check_order(self, agent, instrument, qty, quote):  # type: ignore[no-untyped-def]
        self.checked += 1
        return np.abs(qty) > 0.5 if instrument == "gamma_opt" else None

    def snapshot(self) -> dict[str, Any]:
        return {**super().snapshot(), "checked": self.checked}

    def restore(self, state: dict[str, Any]) -> None:
        super().restore(state)
        self.checked = state["checked"]


class CappedNoSnapshot(Capped):
    def snapshot(self) -> dict[str, Any]:
        return RiskManager.snapshot(self)

    def restore(self, state: dict[str, Any]) -> None:
        RiskManager.restore(self, state)

    def allocate(self, state: AllocationState) -> Allocation:
        # depends on its own counter, which its snapshot forgets
        alloc = super().allocate(state)
        s = 1.0 if self.checked % 5 else 0.9
        return Allocation({g: x * s for g, x in alloc.shares.items()})


class GreedyManager(RiskManager):
    def allocate(self, state: AllocationState) -> Allocation:
        return Allocation({"delta": 2 * state.budget})


@pytest.mark.parametrize(
    ("cls", "config"),
    [
        (StaticPolicy, None),
        (EventAwarePolicy, {"base": {"kind": "cost_aware"}}),
        (VolScaledPolicy, {"halflife_days": 0.5, "base": {"kind": "cost_aware"}}),
        (CostAwarePolicy, {"power": 1.0}),
        (Half, None),
    ],
)
def test_builtin_and_valid_policies_pass_the_kit(cls, config) -> None:
    check_policy(cls, config)


@pytest.mark.parametrize(
    ("cls", "needle"),
    [
        (OverBudget, "broke the allocation contract at step 0: ValueError: shares sum to 150"),
        (Loose, "Loose.Config must be frozen and forbid unknown fields"),
        (Forgetful, "snapshot()/restore() does not round-trip"),
        (Drifting, "is not deterministic"),
        (int, "is not a subclass of agents.AllocationPolicy"),
    ],
)
def test_a_broken_policy_fails_the_kit_naming_the_broken_point(cls, needle) -> None:
    with pytest.raises(ManagerContractError) as err:
        check_policy(cls)
    assert needle in str(err.value)


def test_a_policy_config_that_does_not_validate_fails_the_kit_naming_the_field() -> None:
    with pytest.raises(ManagerContractError, match="power"):
        check_policy(CostAwarePolicy, {"power": -3})


def test_managers_pass_the_kit_and_broken_ones_fail_it_naming_the_point() -> None:
    check_manager(RiskManager)
    check_manager(Capped, {"cap": 0.25, "policy": {"kind": "cost_aware"}})
    with pytest.raises(
        ManagerContractError, match="snapshot\\(\\)/restore\\(\\) does not round-trip"
    ):
        check_manager(CappedNoSnapshot)
    with pytest.raises(ManagerContractError, match="shares sum to 100 on some path"):
        check_manager(GreedyManager)
    with pytest.raises(ManagerContractError, match="cap"):
        check_manager(Capped, {"cap": 7})


def test_a_module_importing_ray_fails_the_kit(tmp_path, monkeypatch) -> None:
    (tmp_path / "raypol.py").write_text(
        "import ray\n"
        "from agents import AllocationPolicy, Allocation\n"
        "class P(AllocationPolicy):\n"
        "    def allocate(self, state):\n"
        "        return Allocation(dict(state.static))\n"
    )
    import importlib
    import sys
    import types

    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "ray", types.ModuleType("ray"))  # no real import needed
    mod = importlib.import_module("raypol")
    with pytest.raises(ManagerContractError, match="imports ray"):
        check_policy(mod.P)


def _gap_manager(cls: type[RiskManager], cfg: ManagerConfig) -> tuple[RiskManager, Any]:
    from agents._check_managers import _COSTS, _market

    book = ()
    from agents.book import BookPosition

    book = (BookPosition(is_call=True, expiry_days=30.0, qty=-10.0),)
    return cls(cfg, ["gamma"], book, 64, 365.0, _COSTS), _market(3)


def test_the_manager_hooks_decide_shares_and_rejections() -> None:
    from agents import GammaHedger, GammaHedgerConfig

    mgr, market = _gap_manager(Capped, CapConfig(budget=4.0, cap=0.1))
    agent = GammaHedger("gamma", GammaHedgerConfig(instrument="gamma_opt"))
    rejected_any = False
    for step in range(8):
        events = market.start() if step == 0 else market.step()
        turn = mgr.begin_step(events)
        assert all(np.all(np.asarray(s) <= 0.4) for s in mgr.shares.values())
        np.testing.assert_allclose(turn.view.bands["gamma"], 0.4 / (0.5 * mgr._ds**2))
        orders = agent.step(events, turn)
        turn = mgr.submit("gamma", orders)
        for o in mgr._orders:
            assert np.all(np.abs(o.qty) <= 0.5)
        rejected_any |= bool(mgr.rejected.any())
        mgr.settle(turn)
    assert mgr.checked > 0 and rejected_any


def test_a_policy_that_raises_stops_the_run_with_its_name_step_and_time() -> None:
    class Boom(AllocationPolicy):
        def allocate(self, state: AllocationState) -> Allocation:
            if state.step == 2:
                raise KeyError("no vol")
            return Allocation(dict(state.static))

    mgr, market = _gap_manager(RiskManager, ManagerConfig(budget=40.0, policy={"cls": Boom}))
    with pytest.raises(PolicyError) as err:
        for step in range(4):
            mgr.begin_step(market.start() if step == 0 else market.step())
            mgr.settle()
    assert "allocation policy Boom failed" in str(err.value) and "(step 2)" in str(err.value)
    assert "KeyError" in str(err.value)


def test_policy_config_is_validated_when_the_manager_config_is() -> None:
    from pydantic import ValidationError

    class Strict(AllocationPolicy):
        class Config(PolicyConfig):
            level: float = Field(0.5, gt=0.0)

        def allocate(self, state: AllocationState) -> Allocation:
            return Allocation(dict(state.static))

    ManagerConfig(policy={"cls": Strict, "config": {"level": 0.2}})
    with pytest.raises(
        ValidationError, match=r"level: Input should be greater than 0 \(config of Strict\)"
    ):
        ManagerConfig(policy={"cls": Strict, "config": {"level": -1}})
    with pytest.raises(
        ValidationError, match=r"nope: Extra inputs are not permitted \(config of Strict\)"
    ):
        ManagerConfig(policy={"cls": Strict, "config": {"nope": 1}})


def test_the_managers_mixins_resolve_to_the_framework_methods() -> None:
    # The order-flow and series mixins declare stubs for what the others
    # provide; the bases' order makes the real methods win.
    from agents._manager_budget import BudgetHooks
    from agents._manager_orders import OrderFlow
    from agents.manager import RiskManager

    assert RiskManager.check_order is BudgetHooks.check_order
    assert RiskManager.net_orders is OrderFlow.net_orders
