"""Heston: 30-digit reference values, Monte Carlo agreement, the xi -> 0 limit,
parity, analytic greeks vs finite differences, code paths, edge cases, errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.pricing import (
    bsm_greeks,
    bsm_price,
    feller_ok,
    heston_greeks,
    heston_price,
    validate_heston,
)

P = {"v0": 0.04, "kappa": 1.5, "theta_var": 0.05, "xi": 0.8, "rho": -0.7}  # Feller violated

# (spot, strike, tau, v0, kappa, theta_var, xi, rho, rate, div), call, put: the
# Lewis integral of the textbook (Albrecher et al.) characteristic function by
# mpmath.quad at 25 significant digits, split at every quarter core width.
REFERENCE = [
    (
        (100, 100, 1 / 365, 0.04, 1.5, 0.04, 0.5, -0.7, 0.03, 0.01),
        0.42009145597260048,
        0.414612304152843,
    ),
    (
        (100, 103, 1 / 365, 0.04, 1.5, 0.04, 0.5, -0.7, 0.03, 0.01),
        0.00035639208325146675,
        2.9946306750539839,
    ),
    (
        (100, 97, 1 / 365, 0.04, 1.5, 0.04, 0.5, -0.7, 0.03, 0.01),
        3.0062569799609618,
        0.0010243933507144033,
    ),
    (
        (100, 130, 0.05, 0.04, 1.5, 0.04, 0.5, -0.7, 0.0, 0.0),
        5.903266592879079e-14,
        30.000000000000059,
    ),
    (
        (100, 60, 0.5, 0.09, 2.0, 0.06, 1.0, -0.8, 0.02, 0.0),
        41.027614496559122,
        0.43060452150920529,
    ),
    (
        (100, 200, 2.0, 0.04, 1.0, 0.06, 0.8, -0.5, 0.01, 0.0),
        0.15360766987140406,
        96.193342331222464,
    ),
    (
        (100, 100, 5.0, 0.02, 0.5, 0.08, 0.3, -0.3, 0.05, 0.02),
        23.9773407906903,
        11.373677294234828,
    ),
    (
        (100, 120, 1.0, 0.04, 3.0, 0.04, 1.8, -0.95, 0.0, 0.0),
        0.0008044992277593396,
        20.000804499227759,
    ),
    (
        (100, 90, 0.25, 0.06, 0.8, 0.03, 1.2, 0.6, 0.04, 0.0),
        11.320658585518608,
        0.42514362294373241,
    ),
    (
        (100, 50, 1.0, 0.1, 1.0, 0.1, 0.6, -0.6, 0.0, 0.0),
        50.585288824558481,
        0.58528882455848132,
    ),
    (
        (100, 100, 1.0, 0.0, 2.0, 0.04, 0.5, -0.5, 0.0, 0.0),
        5.4313853929372729,
        5.4313853929372729,
    ),
    (
        (100, 300, 3.0, 0.04, 1.5, 0.04, 0.5, -0.7, 0.0, 0.0),
        7.4276299460124396e-5,
        200.00007427629946,
    ),
]


def _avg_var(tau, v0, kappa, theta_var):
    return theta_var + (v0 - theta_var) * (1 - np.exp(-kappa * tau)) / (kappa * tau)


def test_matches_high_precision_reference_one_by_one_and_vectorised() -> None:
    args = np.array([r[0] for r in REFERENCE], dtype=float)
    calls = np.array([r[1] for r in REFERENCE])
    puts = np.array([r[2] for r in REFERENCE])
    tol = 1e-12 * 100 + 1e-9 * np.minimum(calls, puts)  # 1e-12 of spot, 1e-9 relative
    for is_call, ref in ((True, calls), (False, puts)):
        vec = heston_price(*args.T, is_call=is_call)
        assert np.all(np.abs(vec - ref) <= np.where(ref == np.minimum(calls, puts), tol, 1e-10))
        for row, want, got in zip(args, ref, vec, strict=True):
            one = heston_price(*row, is_call=is_call)
            assert one.shape == ()
            assert abs(float(one) - got) <= 1e-13 * max(1.0, want)
    # Short-dated deep out-of-the-money prices keep their relative accuracy.
    assert abs(heston_price(*REFERENCE[1][0]) / REFERENCE[1][1] - 1) < 1e-9
    assert abs(heston_price(*REFERENCE[2][0], is_call=False) / REFERENCE[2][2] - 1) < 1e-9
    assert abs(heston_price(*REFERENCE[11][0]) / REFERENCE[11][1] - 1) < 1e-8


def _monte_carlo(tau, strikes, is_call, n, steps, seed, r=0.02, q=0.01):
    """Conditional Monte Carlo of the same model, independent of the Fourier pricer.

    The variance is sampled exactly on the time grid (scaled non-central
    chi-square transitions, so the Feller violation of ``P`` is no problem)
    and integrated by the trapezoid rule. Given the variance path, ``ln S_T``
    is Gaussian (Willard 1997): the option is worth BSM with spot
    ``S exp(rho/xi (v_T - v0 - kappa theta tau + kappa I) - rho² I / 2)`` and
    vol ``sqrt((1 - rho²) I / tau)``, ``I = int v dt``. Returns mean and
    standard error per strike.
    """
    v0, kappa, theta, xi, rho = (P[k] for k in ("v0", "kappa", "theta_var", "xi", "rho"))
    rng = np.random.default_rng(seed)
    dt = tau / steps
    decay = np.exp(-kappa * dt)
    scale = xi * xi * (1 - decay) / (4 * kappa)
    dof = 4 * kappa * theta / (xi * xi)
    v = np.full(n, v0)
    integral = np.zeros(n)
    for _ in range(steps):
        v_next = scale * rng.noncentral_chisquare(dof, v * decay / scale, n)
        integral += 0.5 * (v + v_next) * dt
        v = v_next
    log_shift = rho / xi * (v - v0 - kappa * theta * tau + kappa * integral)
    spot_eff = 100.0 * np.exp(log_shift - 0.5 * rho * rho * integral)
    vol_eff = np.sqrt((1 - rho * rho) * integral / tau)
    pay = bsm_price(spot_eff, strikes[:, None], tau, vol_eff, r, q, is_call[:, None])
    return pay.mean(axis=1), pay.std(axis=1, ddof=1) / np.sqrt(n)


@pytest.mark.parametrize(
    ("tau", "strikes", "steps"),
    [
        (0.05, [85.0, 92.0, 97.0, 100.0, 103.0, 108.0, 115.0], 50),
        (1.0, [50.0, 70.0, 90.0, 100.0, 110.0, 130.0, 170.0], 100),
    ],
)
def test_prices_agree_with_monte_carlo_short_maturity_and_deep_otm(tau, strikes, steps) -> None:
    k = np.array(strikes)
    is_call = k >= 100.0  # out of the money: lower variance, deep OTM included
    mc, se = _monte_carlo(tau, k, is_call, n=100_000, steps=steps, seed=11)
    price = heston_price(100.0, k, tau, **P, rate=0.02, div=0.01, is_call=is_call)
    assert np.all(np.abs(price - mc) <= 3 * se), ((price - mc) / se, se)
    assert np.all(se < 0.05 * price)  # the comparison has teeth (SE within 5%)


@settings(max_examples=40, deadline=None)
@given(
    k=st.floats(40.0, 250.0),
    tau=st.floats(1 / 365, 5.0),
    v0=st.floats(0.0, 0.5),
    kappa=st.floats(0.1, 10.0),
    theta_var=st.floats(0.005, 0.5),
    r=st.floats(-0.02, 0.1),
    q=st.floats(0.0, 0.05),
)
def test_xi_zero_is_bsm_at_the_average_variance(k, tau, v0, kappa, theta_var, r, q) -> None:
    w = _avg_var(tau, v0, kappa, theta_var)
    for is_call in (True, False):
        h = heston_price(100.0, k, tau, v0, kappa, theta_var, 0.0, -0.5, r, q, is_call)
        b = bsm_price(100.0, k, tau, np.sqrt(w), r, q, is_call)
        assert abs(h - b) <= 1e-12 * 100 + 1e-10 * b


def test_small_xi_converges_to_bsm_continuously() -> None:
    k = np.array([70.0, 95.0, 100.0, 105.0, 140.0])
    tau, v0, kappa, th = 0.75, 0.09, 2.0, 0.04
    b = bsm_price(100.0, k, tau, np.sqrt(_avg_var(tau, v0, kappa, th)), 0.03, 0.01)
    gaps = [
        np.max(np.abs(heston_price(100.0, k, tau, v0, kappa, th, xi, 0.3, 0.03, 0.01) - b))
        for xi in (1e-2, 1e-3, 1e-4, 1e-6)
    ]
    # First order in xi (rho != 0): each step 10x smaller, no 0/0 blow-up.
    assert gaps[0] > 1e-4
    for big, small in itertools.pairwise(gaps):
        assert small < 0.2 * big
    assert gaps[-1] < 1e-6


@settings(max_examples=60, deadline=None)
@given(
    k=st.floats(30.0, 300.0),
    tau=st.floats(1 / 365, 5.0),
    v0=st.floats(0.001, 0.5),
    kappa=st.floats(0.2, 8.0),
    theta_var=st.floats(0.005, 0.4),
    xi=st.floats(0.01, 1.5),
    rho=st.floats(-0.95, 0.9),
    r=st.floats(-0.02, 0.1),
    q=st.floats(0.0, 0.05),
)
def test_put_call_parity(k, tau, v0, kappa, theta_var, xi, rho, r, q) -> None:
    args = (100.0, k, tau, v0, kappa, theta_var, xi, rho, r, q)
    c = heston_price(*args, is_call=True)
    p = heston_price(*args, is_call=False)
    fwd = 100.0 * np.exp(-q * tau) - k * np.exp(-r * tau)
    assert c >= max(fwd, 0.0) and p >= max(-fwd, 0.0)
    assert abs((c - p) - fwd) <= 1e-9 * 100
    gc = heston_greeks(*args, is_call=True)
    gp = heston_greeks(*args, is_call=False)
    assert abs(gc.delta - gp.delta - np.exp(-q * tau)) <= 1e-9
    assert abs(gc.gamma - gp.gamma) <= 1e-9 * max(1.0, abs(gc.gamma))
    assert abs(gc.vega_v0 - gp.vega_v0) <= 1e-7 * max(1.0, abs(gc.vega_v0))


GREEK_CASES = [
    # strike, tau, v0, kappa, theta_var, xi, rho, rate, div, is_call
    (100.0, 0.4, 0.04, 1.5, 0.05, 0.8, -0.7, 0.02, 0.01, True),
    (85.0, 0.4, 0.04, 1.5, 0.05, 0.8, -0.7, 0.02, 0.01, False),
    (125.0, 1.5, 0.09, 0.7, 0.04, 0.4, 0.3, 0.05, 0.0, True),
    (97.0, 10 / 365, 0.02, 3.0, 0.06, 0.5, -0.5, 0.0, 0.02, True),
    (60.0, 2.0, 0.05, 2.0, 0.05, 1.2, -0.9, 0.01, 0.01, False),
]


@pytest.mark.parametrize("case", GREEK_CASES)
def test_analytic_greeks_agree_with_central_differences(case) -> None:
    k, tau, v0, kappa, th, xi, rho, r, q, is_call = case

    def price(spot=100.0, v=v0, t=tau):
        return float(heston_price(spot, k, t, v, kappa, th, xi, rho, r, q, is_call))

    g = heston_greeks(100.0, k, tau, v0, kappa, th, xi, rho, r, q, is_call)
    assert g.price == pytest.approx(price(), abs=1e-13)
    h = 0.01
    fd_delta = (price(100 + h) - price(100 - h)) / (2 * h)
    fd_gamma = (price(100 + h) - 2 * price() + price(100 - h)) / h**2
    assert g.delta == pytest.approx(fd_delta, rel=1e-5, abs=1e-7)
    assert g.gamma == pytest.approx(fd_gamma, rel=2e-4, abs=1e-6)
    hv = 1e-5 * v0
    fd_v0 = (price(v=v0 + hv) - price(v=v0 - hv)) / (2 * hv)
    assert g.vega_v0 == pytest.approx(fd_v0, rel=1e-5, abs=1e-6)
    sv = np.sqrt(v0)
    fd_vega = (price(v=(sv + 1e-5) ** 2) - price(v=(sv - 1e-5) ** 2)) / 2e-5
    assert g.vega == pytest.approx(fd_vega, rel=1e-5, abs=1e-6)
    assert g.vega == pytest.approx(2 * sv * g.vega_v0, rel=1e-14)
    ht = 1e-5 * tau
    fd_theta = -(price(t=tau + ht) - price(t=tau - ht)) / (2 * ht)
    assert g.theta == pytest.approx(fd_theta, rel=1e-5, abs=1e-5)


def test_greeks_at_xi_zero_are_bsm_greeks_at_the_average_variance() -> None:
    k, tau, v0, kappa, th = np.array([80.0, 100.0, 120.0]), 0.5, 0.06, 1.0, 0.04
    g = heston_greeks(100.0, k, tau, v0, kappa, th, 0.0, 0.0, 0.02, 0.01)
    b = bsm_greeks(100.0, k, tau, np.sqrt(_avg_var(tau, v0, kappa, th)), 0.02, 0.01)
    np.testing.assert_allclose(g.price, b.price, rtol=1e-12)
    np.testing.assert_allclose(g.delta, b.delta, rtol=1e-11)
    np.testing.assert_allclose(g.gamma, b.gamma, rtol=1e-10)
    # dV/dv0 = BSM vega * dsigma/dv0, sigma² = average variance.
    dsig = (1 - np.exp(-kappa * tau)) / (kappa * tau) / (2 * np.sqrt(_avg_var(tau, v0, kappa, th)))
    np.testing.assert_allclose(g.vega_v0, b.vega * dsig, rtol=1e-10)


def test_code_paths_agree_surface_paths_and_one_by_one() -> None:
    """Surface (shared parameter sets), per-path v0 (shared groups) and scalar
    calls take different code paths; they must give the same numbers."""
    rng = np.random.default_rng(4)
    taus = np.array([2 / 365, 0.1, 0.5, 2.0])[:, None]
    ks = np.linspace(50.0, 160.0, 40)[None, :]
    surf = heston_greeks(100.0, ks, taus, 0.05, 2.0, 0.04, 0.7, -0.6, 0.01, 0.0)
    assert surf.price.shape == (4, 40)
    for i, j in [(0, 0), (0, 20), (1, 39), (2, 5), (3, 33)]:
        one = heston_greeks(100.0, ks[0, j], taus[i, 0], 0.05, 2.0, 0.04, 0.7, -0.6, 0.01, 0.0)
        for a, b in zip(one, surf, strict=True):
            assert float(a) == pytest.approx(b[i, j], rel=1e-10, abs=1e-12)
    # Per path: spot and v0 differ, everything else shared.
    spot = 100.0 * np.exp(rng.normal(0.0, 0.05, 300))
    v0 = rng.uniform(0.01, 0.2, 300)
    paths = heston_greeks(spot, 100.0, 30 / 365, v0, 1.5, 0.05, 0.8, -0.7)
    for i in (0, 17, 299):
        one = heston_greeks(spot[i], 100.0, 30 / 365, v0[i], 1.5, 0.05, 0.8, -0.7)
        for a, b in zip(one, paths, strict=True):
            assert float(a) == pytest.approx(b[i], rel=1e-10, abs=1e-12)
    # Several strikes per path (full sets shared by several options).
    grid = heston_price(
        spot[:5, None], np.array([90.0, 100.0, 110.0]), 0.25, v0[:5, None], 1.5, 0.05, 0.8, -0.7
    )
    assert grid.shape == (5, 3)
    one = heston_price(spot[3], 100.0, 0.25, v0[3], 1.5, 0.05, 0.8, -0.7)
    assert grid[3, 1] == pytest.approx(float(one), rel=1e-10)


def test_edge_cases_expired_zero_strike_nan_and_shapes() -> None:
    k = np.array([90.0, 100.0, 110.0])
    for tau in (0.0, -0.1):
        np.testing.assert_array_equal(heston_price(100.0, k, tau, **P), [10.0, 0.0, 0.0])
        np.testing.assert_array_equal(
            heston_price(100.0, k, tau, **P, is_call=False), [0.0, 0.0, 10.0]
        )
        g = heston_greeks(100.0, k, tau, **P)
        np.testing.assert_array_equal(g.delta, [1.0, 0.0, 0.0])
        for f in (g.gamma, g.vega_v0, g.vega, g.theta):
            np.testing.assert_array_equal(f, 0.0)
    # Zero strike: the call is the discounted forward.
    assert heston_price(100.0, 0.0, 1.0, **P, rate=0.05, div=0.02) == pytest.approx(
        100 * np.exp(-0.02)
    )
    # v0 = theta_var = 0: no variance ever, the discounted forward intrinsic value.
    assert heston_price(100.0, 90.0, 1.0, 0.0, 1.0, 0.0, 0.5, -0.5, 0.05) == pytest.approx(
        100 - 90 * np.exp(-0.05)
    )
    out = heston_price(np.array([100.0, np.nan]), 100.0, 1.0, **P)
    assert np.isfinite(out[0]) and np.isnan(out[1])
    assert heston_price(100.0, k[:, None], np.array([0.1, 1.0]), **P).shape == (3, 2)
    assert heston_price(100.0, 100.0, 1.0, **P).shape == ()
    g = heston_greeks(100.0, 100.0, 1.0, 0.0, 1.5, 0.05, 0.8, -0.7)
    assert g.vega == 0.0 and np.isfinite(g.vega_v0) and g.vega_v0 > 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("v0", -0.01),
        ("theta_var", -1.0),
        ("kappa", 0.0),
        ("kappa", -2.0),
        ("xi", -0.1),
        ("rho", 1.2),
        ("rho", -1.01),
    ],
)
def test_bad_parameters_raise_naming_the_parameter(field, value) -> None:
    bad = {**P, field: value}
    with pytest.raises(ValueError, match=rf"^{field} "):
        heston_price(100.0, 100.0, 1.0, **bad)
    with pytest.raises(ValueError, match=rf"^{field} "):
        heston_greeks(100.0, 100.0, 1.0, **bad)
    with pytest.raises(ValueError, match=rf"^{field} "):
        validate_heston(**{**P, field: np.array([P[field], value])})


def test_bad_spot_or_strike_raise() -> None:
    with pytest.raises(ValueError, match="spot"):
        heston_price(-1.0, 100.0, 1.0, **P)
    with pytest.raises(ValueError, match="strike"):
        heston_price(100.0, -5.0, 1.0, **P)


def test_feller_condition() -> None:
    assert feller_ok(2.0, 0.04, 0.3) and not feller_ok(0.5, 0.02, 0.5)
    assert feller_ok(0.5, 0.25, 0.5)  # equality counts (exact in binary)
    np.testing.assert_array_equal(feller_ok(np.array([2.0, 0.5]), 0.04, 0.3), [True, False])
