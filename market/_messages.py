"""The event types that flow between components (the messages).

Every event is a frozen, slotted dataclass of numpy arrays (shape ``[n_paths]``)
and scalars. Each carries the ``step`` number and its ``sender`` (a component
name), and a class-level ``hook``: the name of the agent method that receives
it (``on_market``, ``on_fill``, ...). Dispatch is a ``getattr`` on that name, not
an ``isinstance`` chain, so a new event type needs no change to the dispatcher.
Import them from :mod:`market.events`, which adds their msgpack encoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from market.surface import SurfaceState

Array = np.ndarray


@dataclass(frozen=True, slots=True)
class InstrumentQuote:
    """A listed hedge instrument as quoted this step, one value per path.

    Attributes:
        instrument: The listing name used in orders (e.g. ``"underlying"``,
            ``"gamma_opt"``).
        contract: Identity of the contract currently listed under that name
            (``"gamma_opt@12"`` = listed at step 12). Positions accrue per contract.
        kind: ``"underlying"`` or ``"option"``.
        is_call: True for a call, False for a put (ignored for the underlying).
        expiry: Absolute expiry time in years since the run start (``inf`` for
            the underlying).
        strike: Strike per path, currency, shape ``[n]`` (zeros for the underlying).
        mid: Mid price per path, currency per unit, shape ``[n]``.
        iv: Implied vol the quote is struck at, decimal, shape ``[n]``
            (zeros for the underlying).
        delta: Delta per unit of spot, shape ``[n]``.
        gamma: Gamma per unit of spot squared, shape ``[n]``.
        vega: Vega per 1.00 of vol, shape ``[n]``.
        theta: Theta per year, shape ``[n]``.
    """

    instrument: str
    contract: str
    kind: str
    is_call: bool
    expiry: float
    strike: Array
    mid: Array
    iv: Array
    delta: Array
    gamma: Array
    vega: Array
    theta: Array


@dataclass(frozen=True, slots=True)
class MarketEvent:
    """The state of the market at one simulated timestamp.

    Attributes:
        step: Step number, a count (0 = first quote); steps need not be
            evenly spaced (event time).
        sender: Component name (``"market"``).
        time: Time since the run start, years (ACT/``year_days``); this
            step's length is ``time`` minus the previous event's ``time``.
        spot: Spot per path, currency, shape ``[n]``.
        surface: The implied-vol surface state per path (:class:`SurfaceState`).
        quotes: The listed hedge instruments (:class:`InstrumentQuote`), in
            listing order.
        rate: Continuously compounded risk-free rate, decimal per year.
        div: Continuous dividend yield, decimal per year.
        stamp: Calendar date and time of the step (ISO 8601), where the
            scenario has a calendar (a clock start, or a dated replay); else "".
    """

    hook: ClassVar[str] = "on_market"
    step: int
    sender: str
    time: float
    spot: Array
    surface: SurfaceState
    quotes: tuple[InstrumentQuote, ...]
    rate: float = 0.0
    div: float = 0.0
    stamp: str = ""

    @property
    def n_paths(self) -> int:
        """Number of paths this event carries."""
        return int(self.spot.shape[0])

    def quote(self, instrument: str) -> InstrumentQuote:
        """The quote listed under ``instrument``.

        Raises:
            KeyError: No instrument of that name is listed.
        """
        for q in self.quotes:
            if q.instrument == instrument:
                return q
        listed = ", ".join(q.instrument for q in self.quotes)
        raise KeyError(f"instrument {instrument!r} is not listed (listed: {listed})")


@dataclass(frozen=True, slots=True)
class Announcement:
    """A scheduled macro announcement: first as scheduled, then as released.

    Attributes:
        step: Step number at which it is published.
        sender: Component name.
        time: Publication time, years.
        name: Announcement name (e.g. ``"CPI"``).
        event_time: Scheduled release time, years.
        released: False when announced ahead, True at release.
        expected_std: Std of the log spot gap the market prices in (decimal).
        gap: Realised log spot gap per path at release, shape ``[n]``; empty
            before release.
    """

    hook: ClassVar[str] = "on_announcement"
    step: int
    sender: str
    time: float
    name: str
    event_time: float
    released: bool
    expected_std: float
    gap: Array = field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True, slots=True)
class RiskSnapshot:
    """The book as one agent sees it: greeks per path and its risk bands.

    The manager sends each agent, in cascade order, the book's greeks after the
    orders of the agents before it.

    Attributes:
        step: Step number, a count (as the :class:`MarketEvent`'s).
        sender: ``"manager"``.
        time: Time since the run start, years.
        delta: Book delta per unit of spot, shape ``[n]``.
        gamma: Book gamma per unit of spot squared, shape ``[n]``.
        vega: Book vega per 1.00 of vol, shape ``[n]``.
        theta: Book theta per year, shape ``[n]``.
        stressed_loss: Loss under the manager's stress grid (positive = loss),
            currency, shape ``[n]``.
        bands: Greek name (``"delta"``, ``"gamma"``, ``"vega"``) to the largest
            absolute value of that greek the manager lets the book keep, per
            path, same units as the greek, shape ``[n]``: this agent's share
            of the stressed-loss budget (weights times budget scales, divided
            by the greek's loss per unit under the stress move). A band agent
            trades only where ``abs(view.delta) > view.bands["delta"]``.
        positions: Instrument listing name to the book's position in the
            currently listed contract of that name, units, shape ``[n]``.
        model: The pricing model the greeks come from (the agent's:
            ``"bsm"``, ``"heston"``, ``"merton"``).
        hedge_greeks: Listed instrument to its greeks per unit under that
            model (``delta``, ``gamma``, ``vega``, ``theta``, ``[n]`` each).
    """

    hook: ClassVar[str] = "on_risk"
    step: int
    sender: str
    time: float
    delta: Array
    gamma: Array
    vega: Array
    theta: Array
    stressed_loss: Array
    bands: dict[str, Array]
    positions: dict[str, Array]
    model: str = "bsm"
    hedge_greeks: dict[str, dict[str, Array]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Order:
    """An order for one listed instrument, a quantity per path.

    Attributes:
        step: Step number.
        sender: Agent name.
        instrument: Listing name from :class:`InstrumentQuote`.
        qty: Units to buy (positive) or sell (negative) per path, shape ``[n]``.
    """

    hook: ClassVar[str] = "on_order"
    step: int
    sender: str
    instrument: str
    qty: Array


@dataclass(frozen=True, slots=True)
class Fill:
    """The execution of an order, per path.

    Attributes:
        step: Step number, a count: the step the fill executed at.
        sender: ``"market"``.
        agent: The agent whose order this fills.
        instrument: Listing name.
        contract: Contract identity the position accrues to.
        qty: Units filled per path (+ bought), shape ``[n]`` (0 where rejected).
        price: Execution price per unit, currency, shape ``[n]``.
        mid: Mid price per unit, currency, shape ``[n]``.
        cost: Cost against mid (spread + fees), currency, >= 0, shape ``[n]``.
    """

    hook: ClassVar[str] = "on_fill"
    step: int
    sender: str
    agent: str
    instrument: str
    contract: str
    qty: Array
    price: Array
    mid: Array
    cost: Array


@dataclass(frozen=True, slots=True)
class BudgetUpdate:
    """The manager's allocation of the stressed-loss budget.

    Attributes:
        step: Step number, a count (as the :class:`MarketEvent`'s).
        sender: ``"manager"``.
        time: Time since the run start, years.
        total: Total stressed-loss budget, currency.
        scales: Greek name to the multiplier applied to that greek's share
            (1.0 = the static allocation; < 1 tightens).
        reason: Why it changed (``"initial"``, ``"pre_event"``, ``"release"``).
    """

    hook: ClassVar[str] = "on_budget"
    step: int
    sender: str
    time: float
    total: float
    scales: dict[str, float]
    reason: str


@dataclass(frozen=True, slots=True)
class ModelAlert:
    """A model-decay alert: realised hedging error drifting past a threshold.

    Attributes:
        step: Step number, a count (as the :class:`MarketEvent`'s).
        sender: ``"manager"``.
        time: Time since the run start, years.
        metric: What drifted (e.g. ``"unexplained_pnl"``).
        value: Its value, units of the metric (a per-path alert: the share of
            paths whose alert is on).
        threshold: The threshold it crossed.
        paths: A per-path alert's state after this step, ``[n]`` bool (True:
            the alert is on for that path); None for an alert on the whole batch.
    """

    hook: ClassVar[str] = "on_alert"
    step: int
    sender: str
    time: float
    metric: str
    value: float
    threshold: float
    paths: Array | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class EndOfRun:
    """The last event of a run.

    Attributes:
        step: Number of steps run.
        sender: ``"market"``.
        time: Final time, years.
    """

    hook: ClassVar[str] = "on_end"
    step: int
    sender: str
    time: float


EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        MarketEvent,
        Announcement,
        RiskSnapshot,
        Order,
        Fill,
        BudgetUpdate,
        ModelAlert,
        EndOfRun,
    )
}
_NESTED_TYPES: dict[str, type] = {cls.__name__: cls for cls in (SurfaceState, InstrumentQuote)}
_ALL_TYPES: dict[str, type] = {**EVENT_TYPES, **_NESTED_TYPES}
