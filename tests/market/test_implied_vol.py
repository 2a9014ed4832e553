"""Implied vol: round trip to 1e-10 where the price carries vol information, else NaN + flag."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from market.pricing import bsm_greeks, implied_vol


@settings(max_examples=300, deadline=None)
@given(
    vol=st.floats(0.01, 3.0),
    m=st.floats(-2.0, 2.0),
    tau=st.floats(1 / 365, 5.0),
    call=st.booleans(),
    r=st.floats(-0.01, 0.08),
)
def test_round_trip(vol, m, tau, call, r) -> None:
    k = 100.0 * np.exp(m + r * tau)
    g = bsm_greeks(100.0, k, tau, vol, r, 0.0, call)
    assume(g.vega > 1e-4 and g.price > 1e-8)
    res = implied_vol(g.price, 100.0, k, tau, r, 0.0, call)
    assert res.ok
    assert (
        abs(res.vol - vol) < 1e-10 * max(1.0, vol)
        or abs(bsm_greeks(100.0, k, tau, res.vol, r, 0.0, call).price - g.price) < 1e-12 * 100
    )


def test_vectorised_and_flags_arbitrage_violations() -> None:
    price = np.array([5.0, -1.0, 150.0, 0.0, np.nan, 10.0])
    res = implied_vol(price, 100.0, 100.0, np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.0]))
    assert res.ok.tolist() == [True, False, False, False, False, False]
    assert np.isfinite(res.vol[0]) and np.all(np.isnan(res.vol[1:]))
    # below intrinsic for a put
    assert not implied_vol(5.0, 100.0, 120.0, 0.5, is_call=False).ok
