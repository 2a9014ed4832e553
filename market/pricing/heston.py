r"""Heston (1993) European options: semi-closed form through the characteristic function.

Pure vectorised functions in the style of ``pfhedge.nn.functional``: every
argument broadcasts against the others (numpy rules) and results have the
broadcast shape as ``float64`` arrays (0-d when every argument is a scalar).

Model, under the pricing measure::

    dS/S = (r - q) dt + sqrt(v) dW1
    dv   = kappa (theta_var - v) dt + xi sqrt(v) dW2,    d<W1, W2> = rho dt,   v(0) = v0

Parameters are named to avoid the classic trap: ``v0`` (initial variance),
``kappa`` (mean-reversion speed), ``theta_var`` (long-run variance, *not* the
greek theta), ``xi`` (vol of variance) and ``rho`` (spot/variance correlation).

Units, for every function here:

* ``spot``, ``strike``: currency, ``>= 0``; ``tau``: years (``<= 0``: expired).
* ``v0``, ``theta_var``: variance, decimal² per year (0.04 = 20% vol), ``>= 0``.
* ``kappa``: per year, ``> 0``; ``xi``: per sqrt(year), ``>= 0``; ``rho`` in [-1, 1].
* ``rate``, ``div``: continuously compounded per year; ``is_call``: bool.
* Greeks: delta per unit spot, gamma per unit spot², ``vega_v0`` = dV/dv0 (per
  1.00 of variance), ``vega`` = dV/d sqrt(v0) (per 1.00 of the equivalent
  vol ``sqrt(v0)``, i.e. ``2 sqrt(v0) dV/dv0``), theta per year of calendar
  time passing (``-dV/dtau``).

Method. Lewis's (2001) single integral, with ``x = ln(S/K) + (r - q) tau``::

    V = BSM(sigma_w) - sqrt(S K) e^{-(r+q) tau/2} / pi
                       * int_0^inf Re[e^{iux} (phi(u - i/2) - phi_w(u - i/2))] / (u² + 1/4) du

where ``phi`` is the characteristic function of ``ln(S_T/S_0) - (r - q) tau``
and ``phi_w`` its Gaussian counterpart with the average expected variance
``w = theta_var + (v0 - theta_var)(1 - e^{-kappa tau}) / (kappa tau)`` (the
``xi -> 0`` limit of the model). The Black-Scholes-Merton price at
``sigma_w = sqrt(w)`` is a control variate in closed form: the integral only
carries the (small, smooth) difference, so calls and puts both come out of
the same correction without a parity cancellation and deep out-of-the-money
prices keep their relative accuracy.

``phi`` is evaluated in the "little Heston trap" form of Albrecher et al.
(2007), which stays on the principal branch of the complex logarithm, written
so that it has no ``0/0`` as ``xi -> 0`` (``beta - d = -xi² m / (beta + d)``
and ``log(1 + z) / z`` evaluated stably): at ``xi = 0`` it is exactly the
Gaussian ``phi_w``, so the price is exactly BSM at ``sigma_w``.

Quadrature. Per parameter set the integration range ``[0, U]`` is cut where
the integrand envelope ``(|phi| + phi_w) / (u² + 1/4)`` falls below
:data:`ENVELOPE_EPS` (found by scanning ``|phi|`` upward from 0.6 × the
Gaussian estimate, which also finds the exponential tail of ``phi`` at high
``xi``), mapped by ``u = a sinh(s)`` with ``a = 6 / sqrt(w tau)`` (dense on
the Gaussian core, geometric in the tail) and integrated by Gauss-Legendre in
``s``: one panel of 48 nodes in the ordinary case, and ``P`` panels of 48
(``P`` a power of 2, up to :data:`MAX_PANELS`) for options whose integrand
turns through more than :data:`PHASE_PER_PANEL` radians per panel over
``[0, U]`` (``|x U + arg phi(U)|``: deep out-of-the-money strikes, heavy
tails). Accuracy, checked against a 25-digit ``mpmath`` evaluation of the
integral (250 random cases: ``tau`` from 1/365 to 5 years, ``xi`` up to 2,
``|rho|`` up to 0.98, strikes out to 7 standard deviations), against Monte
Carlo, and against the ODE (Riccati) solution for the characteristic
function: at most ``3e-15 * spot`` absolute for ``xi <= 1`` (``3e-14 *
spot`` up to ``xi = 2``; ``6e-13 * spot`` at ``xi = 1.8, rho = -0.95``), so
prices above ``1e-6 * spot`` are within ``1e-9`` relative, short maturities
and the wings included. Accuracy degrades as ``|rho| -> 1`` with large ``xi``
(``phi`` then decays slowly; ``U`` is capped at :data:`MAX_CUTOFF` core
widths).

Speed. Options are grouped by ``(tau, kappa, theta_var, xi, rho)`` and the
half-octave of ``w tau``; a group shares its nodes and the ``v0``-free parts
``C, D`` of ``ln phi = C + D v0`` (the expensive complex arithmetic). Per
option and node this leaves two ``exp`` and two ``cos`` (real arithmetic)
when ``v0`` differs per option (a simulation's paths), or, when the group
shares ``v0`` too (a smile, a surface), a ``cos``/``sin`` pair; and for a
group with many strikes the integral is a band-limited function of
``ln(S/K)``, interpolated in Chebyshev points (checked, with a direct
fallback). The nodes × options work runs in chunks of :data:`WORK` elements
(small temporaries stay in cache). A call on a single option costs about a
millisecond of numpy overhead; price whole arrays at once.

Greeks (:func:`heston_greeks`) are analytic: the same integral with the
integrand differentiated (``d/dS`` of ``S^{1/2 + iu}`` for delta and gamma,
``D(u) phi`` for ``dV/dv0`` with ``ln phi = C + D v0``, and the Riccati
equations ``dD/dtau = xi² D²/2 - beta D - m/2``, ``dC/dtau = kappa theta_var D``
for theta), plus the greeks of the control variate. No finite differences.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from market.pricing._heston_kernel import (
    FloatArray,
    _evaluate,
)

__all__ = ["HestonGreeks", "feller_ok", "heston_greeks", "heston_price", "validate_heston"]


class HestonGreeks(NamedTuple):
    """Heston price and greeks; each field a ``float64`` array of the broadcast shape.

    Attributes:
        price: Option value, currency.
        delta: dV/dS, per 1 unit of spot.
        gamma: d²V/dS², per unit of spot squared.
        vega_v0: dV/dv0, per 1.00 of initial variance.
        vega: dV/d sqrt(v0) = 2 sqrt(v0) dV/dv0, per 1.00 of the equivalent
            vol ``sqrt(v0)`` (0 where ``v0 = 0``).
        theta: dV/dt = -dV/dtau, currency per year of calendar time.
    """

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega_v0: FloatArray
    vega: FloatArray
    theta: FloatArray


# --------------------------------------------------------------------------- public API


def validate_heston(
    v0: npt.ArrayLike,
    kappa: npt.ArrayLike,
    theta_var: npt.ArrayLike,
    xi: npt.ArrayLike,
    rho: npt.ArrayLike,
) -> None:
    """Refuse impossible Heston parameters, naming the parameter.

    NaN passes (and propagates to NaN prices). The Feller condition is not
    required (see :func:`feller_ok`): the pricing formula holds either way.

    Args:
        v0: Initial variance, decimal², ``>= 0``. Shape: any.
        kappa: Mean-reversion speed, per year, ``> 0``. Shape: any.
        theta_var: Long-run variance, decimal², ``>= 0``. Shape: any.
        xi: Vol of variance, per sqrt(year), ``>= 0``. Shape: any.
        rho: Spot/variance correlation, in ``[-1, 1]``. Shape: any.

    Raises:
        ValueError: Negative ``v0`` or ``theta_var``, ``kappa <= 0``,
            ``xi < 0`` or ``|rho| > 1``; the message names the parameter.
    """
    checks = (
        ("v0", v0, lambda a: a < 0, "must be >= 0 (a variance)"),
        ("kappa", kappa, lambda a: a <= 0, "must be > 0"),
        ("theta_var", theta_var, lambda a: a < 0, "must be >= 0 (a variance)"),
        ("xi", xi, lambda a: a < 0, "must be >= 0"),
        ("rho", rho, lambda a: np.abs(a) > 1, "must be in [-1, 1]"),
    )
    for name, value, bad, what in checks:
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be real numbers: {exc}") from None
        if np.any(bad(arr)):
            worst = arr[bad(arr)].flat[0] if arr.ndim else float(arr)
            raise ValueError(f"{name} {what}, got {float(worst)!r}")


def feller_ok(kappa: npt.ArrayLike, theta_var: npt.ArrayLike, xi: npt.ArrayLike) -> np.ndarray:
    """Whether the Feller condition ``2 kappa theta_var >= xi²`` holds.

    Under it the variance never reaches 0. Informative only: the pricing
    formulas here do not need it.

    Args:
        kappa: Mean-reversion speed, per year. Shape: broadcastable.
        theta_var: Long-run variance, decimal². Shape: broadcastable.
        xi: Vol of variance, per sqrt(year). Shape: broadcastable.

    Returns:
        Bool array of the broadcast shape (0-d for scalars).
    """
    k = np.asarray(kappa, dtype=np.float64)
    t = np.asarray(theta_var, dtype=np.float64)
    x = np.asarray(xi, dtype=np.float64)
    return np.asarray(2.0 * k * t >= x * x)


def heston_price(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    tau: npt.ArrayLike,
    v0: npt.ArrayLike,
    kappa: npt.ArrayLike,
    theta_var: npt.ArrayLike,
    xi: npt.ArrayLike,
    rho: npt.ArrayLike,
    rate: npt.ArrayLike = 0.0,
    div: npt.ArrayLike = 0.0,
    is_call: npt.ArrayLike = True,
) -> FloatArray:
    """Heston price of European calls and puts, vectorised.

    Args:
        spot: Spot, currency, ``>= 0``. Shape: any, broadcastable with the others.
        strike: Strike, currency, ``>= 0``. Shape: broadcastable.
        tau: Time to expiry, years; ``<= 0`` gives the intrinsic value.
            Shape: broadcastable.
        v0: Initial variance, decimal² (0.04 = 20% vol), ``>= 0``. Shape: broadcastable.
        kappa: Mean-reversion speed of the variance, per year, ``> 0``.
            Shape: broadcastable.
        theta_var: Long-run variance, decimal², ``>= 0``. Shape: broadcastable.
        xi: Vol of variance, per sqrt(year), ``>= 0`` (0: deterministic variance,
            exactly BSM at the average variance). Shape: broadcastable.
        rho: Correlation of spot and variance shocks, in ``[-1, 1]``. Shape: broadcastable.
        rate: Risk-free rate, continuously compounded per year. Shape: broadcastable.
        div: Dividend yield, continuously compounded per year. Shape: broadcastable.
        is_call: True for calls, False for puts. Shape: broadcastable.

    Returns:
        Prices in currency, ``float64`` of the broadcast shape (0-d for all
        scalars). Expired options: intrinsic value; ``spot == 0`` or
        ``strike == 0``: the discounted forward intrinsic. NaN inputs give NaN.

    Raises:
        ValueError: Invalid model parameters (see :func:`validate_heston`),
            negative spot or strike, or shapes that do not broadcast.

    Examples:
        >>> p = heston_price(100.0, 100.0, 1.0, 0.04, 1.5, 0.04, 0.5, -0.7)
        >>> round(float(p), 6)
        7.024291
    """
    validate_heston(v0, kappa, theta_var, xi, rho)
    return _evaluate(
        spot, strike, tau, v0, kappa, theta_var, xi, rho, rate, div, is_call, greeks=False
    )[0]


def heston_greeks(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    tau: npt.ArrayLike,
    v0: npt.ArrayLike,
    kappa: npt.ArrayLike,
    theta_var: npt.ArrayLike,
    xi: npt.ArrayLike,
    rho: npt.ArrayLike,
    rate: npt.ArrayLike = 0.0,
    div: npt.ArrayLike = 0.0,
    is_call: npt.ArrayLike = True,
) -> HestonGreeks:
    """Heston price and analytic greeks in one pass (arguments as :func:`heston_price`).

    Every greek is the Lewis integral of the analytically differentiated
    integrand plus the greek of the BSM control variate (see the module
    docstring), evaluated on the same nodes as the price: no finite
    differences, about 1.5x the cost of the price alone.

    Args:
        spot: Spot, currency, ``>= 0``. Shape: broadcastable.
        strike: Strike, currency, ``>= 0``. Shape: broadcastable.
        tau: Time to expiry, years. Shape: broadcastable.
        v0: Initial variance, decimal². Shape: broadcastable.
        kappa: Mean-reversion speed, per year. Shape: broadcastable.
        theta_var: Long-run variance, decimal². Shape: broadcastable.
        xi: Vol of variance, per sqrt(year). Shape: broadcastable.
        rho: Spot/variance correlation. Shape: broadcastable.
        rate: Risk-free rate, continuous per year. Shape: broadcastable.
        div: Dividend yield, continuous per year. Shape: broadcastable.
        is_call: True for calls, False for puts. Shape: broadcastable.

    Returns:
        :class:`HestonGreeks` of ``float64`` arrays of the broadcast shape:
        price (currency), delta (per unit spot), gamma (per unit spot²),
        vega_v0 (dV/dv0), vega (dV/d sqrt(v0), per 1.00 vol), theta
        (per year, ``-dV/dtau``). Expired options: intrinsic value, delta
        ``+-1`` strictly in the money else 0, the other greeks 0.

    Raises:
        ValueError: As :func:`heston_price`.
    """
    validate_heston(v0, kappa, theta_var, xi, rho)
    return HestonGreeks(
        *_evaluate(
            spot, strike, tau, v0, kappa, theta_var, xi, rho, rate, div, is_call, greeks=True
        )
    )
