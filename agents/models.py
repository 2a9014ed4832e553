"""The pricing model a hedger hedges with, chosen in its config, independent of the world.

* ``bsm``: Black-Scholes-Merton at each contract's quoted implied vol (the
  market's own greeks).
* ``heston``: Heston greeks with the hedger's parameters; the initial
  variance is the world's (when the world is Heston) or the square of the
  quoted ATM vol.
* ``merton``: Merton jump-diffusion greeks with the hedger's jump
  parameters; the diffusion vol is the world's (when the world is Merton) or
  what is left of the quoted ATM variance after the jumps' share.

:func:`model_greeks` returns delta (per unit spot), gamma (per unit²), vega
(per 1.00 of vol: BSM's implied vol, Heston's equivalent ``sqrt(v0)``,
Merton's diffusion vol) and theta (per year) per path.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from market.events import MarketEvent
from market.pricing import bsm_greeks
from market.surface import implied_vol
from market.validation import StrictModel, Variance


class BSMModel(StrictModel):
    """Black-Scholes-Merton at the quoted implied vol."""

    kind: Literal["bsm"] = "bsm"


class HestonModel(StrictModel):
    """Heston with the hedger's parameters (see :mod:`market.pricing.heston`).

    With ``min_variance`` the delta is the minimum-variance one,
    ``dV/dS + rho xi (dV/dv0) / S``: the spot hedge that also takes out the
    part of the variance move correlated with the spot. (The plain Heston
    delta holds the variance fixed, which in a negatively correlated world
    over-hedges a call and can do worse than Black-Scholes at the smile.)
    """

    kind: Literal["heston"] = "heston"
    kappa: float = Field(2.0, gt=0.0, le=1000.0)
    theta_var: Variance = 0.04
    xi: float = Field(0.5, ge=0.0, le=10.0)
    rho: float = Field(-0.7, ge=-1.0, le=1.0)
    min_variance: bool = True


class MertonModel(StrictModel):
    """Merton jump-diffusion with the hedger's jump parameters.

    With ``min_variance`` the delta is the one that minimises the variance
    of the hedged book over the next instant, diffusion and jumps together::

        (vol² S² dV/dS + lam S E[(J - 1)(V(S J) - V(S))]) / (S² (vol² + lam E[(J - 1)²]))

    (the expectation by Gauss-Hermite quadrature over the log-normal jump);
    the plain Merton delta hedges the diffusion only.
    """

    kind: Literal["merton"] = "merton"
    lam: float = Field(1.0, ge=0.0, le=1000.0)
    jump_mean: float = Field(-0.05, ge=-5.0, le=5.0)
    jump_std: float = Field(0.08, ge=0.0, le=5.0)
    min_variance: bool = True


PricingModel = Annotated[BSMModel | HestonModel | MertonModel, Field(discriminator="kind")]

#: Gauss-Hermite nodes of the jump expectation (minimum-variance Merton delta).
HERMITE_NODES = 24
#: Greeks a model provides, per path.
MODEL_GREEKS = ("delta", "gamma", "vega", "theta")


def model_greeks(
    model: BSMModel | HestonModel | MertonModel,
    event: MarketEvent,
    strike: np.ndarray,
    expiry: float,
    is_call: bool,
) -> dict[str, np.ndarray]:
    """Greeks per unit of one option contract under a hedger's model.

    Args:
        model: The hedger's model.
        event: The market event (spot, surface, rates).
        strike: Strike per path, currency, ``[n]``.
        expiry: Expiry, years since the start.
        is_call: Call or put.

    Returns:
        ``delta``, ``gamma``, ``vega``, ``theta`` per path.
    """
    s, tau, r, q = event.spot, expiry - event.time, event.rate, event.div
    surf = event.surface
    if isinstance(model, BSMModel):
        iv = implied_vol(surf, s, strike, event.time, expiry)
        g = bsm_greeks(s, strike, tau, iv, r, q, is_call)
        return {"delta": g.delta, "gamma": g.gamma, "vega": g.vega, "theta": g.theta}
    if isinstance(model, HestonModel):
        from market.pricing.heston import heston_greeks

        v0 = surf.variance if surf.law == "heston" else surf.atm**2
        h = heston_greeks(
            s, strike, tau, v0, model.kappa, model.theta_var, model.xi, model.rho, r, q, is_call
        )
        delta = h.delta + (model.rho * model.xi * h.vega_v0 / s if model.min_variance else 0.0)
        return {"delta": delta, "gamma": h.gamma, "vega": h.vega, "theta": h.theta}
    from market.pricing.merton import merton_greeks

    if surf.law == "merton":
        vol = np.sqrt(surf.variance)
    else:
        jump_var = model.lam * (model.jump_mean**2 + model.jump_std**2)
        vol = np.sqrt(np.maximum(surf.atm**2 - jump_var, 1e-4))
    jumps = (model.lam, model.jump_mean, model.jump_std)
    m = merton_greeks(s, strike, tau, vol, *jumps, r, q, is_call)
    delta = m.delta
    if model.min_variance and model.lam > 0:
        from market.pricing.merton import merton_price

        z, w = np.polynomial.hermite_e.hermegauss(HERMITE_NODES)
        w = w / w.sum()
        cov, var_j = np.zeros_like(s), 0.0
        for zi, wi in zip(z, w, strict=True):
            j = np.exp(model.jump_mean + model.jump_std * zi)
            shifted = merton_price(s * j, strike, tau, vol, *jumps, r, q, is_call)
            cov = cov + wi * (j - 1.0) * (shifted - m.price)
            var_j += wi * (j - 1.0) ** 2
        delta = (vol**2 * s * s * m.delta + model.lam * s * cov) / (
            s * s * (vol**2 + model.lam * var_j)
        )
    return {"delta": delta, "gamma": m.gamma, "vega": m.vega, "theta": m.theta}
