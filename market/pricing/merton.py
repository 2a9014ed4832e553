r"""Merton (1976) jump-diffusion: European prices and greeks as a Poisson series of BSM terms.

Pure vectorised functions in the style of ``pfhedge.nn.functional``: every
argument broadcasts against the others and results are ``float64`` arrays of
the broadcast shape (0-d when every argument is a scalar).

Model, under the pricing measure::

    dS/S = (r - q - lam k) dt + vol dW + (J - 1) dN,     N ~ Poisson(lam t)
    log J ~ Normal(jump_mean, jump_std²),  k = E[J] - 1 = exp(jump_mean + jump_std²/2) - 1

The drift is compensated (``- lam k``) so that ``S e^{-(r - q) t}`` is a
martingale. Conditional on ``n`` jumps before expiry, ``ln S_T`` is Gaussian
and the option is a BSM option with::

    spot_n = spot exp(n (jump_mean + jump_std²/2) - lam k tau)
    vol_n  = sqrt(vol² + n jump_std² / tau)

so the price is ``sum_n p_n BSM(spot_n, strike, tau, vol_n, rate, div)`` with
Poisson weights ``p_n = e^{-lam tau} (lam tau)^n / n!``. (This is the textbook
form with ``lam' = lam (1 + k)`` and ``r_n = r - lam k + n ln(1 + k) / tau``,
rewritten so that no rate blows up as ``tau -> 0``.) The series runs over the
window of ``n`` that holds all but ``tol`` of the Poisson mass (both tails),
both for the jump count and under the share measure (Poisson mean
``lam (1 + k) tau``, which weights the ``spot_n`` part of each term): each
price is then within about ``tol (spot e^{-q tau} + strike e^{-r tau})`` of
the full series.

Greeks are the same weighted series, all analytic:

* delta = ``sum p_n delta_n spot_n / spot`` and gamma =
  ``sum p_n gamma_n (spot_n / spot)²`` (exact);
* vega (per 1.00 of the diffusion ``vol``) = ``sum p_n vega_n vol / vol_n``;
* theta (per year, ``-dV/dtau``) differentiates the weights
  (``dp_n/dtau = lam (p_{n-1} - p_n)``), ``spot_n`` (``-lam k spot_n``) and
  ``vol_n`` (``-n jump_std² / (2 vol_n tau²)``) as well as the BSM terms.

Units: ``spot``, ``strike`` currency; ``tau`` years; ``vol`` decimal per
sqrt(year); ``lam`` jumps per year; ``jump_mean``, ``jump_std`` in log-return
units (decimal); ``rate``, ``div`` continuously compounded per year. Where
``lam = 0`` (or ``tau <= 0``) the price and greeks are exactly (bit for bit)
those of :func:`market.pricing.bsm.bsm_greeks`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy.special import gammaln, pdtr, pdtrc, pdtrik

from market.pricing.bsm import bsm_greeks, bsm_price

__all__ = ["MertonGreeks", "merton_greeks", "merton_price"]

FloatArray = npt.NDArray[np.float64]

#: Options × series terms evaluated per chunk (bounds the temporaries).
WORK = 1 << 15


class MertonGreeks(NamedTuple):
    """Merton price and greeks; each field a ``float64`` array of the broadcast shape.

    Attributes:
        price: Option value, currency.
        delta: dV/dS, per 1 unit of spot.
        gamma: d²V/dS², per unit of spot squared.
        vega: dV/dvol, per 1.00 of the diffusion vol.
        theta: dV/dt = -dV/dtau, currency per year of calendar time.
    """

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray


def merton_price(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    tau: npt.ArrayLike,
    vol: npt.ArrayLike,
    lam: npt.ArrayLike,
    jump_mean: npt.ArrayLike,
    jump_std: npt.ArrayLike,
    rate: npt.ArrayLike = 0.0,
    div: npt.ArrayLike = 0.0,
    is_call: npt.ArrayLike = True,
    tol: float = 1e-12,
    max_terms: int = 200,
) -> FloatArray:
    """Merton jump-diffusion price of European calls and puts, vectorised.

    Args:
        spot: Spot, currency, ``>= 0``. Shape: any, broadcastable with the others.
        strike: Strike, currency, ``>= 0``. Shape: broadcastable.
        tau: Time to expiry, years; ``<= 0`` gives the intrinsic value.
            Shape: broadcastable.
        vol: Diffusion volatility, decimal per sqrt(year), ``>= 0``. Shape: broadcastable.
        lam: Jump intensity, jumps per year, ``>= 0``. Shape: broadcastable.
        jump_mean: Mean of the log jump size ``log J``, decimal (e.g. -0.1).
            Shape: broadcastable.
        jump_std: Standard deviation of ``log J``, decimal, ``>= 0``. Shape: broadcastable.
        rate: Risk-free rate, continuously compounded per year. Shape: broadcastable.
        div: Dividend yield, continuously compounded per year. Shape: broadcastable.
        is_call: True for calls, False for puts. Shape: broadcastable.
        tol: Poisson mass (probability of a jump count) left out of the series.
        max_terms: Most series terms per option (the window of jump counts
            around ``lam tau`` that holds all but ``tol`` of the mass must fit).

    Returns:
        Prices in currency, ``float64`` of the broadcast shape.

    Raises:
        ValueError: Negative ``vol``, ``lam``, ``jump_std``, ``spot`` or
            ``strike`` (the message names it), or a ``lam tau`` so large that
            ``max_terms`` terms cannot reach ``tol``.

    Examples:
        >>> round(float(merton_price(100.0, 100.0, 1.0, 0.2, 0.0, -0.1, 0.1)), 6)
        7.965567
    """
    return _series(
        spot, strike, tau, vol, lam, jump_mean, jump_std, rate, div, is_call, tol, max_terms, False
    )[0]


def merton_greeks(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    tau: npt.ArrayLike,
    vol: npt.ArrayLike,
    lam: npt.ArrayLike,
    jump_mean: npt.ArrayLike,
    jump_std: npt.ArrayLike,
    rate: npt.ArrayLike = 0.0,
    div: npt.ArrayLike = 0.0,
    is_call: npt.ArrayLike = True,
    tol: float = 1e-12,
    max_terms: int = 200,
) -> MertonGreeks:
    """Merton price and analytic greeks (arguments as :func:`merton_price`).

    Args:
        spot: Spot, currency. Shape: broadcastable.
        strike: Strike, currency. Shape: broadcastable.
        tau: Time to expiry, years. Shape: broadcastable.
        vol: Diffusion volatility, decimal. Shape: broadcastable.
        lam: Jump intensity, per year. Shape: broadcastable.
        jump_mean: Mean of the log jump size. Shape: broadcastable.
        jump_std: Std of the log jump size. Shape: broadcastable.
        rate: Risk-free rate, continuous per year. Shape: broadcastable.
        div: Dividend yield, continuous per year. Shape: broadcastable.
        is_call: True for calls, False for puts. Shape: broadcastable.
        tol: Poisson mass left out of the series.
        max_terms: Most series terms per option.

    Returns:
        :class:`MertonGreeks`: price (currency), delta (per unit spot), gamma
        (per unit spot²), vega (per 1.00 of diffusion vol), theta (per year,
        ``-dV/dtau``), each of the broadcast shape. Expired options: intrinsic
        value, delta ``+-1`` strictly in the money else 0, the rest 0.

    Raises:
        ValueError: As :func:`merton_price`.
    """
    return MertonGreeks(
        *_series(
            spot,
            strike,
            tau,
            vol,
            lam,
            jump_mean,
            jump_std,
            rate,
            div,
            is_call,
            tol,
            max_terms,
            True,
        )
    )


# --------------------------------------------------------------------------- internals


def _as_float(name: str, x: npt.ArrayLike) -> FloatArray:
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be real numbers: {exc}") from None


def _check_nonneg(name: str, x: FloatArray, what: str) -> None:
    if np.any(x < 0.0):
        raise ValueError(f"{name} ({what}) must be >= 0, got {float(np.min(x))!r}")


def _bounds(mean: FloatArray, half: float) -> tuple[FloatArray, FloatArray]:
    """Jump counts ``[n_lo, n_hi]`` leaving at most ``half`` of the Poisson(``mean``)
    mass on each side: ``P(N < n_lo) <= half`` and ``P(N > n_hi) <= half``."""
    pos = mean > 0.0
    m = np.where(pos, mean, 1.0)
    with np.errstate(all="ignore"):
        n_lo = np.where(pos, np.floor(pdtrik(half, m)), 0.0)
        n_hi = np.where(pos, np.ceil(pdtrik(1.0 - half, m)), 0.0)
    n_lo = np.where(np.isfinite(n_lo), np.maximum(n_lo, 0.0), 0.0)
    n_hi = np.where(np.isfinite(n_hi), np.maximum(n_hi, n_lo), n_lo)
    # pdtrik is a continuous inverse: nudge to the exact integer bounds.
    while True:
        heavy = pos & (n_lo > 0) & (pdtr(n_lo - 1, m) > half)
        if not heavy.any():
            break
        n_lo = np.where(heavy, n_lo - 1, n_lo)
    while True:
        light = pos & (pdtrc(n_hi, m) > half)
        if not light.any():
            break
        n_hi = np.where(light, n_hi + 1, n_hi)
    return n_lo, n_hi


def _cell_bounds(mean: FloatArray, half: float) -> tuple[FloatArray, FloatArray]:
    """:func:`_bounds` per option, worked out once per cell of 1/32 octave of ``mean``.

    Both bounds increase with the mean, so the lower bound at a cell's lower
    edge and the upper bound at its upper edge hold for every mean in the
    cell (a window at most ~2% wider), at the cost of a few inverse Poisson
    evaluations instead of one per option.
    """
    pos = mean > 0.0
    cell = np.where(pos, np.floor(np.log2(np.where(pos, mean, 1.0)) * 32.0), 0.0)
    cells, inv = np.unique(cell[pos], return_inverse=True)
    n_lo = np.zeros(mean.shape)
    n_hi = np.zeros(mean.shape)
    if cells.size:
        lo_c, _ = _bounds(np.exp2(cells / 32.0), half)
        _, hi_c = _bounds(np.exp2((cells + 1.0) / 32.0), half)
        inv = inv.reshape(-1)
        n_lo[pos] = lo_c[inv]
        n_hi[pos] = hi_c[inv]
    return n_lo, n_hi


def _window(
    mean: FloatArray, mean_share: FloatArray, tol: float, max_terms: int
) -> tuple[FloatArray, int]:
    """First jump count ``n_lo`` per option, and the number of terms for all.

    The window ``[n_lo, n_lo + terms)`` leaves at most ``tol / 2`` of the
    Poisson mass on each side both for the jump count (mean ``lam tau``) and
    under the share measure (mean ``lam (1 + k) tau``), which weights the
    ``spot_n`` part of each term: the truncation error of a price is then at
    most about ``tol (spot e^{-q tau} + strike e^{-r tau})``.

    Raises:
        ValueError: When that takes more than ``max_terms`` terms.
    """
    lo1, hi1 = _cell_bounds(mean, 0.5 * tol)
    lo2, hi2 = _cell_bounds(mean_share, 0.5 * tol)
    n_lo = np.minimum(lo1, lo2)
    terms = int(np.max(np.maximum(hi1, hi2) - n_lo)) + 1 if n_lo.size else 1
    if terms > max_terms:
        raise ValueError(
            f"lam * tau = {float(np.max(mean)):.4g} needs {terms} series terms to leave "
            f"tol={tol:g} of the Poisson mass; raise max_terms (now {max_terms})"
        )
    return n_lo, terms


def _series(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    tau: npt.ArrayLike,
    vol: npt.ArrayLike,
    lam: npt.ArrayLike,
    jump_mean: npt.ArrayLike,
    jump_std: npt.ArrayLike,
    rate: npt.ArrayLike,
    div: npt.ArrayLike,
    is_call: npt.ArrayLike,
    tol: float,
    max_terms: int,
    greeks: bool,
) -> list[FloatArray]:
    s_ = _as_float("spot", spot)
    k_ = _as_float("strike", strike)
    t_ = _as_float("tau", tau)
    v_ = _as_float("vol", vol)
    lm_ = _as_float("lam", lam)
    jm_ = _as_float("jump_mean", jump_mean)
    js_ = _as_float("jump_std", jump_std)
    r_ = _as_float("rate", rate)
    q_ = _as_float("div", div)
    _check_nonneg("vol", v_, "diffusion volatility")
    _check_nonneg("lam", lm_, "jump intensity")
    _check_nonneg("jump_std", js_, "std of the log jump size")
    _check_nonneg("spot", s_, "currency")
    _check_nonneg("strike", k_, "currency")
    if not tol > 0.0:
        raise ValueError(f"tol must be > 0, got {tol!r}")
    call = np.asarray(is_call).astype(np.bool_)
    shape = np.broadcast_shapes(
        s_.shape, k_.shape, t_.shape, v_.shape, lm_.shape, jm_.shape, js_.shape, r_.shape,
        q_.shape, call.shape,
    )  # fmt: skip
    n = math.prod(shape)

    def flat(a: FloatArray) -> FloatArray:
        return np.broadcast_to(a, shape).reshape(-1)

    s, k, t, v, lm, jm, js, r, q = (flat(a) for a in (s_, k_, t_, v_, lm_, jm_, js_, r_, q_))
    c = np.broadcast_to(call, shape).reshape(-1)

    live = (t > 0.0) & (lm > 0.0)
    if not live.any():
        # No jumps possible (lam = 0 or expired): exactly BSM.
        if greeks:
            g = bsm_greeks(s, k, t, v, r, q, c)
            res = [g.price, g.delta, g.gamma, g.vega, g.theta]
        else:
            res = [np.asarray(bsm_price(s, k, t, v, r, q, c), dtype=np.float64)]
        return [np.array(a, dtype=np.float64).reshape(shape) for a in res]

    with np.errstate(all="ignore"):
        lt = np.where(live, lm * np.maximum(t, 0.0), 0.0)  # Poisson mean
        kk = np.expm1(jm + 0.5 * js * js)  # E[J] - 1
        drift = -lm * kk * np.maximum(t, 0.0)  # compensator, log units
    finite = np.isfinite(lt)
    with np.errstate(all="ignore"):
        lt_share = np.where(finite, lt * (1.0 + kk), 0.0)
    lt_share = np.where(np.isfinite(lt_share), lt_share, 0.0)
    n_lo, terms = _window(np.where(finite, lt, 0.0), lt_share, tol, max_terms)

    n_out = 5 if greeks else 1
    out = [np.empty(n) for _ in range(n_out)]
    log_lt = np.log(np.where(lt > 0.0, lt, 1.0))
    js2 = js * js
    jump1 = jm + 0.5 * js2  # log E[J]
    steps = np.arange(terms, dtype=np.float64)[None, :]
    chunk = max(1, WORK // terms)
    with np.errstate(all="ignore"):
        for a in range(0, n, chunk):
            sl = slice(a, min(a + chunk, n))
            col = [x[sl, None] for x in (s, k, t, v, r, q, lt, log_lt, js2, jump1, drift, lm, kk)]
            s1, k1, t1, v1, r1, q1, lt1, llt1, js21, jump11, drift1, lm1, kk1 = col
            c1 = c[sl, None]
            nj = n_lo[sl, None] + steps  # [chunk, terms] jump counts
            # Poisson weights p_n; exactly [1, 0, 0, ...] where lam tau = 0.
            logp = -lt1 + nj * llt1 - gammaln(nj + 1.0)
            p = np.where(lt1 > 0.0, np.exp(logp), np.where(nj == 0.0, 1.0, 0.0))
            growth = np.exp(nj * jump11 + drift1)  # spot_n / spot
            tt = np.where(t1 > 0.0, t1, 1.0)
            vn = np.sqrt(v1 * v1 + nj * js21 / tt)
            if not greeks:
                out[0][sl] = (p * bsm_price(s1 * growth, k1, t1, vn, r1, q1, c1)).sum(axis=1)
                continue
            g = bsm_greeks(s1 * growth, k1, t1, vn, r1, q1, c1)
            out[0][sl] = (p * g.price).sum(axis=1)
            out[1][sl] = (p * g.delta * growth).sum(axis=1)
            out[2][sl] = (p * g.gamma * growth * growth).sum(axis=1)
            dvol = np.where(vn > 0.0, v1 / np.where(vn > 0.0, vn, 1.0), 1.0)
            out[3][sl] = (p * g.vega * dvol).sum(axis=1)
            # theta = -dV/dtau: the BSM theta at fixed (spot_n, vol_n), minus the
            # tau-dependence of spot_n, of vol_n and of the weight
            # (dp_n/dtau = lam (p_{n-1} - p_n) = p_n (n / tau - lam)).
            dvn = np.where(
                vn > 0.0, -nj * js21 / (2.0 * np.where(vn > 0.0, vn, 1.0) * tt * tt), 0.0
            )
            dsn = -lm1 * kk1 * (s1 * growth)
            dp = p * (nj / tt - lm1)
            th = p * (g.theta - g.delta * dsn - g.vega * dvn) - dp * g.price
            out[4][sl] = th.sum(axis=1)
    # No jump possible (lam = 0 or expired): exactly BSM.
    dead = ~live
    if dead.any():
        if greeks:
            g = bsm_greeks(s[dead], k[dead], t[dead], v[dead], r[dead], q[dead], c[dead])
            for i, f in enumerate((g.price, g.delta, g.gamma, g.vega, g.theta)):
                out[i][dead] = f
        else:
            out[0][dead] = bsm_price(s[dead], k[dead], t[dead], v[dead], r[dead], q[dead], c[dead])
    bad = live & ~finite
    for o in out:
        o[bad] = np.nan
    return [o.reshape(shape) for o in out]
