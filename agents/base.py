"""Agent: the extension point. Subclass it, override a few ``on_<event>`` hooks.

The framework method :meth:`Agent.step` receives one step's events and the
book as this agent sees it, dispatches each event to the hook its type names
(``event.hook``: ``on_announcement``, ``on_budget``, ``on_alert``, ...), then
calls :meth:`Agent.on_market`, whose orders it checks and returns. User hooks
decide; the framework dispatches, validates and wraps errors so that a failing
agent stops the run with its name, the simulated time and the exception.

Each agent class names its config model in ``Config``: a frozen pydantic model
(``frozen=True, extra="forbid"``) validated when the scenario is loaded.
Agents never import Ray; randomness, if any, comes from the ``rng`` passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from market.events import EndOfRun, Fill, MarketEvent, Order, RiskSnapshot
from market.validation import StrictModel


class EveryStep(StrictModel):
    """Decide at every step of the decision grid (base grid, events, refinements)."""

    kind: Literal["every_step"] = "every_step"


class EveryMinutes(StrictModel):
    """Wake up every ``minutes`` minutes from the start (the timeline holds those times)."""

    kind: Literal["every"] = "every"
    minutes: float = Field(gt=0.0, allow_inf_nan=False)


class OnRelease(StrictModel):
    """Decide at the step of a scheduled release (``names``: which; None = every one)."""

    kind: Literal["on_release"] = "on_release"
    names: tuple[str, ...] | None = None


class SpotMove(StrictModel):
    """Decide on the paths whose spot moved more than ``threshold`` (relative) since
    the agent's last trade there (every path is due until its first trade)."""

    kind: Literal["spot_move"] = "spot_move"
    threshold: float = Field(gt=0.0, allow_inf_nan=False)


class BandBreach(StrictModel):
    """Decide on the paths where the book's ``greek`` (default: the agent's) is
    outside its band."""

    kind: Literal["band"] = "band"
    greek: Literal["delta", "gamma", "vega"] | None = None


#: An agent's trigger: clock-based (``every_step``, ``every``, ``on_release``:
#: the driver knows from the timeline, a not-due agent is not called at all)
#: or state-based (``spot_move``, ``band``: the manager marks the due paths).
Schedule = Annotated[
    EveryStep | EveryMinutes | OnRelease | SpotMove | BandBreach, Field(discriminator="kind")
]
#: Schedules the manager evaluates per path.
STATE_SCHEDULES = frozenset({"spot_move", "band"})


class AgentConfig(StrictModel):
    """Base of every agent's config: frozen, unknown fields refused, floats finite.

    Attributes:
        latency: Reaction latency, seconds (>= 0): an order decided at ``t``
            executes at the first market state at or after ``t + latency``, at
            that state's quotes and costs; the agent learns of its fill then.
        schedule: When the agent is due (:data:`Schedule`; default every step).
    """

    latency: float = Field(0.0, ge=0.0, le=31_536_000.0, allow_inf_nan=False)
    schedule: Schedule = EveryStep()


class AgentError(RuntimeError):
    """An agent hook raised, or returned malformed orders.

    Attributes:
        agent: The agent's name.
        cls: The agent's class name.
        step: Step number.
        time: Simulated time, years.
        error: ``"ExceptionType: message"`` of the cause.
    """

    def __init__(self, agent: str, cls: str, step: int, time: float, error: str) -> None:
        super().__init__(agent, cls, step, time, error)
        self.agent = agent
        self.cls = cls
        self.step = step
        self.time = time
        self.error = error

    def __str__(self) -> str:
        return (
            f"agent {self.agent!r} ({self.cls}) failed at t={self.time:.6f}y "
            f"(step {self.step}): {self.error}"
        )


@dataclass(frozen=True, slots=True)
class AgentTurn:
    """What the manager hands an agent for one step.

    Attributes:
        notices: Manager events for this step (budget updates, model alerts).
        view: The book after the orders of the agents before this one.
        fills: Agent name to its fills not yet delivered (each agent takes
            its own; delivered before this step's events).
        due: Paths on which this agent is due (a state-based schedule), shape
            ``[n]`` bool; None = every path.
    """

    notices: tuple[Any, ...]
    view: RiskSnapshot
    fills: dict[str, list[Fill]]
    due: np.ndarray | None = None


