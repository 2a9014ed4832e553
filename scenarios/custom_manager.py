"""Custom manager: a worked example of a desk's own manager and allocation policy
(see docs/custom_managers.md).

``UsageBrake`` is an allocation policy: the static split, except that on a
path whose book used more than ``trigger`` of the budget for ``patience``
steps in a row every share is cut to ``brake`` of itself (the hedgers pull
the book back harder after it has sat near its limit). It keeps the streak
per path in its state, so ``snapshot``/``restore`` carry it.

``DeskManager`` is a manager: the default manager, plus a fat-finger check
before each trade (an order whose own stressed loss is above
``max_order_loss`` times the budget is rejected on that path), a cap on any
one greek's share of the budget (``max_share``), and a count of the model
alerts it has seen. Both run unchanged in-process and on Ray and pass
``agents.testing.check_policy`` / ``check_manager``.

The scenario compares the built-in static manager with the desk's on the
macro-gap book. Run it: ``gammaray run scenarios/custom_manager.py`` (add
``--runtime local`` to skip Ray).
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from agents import (
    Allocation,
    AllocationPolicy,
    AllocationState,
    ManagerConfig,
    PolicyConfig,
    RiskManager,
)
from market.events import InstrumentQuote, ModelAlert
from orchestration import HedgeConfig, apply_overrides
from scenarios.macro_gap import MANAGER
from scenarios.macro_gap import SCENARIO as GAP


class UsageBrakeConfig(PolicyConfig):
    """Config of :class:`UsageBrake`.

    Attributes:
        trigger: Budget usage (stressed loss / budget) that counts as "near the limit".
        patience: Steps in a row near the limit before the brake engages.
        brake: Scale of every share while braked (0.5 = half the bands).
    """

    trigger: float = Field(0.8, gt=0.0, le=1.0)
    patience: int = Field(2, ge=1, le=10_000)
    brake: float = Field(0.5, gt=0.0, le=1.0)


class UsageBrake(AllocationPolicy):
    """Static shares, braked on the paths that have sat near the budget."""

    Config: ClassVar[type[PolicyConfig]] = UsageBrakeConfig
    config: UsageBrakeConfig

    def __init__(self, config: UsageBrakeConfig, n_paths: int) -> None:
        super().__init__(config, n_paths)
        self.streak = np.zeros(n_paths, dtype=np.int64)

    def allocate(self, state: AllocationState) -> Allocation:
        """Every greek's static share, times ``brake`` where the streak is long enough."""
        cfg = self.config
        self.streak = np.where(state.usage > cfg.trigger, self.streak + 1, 0)
        scale = np.where(self.streak >= cfg.patience, cfg.brake, 1.0)
        return Allocation({g: s * scale for g, s in state.static.items()}, "usage_brake")

    def snapshot(self) -> dict[str, Any]:
        """The streak per path."""
        return {"streak": self.streak.copy()}

    def restore(self, state: dict[str, Any]) -> None:
        """Restore :meth:`snapshot`."""
        self.streak = np.asarray(state["streak"], dtype=np.int64).copy()


class DeskManagerConfig(ManagerConfig):
    """Config of :class:`DeskManager`: a :class:`ManagerConfig` and the desk's own limits.

    Attributes:
        max_order_loss: Largest stressed loss of one order on its own, as a
            multiple of the budget (None = no such check).
        max_share: Largest share of the budget any one greek may get.
    """

    max_order_loss: float | None = Field(None, gt=0.0)
    max_share: float = Field(1.0, gt=0.0, le=1.0)


class DeskManager(RiskManager):
    """The default manager with a fat-finger check, a share cap and an alert count."""

    Config: ClassVar[type[ManagerConfig]] = DeskManagerConfig
    config: DeskManagerConfig

    def __init__(self, config: DeskManagerConfig, *args: Any, **kw: Any) -> None:
        super().__init__(config, *args, **kw)
        self.alerts = 0

    def allocate(self, state: AllocationState) -> Allocation:
        """The policy's shares, each capped at ``max_share`` of the budget."""
        alloc = super().allocate(state)
        cap = self.config.max_share * state.budget
        return Allocation({g: np.minimum(s, cap) for g, s in alloc.shares.items()}, alloc.reason)

    def check_order(
        self, agent: str, instrument: str, qty: np.ndarray, quote: InstrumentQuote
    ) -> np.ndarray | None:
        """The default limits, and no single order whose own stressed loss is too big."""
        reject = super().check_order(agent, instrument, qty, quote)
        limit = self.config.max_order_loss
        if limit is None:
            return reject
        alone = self.stressed_loss({g: qty * getattr(quote, g) for g in ("delta", "gamma", "vega")})
        fat = alone > limit * self.config.budget
        return fat if reject is None else reject | fat

    def on_alert(self, alert: ModelAlert) -> None:
        """Count the alert, then react as the default manager does."""
        self.alerts += 1
        super().on_alert(alert)

    def snapshot(self) -> dict[str, Any]:
        """The default state and the alert count."""
        return {**super().snapshot(), "alerts": self.alerts}

    def restore(self, state: dict[str, Any]) -> None:
        """Restore :meth:`snapshot`."""
        super().restore(state)
        self.alerts = int(state["alerts"])


#: What `gammaray list` shows (read from the source, nothing imported).
DESCRIPTION = "a desk-written manager and allocation policy on the macro-gap book"

DGV = GAP.configs["delta_gamma_vega"].agents

SCENARIO = apply_overrides(
    GAP.model_copy(
        update={
            "configs": {
                "static": HedgeConfig(agents=DGV, manager=MANAGER),
                "desk": HedgeConfig(
                    agents=DGV,
                    manager={
                        "cls": DeskManager,
                        "config": {
                            **MANAGER.model_dump(),
                            "max_order_loss": 10.0,
                            "max_share": 0.45,
                            "policy": {"cls": UsageBrake, "config": {"trigger": 0.8}},
                        },
                    },
                ),
            }
        }
    ),
    [
        "name=custom_manager",
        f'description="{DESCRIPTION}"',
        "n_paths=2000",
    ],
)

if __name__ == "__main__":
    from orchestration.cli import main

    sys.exit(main(["run", __file__, *sys.argv[1:]]))
