"""Black-Scholes implied vol, vectorised and robust: a safeguarded Newton iteration.

Each element keeps a bracket ``[lo, hi]`` on the vol (the price is increasing
in vol); a Newton step that leaves the bracket, or one taken where vega is
tiny, is replaced by bisection. Prices outside the no-arbitrage bounds,
``tau <= 0``, non-finite inputs and elements that do not converge come back
as ``vol = NaN`` with ``ok = False``: never a silent wrong number.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from market.pricing.bsm import bsm_greeks

#: Bracket of vols searched, decimal.
VOL_MIN, VOL_MAX = 1e-6, 10.0


class ImpliedVolResult(NamedTuple):
    """Implied vols and where they are valid.

    Attributes:
        vol: Implied vol, decimal; NaN where not ``ok``.
        ok: True where the inversion converged on a price inside the bounds.
    """

    vol: np.ndarray
    ok: np.ndarray


def implied_vol(
    price: np.ndarray | float,
    spot: np.ndarray | float,
    strike: np.ndarray | float,
    tau: np.ndarray | float,
    rate: np.ndarray | float = 0.0,
    div: np.ndarray | float = 0.0,
    is_call: np.ndarray | bool = True,
    tol: float = 1e-12,
    max_iter: int = 100,
) -> ImpliedVolResult:
    """The Black-Scholes-Merton vol that reproduces each price.

    Args:
        price: Option price, currency; broadcastable shape.
        spot: Spot, currency.
        strike: Strike, currency.
        tau: Time to expiry, years (> 0).
        rate: Risk-free rate, continuous per year.
        div: Dividend yield, continuous per year.
        is_call: Call (True) or put (False).
        tol: Absolute price tolerance relative to ``max(1, spot)``.
        max_iter: Iterations at most.

    Returns:
        :class:`ImpliedVolResult` of the broadcast shape.
    """
    p, s, k, t, r, q, c = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (price, spot, strike, tau, rate, div)),
        np.asarray(is_call, dtype=bool),
    )
    shape = p.shape
    p, s, k, t, r, q, c = (a.ravel().copy() for a in (p, s, k, t, r, q, c))
    with np.errstate(all="ignore"):
        fwd_s, fwd_k = s * np.exp(-q * t), k * np.exp(-r * t)
        lower = np.where(c, np.maximum(fwd_s - fwd_k, 0.0), np.maximum(fwd_k - fwd_s, 0.0))
        upper = np.where(c, fwd_s, fwd_k)
        scale = np.maximum(1.0, s)
        valid = (
            np.isfinite(p)
            & np.isfinite(s)
            & np.isfinite(k)
            & (t > 0)
            & (s > 0)
            & (k > 0)
            & (p > lower)
            & (p < upper)
        )
        lo, hi = np.full(p.shape, VOL_MIN), np.full(p.shape, VOL_MAX)
        sig = np.clip(
            np.sqrt(2.0 * np.pi / np.where(t > 0, t, 1.0)) * p / np.where(s > 0, s, 1.0), 0.05, 3.0
        )
        done = ~valid
        for _ in range(max_iter):
            act = ~done
            if not act.any():
                break
            g = bsm_greeks(s[act], k[act], t[act], sig[act], r[act], q[act], c[act])
            diff = g.price - p[act]
            conv = np.abs(diff) < tol * scale[act]
            idx = np.flatnonzero(act)
            lo[idx] = np.where(diff < 0, sig[idx], lo[idx])
            hi[idx] = np.where(diff > 0, sig[idx], hi[idx])
            newton = sig[idx] - diff / np.where(g.vega > 0, g.vega, np.inf)
            bad = ~np.isfinite(newton) | (newton <= lo[idx]) | (newton >= hi[idx])
            bad |= g.vega < 1e-10 * scale[idx]
            step = np.where(bad, 0.5 * (lo[idx] + hi[idx]), newton)
            narrow = (hi[idx] - lo[idx]) < 1e-15 * np.maximum(1.0, sig[idx])
            sig[idx] = np.where(conv, sig[idx], step)
            done[idx] = conv | narrow
            converged_now = idx[conv]
            valid[converged_now] &= True
        final = bsm_greeks(s, k, t, sig, r, q, c).price
        ok = valid & (np.abs(final - p) < 1e3 * tol * scale) & (sig > VOL_MIN) & (sig < VOL_MAX)
    vol = np.where(ok, sig, np.nan)
    return ImpliedVolResult(vol.reshape(shape), ok.reshape(shape))
