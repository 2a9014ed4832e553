"""The manager's budget: asking the allocation hook for the step's shares, reporting
them, and the hooks a custom manager overrides (:meth:`BudgetHooks.allocate`,
:meth:`BudgetHooks.check_order`, :meth:`BudgetHooks.on_alert`). Part of
:class:`agents.manager.RiskManager`."""

from __future__ import annotations

from typing import Any

import numpy as np

from agents._policy_base import (
    Allocation,
    AllocationPolicy,
    AllocationState,
    PolicyError,
    check_allocation,
)
from agents.allocation import GREEKS, stressed_loss
from agents.manager_config import ManagerConfig
from agents.models import PricingModel
from agents.monitor import ModelMonitor
from market.events import BudgetUpdate, InstrumentQuote, MarketEvent, ModelAlert
from market.execution import CostModel, event_multiplier


class BudgetHooks:
    """The budget half of :class:`~agents.manager.RiskManager` (a mixin; state set there)."""

    config: ManagerConfig
    policy: AllocationPolicy
    monitor: ModelMonitor | None
    models: dict[str, PricingModel]
    cascade: list[str]
    costs: dict[str, CostModel]
    year_days: float
    scales: dict[str, float]
    shares: dict[str, np.ndarray | float]
    pending: list[float]
    released: list[float]
    _static: dict[str, float]
    _running: dict[str, np.ndarray]
    _ds: np.ndarray
    _usage: np.ndarray
    _last_cost: np.ndarray
    _checked: bool

    def _minutes_since_release(self, time: float) -> float | None:
        raise NotImplementedError

    def _update_budget(self, market: MarketEvent, dv: float) -> tuple[Any, ...]:
        """Ask :meth:`allocate` for this step's shares; a BudgetUpdate when the scales change."""
        state = AllocationState(
            step=market.step,
            time=market.time,
            year_days=self.year_days,
            pending=tuple(self.pending),
            released=tuple(self.released),
            budget=self.config.budget,
            weights=self._weights,
            static=self._static,
            delta=self._running["delta"],
            gamma=self._running["gamma"],
            vega=self._running["vega"],
            spot=market.spot,
            atm=market.surface.atm,
            ds=self._ds,
            dv=dv,
            usage=self._usage,
            last_cost=self._last_cost,
            market=market,
            unit_costs_fn=lambda: self.unit_costs(market),
        )
        if self._checked:
            try:
                alloc = self.allocate(state)
                check_allocation(alloc, market.n_paths, self.config.budget)
            except PolicyError:
                raise
            except Exception as exc:
                raise PolicyError(
                    type(self).__name__, market.step, market.time, f"{type(exc).__name__}: {exc}"
                ) from exc
        else:
            alloc = self.allocate(state)
        self.shares = dict(alloc.shares)
        scales = alloc.scales
        if scales is None:
            scales = {
                g: (float(np.mean(self.shares.get(g, 0.0))) / s if s > 0.0 else 1.0)
                for g, s in self._static.items()
            }
        scales = {g: float(scales.get(g, 1.0)) for g in GREEKS}
        if scales == self.scales and market.step > 0:
            return ()
        self.scales = scales
        update = BudgetUpdate(
            step=market.step,
            sender="manager",
            time=market.time,
            total=self.config.budget,
            scales=dict(scales),
            reason="initial" if market.step == 0 else alloc.reason,
        )
        return (update,)

    @property
    def _weights(self) -> dict[str, float]:
        return {g: float(self.config.weights.get(g, 0.0)) for g in GREEKS}  # type: ignore[call-overload]

    def unit_costs(self, market: MarketEvent) -> dict[str, np.ndarray]:
        """Quoted cost of moving each greek by one unit through the cheapest listed
        instrument, per path (see :meth:`AllocationState.unit_costs`)."""
        since = self._minutes_since_release(market.time)
        n = market.n_paths
        out = {g: np.full(n, np.inf) for g in GREEKS}
        for q in market.quotes:
            cost = self.costs.get(q.instrument, CostModel())
            mult = event_multiplier(cost, since)
            half = q.mid * (cost.half_spread_bps * 1e-4)
            if q.kind == "option":
                half = np.abs(q.vega) * (cost.half_spread_vol * 0.01) + q.mid * (
                    cost.half_spread_pct * 0.01
                )
            per_unit = half * mult + (cost.fee_pct * 0.01) * np.abs(q.mid)
            for g in GREEKS:
                unit = np.abs(
                    np.ones(n) if q.kind == "underlying" and g == "delta" else getattr(q, g)
                )
                with np.errstate(divide="ignore", invalid="ignore"):
                    k = np.where(unit > 1e-12, per_unit / unit, np.inf)
                out[g] = np.minimum(out[g], k)
        return out

    # ------------------------------------------------------------ the hooks
    def allocate(self, state: AllocationState) -> Allocation:
        """Hook: the budget's split between the greeks for this step, per path.

        Default: the configured policy's answer (:attr:`policy`), every share
        times the monitor's ``tighten_scale`` while a ``tighten`` alert is on.
        The framework checks the answer (shares finite, >= 0, summing to at
        most the budget per path) and reports it to the agents.

        Args:
            state: The manager's state for the step.
        """
        alloc = self.policy.step(state)
        mon = self.monitor
        if mon is not None and mon.active and mon.config.action == "tighten":
            alloc = alloc.scaled(mon.config.tighten_scale, "model_alert")
        return alloc

    def check_order(
        self, agent: str, instrument: str, qty: np.ndarray, quote: InstrumentQuote
    ) -> np.ndarray | None:
        """Hook: the pre-trade limit check of one order, per path.

        Default: ``max_order`` per instrument, and ``hard_limit``: an order
        that takes a path's stressed loss above ``hard_limit * budget`` (and
        raises it) is rejected there. Read the book as it stands before the
        order in :attr:`book_greeks`, price a book's stress with
        :meth:`stressed_loss`.

        Args:
            agent: The agent ordering.
            instrument: Its listing name.
            qty: Units ordered per path, ``[n]``.
            quote: The instrument's quote this step (its greeks per unit).

        Returns:
            True on the paths where the order is rejected (``[n]`` bool), or
            None when it passes everywhere.
        """
        cfg = self.config
        reject = np.zeros(qty.shape, dtype=bool)
        limit = cfg.max_order.get(instrument)
        if limit is not None:
            reject |= np.abs(qty) > limit
        if cfg.hard_limit is not None:
            before = self._loss(self._running)
            after = self._loss({g: self._running[g] + qty * getattr(quote, g) for g in GREEKS})
            reject |= (after > cfg.hard_limit * cfg.budget) & (after > before)
        return reject

    def on_alert(self, alert: ModelAlert) -> None:
        """Hook: react to a model-decay alert (the monitor raised it this step).

        Default: every agent switches to the monitor's ``switch_model`` when
        one is configured (a ``tighten`` action is applied in :meth:`allocate`
        while the alert is on).
        """
        assert self.monitor is not None
        switch = self.monitor.config.switch_model
        if switch is not None:
            self.models = {a: switch for a in self.cascade}

    def on_alert_clear(self, alert: ModelAlert) -> None:
        """Hook: the monitor's alert cleared this step (metric ``CLEAR_METRIC``).

        Default: nothing (a switched pricing model stays switched; a
        ``tighten`` action ends by itself when the alert is off).
        """

    @property
    def book_greeks(self) -> dict[str, np.ndarray]:
        """The book's greeks as they stand (after the orders booked so far this step)."""
        return self._running

    def stressed_loss(self, greeks: dict[str, np.ndarray]) -> np.ndarray:
        """Worst loss over this step's stress grid of a book with these greeks, ``[n]``."""
        return self._loss(greeks)

    def _loss(self, greeks: dict[str, np.ndarray]) -> np.ndarray:
        """Stressed loss of a book with these greeks at this step's stress grid, ``[n]``."""
        return stressed_loss(
            greeks["delta"], greeks["gamma"], greeks["vega"], self._ds, self.config.stress_vol
        )
