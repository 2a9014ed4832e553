"""The allocation-policy extension point: the state a policy sees and what it returns.

A policy is a subclass of :class:`AllocationPolicy` with a frozen pydantic
``Config`` and one hook, :meth:`AllocationPolicy.allocate`, called once per
step (in step order) with the manager's per-path :class:`AllocationState`;
it returns an :class:`Allocation`: the currency share of the stressed-loss
budget each greek gets on each path. The framework method
:meth:`AllocationPolicy.step` calls the hook, checks what it returned (finite,
non-negative, ``[n]`` or a scalar, the shares of a path summing to at most the
budget) and wraps any failure in a :class:`PolicyError` naming the policy,
the step and the simulated time. No Ray here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from agents.allocation import GREEKS
from market.validation import StrictModel

_GREEK_SET = frozenset(GREEKS)
#: Relative slack on "the shares sum to at most the budget" (rounding).
BUDGET_TOL = 1e-9


class PolicyConfig(StrictModel):
    """Base of every policy's config: frozen, unknown fields refused, floats finite."""


class PolicyError(RuntimeError):
    """A policy hook raised, or returned shares outside the contract.

    Attributes:
        policy: The policy's class name.
        step: Step number.
        time: Simulated time, years.
        error: ``"ExceptionType: message"`` of the cause.
    """

    def __init__(self, policy: str, step: int, time: float, error: str) -> None:
        super().__init__(policy, step, time, error)
        self.policy, self.step, self.time, self.error = policy, step, time, error

    def __str__(self) -> str:
        return (
            f"allocation policy {self.policy} failed at t={self.time:.6f}y "
            f"(step {self.step}): {self.error}"
        )


@dataclass
class AllocationState:
    """The manager's state for one step, per path, as a policy sees it.

    Arrays are ``[n]`` (one entry per path). Read-only by convention.

    Attributes:
        step: Step number.
        time: Now, years since the start.
        year_days: Days per year.
        pending: Release times of announced, unreleased events, years.
        released: Release times of released events, years.
        budget: Total stressed-loss budget, currency.
        weights: The config's share of the budget per greek (sum <= 1).
        static: The static allocation, ``budget * weight`` per greek, currency.
        delta: The book's delta before this step's trades, units of spot.
        gamma: The book's gamma, per unit spot².
        vega: The book's vega, currency per 1.00 of vol.
        spot: Spot, currency.
        atm: ATM implied vol, decimal.
        ds: Spot move of the stress grid, currency.
        dv: Vol move of the stress grid, decimal.
        usage: The last step's post-trade stressed loss over the budget (0 at
            the first step).
        last_cost: The last step's transaction cost, currency (0 at the first).
        market: The step's :class:`~market.events.MarketEvent` (quotes, surface).
    """

    step: int
    time: float
    year_days: float
    pending: tuple[float, ...]
    released: tuple[float, ...]
    budget: float
    weights: Mapping[str, float]
    static: Mapping[str, float]
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    spot: np.ndarray
    atm: np.ndarray
    ds: np.ndarray
    dv: float
    usage: np.ndarray
    last_cost: np.ndarray
    market: Any = None
    unit_costs_fn: Callable[[], dict[str, np.ndarray]] | None = field(default=None, repr=False)
    _unit_costs: dict[str, np.ndarray] | None = field(default=None, repr=False)

    @property
    def n_paths(self) -> int:
        """Number of paths."""
        return int(self.spot.shape[0])

    def unit_costs(self) -> dict[str, np.ndarray]:
        """Quoted cost of moving each greek by one unit, per path (computed once, on demand).

        For each greek the cheapest listed instrument per unit of that greek:
        its proportional cost per unit traded (half-spread, fast-market
        multiplier included, plus fees; market impact left out) over its own
        greek per unit. ``inf`` where no listed instrument carries the greek.

        Returns:
            ``{"delta": [n] currency per unit delta, "gamma": [n] per unit
            gamma, "vega": [n] per unit vega}``.
        """
        if self._unit_costs is None:
            if self.unit_costs_fn is None:
                inf = np.full(self.n_paths, np.inf)
                self._unit_costs = dict.fromkeys(GREEKS, inf)
            else:
                self._unit_costs = self.unit_costs_fn()
        return self._unit_costs

    def stress_per_unit(self) -> dict[str, np.ndarray]:
        """Stressed loss per unit of each greek: ``dS``, ``dS²/2``, ``dv``, currency, ``[n]``."""
        return {
            "delta": self.ds,
            "gamma": 0.5 * self.ds * self.ds,
            "vega": np.full(self.ds.shape, self.dv),
        }


