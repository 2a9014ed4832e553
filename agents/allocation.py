"""Risk-budget arithmetic and allocation policies of the manager.

The manager holds one total budget ``L``: a limit on the book's stressed loss,
the worst loss over a grid of spot moves ``{-dS, 0, +dS}`` and vol moves
``{-dv, 0, +dv}`` from the book's delta-gamma-vega expansion::

    loss = max(0, |delta| dS - gamma dS²/2) + |vega| dv

with ``dS = k * atm_vol * spot * sqrt(h)``. Greek ``i`` gets the share
``scale_i * weight_i * L`` and so the band ``|delta| <= L_delta / dS``,
``|gamma| <= L_gamma / (dS²/2)``, ``|vega| <= L_vega / dv``: a book inside all
three bands is inside the budget when the weights sum to at most one.

A policy (:mod:`agents.policies`) turns the manager's state into the shares
``s_i`` of the budget per greek and path; the bands are then ``s_delta / dS``,
``s_gamma / (dS²/2)``, ``s_vega / dv`` (:func:`bands_from_shares`): a book
inside all three is inside the budget when the shares sum to at most ``L``.
``static`` gives ``L * weight_i``; ``event_aware`` tightens the chosen greeks
from ``before_days`` ahead of a scheduled announcement until ``after_days``
after its release (:func:`policy_scales`), then restores them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

GREEKS = ("delta", "gamma", "vega")
#: Floor on the ATM vol of the stress move (a path whose variance touched
#: zero still gets a non-degenerate stress grid and finite bands).
MIN_STRESS_VOL = 0.01


def policy_scales(
    policy: Any,
    time: float,
    pending: list[float],
    released: list[float],
    year_days: float,
) -> tuple[dict[str, float], str]:
    """The scales a policy sets at ``time``.

    Args:
        policy: A :class:`~agents.StaticAllocation` or
            :class:`~agents.EventAwareAllocation` config.
        time: Now, years.
        pending: Release times of announced, unreleased events, years.
        released: Release times of released events, years.
        year_days: Days per year.

    Returns:
        ``(scales, reason)``: greek name to scale, and why.
    """
    ones = dict.fromkeys(GREEKS, 1.0)
    if policy.kind != "event_aware":
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
    delta: np.ndarray,
    gamma: np.ndarray,
    vega: np.ndarray,
    ds: np.ndarray,
    dv: float,
    xp: Any = None,
) -> np.ndarray:
    """Worst loss over the stress grid (positive = loss), currency, ``[n]``.

    Args:
        delta: Book delta, units of spot, ``[n]``.
        gamma: Book gamma, per unit spot squared, ``[n]``.
        vega: Book vega, currency per 1.00 of vol, ``[n]``.
        ds: Stress spot move, currency, ``[n]``.
        dv: Stress vol move, decimal.
        xp: An array namespace with ``abs`` and ``maximum(x, floor)`` (the
            trainer's torch one); None: numpy.
    """
    if xp is not None:
        return xp.maximum(xp.abs(delta) * ds - 0.5 * gamma * ds * ds, 0.0) + xp.abs(vega) * dv
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


def bands_from_shares(
    shares: Mapping[str, np.ndarray | float], ds: np.ndarray, dv: float
) -> dict[str, np.ndarray]:
    """Per-greek bands from the currency shares of the budget and the stress moves.

    Args:
        shares: Greek to its share, currency, ``[n]`` or a scalar (absent = 0).
        ds: Spot move of the stress grid, currency, ``[n]``.
        dv: Vol move of the stress grid, decimal.

    Returns:
        ``{"delta": [n] per unit spot, "gamma": [n] per unit², "vega": [n] per 1.00 vol}``.
    """
    sd, sg, sv = (shares.get(g, 0.0) for g in GREEKS)
    vega = sv / dv
    return {
        "delta": sd / ds,
        "gamma": sg / (0.5 * ds * ds),
        "vega": vega if isinstance(vega, np.ndarray) else np.full(ds.shape, vega),
    }
