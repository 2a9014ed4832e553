"""The implied-vol surface: per-path parametric state and its implied vols.

Each path carries its own surface, four numbers per path:

* ``atm``  -- base ATM implied vol at the reference tenor, decimal.
* ``skew`` -- slope of implied vol in log-moneyness ``ln(K/S)``, vol per unit
  of log-moneyness (negative for an equity-style put skew).
* ``term`` -- slope of implied vol in tenor, vol per year of tenor, measured
  from the reference tenor :data:`TAU_REF`.
* ``event_var`` -- extra total implied variance (decimal² · years) carried by
  every expiry after a scheduled announcement that has not yet been released:
  the event premium. At release it collapses to zero: the crush.

For an option of strike ``K`` and expiry ``T`` at time ``t`` with spot ``S``
(``tau = T - t``, ``k = ln(K/S)``)::

    base  = max(atm + skew * k + term * (tau - TAU_REF), VOL_FLOOR)
    w     = base**2 * tau + event_var * [t < event_time < T]
    iv    = sqrt(w / tau)

so short expiries just past the event carry the largest premium, and the
premium rises as the event approaches (``event_var / tau`` grows), which is
how listed vol is bid into a known announcement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydantic import Field

from market.validation import StrictModel, Vol

#: Reference tenor of the ``atm`` level, years (30 days).
TAU_REF = 30.0 / 365.0
#: Lowest base implied vol the parametrisation returns, decimal.
VOL_FLOOR = 0.01


@dataclass(frozen=True, slots=True)
class SurfaceState:
    """Per-path surface parameters at one time.

    Attributes:
        atm: ATM implied vol at the reference tenor, decimal, shape ``[n]``.
        skew: Vol per unit log-moneyness, shape ``[n]``.
        term: Vol per year of tenor from :data:`TAU_REF`, shape ``[n]``.
        event_var: Event premium in total variance (decimal² · years), shape ``[n]``.
        event_time: Scheduled release time of the pending announcement, years;
            ``inf`` when none is pending.
        law: ``"parametric"`` (the formula above) or a model whose prices the
            quotes are (``"heston"``, ``"merton"``): the implied vol of a
            contract is then the Black-Scholes vol of the model's price.
        law_params: The model's parameters (and ``rate``, ``div``), by name.
        variance: Per-path model state: Heston's instantaneous variance, or
            Merton's diffusion variance (decimal² per year), shape ``[n]``.
    """

    atm: np.ndarray
    skew: np.ndarray
    term: np.ndarray
    event_var: np.ndarray
    event_time: float
    law: str = "parametric"
    law_params: dict[str, float] = field(default_factory=dict)
    variance: np.ndarray = field(default_factory=lambda: np.zeros(0))


class SurfaceConfig(StrictModel):
    """Initial surface and its dynamics (validated at the scenario boundary).

    Attributes:
        atm: Initial ATM implied vol, decimal (> 0).
        skew: Vol per unit of log-moneyness.
        term: Vol per year of tenor.
        vol_of_vol: Volatility of log ATM vol, per sqrt(year) (0 = constant vol).
        mean_reversion: Speed of mean reversion of log ATM vol, per year.
        long_run_atm: Long-run ATM vol the level reverts to, decimal; ``None`` = ``atm``.
        spot_vol_corr: Correlation of ATM-vol shocks with spot shocks, in [-1, 1].
    """

    atm: Vol = 0.20
    skew: float = Field(0.0, ge=-5.0, le=5.0)
    term: float = Field(0.0, ge=-5.0, le=5.0)
    vol_of_vol: float = Field(0.0, ge=0.0, le=10.0)
    mean_reversion: float = Field(2.0, ge=0.0, le=1000.0)
    long_run_atm: Vol | None = None
    spot_vol_corr: float = Field(-0.7, ge=-1.0, le=1.0)


def implied_vol(
    state: SurfaceState,
    spot: np.ndarray,
    strike: np.ndarray,
    time: float,
    expiry: float,
) -> np.ndarray:
    """Implied vol quoted by the surface for one expiry, per path.

    Args:
        state: The surface state, arrays of shape ``[n]``.
        spot: Spot per path, currency, shape ``[n]``.
        strike: Strike per path, currency, shape ``[n]`` (or broadcastable).
        time: Current time, years since start.
        expiry: Expiry time, years since start (> ``time``).

    Returns:
        Implied vol per path, decimal, shape ``[n]``. For ``expiry <= time``
        the base vol (no event term) is returned; it is not used for pricing.
    """
    tau = expiry - time
    if state.law != "parametric" and tau > 0.0:
        return _model_implied_vol(state, spot, strike, tau)
    k = np.log(strike / spot)
    base = np.maximum(state.atm + state.skew * k + state.term * (tau - TAU_REF), VOL_FLOOR)
    if tau <= 0.0:
        return base
    if time < state.event_time < expiry:
        return np.sqrt(base * base + state.event_var / tau)
    return base


def _model_implied_vol(
    state: SurfaceState, spot: np.ndarray, strike: np.ndarray, tau: float
) -> np.ndarray:
    """Black-Scholes implied vol of the world model's price, per path.

    The out-of-the-money side (call above the forward, put below) is
    inverted, where the price carries the most vol information. Where the
    inversion fails (a price with no vol information left), the model's
    instantaneous vol ``sqrt(variance)`` is used and the quote is marked by
    nothing else: such contracts are worth ~0 either way.
    """
    from market.pricing import implied_vol as invert
    from market.pricing.heston import heston_price
    from market.pricing.merton import merton_price

    p = state.law_params
    rate, div = p.get("rate", 0.0), p.get("div", 0.0)
    strike = np.broadcast_to(strike, spot.shape)
    call = strike >= spot * np.exp((rate - div) * tau)
    if state.law == "heston":
        price = heston_price(
            spot,
            strike,
            tau,
            state.variance,
            p["kappa"],
            p["theta_var"],
            p["xi"],
            p["rho"],
            rate,
            div,
            call,
        )
    else:
        price = merton_price(
            spot,
            strike,
            tau,
            np.sqrt(state.variance),
            p["lam"],
            p["jump_mean"],
            p["jump_std"],
            rate,
            div,
            call,
        )
    res = invert(price, spot, strike, tau, rate, div, call)
    return np.where(res.ok, res.vol, np.sqrt(np.maximum(state.variance, VOL_FLOOR**2)))
