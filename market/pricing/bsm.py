r"""Black-Scholes-Merton prices and greeks of European options, vectorised.

Pure functions over numpy arrays, in the style of ``pfhedge.nn.functional``:
every argument broadcasts against the others (numpy rules) and the result has
the broadcast shape, as a ``float64`` :class:`numpy.ndarray` (0-d when every
argument is a scalar).

Model (Merton 1973, continuous dividend yield ``q``)::

    F  = S e^{(r - q) tau}                  forward
    v  = sigma sqrt(tau)                    total vol
    d1 = ln(F / K) / v + v / 2,   d2 = d1 - v
    w  = +1 (call) or -1 (put)

    price = w (S e^{-q tau} N(w d1) - K e^{-r tau} N(w d2))
    delta = w e^{-q tau} N(w d1)
    gamma = e^{-q tau} phi(d1) / (S v)
    vega  = S e^{-q tau} phi(d1) sqrt(tau)
    theta = -S e^{-q tau} phi(d1) sigma / (2 sqrt(tau))
            + w (q S e^{-q tau} N(w d1) - r K e^{-r tau} N(w d2))
    rho   = w K tau e^{-r tau} N(w d2)

Units, for every function here:

* ``spot``, ``strike``: currency (same currency), ``>= 0``.
* ``tau``: time to expiry in years (ACT/365); ``tau <= 0`` means expired.
* ``vol``: annualised volatility as a decimal (0.2 = 20%), ``>= 0``.
* ``rate``, ``div``: continuously compounded per year, decimal; any sign.
* ``is_call``: bool, or bool array (broadcasts like the others).

Greeks, in the same units:

* delta: per 1 unit of spot; gamma: per unit of spot squared.
* vega: per 1.00 of vol (divide by 100 for "per vol point").
* theta: per year, with calendar time passing: ``dV/dt = -dV/dtau``
  (divide by 365 for "per day"); negative for a long vanilla in most states.
* rho: per 1.00 of ``rate`` (divide by 100 for "per 1%").

Degenerate inputs are handled elementwise, without Python loops and without
floating-point warnings:

* expired (``tau <= 0``): price is the intrinsic value ``max(w (S - K), 0)``,
  delta is ``w`` if the option is strictly in the money and 0 otherwise, and
  gamma, vega, theta and rho are 0.
* deterministic (``tau > 0`` and ``vol == 0``; likewise ``spot == 0`` or
  ``strike == 0``, where the payoff is known today): price is the discounted
  forward intrinsic ``max(w (S e^{-q tau} - K e^{-r tau}), 0)``; delta, theta
  and rho are those of that value (``w e^{-q tau}``, ``w (q S e^{-q tau} -
  r K e^{-r tau})``, ``w K tau e^{-r tau}`` when strictly in the money, else
  0); gamma and vega are 0.

NaN inputs propagate to NaN outputs. Negative ``spot``, ``strike`` or ``vol``
raises :class:`ValueError`.

Performance and determinism: :func:`bsm_greeks` evaluates price and all five
greeks in one pass that shares ``d1``, ``d2``, ``phi(d1)``, ``N(w d1)``,
``N(w d2)`` and the discount factors. The sign ``w`` replaces the put/call
branch, the standard normal cdf is :func:`scipy.special.ndtr`, arguments of
size 1 are kept as scalars (so that e.g. a scalar ``tau``, ``rate`` and
``div`` cost one ``exp`` each, not one per element), and large inputs are
processed in chunks of :data:`CHUNK` elements so that the temporaries stay in
the CPU cache, with every ufunc writing into reused per-thread scratch
buffers. Every step is elementwise, so an element's result depends only on
that element's inputs: results do not depend on :data:`CHUNK` or on how a
caller splits its arrays (pieces of more than one element), the same inputs
give bit-identical outputs, and each greek function returns exactly the
corresponding field of :func:`bsm_greeks`. Results agree with the textbook
formulas evaluated separately to about 1e-14 relative.

A single option (every argument of size 1, the simulator's one-path case)
skips the array machinery: the same operations in the same order on Python
floats, with numpy's own ``log``/``exp`` and scipy's ``ndtr`` (``math.log``
and ``math.exp`` round differently from numpy's SIMD loops), ~6 µs instead of
~80 µs a call and bit-identical to the option evaluated inside an array
(tested); edge cases (expired, zero vol, spot or strike, NaN) take the
general path. So a caller may split its arrays anywhere, single elements
included.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy.typing as npt

from market.pricing._bsm_kernel import CHUNK, FloatArray, _evaluate

__all__ = [
    "CHUNK",
    "BSMGreeks",
    "bsm_delta",
    "bsm_gamma",
    "bsm_greeks",
    "bsm_price",
    "bsm_rho",
    "bsm_theta",
    "bsm_vega",
]

_FIELDS = ("price", "delta", "gamma", "vega", "theta", "rho")


class BSMGreeks(NamedTuple):
    """Price and greeks of European options under Black-Scholes-Merton.

    Every field is a ``float64`` array of the broadcast shape of the inputs.

    Attributes:
        price: Option value, currency.
        delta: dV/dS, per 1 unit of spot.
        gamma: d²V/dS², per unit of spot squared.
        vega: dV/dvol, per 1.00 of vol (not per vol point).
        theta: dV/dt = -dV/dtau, currency per year of calendar time.
        rho: dV/drate, per 1.00 of rate.
    """

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray
    rho: FloatArray


# --------------------------------------------------------------------------- public API


def bsm_greeks(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    tau: npt.ArrayLike,
    vol: npt.ArrayLike,
    rate: npt.ArrayLike = 0.0,
    div: npt.ArrayLike = 0.0,
    is_call: npt.ArrayLike = True,
) -> BSMGreeks:
    """Price and all greeks of European options in one pass (the hot path).

    Shares ``d1``, ``d2``, the density, both cdf values and the discount
    factors between the six outputs; see the module docstring for formulas,
    edge cases and units.

    Args:
        spot: Spot price of the underlying, currency, ``>= 0``. Shape: any,
            broadcastable with the other arguments.
        strike: Strike price, currency, ``>= 0``. Shape: broadcastable.
        tau: Time to expiry, years (ACT/365); ``<= 0`` means expired.
            Shape: broadcastable.
        vol: Volatility, decimal per sqrt(year) (0.2 = 20%), ``>= 0``.
            Shape: broadcastable.
        rate: Risk-free rate, continuously compounded per year, decimal.
            Shape: broadcastable. Default 0.
        div: Dividend yield, continuously compounded per year, decimal.
            Shape: broadcastable. Default 0.
        is_call: True for calls, False for puts. Shape: broadcastable.
            Default True.

    Returns:
        :class:`BSMGreeks` of ``float64`` arrays, each of the broadcast shape:
        price (currency), delta (per unit spot), gamma (per unit spot²),
        vega (per 1.00 vol), theta (per year, ``-dV/dtau``), rho (per 1.00 rate).

    Raises:
        ValueError: If ``spot``, ``strike`` or ``vol`` has a negative element,
            or the shapes do not broadcast.

    Examples:
        >>> g = bsm_greeks(42.0, 40.0, 0.5, 0.2, rate=0.1)
        >>> round(float(g.price), 4), round(float(g.delta), 4)
        (4.7594, 0.7791)
    """
    return BSMGreeks(*_evaluate(spot, strike, tau, vol, rate, div, is_call, _FIELDS))


def bsm_price(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    tau: npt.ArrayLike,
    vol: npt.ArrayLike,
    rate: npt.ArrayLike = 0.0,
    div: npt.ArrayLike = 0.0,
    is_call: npt.ArrayLike = True,
) -> FloatArray:
    """Black-Scholes-Merton price of European options.

    Args:
        spot: Spot price, currency, ``>= 0``. Shape: broadcastable.
        strike: Strike price, currency, ``>= 0``. Shape: broadcastable.
        tau: Time to expiry, years (ACT/365); ``<= 0`` means expired.
            Shape: broadcastable.
        vol: Volatility, decimal (0.2 = 20%), ``>= 0``. Shape: broadcastable.
        rate: Risk-free rate, continuous per year. Shape: broadcastable.
        div: Dividend yield, continuous per year. Shape: broadcastable.
        is_call: True for calls, False for puts. Shape: broadcastable.

    Returns:
        Option value in currency, ``float64``, broadcast shape. Equal bit for
        bit to ``bsm_greeks(...).price``.

    Raises:
        ValueError: If ``spot``, ``strike`` or ``vol`` is negative anywhere.

    Examples:
        >>> round(float(bsm_price(42.0, 40.0, 0.5, 0.2, 0.1, is_call=False)), 4)
        0.8086
    """
    return _evaluate(spot, strike, tau, vol, rate, div, is_call, ("price",))[0]


def bsm_delta(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    tau: npt.ArrayLike,
    vol: npt.ArrayLike,
    rate: npt.ArrayLike = 0.0,
    div: npt.ArrayLike = 0.0,
    is_call: npt.ArrayLike = True,
) -> FloatArray:
    """Black-Scholes-Merton delta, dV/dS, of European options.

    Args:
        spot: Spot price, currency, ``>= 0``. Shape: broadcastable.
        strike: Strike price, currency, ``>= 0``. Shape: broadcastable.
        tau: Time to expiry, years (ACT/365); ``<= 0`` means expired.
            Shape: broadcastable.
        vol: Volatility, decimal (0.2 = 20%), ``>= 0``. Shape: broadcastable.
        rate: Risk-free rate, continuous per year. Shape: broadcastable.
        div: Dividend yield, continuous per year. Shape: broadcastable.
        is_call: True for calls, False for puts. Shape: broadcastable.

    Returns:
        Delta per 1 unit of spot (``e^{-q tau} N(d1)`` for a call,
        ``-e^{-q tau} N(-d1)`` for a put), ``float64``, broadcast shape.
        Equal bit for bit to ``bsm_greeks(...).delta``.

    Raises:
        ValueError: If ``spot``, ``strike`` or ``vol`` is negative anywhere.
    """
    return _evaluate(spot, strike, tau, vol, rate, div, is_call, ("delta",))[0]


def bsm_gamma(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    tau: npt.ArrayLike,
    vol: npt.ArrayLike,
    rate: npt.ArrayLike = 0.0,
    div: npt.ArrayLike = 0.0,
    is_call: npt.ArrayLike = True,
) -> FloatArray:
    """Black-Scholes-Merton gamma, d²V/dS², of European options.

    Args:
        spot: Spot price, currency, ``>= 0``. Shape: broadcastable.
        strike: Strike price, currency, ``>= 0``. Shape: broadcastable.
        tau: Time to expiry, years (ACT/365); ``<= 0`` means expired.
            Shape: broadcastable.
        vol: Volatility, decimal (0.2 = 20%), ``>= 0``. Shape: broadcastable.
        rate: Risk-free rate, continuous per year. Shape: broadcastable.
        div: Dividend yield, continuous per year. Shape: broadcastable.
        is_call: True for calls, False for puts (gamma does not depend on it,
            but it still broadcasts). Shape: broadcastable.

    Returns:
        Gamma per unit of spot squared, ``float64``, broadcast shape.
        Equal bit for bit to ``bsm_greeks(...).gamma``.

    Raises:
        ValueError: If ``spot``, ``strike`` or ``vol`` is negative anywhere.
    """
    return _evaluate(spot, strike, tau, vol, rate, div, is_call, ("gamma",))[0]


def bsm_vega(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    tau: npt.ArrayLike,
    vol: npt.ArrayLike,
    rate: npt.ArrayLike = 0.0,
    div: npt.ArrayLike = 0.0,
    is_call: npt.ArrayLike = True,
) -> FloatArray:
    """Black-Scholes-Merton vega, dV/dvol, of European options.

    Args:
        spot: Spot price, currency, ``>= 0``. Shape: broadcastable.
        strike: Strike price, currency, ``>= 0``. Shape: broadcastable.
        tau: Time to expiry, years (ACT/365); ``<= 0`` means expired.
            Shape: broadcastable.
        vol: Volatility, decimal (0.2 = 20%), ``>= 0``. Shape: broadcastable.
        rate: Risk-free rate, continuous per year. Shape: broadcastable.
        div: Dividend yield, continuous per year. Shape: broadcastable.
        is_call: True for calls, False for puts (vega does not depend on it,
            but it still broadcasts). Shape: broadcastable.

    Returns:
        Vega per 1.00 of vol (a move from 0.20 to 1.20), currency,
        ``float64``, broadcast shape; divide by 100 for "per vol point".
        Equal bit for bit to ``bsm_greeks(...).vega``.

    Raises:
        ValueError: If ``spot``, ``strike`` or ``vol`` is negative anywhere.
    """
    return _evaluate(spot, strike, tau, vol, rate, div, is_call, ("vega",))[0]


def bsm_theta(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    tau: npt.ArrayLike,
    vol: npt.ArrayLike,
    rate: npt.ArrayLike = 0.0,
    div: npt.ArrayLike = 0.0,
    is_call: npt.ArrayLike = True,
) -> FloatArray:
    """Black-Scholes-Merton theta, dV/dt = -dV/dtau, of European options.

    Args:
        spot: Spot price, currency, ``>= 0``. Shape: broadcastable.
        strike: Strike price, currency, ``>= 0``. Shape: broadcastable.
        tau: Time to expiry, years (ACT/365); ``<= 0`` means expired.
            Shape: broadcastable.
        vol: Volatility, decimal (0.2 = 20%), ``>= 0``. Shape: broadcastable.
        rate: Risk-free rate, continuous per year. Shape: broadcastable.
        div: Dividend yield, continuous per year. Shape: broadcastable.
        is_call: True for calls, False for puts. Shape: broadcastable.

    Returns:
        Theta in currency per year of calendar time passing (the change in
        value as ``tau`` shrinks), ``float64``, broadcast shape; divide by 365
        for "per day". Equal bit for bit to ``bsm_greeks(...).theta``.

    Raises:
        ValueError: If ``spot``, ``strike`` or ``vol`` is negative anywhere.
    """
    return _evaluate(spot, strike, tau, vol, rate, div, is_call, ("theta",))[0]


def bsm_rho(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    tau: npt.ArrayLike,
    vol: npt.ArrayLike,
    rate: npt.ArrayLike = 0.0,
    div: npt.ArrayLike = 0.0,
    is_call: npt.ArrayLike = True,
) -> FloatArray:
    """Black-Scholes-Merton rho, dV/drate, of European options.

    Args:
        spot: Spot price, currency, ``>= 0``. Shape: broadcastable.
        strike: Strike price, currency, ``>= 0``. Shape: broadcastable.
        tau: Time to expiry, years (ACT/365); ``<= 0`` means expired.
            Shape: broadcastable.
        vol: Volatility, decimal (0.2 = 20%), ``>= 0``. Shape: broadcastable.
        rate: Risk-free rate, continuous per year. Shape: broadcastable.
        div: Dividend yield, continuous per year (held fixed). Shape:
            broadcastable.
        is_call: True for calls, False for puts. Shape: broadcastable.

    Returns:
        Rho per 1.00 of rate (divide by 100 for "per 1%"), currency,
        ``float64``, broadcast shape. Equal bit for bit to
        ``bsm_greeks(...).rho``.

    Raises:
        ValueError: If ``spot``, ``strike`` or ``vol`` is negative anywhere.
    """
    return _evaluate(spot, strike, tau, vol, rate, div, is_call, ("rho",))[0]
