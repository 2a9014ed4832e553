"""MarketSimulator: the clock and the event source of one run (or one shard).

It owns the world's path generator, lists the hedge instruments (re-listing
each option series on its schedule, struck at its moneyness times the spot of
the listing step), quotes them off the implied-vol surface with Black-Scholes-
Merton at the quoted vol. Orders fill with :mod:`market.execution` at these
quotes. It knows
nothing about agents or Ray.

Times: step ``k`` is at ``timeline.times[k]`` years (:mod:`market.clock`:
the base grid, scheduled events, refinement windows, wake-ups and order
arrivals); without a timeline, at ``k * dt``. Each step moves the world over
its own ``dt``. Option series list every ``relist_days`` of the base grid
(the first step at or after the listing time). Where the scenario has a
calendar, every event carries its date and time (``stamp``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from market._rng import BlockRNG
from market.clock import CLOCK_TOL, Timeline, stamp_of, uniform_timeline
from market.config import InstrumentSpec, MarketConfig
from market.events import Announcement, InstrumentQuote, MarketEvent
from market.generators import make_generator
from market.pricing import bsm_greeks
from market.surface import implied_vol

#: Stream index of the market's random numbers.
MARKET_STREAM = 0


def _freeze(*arrays: np.ndarray) -> None:
    """Make event arrays read-only: components share them, none may edit them."""
    for a in arrays:
        a.flags.writeable = False


class MarketSimulator:
    """Clock, generator and execution for the paths ``[path_start, path_stop)``.

    Args:
        config: The market config.
        n_steps: Steps after the first quote (of the uniform grid, when no
            timeline is given).
        dt: Base grid step length, years.
        year_days: Days per year (converts day-valued settings to years).
        seed: The scenario seed.
        path_start: First path of this shard (a multiple of the RNG block size).
        path_stop: One past the last path of this shard.
        timeline: The run's steps (default: ``n_steps`` uniform steps of ``dt``).
    """

    def __init__(
        self,
        config: MarketConfig,
        n_steps: int,
        dt: float,
        year_days: float,
        seed: int,
        path_start: int,
        path_stop: int,
        timeline: Timeline | None = None,
    ) -> None:
        self.config = config
        self.timeline = (
            timeline if timeline is not None else uniform_timeline(n_steps, dt, year_days)
        )
        self.times = self.timeline.times
        self.n_steps = self.timeline.n_steps
        self.dt = dt
        self.year_days = year_days
        self.rate = config.rate
        self.div = config.div
        rng = BlockRNG(seed, MARKET_STREAM, path_start, path_stop)
        self.generator = make_generator(config, rng, year_days)
        self.n_paths = path_stop - path_start
        self.step_index = 0
        self._listings: dict[str, tuple[int, np.ndarray, float]] = {}

    @property
    def done(self) -> bool:
        """True once the last step has been emitted."""
        return self.step_index >= self.n_steps

    def time_of(self, step: int) -> float:
        """Time of ``step``, years."""
        return float(self.times[step])

    def stamp_of(self, step: int) -> str:
        """Calendar stamp of ``step`` (ISO 8601), or "" without a calendar."""
        t = self.time_of(step)
        start = self.config.clock.start
        if start is not None:
            return stamp_of(start, t, self.year_days)
        return self.generator.stamp(t)

    def start(self) -> tuple[Any, ...]:
        """Events of step 0: the scheduled announcements, then the first quote."""
        ann = tuple(
            Announcement(
                step=0,
                sender="market",
                time=0.0,
                name=s.name,
                event_time=s.event_time,
                released=False,
                expected_std=s.expected_std,
            )
            for s in self.generator.schedule
        )
        return (*ann, self._quote())

    def step(self) -> tuple[Any, ...]:
        """Advance one step; its events: releases (if any), then the quote.

        Raises:
            RuntimeError: The run already ended.
        """
        if self.done:
            raise RuntimeError("the market has no steps left")
        t0 = self.time_of(self.step_index)
        self.step_index += 1
        t1 = self.time_of(self.step_index)
        releases = self.generator.advance(t0, t1)
        ann = tuple(
            Announcement(
                step=self.step_index,
                sender="market",
                time=t1,
                name=r.name,
                event_time=r.event_time,
                released=True,
                expected_std=r.expected_std,
                gap=r.gap,
            )
            for r in releases
        )
        return (*ann, self._quote())

    def _listing(self, spec: InstrumentSpec, spot: np.ndarray) -> tuple[int, np.ndarray, float]:
        every = max(1, round(spec.relist_days / self.year_days / self.dt))
        period = every * self.dt
        t = self.time_of(self.step_index)
        list_time = math.floor(t / period + 1e-9) * every * self.dt
        list_step = int(np.searchsorted(self.times, list_time - CLOCK_TOL, side="left"))
        current = self._listings.get(spec.name)
        if current is None or current[0] != list_step:
            expiry = self.time_of(list_step) + spec.tenor_days / self.year_days
            current = (list_step, spec.moneyness * spot, expiry)
            self._listings[spec.name] = current
        elif spec.recenter is not None:
            strike = current[1]
            far = np.abs(np.log(spot / (strike / spec.moneyness))) > spec.recenter
            if far.any():
                current = (list_step, np.where(far, spec.moneyness * spot, strike), current[2])
                self._listings[spec.name] = current
        return current

    def _quote(self) -> MarketEvent:
        t = self.time_of(self.step_index)
        spot = self.generator.spot
        surface = self.generator.surface(t)
        zeros = np.zeros(self.n_paths)
        quotes = []
        for spec in self.config.instruments:
            if spec.kind == "underlying":
                quotes.append(
                    InstrumentQuote(
                        instrument=spec.name,
                        contract=spec.name,
                        kind="underlying",
                        is_call=True,
                        expiry=math.inf,
                        strike=zeros,
                        mid=spot,
                        iv=zeros,
                        delta=np.ones(self.n_paths),
                        gamma=zeros,
                        vega=zeros,
                        theta=zeros,
                    )
                )
                continue
            list_step, strike, expiry = self._listing(spec, spot)
            iv = implied_vol(surface, spot, strike, t, expiry)
            g = bsm_greeks(spot, strike, expiry - t, iv, self.rate, self.div, spec.is_call)
            quotes.append(
                InstrumentQuote(
                    instrument=spec.name,
                    contract=f"{spec.name}@{list_step}",
                    kind="option",
                    is_call=spec.is_call,
                    expiry=expiry,
                    strike=strike,
                    mid=g.price,
                    iv=iv,
                    delta=g.delta,
                    gamma=g.gamma,
                    vega=g.vega,
                    theta=g.theta,
                )
            )
        for q in quotes:
            _freeze(q.strike, q.mid, q.iv, q.delta, q.gamma, q.vega, q.theta)
        _freeze(spot, surface.atm, surface.skew, surface.term, surface.event_var)
        return MarketEvent(
            step=self.step_index,
            sender="market",
            time=t,
            spot=spot,
            surface=surface,
            quotes=tuple(quotes),
            rate=self.rate,
            div=self.div,
            stamp=self.stamp_of(self.step_index),
        )

    def snapshot(self) -> dict[str, Any]:
        """State to restore later."""
        return {
            "step": self.step_index,
            "generator": self.generator.snapshot(),
            "listings": {k: list(v) for k, v in self._listings.items()},
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`snapshot` and re-quote the current step."""
        self.step_index = int(state["step"])
        self.generator.restore(state["generator"])
        self._listings = {k: (int(v[0]), v[1], float(v[2])) for k, v in state["listings"].items()}
        self._quote()
