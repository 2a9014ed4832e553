"""Merton (1976) jump-diffusion: price and greeks as a Poisson series of BSM terms.

The log spot diffuses with vol ``vol`` and jumps at Poisson rate ``lam``
(per year) by ``log J ~ N(jump_mean, jump_std²)``; the drift is compensated
(``k = E[J] - 1 = exp(jump_mean + jump_std²/2) - 1``) so the discounted
spot is a martingale. Conditional on ``n`` jumps the option is a BSM option
with::

    vol_n²  = vol² + n jump_std² / tau
    rate_n  = rate - lam k + n (jump_mean + jump_std²/2) / tau

weighted by ``Poisson(lam (1 + k) tau)``. The series stops when the Poisson
mass left is below ``tol`` (or at ``max_terms``). Delta and gamma are the
same series of BSM deltas and gammas (exact); vega is with respect to the
diffusion vol (``d vol_n / d vol = vol / vol_n``); theta is a central
difference of the price in ``tau`` (per year, calendar time passing).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import gammaln

from market.pricing.bsm import bsm_greeks


class MertonGreeks(NamedTuple):
    """Price and greeks (delta per unit spot, gamma per unit², vega per 1.00
    of diffusion vol, theta per year)."""

    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray


def _validate(vol: np.ndarray, lam: np.ndarray, jump_std: np.ndarray) -> None:
    if np.any(vol < 0):
        raise ValueError("vol must be non-negative")
    if np.any(lam < 0):
        raise ValueError("lam (jump intensity) must be non-negative")
    if np.any(jump_std < 0):
        raise ValueError("jump_std must be non-negative")


def _series(
    spot, strike, tau, vol, lam, jump_mean, jump_std, rate, div, is_call, tol, max_terms
) -> MertonGreeks:
    *arrays, c = np.broadcast_arrays(
        *(
            np.asarray(x, dtype=float)
            for x in (spot, strike, tau, vol, lam, jump_mean, jump_std, rate, div)
        ),
        np.asarray(is_call, dtype=bool),
    )
    s, k, t, v, lm, jm, js, r, q = arrays
    _validate(v, lm, js)
    kk = np.exp(jm + 0.5 * js * js) - 1.0
    mean = lm * (1.0 + kk) * np.maximum(t, 0.0)
    out = [np.zeros(s.shape) for _ in range(4)]
    mass = np.zeros(s.shape)
    safe_t = np.where(t > 0, t, 1.0)
    for n in range(max_terms):
        with np.errstate(divide="ignore"):
            logw = -mean + n * np.log(np.where(mean > 0, mean, 1.0)) - gammaln(n + 1)
        w = np.where(mean > 0, np.exp(logw), 1.0 if n == 0 else 0.0)
        vn = np.sqrt(v * v + n * js * js / safe_t)
        rn = r - lm * kk + n * (jm + 0.5 * js * js) / safe_t
        g = bsm_greeks(s, k, t, vn, rn, q, c)
        dvol = np.where(vn > 0, v / np.where(vn > 0, vn, 1.0), 1.0)
        for i, val in enumerate((g.price, g.delta, g.gamma, g.vega * dvol)):
            out[i] = out[i] + w * val
        mass = mass + w
        if np.all(1.0 - mass < tol):
            break
    return MertonGreeks(out[0], out[1], out[2], out[3], np.zeros(s.shape))


def merton_price(
    spot,
    strike,
    tau,
    vol,
    lam,
    jump_mean,
    jump_std,
    rate=0.0,
    div=0.0,
    is_call=True,
    tol: float = 1e-12,
    max_terms: int = 200,
) -> np.ndarray:
    """Merton jump-diffusion price.

    Args:
        spot: Spot, currency (broadcastable).
        strike: Strike, currency.
        tau: Time to expiry, years.
        vol: Diffusion vol, decimal.
        lam: Jump intensity, per year (>= 0).
        jump_mean: Mean of the log jump size.
        jump_std: Std of the log jump size (>= 0).
        rate: Risk-free rate, continuous per year.
        div: Dividend yield, continuous per year.
        is_call: Call (True) or put (False).
        tol: Poisson mass left out of the series.
        max_terms: Most series terms.

    Raises:
        ValueError: A negative vol, intensity or jump std (named).
    """
    return _series(
        spot, strike, tau, vol, lam, jump_mean, jump_std, rate, div, is_call, tol, max_terms
    ).price


def merton_greeks(
    spot,
    strike,
    tau,
    vol,
    lam,
    jump_mean,
    jump_std,
    rate=0.0,
    div=0.0,
    is_call=True,
    tol: float = 1e-12,
    max_terms: int = 200,
) -> MertonGreeks:
    """Merton price and greeks (arguments as :func:`merton_price`)."""
    g = _series(
        spot, strike, tau, vol, lam, jump_mean, jump_std, rate, div, is_call, tol, max_terms
    )
    t = np.asarray(tau, dtype=float)
    h = np.minimum(1e-5, 0.5 * np.maximum(t, 0.0))
    up = _series(
        spot, strike, t + h, vol, lam, jump_mean, jump_std, rate, div, is_call, tol, max_terms
    ).price
    dn = _series(
        spot, strike, t - h, vol, lam, jump_mean, jump_std, rate, div, is_call, tol, max_terms
    ).price
    theta = np.where(h > 0, -(up - dn) / np.where(h > 0, 2 * h, 1.0), 0.0)
    return g._replace(theta=theta)
