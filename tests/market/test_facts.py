"""Stylized-fact statistics against values known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.facts import (
    acf_abs,
    half_life,
    headline,
    kurtosis,
    leverage,
    matched_headline,
    skewness,
    stylized_facts,
    vol_of_vol,
    windows,
)


def test_moments_of_a_normal_sample() -> None:
    r = np.random.default_rng(0).standard_normal((200, 500)) * 0.01
    assert abs(kurtosis(r)) < 0.05 and abs(skewness(r)) < 0.02
    assert np.all(np.abs(acf_abs(r)) < 0.01) and np.all(np.abs(leverage(r)) < 0.01)


def test_kurtosis_and_skewness_match_closed_forms() -> None:
    # a two-point distribution: +1 w.p. 1/2, -1 w.p. 1/2 has excess kurtosis -2, skew 0
    r = np.tile([1.0, -1.0], (3, 10))
    assert kurtosis(r) == pytest.approx(-2.0, abs=1e-12)
    assert skewness(r) == pytest.approx(0.0, abs=1e-12)
    # exponential(1): skewness 2, excess kurtosis 6
    e = np.random.default_rng(1).exponential(size=(100, 20_000))
    assert skewness(e) == pytest.approx(2.0, rel=0.03)
    assert kurtosis(e) == pytest.approx(6.0, rel=0.06)


def test_lagged_correlations_pair_inside_windows_only() -> None:
    # |r| alternates high/low inside each window: lag-1 ACF -1, lag-2 +1 (pooled moments)
    a = np.tile([2.0, -1.0, 2.0, -1.0], (5, 1))
    np.testing.assert_allclose(acf_abs(a, 3)[:2], [-1.0, 1.0], atol=1e-12)
    assert math.isnan(acf_abs(a, 4)[3])  # lag 4 > T - 1: no pairs
    # leverage by construction: a loss is followed by a big move
    rng = np.random.default_rng(2)
    z = rng.standard_normal((400, 300))
    r = z.copy()
    r[:, 1:] = z[:, 1:] * (1.0 + 2.0 * (z[:, :-1] < 0))
    assert leverage(r)[0] < -0.2 and abs(leverage(r)[5]) < 0.02


def test_half_life_of_a_geometric_decay_is_exact() -> None:
    phi = 0.9
    acf = 0.4 * phi ** np.arange(1, 21)
    assert half_life(acf) == pytest.approx(math.log(0.5) / math.log(phi), rel=1e-12)
    assert half_life(np.full(20, 0.3)) == math.inf
    assert math.isnan(half_life(np.array([np.nan, -0.1, 0.2])))


def test_vol_of_vol_is_zero_for_constant_vol_and_grows_with_switching() -> None:
    r = np.tile([0.01, -0.01], (4, 50))
    assert vol_of_vol(r) == pytest.approx(0.0, abs=1e-12)
    rng = np.random.default_rng(3)
    calm = rng.standard_normal((200, 100))
    scale = np.repeat(np.exp(rng.standard_normal((200, 20))), 5, axis=1)
    assert vol_of_vol(calm * scale) > vol_of_vol(calm) + 0.5


@settings(max_examples=30, deadline=None)
@given(st.floats(1e-4, 10.0), st.integers(0, 2**31 - 1))
def test_facts_are_scale_free(scale: float, seed: int) -> None:
    r = np.random.default_rng(seed).standard_t(5, size=(20, 40))
    a, b = headline(stylized_facts(r)), headline(stylized_facts(r * scale))
    for k in ("kurtosis", "skewness", "acf_abs_1", "leverage_1", "vol_of_vol"):
        assert a[k] == pytest.approx(b[k], rel=1e-9, abs=1e-12), k


def test_windows_and_matched_headline() -> None:
    x = np.arange(10.0)
    np.testing.assert_array_equal(windows(x, 3), [[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    with pytest.raises(ValueError, match="no window"):
        windows(x, 11)
    r = np.random.default_rng(4).standard_normal((40, 30))
    one = matched_headline(r[:10], 10)  # one group: the panel itself
    assert one == headline(stylized_facts(r[:10]))
    four = matched_headline(r, 10)
    ks = sorted(kurtosis(r[i : i + 10]) for i in range(0, 40, 10))
    assert four["kurtosis"] == pytest.approx(0.5 * (ks[1] + ks[2]), rel=1e-12)
