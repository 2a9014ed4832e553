"""Vectorised closed-form pricing: pure functions over numpy arrays.

Every function broadcasts its array arguments (numpy rules) and documents the
unit of each: time in years (ACT/365), rates and dividend yield continuous,
volatility as a decimal (0.2 = 20%).
"""

from market.pricing.bsm import (
    BSMGreeks,
    bsm_delta,
    bsm_gamma,
    bsm_greeks,
    bsm_price,
    bsm_rho,
    bsm_theta,
    bsm_vega,
)
from market.pricing.heston import (
    HestonGreeks,
    feller_ok,
    heston_greeks,
    heston_price,
    validate_heston,
)
from market.pricing.implied_vol import ImpliedVolResult, implied_vol
from market.pricing.merton import MertonGreeks, merton_greeks, merton_price

__all__ = [
    "BSMGreeks",
    "HestonGreeks",
    "ImpliedVolResult",
    "MertonGreeks",
    "bsm_delta",
    "bsm_gamma",
    "bsm_greeks",
    "bsm_price",
    "bsm_rho",
    "bsm_theta",
    "bsm_vega",
    "feller_ok",
    "heston_greeks",
    "heston_price",
    "implied_vol",
    "merton_greeks",
    "merton_price",
    "validate_heston",
]
