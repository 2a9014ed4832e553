"""The run's clock: an event-driven timeline of steps, each with its own ``dt``.

The timeline is the sorted union of

* the **base grid**: ``k / (steps_per_day * year_days)`` years for
  ``k = 0 .. days * steps_per_day`` (exactly today's lock-step grid, so a
  scenario whose other times all land on it keeps its numbers to the bit);
* every **scheduled event**'s exact time (an announcement at 08:30 on day 10
  is a step at that time, whatever the grid);
* **refinement windows** around scheduled events (e.g. 1-minute steps from
  30 minutes before to 2 hours after, configured per event), anchored on the
  event time;
* **wake-up times** of agents that run on a clock schedule (every N minutes);
* **order arrival times** ``t + latency`` of agents with a reaction latency.

The first three form the *decision grid* (:attr:`Timeline.on_grid`): the steps
at which an every-step agent decides. Wake-up and arrival steps are market
states too (marks, fills, attribution run there) but only the agents due
then act, so adding a slow agent's arrivals to a run does not change how
often a fast agent next to it hedges.

Times closer than :data:`CLOCK_TOL` merge into one step, which keeps the
earliest-listed kind's time (the base grid wins, then events, refinements,
wake-ups, arrivals), so an event that falls on a grid point is that grid
point to the last bit. Pure functions; nothing here knows about agents.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import Field

from market.validation import StrictModel

#: Two times closer than this merge into one step, years (~32 µs).
CLOCK_TOL = 1e-12
#: Minutes per day.
MINUTES_PER_DAY = 1440.0
#: Most steps a timeline may hold (a guard against a window or schedule
#: whose step is absurdly small for the horizon).
MAX_STEPS = 5_000_000
#: Kinds of timeline points, in merge priority (lower wins).
BASE, EVENT, REFINE, WAKE, ARRIVAL = 0, 1, 2, 3, 4


class RefineWindow(StrictModel):
    """Finer steps around one scheduled event.

    Attributes:
        before_minutes: Start of the window, minutes before the event (>= 0).
        after_minutes: End of the window, minutes after the event (>= 0).
        step_minutes: Step length inside the window, minutes (> 0).
    """

    before_minutes: float = Field(30.0, ge=0.0, allow_inf_nan=False)
    after_minutes: float = Field(120.0, ge=0.0, allow_inf_nan=False)
    step_minutes: float = Field(1.0, gt=0.0, allow_inf_nan=False)


class ClockConfig(StrictModel):
    """Calendar of the run (where the scenario has one).

    Attributes:
        start: Calendar date and time of ``t = 0`` (e.g. ``2024-06-03T00:00``);
            each step's stamp is ``start + t * year_days`` days. None = no
            calendar (a replay of dated data stamps its steps with its dates).
    """

    start: datetime.datetime | None = None


@dataclass(frozen=True, slots=True)
class ClockPoint:
    """A scheduled time the timeline must hold.

    Attributes:
        name: What it is (e.g. ``"CPI"``).
        time: Years since the start.
        refine: Finer steps around it, or None.
    """

    name: str
    time: float
    refine: RefineWindow | None = None


@dataclass(frozen=True, slots=True)
class Timeline:
    """The steps of a run.

    Attributes:
        times: Step times, years since the start, strictly increasing,
            shape ``[n_steps + 1]`` (``times[0] = 0``).
        kinds: The winning kind of each step (:data:`BASE` ... :data:`ARRIVAL`),
            shape ``[n_steps + 1]``.
        on_grid: True on decision-grid steps (base, event or refinement),
            shape ``[n_steps + 1]``.
        events: Scheduled points by name to their step index.
        horizon: Last time, years.
        year_days: Days per year.
    """

    times: np.ndarray
    kinds: np.ndarray
    on_grid: np.ndarray
    events: dict[str, int]
    horizon: float
    year_days: float

    @property
    def n_steps(self) -> int:
        """Steps after the first quote."""
        return int(self.times.shape[0]) - 1

    @property
    def dt(self) -> np.ndarray:
        """Length of each step ``k -> k+1``, years, shape ``[n_steps]``."""
        return np.diff(self.times)

    def step_at_or_after(self, time: float) -> int | None:
        """Index of the first step at or after ``time`` (None past the horizon)."""
        i = int(np.searchsorted(self.times, time - CLOCK_TOL, side="left"))
        return i if i < self.times.shape[0] else None

    def due_every(self, minutes: float) -> np.ndarray:
        """Steps that are wake-ups of an every-``minutes`` schedule, ``[n_steps + 1]`` bool."""
        wake = wake_times(minutes, self.horizon, self.year_days)
        idx = np.searchsorted(self.times, wake - CLOCK_TOL, side="left")
        idx = idx[idx < self.times.shape[0]]
        hit = np.abs(self.times[idx] - wake[: idx.shape[0]]) <= CLOCK_TOL
        out = np.zeros(self.times.shape[0], dtype=bool)
        out[idx[hit]] = True
        return out

    def due_events(self, names: Sequence[str] | None = None) -> np.ndarray:
        """Steps of the named scheduled events (all when None), ``[n_steps + 1]`` bool."""
        out = np.zeros(self.times.shape[0], dtype=bool)
        for name, k in self.events.items():
            if names is None or name in names:
                out[k] = True
        return out

    def stamps(self, start: datetime.datetime) -> list[str]:
        """ISO stamps of every step for a calendar starting at ``start``."""
        return [stamp_of(start, float(t), self.year_days) for t in self.times]


def stamp_of(start: datetime.datetime, time: float, year_days: float) -> str:
    """The ISO date-time of ``time`` years after ``start`` (to the millisecond)."""
    ms = round(time * year_days * 86_400_000.0)
    return (start + datetime.timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")


def base_grid(days: float, steps_per_day: int, year_days: float) -> np.ndarray:
    """The lock-step grid: ``k * dt`` for ``k = 0 .. round(days * steps_per_day)``, years."""
    n = round(days * steps_per_day)
    step = 1.0 / (year_days * steps_per_day)
    return np.array([k * step for k in range(n + 1)], dtype=np.float64)


def minutes_to_years(minutes: float, year_days: float) -> float:
    """Minutes to years (a day is ``1 / year_days`` years)."""
    return minutes / (MINUTES_PER_DAY * year_days)


def refine_times(point: ClockPoint, horizon: float, year_days: float) -> np.ndarray:
    """The refinement window's step times around ``point``, clipped to ``[0, horizon]``."""
    w = point.refine
    if w is None:
        return np.zeros(0)
    if (w.before_minutes + w.after_minutes) / w.step_minutes > MAX_STEPS:
        raise ValueError(
            f"refine.step_minutes: {w.step_minutes:g} minutes makes more than {MAX_STEPS:,} steps"
        )
    before = math.ceil(w.before_minutes / w.step_minutes - 1e-9)
    after = math.floor(w.after_minutes / w.step_minutes + 1e-9)
    step = minutes_to_years(w.step_minutes, year_days)
    ks = np.arange(-before, after + 1, dtype=np.float64)
    t = point.time + ks * step
    return t[(t >= -CLOCK_TOL) & (t <= horizon + CLOCK_TOL)]


