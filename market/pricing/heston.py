"""Heston (1993) European options: semi-closed form through the characteristic function.

Parameters are named to avoid the classic trap: ``v0`` (initial variance),
``kappa`` (mean-reversion speed, per year), ``theta_var`` (long-run variance,
*not* a greek), ``xi`` (vol of variance) and ``rho`` (spot/variance
correlation). The call is Lewis's (2001) single integral::

    C = S e^{-q tau} - sqrt(S K) e^{-(r+q) tau / 2} / pi
        * int_0^inf Re[e^{i u x} phi(u - i/2)] / (u² + 1/4) du,   x = ln(S/K) + (r-q) tau

with ``phi`` the characteristic function of ``ln(S_T/S_0) - (r-q) tau`` in
the "little Heston trap" form of Albrecher et al. (2007), which stays on the
principal branch of the complex logarithm. The BSM call at the average
expected variance is a control variate: its closed form plus the integral of
the difference of the two characteristic functions (small, smooth), so deep
out-of-the-money prices keep their accuracy. The integral is a composite
Gauss-Legendre rule on ``[0, U]``, ``U = 12 / (sigma sqrt(tau))`` with
``sigma = sqrt(max(v0, theta_var))``: the integrand decays like
``exp(-u² sigma² tau / 2)``, so the truncation error is below ``e^{-70}``.
Puts follow by parity. Greeks are central differences of this vectorised
price (delta and gamma in spot, vega in ``sqrt(v0)``, theta in ``tau``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from market.pricing.bsm import bsm_price

#: Composite Gauss-Legendre rule: panels × nodes per panel.
PANELS, NODES = 8, 16
#: Options priced per chunk (bounds memory: chunk × PANELS × NODES complex numbers).
CHUNK = 2048

_x, _w = np.polynomial.legendre.leggauss(NODES)
_EDGES = np.linspace(0.0, 1.0, PANELS + 1)
#: Nodes and weights of the rule on [0, 1].
T_NODES = ((_EDGES[:-1, None] + _EDGES[1:, None]) / 2 + (_x[None, :] / 2) / PANELS).ravel()
T_WEIGHTS = np.tile(_w / (2 * PANELS), PANELS)


class HestonGreeks(NamedTuple):
    """Price and greeks: delta per unit spot, gamma per unit², ``vega_v0``
    = dV/dv0, ``vega`` = dV/d sqrt(v0) (per 1.00 of the equivalent vol),
    theta per year (calendar time passing)."""

    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega_v0: np.ndarray
    vega: np.ndarray
    theta: np.ndarray


def validate_heston(v0, kappa, theta_var, xi, rho) -> None:
    """Refuse impossible parameters, naming the parameter.

    Raises:
        ValueError: Negative ``v0`` or ``theta_var``, ``kappa <= 0``, ``xi < 0``
            or ``|rho| > 1``.
    """
    checks = (
        ("v0", v0, lambda a: a < 0, "must be non-negative (a variance)"),
        ("theta_var", theta_var, lambda a: a < 0, "must be non-negative (a variance)"),
        ("kappa", kappa, lambda a: a <= 0, "must be positive"),
        ("xi", xi, lambda a: a < 0, "must be non-negative"),
        ("rho", rho, lambda a: np.abs(a) > 1, "must be in [-1, 1]"),
    )
    for name, value, bad, what in checks:
        if np.any(bad(np.asarray(value, dtype=float))):
            raise ValueError(f"{name} {what}")


def feller_ok(kappa, theta_var, xi) -> np.ndarray:
    """Whether the Feller condition ``2 kappa theta_var >= xi²`` holds."""
    return np.asarray(2 * np.asarray(kappa) * np.asarray(theta_var) >= np.asarray(xi) ** 2)


def _avg_var(tau, v0, kappa, theta_var):
    """Average expected variance over [0, tau], decimal² (the xi -> 0 BSM variance)."""
    return theta_var + (v0 - theta_var) * (-np.expm1(-kappa * tau)) / (kappa * tau)


def _cf(u, tau, v0, kappa, theta_var, xi, rho):
    """phi(u) of ln(S_T/S_0) - (r-q) tau, and its Gaussian (xi = 0) counterpart.

    Arrays ``[m, nodes]`` (complex ``u``).
    """
    iu = 1j * u
    beta = kappa - rho * xi * iu
    d = np.sqrt(beta * beta + xi * xi * (iu + u * u))
    g = (beta - d) / (beta + d)
    e = np.exp(-d * tau)
    xi2 = np.where(xi > 0, xi * xi, 1.0)
    small = xi < 1e-8
    c_part = (kappa * theta_var / xi2) * ((beta - d) * tau - 2.0 * np.log((1 - g * e) / (1 - g)))
    d_part = ((beta - d) / xi2) * (1 - e) / (1 - g * e)
    # xi -> 0: deterministic variance, the log price is Gaussian.
    gauss = np.exp(-0.5 * (iu + u * u) * _avg_var(tau, v0, kappa, theta_var) * tau)
    return np.where(small, gauss, np.exp(c_part + d_part * v0)), gauss


def _call(s, k, t, v0, kappa, th, xi, rho, r, q):
    # Control variate: the BSM call at the average variance, in closed form,
    # plus Lewis's integral of the difference of the characteristic functions.
    # Deep out-of-the-money prices then come out of a small difference
    # rather than the cancellation of two large numbers.
    x = np.log(s / k) + (r - q) * t
    w = np.maximum(_avg_var(t, v0, kappa, th), 1e-12)
    sig = np.sqrt(np.maximum(np.maximum(v0, th), 1e-8))
    upper = 12.0 / (sig * np.sqrt(t))
    u = upper[:, None] * T_NODES[None, :]
    args = [a[:, None] for a in (t, v0, kappa, th, xi, rho)]
    phi, gauss = _cf(u - 0.5j, *args)
    integrand = np.real(np.exp(1j * u * x[:, None]) * (phi - gauss)) / (u * u + 0.25)
    integral = (integrand * T_WEIGHTS[None, :]).sum(axis=1) * upper
    base = bsm_price(s, k, t, np.sqrt(w), r, q, True)
    return base - np.sqrt(s * k) * np.exp(-(r + q) * t / 2) * integral / np.pi


def heston_price(
    spot, strike, tau, v0, kappa, theta_var, xi, rho, rate=0.0, div=0.0, is_call=True
) -> np.ndarray:
    """Heston price of European calls and puts, vectorised.

    Args:
        spot: Spot, currency (broadcastable with every other argument).
        strike: Strike, currency.
        tau: Time to expiry, years (<= 0: intrinsic value).
        v0: Initial variance, decimal² (0.04 = 20% vol).
        kappa: Mean-reversion speed, per year (> 0).
        theta_var: Long-run variance, decimal².
        xi: Vol of variance, per sqrt(year).
        rho: Spot/variance correlation, in [-1, 1].
        rate: Risk-free rate, continuous per year.
        div: Dividend yield, continuous per year.
        is_call: Call (True) or put (False).

    Returns:
        Prices, currency, float64 of the broadcast shape.

    Raises:
        ValueError: Invalid parameters (named; see :func:`validate_heston`).
    """
    validate_heston(v0, kappa, theta_var, xi, rho)
    arrays = np.broadcast_arrays(
        *(
            np.asarray(a, dtype=float)
            for a in (spot, strike, tau, v0, kappa, theta_var, xi, rho, rate, div)
        ),
        np.asarray(is_call, dtype=bool),
    )
    shape = arrays[0].shape
    s, k, t, v, kp, th, x, rh, r, q = (a.ravel() for a in arrays[:10])
    c = arrays[10].ravel()
    out = np.empty(s.shape)
    live = t > 0
    sign = np.where(c, 1.0, -1.0)
    out[~live] = np.maximum(sign[~live] * (s[~live] - k[~live]), 0.0)
    idx = np.flatnonzero(live)
    for a in range(0, idx.size, CHUNK):
        j = idx[a : a + CHUNK]
        with np.errstate(all="ignore"):
            call = _call(s[j], k[j], t[j], v[j], kp[j], th[j], x[j], rh[j], r[j], q[j])
        fwd = s[j] * np.exp(-q[j] * t[j]) - k[j] * np.exp(-r[j] * t[j])
        price = np.where(c[j], call, call - fwd)
        intrinsic = np.maximum(sign[j] * fwd, 0.0)
        out[j] = np.maximum(price, intrinsic)
    return out.reshape(shape)


def heston_greeks(
    spot, strike, tau, v0, kappa, theta_var, xi, rho, rate=0.0, div=0.0, is_call=True
) -> HestonGreeks:
    """Heston price and greeks by central differences (arguments as :func:`heston_price`)."""
    s = np.asarray(spot, dtype=float)
    v = np.asarray(v0, dtype=float)
    t = np.asarray(tau, dtype=float)
    rest = (kappa, theta_var, xi, rho, rate, div, is_call)

    def price(sp, vv, tt):
        return heston_price(sp, strike, tt, vv, *rest[:4], rate, div, is_call)

    p0 = price(s, v, t)
    hs = 1e-3 * s
    up, dn = price(s + hs, v, t), price(s - hs, v, t)
    delta = (up - dn) / (2 * hs)
    gamma = (up - 2 * p0 + dn) / (hs * hs)
    sv = np.sqrt(np.maximum(v, 0.0))
    hv = np.maximum(1e-4, 1e-3 * sv)
    vol_up, vol_dn = sv + hv, np.maximum(sv - hv, 0.0)
    pv_up, pv_dn = price(s, vol_up**2, t), price(s, vol_dn**2, t)
    vega = (pv_up - pv_dn) / (vol_up - vol_dn)
    vega_v0 = (pv_up - pv_dn) / (vol_up**2 - vol_dn**2)
    ht = np.minimum(1e-4, 0.5 * np.maximum(t, 0.0))
    safe = np.where(ht > 0, 2 * ht, 1.0)
    theta = np.where(ht > 0, -(price(s, v, t + ht) - price(s, v, t - ht)) / safe, 0.0)
    return HestonGreeks(p0, delta, gamma, vega_v0, vega, theta)
