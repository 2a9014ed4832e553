r"""Black-Scholes-Merton implied volatility, vectorised and robust at the wings.

Pure function in the style of ``pfhedge.nn.functional``: arguments broadcast
(numpy rules), results have the broadcast shape.

Method. Every price is normalised (Jäckel 2015, "Let's be rational")::

    F = S e^{(r - q) tau},   x = ln(F / K),   beta = price / (e^{-r tau} sqrt(F K)),
    s = vol sqrt(tau),       b(x, s) = e^{x/2} N(x/s + s/2) - e^{-x/2} N(x/s - s/2)

An in-the-money option is replaced by its out-of-the-money counterpart
(subtracting the normalised intrinsic value, put-call parity), and the
symmetry ``b(x, s, put) = b(-x, s, call)`` leaves a single problem: an
out-of-the-money call, ``x <= 0``, with ``0 < beta < e^{x/2}``. ``b`` is
convex in ``s`` below the inflection point ``s_c = sqrt(2 |x|)`` and concave
above it, so each element runs Newton's method on the objective that is
nearly linear in its region, from a closed-form initial guess:

* ``beta < b(x, s_c)`` (far wings, small time value): ``ln b(s) = ln beta``,
  started from ``ln b ~ -x² / (2 s²)`` matched at ``s_c``;
* otherwise ``b(s) = beta``, or ``-ln(e^{x/2} - b(s)) = -ln(e^{x/2} - beta)``
  when ``beta`` is within 10% of its upper bound (very high vol), started
  from ``e^{x/2} - b ~ (e^{x/2} + e^{-x/2}) N(-s/2)``.

Each element keeps a bracket ``[lo, hi]`` on ``s`` (the price increases with
vol): a Newton step that leaves it, or is not finite, is replaced by
bisection (or doubling while ``hi`` is unbounded). An element has converged
when a Newton step moved ``s`` by at most ``tol * s`` (quadratic convergence:
the error is then far below ``tol``), or the bracket is that narrow.

Never a silent wrong number: these come back as ``vol = NaN`` with
``ok = False``:

* prices outside the no-arbitrage bounds (``<=`` the discounted intrinsic
  value, ``>=`` the discounted forward or strike);
* in-the-money prices whose time value is within rounding noise (16 ulps of
  the discounted forward plus strike), prices within 16 ulps of the upper
  bound, and normalised time values below 1e-290 (subnormal: digits lost);
* ``tau <= 0``, non-positive spot or strike, non-finite inputs;
* elements that do not converge within ``max_iter`` iterations.

Elsewhere the result is the vol of the given price to within the
conditioning of the problem: about ``eps (F + K) / vega`` for in-the-money
prices (the rounding of the price itself), far smaller out of the money.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr, ndtri

__all__ = ["ImpliedVolResult", "implied_vol"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
#: Below this fraction of the upper bound left, the high-vol objective is used.
_HIGH = 0.1
#: Time value (or room below the upper bound) under this many ulps of the
#: discounted forward plus strike is rounding noise: no vol is returned.
_NOISE = 16.0
#: Smallest normalised time value inverted (the subnormal range has lost digits).
_TINY = 1e-290


class ImpliedVolResult(NamedTuple):
    """Implied vols and where they are valid, each of the broadcast shape.

    Attributes:
        vol: Implied volatility, decimal per sqrt(year) (0.2 = 20%); NaN where
            not ``ok``.
        ok: True where the price was inside the no-arbitrage bounds and the
            inversion converged.
    """

    vol: FloatArray
    ok: BoolArray


def implied_vol(
    price: npt.ArrayLike,
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    tau: npt.ArrayLike,
    rate: npt.ArrayLike = 0.0,
    div: npt.ArrayLike = 0.0,
    is_call: npt.ArrayLike = True,
    tol: float = 1e-12,
    max_iter: int = 100,
) -> ImpliedVolResult:
    """The Black-Scholes-Merton volatility that reproduces each option price.

    Args:
        price: Option price, currency. Shape: any, broadcastable with the others.
        spot: Spot, currency, ``> 0``. Shape: broadcastable.
        strike: Strike, currency, ``> 0``. Shape: broadcastable.
        tau: Time to expiry, years, ``> 0``. Shape: broadcastable.
        rate: Risk-free rate, continuously compounded per year. Shape: broadcastable.
        div: Dividend yield, continuously compounded per year. Shape: broadcastable.
        is_call: True for calls, False for puts. Shape: broadcastable.
        tol: Convergence tolerance, relative, on the total vol ``vol sqrt(tau)``
            (the last Newton step); the result is then accurate to well below
            ``tol`` relative wherever the price determines the vol (vega not ~0).
        max_iter: Most iterations; elements not converged by then are NaN.

    Returns:
        :class:`ImpliedVolResult` ``(vol, ok)`` of the broadcast shape: vol in
        decimal per sqrt(year), NaN where ``ok`` is False.

    Raises:
        ValueError: ``tol <= 0``, ``max_iter < 1`` or shapes that do not broadcast.

    Examples:
        >>> from market.pricing.bsm import bsm_price
        >>> p = bsm_price(100.0, 120.0, 0.5, 0.3, 0.02)
        >>> res = implied_vol(p, 100.0, 120.0, 0.5, 0.02)
        >>> round(float(res.vol), 12), bool(res.ok)
        (0.3, True)
    """
    if not tol > 0.0:
        raise ValueError(f"tol must be > 0, got {tol!r}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter!r}")
    arrs = [np.asarray(a, dtype=np.float64) for a in (price, spot, strike, tau, rate, div)]
    call = np.asarray(is_call).astype(np.bool_)
    shape = np.broadcast_shapes(*(a.shape for a in arrs), call.shape)
    p, s, k, t, r, q = (np.broadcast_to(a, shape).reshape(-1) for a in arrs)
    c = np.broadcast_to(call, shape).reshape(-1)
    n = p.size
    vol = np.full(n, np.nan)
    ok = np.zeros(n, dtype=np.bool_)
    with np.errstate(all="ignore"):
        good = (t > 0.0) & (s > 0.0) & (k > 0.0) & np.isfinite(p)
        good &= np.isfinite(s) & np.isfinite(k) & np.isfinite(t) & np.isfinite(r) & np.isfinite(q)
        idx = np.flatnonzero(good)
        if idx.size == 0:
            return ImpliedVolResult(vol.reshape(shape), ok.reshape(shape))
        p, s, k, t, r, q = (a[idx] for a in (p, s, k, t, r, q))
        c = c[idx]
        # Normalised problem.
        x = np.log(s / k) + (r - q) * t
        beta = p / np.sqrt(s * k * np.exp(-(r + q) * t))  # price / (e^{-r tau} sqrt(F K))
        ex = np.exp(0.5 * x)
        sign = np.where(c, 1.0, -1.0)
        intrinsic = np.maximum(sign * (ex - 1.0 / ex), 0.0)
        upper = np.where(c, ex, 1.0 / ex)
        inside = (beta > intrinsic) & (beta < upper)
        # Out-of-the-money call with x <= 0.
        b_otm = beta - intrinsic
        xo = -np.abs(x)
        # Time value lost in the rounding of the price (e.g. a deep in-the-money
        # price equal to its intrinsic value), or no room left below the upper
        # bound: the price carries no information on the vol.
        eps = _NOISE * np.finfo(np.float64).eps
        scale = ex + 1.0 / ex  # (F + K) / sqrt(F K): the size of an ITM price's terms
        inside &= (intrinsic == 0.0) | (b_otm > eps * scale)
        inside &= upper - beta > eps * upper
        inside &= b_otm > _TINY  # subnormal time values have lost their digits
        sol, conv = _solve(xo[inside], b_otm[inside], tol, max_iter)
        sub = idx[inside]
        v = sol / np.sqrt(t[inside])
        fine = conv & np.isfinite(v) & (v > 0.0)
        vol[sub[fine]] = v[fine]
        ok[sub[fine]] = True
    return ImpliedVolResult(vol.reshape(shape), ok.reshape(shape))


def _norm_call(x: FloatArray, s: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Normalised OTM call ``b(x, s)`` (``x <= 0``), ``e^{x/2} - b`` and ``ln db/ds``."""
    h = x / s
    t = 0.5 * s
    ex = np.exp(0.5 * x)
    b = ex * ndtr(h + t) - ndtr(h - t) / ex
    rest = ex * ndtr(-h - t) + ndtr(h - t) / ex  # upper bound - b, without cancellation
    log_vega = -_LOG_SQRT_2PI - 0.5 * (h * h + t * t)  # ln(e^{x/2} phi(h + t))
    return b, rest, log_vega