@dataclass(frozen=True)
class Allocation:
    """A policy's answer for one step.

    Attributes:
        shares: Greek to its share of the budget, currency, ``[n]`` or a scalar
            for every path (a greek left out gets 0). The band follows:
            ``share / dS`` (delta), ``share / (dS²/2)`` (gamma), ``share / dv``.
        reason: Why (``"static"``, ``"pre_event"``, ...); reported in the
            :class:`~market.events.BudgetUpdate` when the allocation changes.
        scales: Greek to the multiplier of its static share, as reported to the
            agents (None: the framework reports the mean share over the static).
    """

    shares: Mapping[str, np.ndarray | float]
    reason: str = "policy"
    scales: Mapping[str, float] | None = None

    def scaled(self, factor: float, reason: str) -> Allocation:
        """Every share (and scale) times ``factor``."""
        scales = None if self.scales is None else {g: s * factor for g, s in self.scales.items()}
        return Allocation({g: s * factor for g, s in self.shares.items()}, reason, scales)


class AllocationPolicy:
    """Base class of allocation policies. Subclass it; override :meth:`allocate`.

    Class attributes:
        Config: The frozen pydantic model of its settings (derive from
            :class:`PolicyConfig`).

    Args:
        config: A validated ``Config``.
        n_paths: Paths the manager runs.
    """

    Config: ClassVar[type[StrictModel]] = PolicyConfig

    def __init__(self, config: Any, n_paths: int) -> None:
        self.config = config
        self.n_paths = n_paths

    # -------------------------------------------------------------- the hook
    def allocate(self, state: AllocationState) -> Allocation:
        """Split the budget between the greeks for this step, per path.

        Called once per step, in step order (a policy may keep state: put it
        in :meth:`snapshot`). The shares of a path must sum to at most
        ``state.budget``; then a book inside all three bands is inside the
        budget.

        Args:
            state: The manager's state for the step.

        Returns:
            The :class:`Allocation`.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement allocate(state)")

    def snapshot(self) -> dict[str, Any]:
        """State that changes during a run (plain values and arrays); none by default."""
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`snapshot`."""

    # ------------------------------------------------------------ framework
    def step(self, state: AllocationState) -> Allocation:
        """Call :meth:`allocate` and check its answer (the framework's entry point).

        Raises:
            PolicyError: The hook raised or broke the contract.
        """
        try:
            alloc = self.allocate(state)
            check_allocation(alloc, state.n_paths, state.budget)
        except PolicyError:
            raise
        except Exception as exc:
            raise PolicyError(
                type(self).__name__, state.step, state.time, f"{type(exc).__name__}: {exc}"
            ) from exc
        return alloc


def check_allocation(alloc: Any, n: int, budget: float) -> None:
    """Check an allocation against the contract.

    Raises:
        ValueError: What is wrong, in one line.
    """
    if not isinstance(alloc, Allocation):
        raise ValueError(f"allocate() must return an agents.Allocation, got {type(alloc).__name__}")
    shares = alloc.shares
    if all(type(s) is float for s in shares.values()) and shares.keys() <= _GREEK_SET:
        # the common case (static shares): plain floats, checked without numpy
        total_f = sum(shares.values())
        if math.isfinite(total_f) and min(shares.values(), default=0.0) >= 0.0:
            if total_f <= budget * (1.0 + BUDGET_TOL):
                return
    unknown = set(alloc.shares) - set(GREEKS)
    if unknown:
        raise ValueError(f"shares for unknown greeks {sorted(unknown)} (use {', '.join(GREEKS)})")
    total: Any = 0.0
    low: Any = 0.0
    for g, s in alloc.shares.items():
        if isinstance(s, np.ndarray):
            if s.shape != (n,):
                raise ValueError(f"share of {g} has shape {s.shape}, expected ({n},) or a scalar")
        elif not isinstance(s, float | int):
            raise ValueError(
                f"share of {g} must be a float or an [n] array, got {type(s).__name__}"
            )
        total = total + s
        low = np.minimum(low, s)
    if not np.all(np.isfinite(total)):
        raise ValueError("shares must be finite")
    if np.any(low < 0.0):
        raise ValueError("shares must be >= 0")
    over = np.max(total) if isinstance(total, np.ndarray) else total
    if over > budget * (1.0 + BUDGET_TOL):
        raise ValueError(
            f"shares sum to {float(over):.6g} on some path, more than the budget {budget:g}: "
            "keep the sum of the greeks' shares within state.budget"
        )
