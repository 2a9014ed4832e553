"""The engine's event-time clock in training: schedules, state triggers, latency.

The engine calls an agent only at the steps its clock schedule is due
(``every_step``: the decision grid, not the wake-up and arrival steps that
other agents add to the timeline; ``every``: its wake-ups; ``on_release``:
the release steps; :func:`orchestration.engine.schedule_due`), masks its
orders to the paths its state trigger marks (``spot_move``, ``band``:
:meth:`agents.manager.RiskManager._due`), and queues the orders of an agent
with a reaction latency in flight until the first step at or after ``decision
time + latency``. There they pass the hard limits against the book of that
step before the cascade runs, in decision order, and are netted and filled
with that step's other orders; while in flight they count in every agent's
view at the quotes' greeks (:meth:`agents.manager.RiskManager.submit`).

:func:`clocked` gives :func:`~orchestration._train_policies.rollout` the same
clock over torch tensors: an :class:`Arrivals` pseudo-actor first in the
cascade (the rollout books its orders as any actor's, with the manager's
limits at the step's quotes), then each actor wrapped in a :class:`Clocked`
that skips the steps it is not called at, masks its orders to the due paths,
shows it the orders in flight and queues its own when it has a latency. An
actor declares its clock in an ``AgentClock`` attribute ``clock`` (None:
every step of the decision grid, no latency).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.base import EveryStep, Schedule
from market.clock import CLOCK_TOL, minutes_to_years

GREEKS3 = ("delta", "gamma", "vega")


@dataclass(frozen=True)
class AgentClock:
    """When an agent acts and when its orders execute (its config's ``latency`` and ``schedule``).

    Attributes:
        latency: Reaction latency, seconds (0: its orders execute at once).
        schedule: Its :data:`agents.base.Schedule` (default every step of the grid).
    """

    latency: float = 0.0
    schedule: Any = field(default_factory=EveryStep)

    @classmethod
    def of(cls, config: Any) -> AgentClock:
        """The clock of an agent config (an :class:`agents.base.AgentConfig`)."""
        return cls(float(config.latency), config.schedule)

    def to_json(self, greek: str | None) -> dict[str, Any]:
        """``{"latency": seconds, "schedule": {...}}`` (a checkpoint's meta), a band
        trigger's greek resolved to ``greek`` (the agent's)."""
        sch = self.schedule.model_dump(mode="json")
        if sch["kind"] == "band" and sch.get("greek") is None:
            sch["greek"] = greek
        return {"latency": self.latency, "schedule": sch}

    def key(self, greek: str | None) -> str:
        """The canonical text an agent's :class:`agents._checkpoint.PolicySpec` carries."""
        from agents._checkpoint import clock_json

        return clock_json(**self.to_json(greek))

    @property
    def trivial(self) -> bool:
        """Every step of the grid, no latency."""
        return self.latency == 0.0 and self.schedule.kind == "every_step"


def called_steps(schedule: Schedule, timeline: Any) -> np.ndarray:
    """Steps an agent with ``schedule`` is called at, ``[T + 1]`` bool (the engine's)."""
    if schedule.kind == "every":
        return np.asarray(timeline.due_every(schedule.minutes))
    if schedule.kind == "on_release":
        return np.asarray(timeline.due_events(schedule.names))
    return np.asarray(timeline.on_grid)


def arrival_steps(times: np.ndarray, latency: float, year_days: float) -> np.ndarray:
    """The step at which an order decided at step ``k`` executes, ``[T + 1]`` ints.

    The first step ``j > k`` with ``times[k] + latency <= times[j] + CLOCK_TOL``
    (the manager's arithmetic); ``T + 1`` or more: never (past the last trade).
    """
    lat = minutes_to_years(latency / 60.0, year_days)
    n = times.shape[0]
    out = np.full(n, n, dtype=np.int64)
    for k in range(n):
        arrival = float(times[k]) + lat
        j = max(k + 1, int(np.searchsorted(times, arrival - CLOCK_TOL, side="left")))
        while j < n and not arrival <= float(times[j]) + CLOCK_TOL:
            j += 1
        while j - 1 > k and arrival <= float(times[j - 1]) + CLOCK_TOL:
            j -= 1
        out[k] = j
    return out


class Queue:
    """Orders in flight, ``(arrival step, instrument, qty [n])`` in decision order."""

    def __init__(self) -> None:
        self.items: list[tuple[int, str, Any]] = []

    def pending(self, k: int, view: dict[str, Any], quotes: dict[str, Any]) -> dict[str, Any]:
        """``view`` plus the greeks of the orders in flight at step ``k``'s quotes."""
        if not self.items:
            return view
        out = dict(view)
        for _, inst, qty in self.items:
            q = quotes[inst]
            for g in GREEKS3:
                out[g] = out[g] + qty * q[g][k]
        return out


class Arrivals:
    """First in the clocked cascade: the orders in flight that execute at this step."""

    clock = None

    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    def reset(self) -> None:
        """Start of a rollout: nothing in flight."""
        self.queue.items = []

    def act(self, k: int, view: dict[str, Any], led: Any) -> list[tuple[str, Any]]:
        """The due orders, in decision order (booked by the rollout with the limits)."""
        items = self.queue.items
        if not items:
            return []
        due = [(inst, qty) for j, inst, qty in items if j <= k]
        if due:
            self.queue.items = [it for it in items if it[0] > k]
        return due


class Clocked:
    """An actor on its clock: called at its steps, due paths only, orders maybe in flight.

    Args:
        actor: The actor (``reset()``, ``act(k, view, led)``; its ``greek`` names
            the band trigger's default greek).
        clock: Its clock.
        ds: The training set on its device.
        queue: The cascade's orders in flight (shared).
    """

    def __init__(self, actor: Any, clock: AgentClock, ds: Any, queue: Queue) -> None:
        ts = ds.ts
        self.actor, self.ds, self.queue = actor, ds, queue
        sch = clock.schedule
        self.called = called_steps(sch, ts.timeline)
        self.arrive = (
            arrival_steps(ts.times, clock.latency, ts.year_days) if clock.latency > 0.0 else None
        )
        self.trigger: tuple[str, Any] | None = None
        if sch.kind == "spot_move":
            self.trigger = ("spot_move", float(sch.threshold))
        elif sch.kind == "band":
            greek = sch.greek or getattr(actor, "greek", None) or "gamma"
            self.trigger = ("band", greek)
        self.last: Any = None

    def reset(self) -> None:
        """Start of a rollout: the actor's state, no last trade."""
        self.actor.reset()
        self.last = None

    def _due(self, k: int, view: dict[str, Any]) -> Any:
        import torch

        assert self.trigger is not None
        kind, arg = self.trigger
        if kind == "band":
            return torch.abs(view[arg]) > self.ds.bands[arg][k]
        spot = self.ds.spot[k]
        if self.last is None:
            self.last = torch.full_like(spot, float("nan"))
        nan = torch.isnan(self.last)
        moved = torch.abs(spot / torch.where(nan, spot, self.last) - 1.0)
        return nan | (moved > arg)

    def act(self, k: int, view: dict[str, Any], led: Any) -> list[tuple[str, Any]]:
        """This step's orders to book now (none when not called, or in flight)."""
        import torch

        if not self.called[k]:
            return []
        seen = self.queue.pending(k, view, self.ds.quotes)
        due = self._due(k, seen) if self.trigger is not None else None
        if due is not None and not bool(due.any()):
            return []
        orders = self.actor.act(k, seen, led)
        if due is not None:
            orders = [(inst, torch.where(due, qty, qty * 0.0)) for inst, qty in orders]
            if self.trigger is not None and self.trigger[0] == "spot_move":
                for _, qty in orders:
                    self.last = torch.where(qty != 0.0, self.ds.spot[k], self.last)
        if self.arrive is None:
            return orders
        j = int(self.arrive[k])
        self.queue.items.extend((j, inst, qty) for inst, qty in orders)
        return []


def clocked(ds: Any, cascade: list[Any]) -> list[Any]:
    """The cascade on the engine's clock (itself when every actor trades at every step).

    Args:
        ds: The training set on its device (its ``ts.timeline``).
        cascade: Actors in cascade order, each with an optional ``clock``
            (:class:`AgentClock`).
    """
    tl = getattr(ds.ts, "timeline", None)
    clocks = [getattr(a, "clock", None) or AgentClock() for a in cascade]
    if all(c.trivial for c in clocks) and (tl is None or bool(np.all(tl.on_grid[:-1]))):
        return cascade
    if tl is None:
        raise ValueError("a clocked cascade needs the training set's timeline")
    queue = Queue()
    wrapped = [Clocked(a, c, ds, queue) for a, c in zip(cascade, clocks, strict=True)]
    return [Arrivals(queue), *wrapped]