def _solve(
    x: FloatArray, beta: FloatArray, tol: float, max_iter: int
) -> tuple[FloatArray, BoolArray]:
    """Total vols ``s`` with ``b(x, s) = beta`` (``x <= 0``, ``0 < beta < e^{x/2}``)."""
    m = x.size
    ex = np.exp(0.5 * x)
    s_c = np.sqrt(-2.0 * x)  # inflection point of b(s)
    b_c = np.where(x < 0.0, _norm_call(x, np.where(x < 0.0, s_c, 1.0))[0], 0.0)
    low = beta < b_c
    room = ex - beta  # upper bound - beta
    high = ~low & (room < _HIGH * ex)
    log_beta = np.log(beta)
    log_room = np.log(room)

    # Initial guesses.
    x2 = x * x
    with np.errstate(all="ignore"):
        inv_s2 = 1.0 / (s_c * s_c) + 2.0 * (np.log(b_c) - log_beta) / x2
        s_low = 1.0 / np.sqrt(inv_s2)
        s_high = -2.0 * ndtri(room / (ex + 1.0 / ex))
    s = np.where(low, s_low, np.maximum(s_high, s_c))
    s = np.where(np.isfinite(s) & (s > 0.0), s, np.maximum(s_c, 1.0))

    lo = np.zeros(m)
    hi = np.full(m, np.inf)
    done = np.zeros(m, dtype=np.bool_)
    conv = np.zeros(m, dtype=np.bool_)
    act = np.arange(m)
    for _ in range(max_iter):
        if act.size == 0:
            break
        sa, xa = s[act], x[act]
        b, rest, log_vega = _norm_call(xa, sa)
        la, ha = low[act], high[act]
        # Objective f (increasing in s) and Newton step f / f'.
        f = np.where(
            la, np.log(b) - log_beta[act], np.where(ha, log_room[act] - np.log(rest), b - beta[act])
        )
        vega = np.exp(log_vega)
        fp = np.where(la, np.exp(log_vega - np.log(b)), np.where(ha, vega / rest, vega))
        below = (f < 0.0) | (b <= 0.0)
        lo[act] = np.where(below, sa, lo[act])
        hi[act] = np.where(below, hi[act], sa)
        step = f / fp
        new = sa - step
        bad = ~np.isfinite(new) | (new <= lo[act]) | (new >= hi[act])
        bis = np.where(np.isfinite(hi[act]), 0.5 * (lo[act] + hi[act]), 2.0 * sa)
        new = np.where(bad, bis, new)
        newton_conv = ~bad & (np.abs(step) <= tol * sa)
        exact = f == 0.0
        narrow = (hi[act] - lo[act]) <= tol * sa
        fin = newton_conv | exact | narrow
        s[act] = np.where(exact, sa, new)
        conv[act] = fin
        done[act] = fin
        act = act[~fin]
    return s, conv