def wake_times(minutes: float, horizon: float, year_days: float) -> np.ndarray:
    """Wake-ups of an every-``minutes`` schedule from ``t = 0`` to the horizon, years."""
    step = minutes_to_years(minutes, year_days)
    if horizon / step > MAX_STEPS:
        raise ValueError(
            f"schedule.minutes: waking every {minutes:g} minutes makes more than "
            f"{MAX_STEPS:,} steps"
        )
    n = math.floor(horizon / step + 1e-9)
    return np.arange(n + 1, dtype=np.float64) * step


def _merge(times: np.ndarray, kinds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort, merge times within :data:`CLOCK_TOL`, keep each group's best-kind time."""
    order = np.lexsort((kinds, times))
    t, k = times[order], kinds[order]
    group = np.cumsum(np.r_[True, np.diff(t) > CLOCK_TOL]) - 1
    best = np.lexsort((k, group))
    first = np.r_[True, np.diff(group[best]) > 0]
    pick = best[first]
    return t[pick], k[pick]


def build_timeline(
    days: float,
    steps_per_day: int,
    year_days: float,
    points: Sequence[ClockPoint] = (),
    wake_minutes: Iterable[float] = (),
    latencies: Sequence[tuple[float, np.ndarray | None]] = (),
) -> Timeline:
    """The run's timeline (see the module docstring).

    Args:
        days: Horizon, days.
        steps_per_day: Base grid steps per day.
        year_days: Days per year.
        points: Scheduled events (and their refinement windows).
        wake_minutes: Periods of every-N-minutes schedules, minutes.
        latencies: ``(latency in seconds, decision times)`` per delayed agent:
            its orders arrive at ``decision + latency``; decision times None =
            every decision-grid step.

    Returns:
        The timeline.

    Raises:
        ValueError: A scheduled event lies outside ``[0, horizon]``.
    """
    horizon = days / year_days
    base = base_grid(days, steps_per_day, year_days)
    parts, kinds = [base], [np.full(base.shape, BASE)]
    for p in points:
        if not (0.0 <= p.time <= horizon + CLOCK_TOL):
            raise ValueError(
                f"event {p.name!r} at day {p.time * year_days:g} is outside the horizon "
                f"(0 to {days:g} days)"
            )
        parts += [np.array([p.time]), refine_times(p, horizon, year_days)]
        kinds += [np.array([EVENT]), np.full(parts[-1].shape, REFINE)]
    grid, grid_kinds = _merge(np.concatenate(parts), np.concatenate(kinds))
    parts, kinds = [grid], [grid_kinds]
    for minutes in wake_minutes:
        w = wake_times(minutes, horizon, year_days)
        parts.append(w)
        kinds.append(np.full(w.shape, WAKE))
    first, first_kinds = _merge(np.concatenate(parts), np.concatenate(kinds))
    parts, kinds = [first], [first_kinds]
    for seconds, decisions in latencies:
        if seconds <= 0.0:
            continue
        src = grid if decisions is None else decisions
        arrive = src + minutes_to_years(seconds / 60.0, year_days)
        arrive = arrive[arrive <= horizon + CLOCK_TOL]
        parts.append(arrive)
        kinds.append(np.full(arrive.shape, ARRIVAL))
    times, kinds_out = _merge(np.concatenate(parts), np.concatenate(kinds))
    events = {p.name: int(np.argmin(np.abs(times - p.time))) for p in points}
    on_grid = kinds_out <= REFINE
    for a in (times, kinds_out, on_grid):
        a.flags.writeable = False
    return Timeline(
        times=times,
        kinds=kinds_out,
        on_grid=on_grid,
        events=events,
        horizon=horizon,
        year_days=year_days,
    )


def uniform_timeline(n_steps: int, dt_years: float, year_days: float) -> Timeline:
    """A lock-step timeline of ``n_steps`` steps of ``dt_years`` (``k * dt``)."""
    times = np.array([k * dt_years for k in range(n_steps + 1)], dtype=np.float64)
    kinds = np.full(times.shape, BASE)
    return Timeline(times, kinds, np.ones(times.shape, dtype=bool), {}, float(times[-1]), year_days)
