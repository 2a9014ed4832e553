"""market._fills.fill_cost: fill_terms' cost alone, its zero terms left out, equal to the bit."""

from __future__ import annotations

import itertools

import numpy as np

from market._fills import fill_cost, fill_terms
from market.execution import CostModel


def test_fill_cost_is_fill_terms_cost_bit_for_bit_for_every_zero_pattern() -> None:
    rng = np.random.default_rng(3)
    n = 500
    qty = rng.normal(0.0, 50.0, n)
    qty[:20] = 0.0
    mid = rng.uniform(0.01, 20.0, n)
    vega = rng.normal(0.0, 2.0, n)
    values = {
        "half_spread_bps": 1.5,
        "half_spread_vol": 0.25,
        "half_spread_pct": 0.4,
        "fee_pct": 1.0,
        "impact_bps": 0.3,
    }
    checked = 0
    for mask in itertools.product((False, True), repeat=len(values)):
        cost = CostModel(
            **{k: v if on else 0.0 for (k, v), on in zip(values.items(), mask, strict=True)}
        )
        for is_option, mult in itertools.product((False, True), (1.0, 2.5)):
            want = fill_terms(qty, mid, vega, is_option, cost, mult)[1]
            got = fill_cost(qty, mid, vega, is_option, cost, mult)
            if isinstance(got, float):
                assert got == 0.0 and not want.any()
            else:
                assert np.array_equal(got, want)
            checked += 1
    assert checked == 128
