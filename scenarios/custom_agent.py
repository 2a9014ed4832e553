"""Custom agent: a worked example of writing your own hedger (see docs/custom_agents.md).

``ScheduledDeltaHedger`` hedges delta only at fixed times of day (say the open
and the close), however far the book drifts in between — a desk that cannot
trade around the clock. It keeps how many hedges it has done in its state
(so ``snapshot``/``restore`` carry it) and runs unchanged in-process and on
Ray. The scenario compares it with the built-in band ``DeltaHedger`` that may
trade at every step, on the macro-gap book.

Run it: ``gammaray run scenarios/custom_agent.py`` (add ``--runtime local``
to skip Ray).
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar

from pydantic import Field

from agents import Agent, AgentConfig
from market.events import MarketEvent, Order, RiskSnapshot
from orchestration import AgentSpec, HedgeConfig, apply_overrides
from scenarios.macro_gap import MANAGER
from scenarios.macro_gap import SCENARIO as GAP


class ScheduledDeltaConfig(AgentConfig):
    """Config of :class:`ScheduledDeltaHedger`.

    Attributes:
        steps: Steps of each day (0 = the day's first) at which it hedges.
        fraction: Fraction of the book's delta it removes when it hedges.
    """

    steps: tuple[int, ...] = (0,)
    fraction: float = Field(1.0, gt=0.0, le=1.0)


class ScheduledDeltaHedger(Agent):
    """Neutralises (a fraction of) the book's delta at fixed times of day only."""

    Config: ClassVar[type[AgentConfig]] = ScheduledDeltaConfig
    greek: ClassVar[str | None] = "delta"
    config: ScheduledDeltaConfig

    def __init__(self, name: str, config: AgentConfig | None = None, **kw: Any) -> None:
        super().__init__(name, config, **kw)
        self.hedges = 0

    def on_market(self, event: MarketEvent, view: RiskSnapshot) -> list[Order]:
        """Trade the underlying at the scheduled steps of the day."""
        if event.step % STEPS_PER_DAY not in self.config.steps:
            return []
        self.hedges += 1
        return [self.order("underlying", -self.config.fraction * view.delta)]

    def snapshot(self) -> dict[str, Any]:
        """Its state: the number of hedges done."""
        return {"hedges": self.hedges}

    def restore(self, state: dict[str, Any]) -> None:
        """Restore :meth:`snapshot`."""
        self.hedges = int(state["hedges"])


STEPS_PER_DAY = GAP.steps_per_day

SCENARIO = apply_overrides(
    GAP.model_copy(
        update={
            "configs": {
                "band_delta": HedgeConfig(agents=(AgentSpec(cls="delta"),), manager=MANAGER),
                "open_close_delta": HedgeConfig(
                    agents=(
                        AgentSpec(
                            cls=ScheduledDeltaHedger,
                            name="scheduled",
                            config={"steps": (0, STEPS_PER_DAY - 1)},
                        ),
                    ),
                    manager=MANAGER,
                ),
            }
        }
    ),
    [
        "name=custom_agent",
        'description="a user-written hedger that trades delta at the open and close only"',
    ],
)

if __name__ == "__main__":
    from orchestration.cli import main

    sys.exit(main(["run", __file__, *sys.argv[1:]]))
