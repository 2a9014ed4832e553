"""Risk-budget arithmetic and allocation policies of the manager.

The manager holds one total budget ``L``: a limit on the book's stressed loss,
the worst loss over a grid of spot moves ``{-dS, 0, +dS}`` and vol moves
``{-dv, 0, +dv}`` from the book's delta-gamma-vega expansion::

    loss = max(0, |delta| dS - gamma dS²/2) + |vega| dv

with ``dS = k * atm_vol * spot * sqrt(h)``. Greek ``i`` gets the share
``scale_i * weight_i * L`` and so the band ``|delta| <= L_delta / dS``,
``|gamma| <= L_gamma / (dS²/2)``, ``|vega| <= L_vega / dv``: a book inside all
three bands is inside the budget when the weights sum to at most one.

A policy turns the clock and the announcements into the scales: ``static``
keeps them at one; ``event_aware`` tightens the chosen greeks from
``before_days`` ahead of a scheduled announcement until ``after_days`` after
its release, then restores them.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from market.validation import StrictModel

GREEKS = ("delta", "gamma", "vega")
#: Floor on the ATM vol of the stress move (a path whose variance touched
#: zero still gets a non-degenerate stress grid and finite bands).
MIN_STRESS_VOL = 0.01


class StaticAllocation(StrictModel):
    """Fixed shares: the scales stay at one."""

    kind: Literal["static"] = "static"


class EventAwareAllocation(StrictModel):
    """Tighten some greeks around scheduled announcements.

    Attributes:
        tighten: Greek name to its scale while tightened (0.2 = a fifth of the band).
        before_days: Days before a scheduled release to tighten.
        after_days: Days after the release to restore.
    """

    kind: Literal["event_aware"] = "event_aware"
    # pydantic copies a mutable default per instance (the models are frozen anyway)
    tighten: dict[Literal["delta", "gamma", "vega"], Annotated[float, Field(gt=0.0, le=1.0)]] = {  # noqa: RUF012
        "gamma": 0.2,
        "vega": 0.2,
    }
    before_days: float = Field(2.0, ge=0.0, le=36_525.0)
    after_days: float = Field(0.5, ge=0.0, le=36_525.0)


AllocationPolicy = Annotated[StaticAllocation | EventAwareAllocation, Field(discriminator="kind")]


def policy_scales(
    policy: StaticAllocation | EventAwareAllocation,
    time: float,
    pending: list[float],
    released: list[float],
    year_days: float,
) -> tuple[dict[str, float], str]:
    """The scales a policy sets at ``time``.

    Args:
        policy: The policy config.
        time: Now, years.
        pending: Release times of announced, unreleased events, years.
        released: Release times of released events, years.
        year_days: Days per year.

    Returns:
        ``(scales, reason)``: greek name to scale, and why.
    """
    ones = dict.fromkeys(GREEKS, 1.0)
    if isinstance(policy, StaticAllocation):
        return ones, "static"
    before = policy.before_days / year_days
    after = policy.after_days / year_days
    tight = {**ones, **{str(g): s for g, s in policy.tighten.items()}}
    if any(t - before <= time < t for t in pending):
        return tight, "pre_event"
    if any(t <= time < t + after for t in released):
        return tight, "post_event"
    return ones, "normal"


def stress_moves(
    spot: np.ndarray, atm: np.ndarray, sigmas: float, horizon: float, vol_move: float
) -> tuple[np.ndarray, float]:
    """The stress grid's spot move per path and its vol move.

    Args:
        spot: Spot per path, currency, ``[n]``.
        atm: ATM implied vol per path, decimal, ``[n]``.
        sigmas: Spot move in standard deviations over the horizon.
        horizon: Stress horizon, years.
        vol_move: Vol move, decimal (0.02 = 2 vol points).

    Returns:
        ``(dS [n] in currency, dv in decimal vol)``.
    """
    return sigmas * np.maximum(atm, MIN_STRESS_VOL) * spot * np.sqrt(horizon), vol_move


def stressed_loss(
    delta: np.ndarray, gamma: np.ndarray, vega: np.ndarray, ds: np.ndarray, dv: float
) -> np.ndarray:
    """Worst loss over the stress grid (positive = loss), currency, ``[n]``."""
    return np.maximum(0.0, np.abs(delta) * ds - 0.5 * gamma * ds * ds) + np.abs(vega) * dv


def bands(
    total: float,
    weights: dict[str, float],
    scales: dict[str, float],
    ds: np.ndarray,
    dv: float,
) -> dict[str, np.ndarray]:
    """Per-greek bands from the budget, weights, scales and stress moves.

    Returns:
        ``{"delta": [n] per unit spot, "gamma": [n] per unit², "vega": [n] per 1.00 vol}``.
    """
    share = {g: total * weights.get(g, 0.0) * scales.get(g, 1.0) for g in GREEKS}
    return {
        "delta": share["delta"] / ds,
        "gamma": share["gamma"] / (0.5 * ds * ds),
        "vega": np.full(ds.shape, share["vega"] / dv),
    }