class Agent:
    """Base class of hedging agents.

    Args:
        name: Unique name of this agent in its configuration.
        config: An instance of the class's ``Config`` (default config if None).
        rng: Random generator for agents that randomise (passed in, never global):
            in a run, a :class:`~market._rng.PathGenerator` keyed by seed,
            configuration, agent and path block (any ``numpy.random.Generator``
            method; per-path draws take ``size=`` by keyword).

    Class attributes:
        Config: The pydantic config model of this class.
        greek: The greek this agent hedges (``"vega"``, ``"gamma"``, ``"delta"``)
            or None; the manager's default cascade runs vega, gamma, delta, then
            the rest, in scenario order.
    """

    Config: ClassVar[type[AgentConfig]] = AgentConfig
    greek: ClassVar[str | None] = None

    def __init__(
        self,
        name: str,
        config: AgentConfig | None = None,
        *,
        rng: Any = None,
    ) -> None:
        self.name = name
        self.config = config if config is not None else self.Config()
        if not isinstance(self.config, self.Config):
            raise TypeError(f"{type(self).__name__} needs a {self.Config.__name__} config")
        self.rng = rng
        self._step = 0
        self._time = 0.0

    @classmethod
    def check_scenario(cls, config: AgentConfig, family: Mapping[str, Any]) -> None:
        """Refuse a config this scenario cannot run (a validation hook; default accepts).

        Called when a scenario is validated, before anything runs or is
        written, with this class's validated config and the scenario's family
        (JSON values: ``scenario`` name, ``market`` kind, ``book`` positions,
        client ``flow``). Override it to check what depends on the scenario or
        on files the config names (a learned policy's checkpoint does both).

        Raises:
            ValueError: With one line saying what to fix.
        """

    # ----------------------------------------------------------- framework
    def step(self, events: tuple[Any, ...], turn: AgentTurn) -> list[Order]:
        """Run this agent for one step (framework method; do not override).

        Args:
            events: The market's events for the step, the :class:`MarketEvent` last.
            turn: The manager's notices and this agent's view of the book.

        Returns:
            The agent's orders, checked.

        Raises:
            AgentError: A hook raised or returned malformed orders.
        """
        market = events[-1]
        self._step, self._time = market.step, market.time
        try:
            for f in turn.fills.get(self.name, ()):
                self.on_fill(f)
            for ev in (*events[:-1], *turn.notices):
                getattr(self, ev.hook)(ev)
            due = turn.due
            if due is not None and not due.any():
                return []
            orders = self._check_orders(self.on_market(market, turn.view), market)
            if due is not None and not due.all():
                orders = [
                    Order(o.step, o.sender, o.instrument, np.where(due, o.qty, 0.0)) for o in orders
                ]
            return orders
        except AgentError:
            raise
        except Exception as exc:
            raise self._error(exc) from exc

    def fills(self, by_agent: dict[str, list[Fill]]) -> None:
        """Deliver this agent's fills of the step to :meth:`on_fill` (framework method).

        Args:
            by_agent: Agent name to its fills, as the manager split them.
        """
        try:
            for f in by_agent.get(self.name, ()):
                self.on_fill(f)
        except Exception as exc:
            raise self._error(exc) from exc

    def end(self, events: tuple[Any, ...]) -> None:
        """Deliver the end of the run to :meth:`on_end` (framework method).

        Args:
            events: The run's last events, the :class:`MarketEvent` last; the
                hook receives an :class:`~market.events.EndOfRun` at its step
                (the number of steps run) and time.
        """
        market = events[-1]
        self._step, self._time = market.step, market.time
        try:
            self.on_end(EndOfRun(step=market.step, sender="market", time=market.time))
        except Exception as exc:
            raise self._error(exc) from exc

    def _error(self, exc: BaseException) -> AgentError:
        return AgentError(
            self.name, type(self).__name__, self._step, self._time, f"{type(exc).__name__}: {exc}"
        )

    def _check_orders(self, orders: Any, market: MarketEvent) -> list[Order]:
        if orders is None:
            return []
        if not isinstance(orders, list | tuple):
            raise TypeError(f"on_market must return a list of Order, got {type(orders).__name__}")
        listed = {q.instrument for q in market.quotes}
        n = market.n_paths
        for o in orders:
            if not isinstance(o, Order):
                raise TypeError(f"on_market returned a {type(o).__name__}, not an Order")
            if o.instrument not in listed:
                raise ValueError(f"order for unlisted instrument {o.instrument!r}")
            if not isinstance(o.qty, np.ndarray) or o.qty.shape != (n,):
                raise ValueError(f"order qty must be an array of shape ({n},)")
            if not np.all(np.isfinite(o.qty)):
                raise ValueError(f"order for {o.instrument!r} has non-finite quantities")
        return list(orders)

    def order(self, instrument: str, qty: np.ndarray) -> Order:
        """Build an order for this step (helper for hooks).

        Args:
            instrument: Listing name.
            qty: Units to buy (+) or sell (-) per path, shape ``[n]``.
        """
        return Order(
            step=self._step,
            sender=self.name,
            instrument=instrument,
            qty=np.asarray(qty, dtype=np.float64),
        )

    # ---------------------------------------------------------------- hooks
    def on_market(self, event: MarketEvent, view: RiskSnapshot) -> list[Order]:
        """Decide this step's orders. Override this.

        Args:
            event: The market event (spot, surface, quotes), arrays ``[n]``.
            view: The book as this agent sees it (greeks and risk bands).

        Returns:
            Orders (use :meth:`order`); an empty list to do nothing.
        """
        return []

    def on_fill(self, fill: Fill) -> None:
        """React to a fill of one of this agent's orders."""

    def on_budget(self, update: Any) -> None:
        """React to a budget re-allocation (:class:`~market.events.BudgetUpdate`)."""

    def on_announcement(self, announcement: Any) -> None:
        """React to a scheduled or released announcement."""

    def on_alert(self, alert: Any) -> None:
        """React to a model-decay alert."""

    def on_end(self, end: Any) -> None:
        """React to the end of the run (:class:`~market.events.EndOfRun`)."""

    # ---------------------------------------------------------------- state
    def snapshot(self) -> dict[str, Any]:
        """This agent's state, msgpack-encodable (override if the agent keeps state)."""
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`snapshot` (override together with it)."""
