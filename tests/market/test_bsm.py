"""Black-Scholes-Merton pricing: textbook values, parity, finite differences,
broadcasting, edge cases and bit-level determinism of :mod:`market.pricing.bsm`."""

from __future__ import annotations

import itertools
import math
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import market.pricing._bsm_kernel as bsm_module
from market.pricing import (
    BSMGreeks,
    bsm_delta,
    bsm_gamma,
    bsm_greeks,
    bsm_price,
    bsm_rho,
    bsm_theta,
    bsm_vega,
)

SINGLE = {
    "price": bsm_price,
    "delta": bsm_delta,
    "gamma": bsm_gamma,
    "vega": bsm_vega,
    "theta": bsm_theta,
    "rho": bsm_rho,
}


# --------------------------------------------------------------------------- reference


def _ncdf(x: float) -> float:
    """Standard normal cdf via math.erfc (accurate in both tails)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _npdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def ref_bsm(
    s: float, k: float, t: float, v: float, r: float, q: float, call: bool
) -> dict[str, float]:
    """Independent textbook closed form (Hull, Merton 1973), scalar, separate call/put."""
    d1 = (math.log(s / k) + (r - q + 0.5 * v * v) * t) / (v * math.sqrt(t))
    d2 = d1 - v * math.sqrt(t)
    dq, dr = math.exp(-q * t), math.exp(-r * t)
    decay = -s * dq * _npdf(d1) * v / (2.0 * math.sqrt(t))
    if call:
        price = s * dq * _ncdf(d1) - k * dr * _ncdf(d2)
        delta = dq * _ncdf(d1)
        theta = decay + q * s * dq * _ncdf(d1) - r * k * dr * _ncdf(d2)
        rho = k * t * dr * _ncdf(d2)
    else:
        price = k * dr * _ncdf(-d2) - s * dq * _ncdf(-d1)
        delta = -dq * _ncdf(-d1)
        theta = decay - q * s * dq * _ncdf(-d1) + r * k * dr * _ncdf(-d2)
        rho = -k * t * dr * _ncdf(-d2)
    return {
        "price": price,
        "delta": delta,
        "gamma": dq * _npdf(d1) / (s * v * math.sqrt(t)),
        "vega": s * dq * _npdf(d1) * math.sqrt(t),
        "theta": theta,
        "rho": rho,
    }


def random_inputs(n: int, seed: int = 0, edges: bool = False) -> dict[str, np.ndarray]:
    """Broad random inputs; with ``edges``, ~10% expired / zero-vol / zero-spot elements."""
    rng = np.random.default_rng(seed)
    x = {
        "spot": rng.uniform(1.0, 300.0, n),
        "strike": rng.uniform(1.0, 300.0, n),
        "tau": rng.uniform(1e-3, 5.0, n),
        "vol": rng.uniform(0.01, 1.5, n),
        "rate": rng.uniform(-0.02, 0.15, n),
        "div": rng.uniform(-0.01, 0.10, n),
        "is_call": rng.random(n) < 0.5,
    }
    if edges:
        i = rng.choice(n, size=max(4, n // 10), replace=False)
        j = np.array_split(i, 4)
        x["tau"][j[0]] = rng.choice([0.0, -0.5], size=j[0].size)
        x["vol"][j[1]] = 0.0
        x["spot"][j[2]] = 0.0
        x["strike"][j[3][: j[3].size // 2]] = x["spot"][j[3][: j[3].size // 2]]  # at the money
    return x


# --------------------------------------------------------------------------- textbook values


def test_hull_call_put_no_dividend() -> None:
    # Hull, Options Futures and Other Derivatives, Example 15.6: c = 4.76, p = 0.81.
    call = bsm_price(42.0, 40.0, 0.5, 0.2, 0.1, 0.0, True)
    put = bsm_price(42.0, 40.0, 0.5, 0.2, 0.1, 0.0, False)
    assert round(float(call), 2) == 4.76
    assert round(float(put), 2) == 0.81
    assert float(call) == pytest.approx(
        ref_bsm(42.0, 40.0, 0.5, 0.2, 0.1, 0.0, True)["price"], abs=1e-10
    )
    assert float(put) == pytest.approx(
        ref_bsm(42.0, 40.0, 0.5, 0.2, 0.1, 0.0, False)["price"], abs=1e-10
    )


def test_hull_index_option_with_dividend_yield() -> None:
    # Hull, Example 17.1: index 930, K 900, r 8%, q 3%, vol 20%, 2 months: c = 51.83.
    args = (930.0, 900.0, 2.0 / 12.0, 0.2, 0.08, 0.03)
    call = bsm_price(*args, True)
    assert round(float(call), 2) == 51.83
    g = bsm_greeks(*args, True)
    gp = bsm_greeks(*args, False)
    for f in BSMGreeks._fields:
        assert float(getattr(g, f)) == pytest.approx(ref_bsm(*args, True)[f], abs=1e-10, rel=1e-12)
        assert float(getattr(gp, f)) == pytest.approx(
            ref_bsm(*args, False)[f], abs=1e-10, rel=1e-12
        )


def test_hull_greeks_units() -> None:
    # Hull's running example (Ch. 19): S 49, K 50, r 5%, vol 20%, 20 weeks.
    # delta 0.522, gamma 0.066, vega 12.1 per 1.00 of vol, theta -4.31 per year,
    # rho 8.91 per 1.00 of rate.
    g = bsm_greeks(49.0, 50.0, 0.3846, 0.2, 0.05, 0.0, True)
    assert float(g.price) == pytest.approx(2.40, abs=0.005)
    assert float(g.delta) == pytest.approx(0.522, abs=0.0005)
    assert float(g.gamma) == pytest.approx(0.066, abs=0.0005)
    assert float(g.vega) == pytest.approx(12.1, abs=0.05)
    assert float(g.theta) == pytest.approx(-4.31, abs=0.005)
    assert float(g.rho) == pytest.approx(8.91, abs=0.005)


def test_matches_independent_closed_form_on_random_grid() -> None:
    x = random_inputs(400, seed=1)
    g = bsm_greeks(**x)
    for i in range(400):
        ref = ref_bsm(
            x["spot"][i],
            x["strike"][i],
            x["tau"][i],
            x["vol"][i],
            x["rate"][i],
            x["div"][i],
            bool(x["is_call"][i]),
        )
        for f in BSMGreeks._fields:
            got = float(getattr(g, f)[i])
            assert got == pytest.approx(ref[f], rel=1e-10, abs=1e-10), (f, i)


# --------------------------------------------------------------------------- parity


@settings(max_examples=300, deadline=None)
@given(
    s=st.floats(0.01, 1e4),
    k=st.floats(0.01, 1e4),
    t=st.floats(1e-6, 30.0),
    v=st.floats(1e-4, 4.0),
    r=st.floats(-0.1, 0.3),
    q=st.floats(-0.1, 0.3),
)
def test_put_call_parity(s: float, k: float, t: float, v: float, r: float, q: float) -> None:
    c = bsm_greeks(s, k, t, v, r, q, True)
    p = bsm_greeks(s, k, t, v, r, q, False)
    dq, dr = math.exp(-q * t), math.exp(-r * t)
    scale = max(1.0, s, k)
    # C - P = S e^{-q tau} - K e^{-r tau}, and its derivatives.
    assert abs(float(c.price - p.price) - (s * dq - k * dr)) <= 1e-10
    assert abs(float(c.delta - p.delta) - dq) <= 1e-12
    assert float(c.gamma) == float(p.gamma)
    assert float(c.vega) == float(p.vega)
    assert abs(float(c.theta - p.theta) - (q * s * dq - r * k * dr)) <= 1e-10 * scale
    assert abs(float(c.rho - p.rho) - k * t * dr) <= 1e-10 * scale * max(1.0, t)
    for g in (c, p):
        for f in BSMGreeks._fields:
            assert math.isfinite(float(getattr(g, f)))
        assert float(g.price) >= -1e-12 * scale


def test_put_call_parity_vectorised() -> None:
    x = random_inputs(200_000, seed=2)
    x.pop("is_call")
    c = bsm_greeks(**x, is_call=True)
    p = bsm_greeks(**x, is_call=False)
    dq, dr = np.exp(-x["div"] * x["tau"]), np.exp(-x["rate"] * x["tau"])
    np.testing.assert_allclose(
        c.price - p.price, x["spot"] * dq - x["strike"] * dr, rtol=0, atol=1e-10
    )
    np.testing.assert_allclose(c.delta - p.delta, dq, rtol=0, atol=1e-14)


# --------------------------------------------------------------------------- finite differences

FD_INPUTS = [
    # spot, strike, tau, vol, rate, div
    (100.0, 100.0, 0.5, 0.2, 0.03, 0.01),
    (42.0, 40.0, 0.5, 0.2, 0.1, 0.0),
    (930.0, 900.0, 2.0 / 12.0, 0.2, 0.08, 0.03),
    (80.0, 120.0, 2.0, 0.45, -0.01, 0.04),
    (150.0, 100.0, 0.1, 0.6, 0.05, 0.0),
    (100.0, 95.0, 3.0, 0.1, 0.0, 0.06),
    (10.0, 11.0, 0.25, 0.8, 0.02, -0.01),
]


@pytest.mark.parametrize("is_call", [True, False])
@pytest.mark.parametrize("args", FD_INPUTS)
def test_greeks_match_central_finite_differences(args: tuple[float, ...], is_call: bool) -> None:
    s, k, t, v, r, q = args
    g = bsm_greeks(s, k, t, v, r, q, is_call)

    def px(s: float = s, t: float = t, v: float = v, r: float = r) -> float:
        return float(bsm_price(s, k, t, v, r, q, is_call))

    hs, ht, hv, hr = 1e-4 * s, 1e-5, 1e-5, 1e-5
    fd = {
        "delta": (px(s=s + hs) - px(s=s - hs)) / (2 * hs),
        "gamma": (px(s=s + hs) - 2 * px() + px(s=s - hs)) / hs**2,
        "vega": (px(v=v + hv) - px(v=v - hv)) / (2 * hv),
        # theta = dV/dt = -dV/dtau
        "theta": -(px(t=t + ht) - px(t=t - ht)) / (2 * ht),
        "rho": (px(r=r + hr) - px(r=r - hr)) / (2 * hr),
    }
    for f, want in fd.items():
        got = float(getattr(g, f))
        assert got == pytest.approx(want, rel=1e-5, abs=1e-7 * max(1.0, s)), f


def test_theta_sign_convention() -> None:
    # A long vanilla loses value as calendar time passes (r = q = 0): theta < 0,
    # and one day of theta ~ V(tau - 1 day) - V(tau).
    day = 1.0 / 365.0
    for is_call in (True, False):
        theta = float(bsm_theta(100.0, 100.0, 0.5, 0.2, 0.0, 0.0, is_call))
        assert theta < 0.0
        step = float(bsm_price(100.0, 100.0, 0.5 - day, 0.2, 0.0, 0.0, is_call)) - float(
            bsm_price(100.0, 100.0, 0.5, 0.2, 0.0, 0.0, is_call)
        )
        assert theta * day == pytest.approx(step, rel=2e-3)
    # Deep ITM put with high rates: theta > 0 (the value accrues towards K).
    assert float(bsm_theta(50.0, 100.0, 1.0, 0.2, 0.1, 0.0, False)) > 0.0


def test_vega_is_per_unit_of_vol() -> None:
    vega = float(bsm_vega(100.0, 100.0, 1.0, 0.2, 0.0, 0.0))
    one_point = float(bsm_price(100.0, 100.0, 1.0, 0.21, 0.0, 0.0)) - float(
        bsm_price(100.0, 100.0, 1.0, 0.20, 0.0, 0.0)
    )
    # ATM 1y: vega = S phi(v/2) ~ 39.69 per 1.00 of vol, i.e. ~0.397 per vol point.
    assert vega == pytest.approx(100.0 * _npdf(0.1), rel=1e-12)
    assert vega / 100.0 == pytest.approx(one_point, rel=1e-2)


def test_rho_is_per_unit_of_rate() -> None:
    rho = float(bsm_rho(100.0, 100.0, 1.0, 0.2, 0.05, 0.0))
    one_bp = float(bsm_price(100.0, 100.0, 1.0, 0.2, 0.0501, 0.0)) - float(
        bsm_price(100.0, 100.0, 1.0, 0.2, 0.05, 0.0)
    )
    assert rho * 1e-4 == pytest.approx(one_bp, rel=1e-3)


# --------------------------------------------------------------------------- shapes and types


def test_scalar_inputs_give_float64_ndarrays() -> None:
    g = bsm_greeks(100, 100, 1, 0.2)
    for f in BSMGreeks._fields:
        a = getattr(g, f)
        assert isinstance(a, np.ndarray)
        assert a.dtype == np.float64
        assert a.shape == ()
    for fn in SINGLE.values():
        a = fn(100, 100, 1, 0.2)
        assert isinstance(a, np.ndarray) and a.dtype == np.float64 and a.shape == ()


def test_broadcasting_outer_grid() -> None:
    spot = np.linspace(80.0, 120.0, 7).reshape(7, 1)
    strike = np.array([90.0, 100.0, 110.0])
    tau = np.array([0.25, 0.5, 1.0])
    g = bsm_greeks(spot, strike, tau, 0.25, 0.02, 0.01, is_call=np.array([True, False, True]))
    for f in BSMGreeks._fields:
        assert getattr(g, f).shape == (7, 3)
    for i in range(7):
        for j in range(3):
            ref = ref_bsm(float(spot[i, 0]), strike[j], tau[j], 0.25, 0.02, 0.01, j != 1)
            for f in BSMGreeks._fields:
                assert float(getattr(g, f)[i, j]) == pytest.approx(ref[f], rel=1e-12, abs=1e-12)


def test_broadcasting_higher_rank_and_empty() -> None:
    spot = np.full((2, 1, 4), 100.0)
    vol = np.array([0.1, 0.2, 0.3]).reshape(1, 3, 1)
    assert bsm_price(spot, 100.0, 0.5, vol).shape == (2, 3, 4)
    assert bsm_greeks(np.empty(0), 100.0, 0.5, 0.2).delta.shape == (0,)
    with pytest.raises(ValueError):
        bsm_price(np.ones(3), np.ones(4), 0.5, 0.2)


def test_mixed_is_call_array_matches_separate_calls() -> None:
    x = random_inputs(5000, seed=3)
    g = bsm_greeks(**x)
    flags = x.pop("is_call")
    c = bsm_greeks(**x, is_call=True)
    p = bsm_greeks(**x, is_call=False)
    for f in BSMGreeks._fields:
        np.testing.assert_array_equal(getattr(g, f), np.where(flags, getattr(c, f), getattr(p, f)))


def test_integer_and_list_inputs() -> None:
    a = bsm_price([100, 110], 100, 1, 0.2, is_call=[1, 0])
    b = bsm_price(np.array([100.0, 110.0]), 100.0, 1.0, 0.2, is_call=np.array([True, False]))
    np.testing.assert_array_equal(a, b)


def test_scalar_parameters_match_broadcast_arrays() -> None:
    x = random_inputs(3000, seed=4)
    full = {k: np.full(3000, v) for k, v in {"tau": 0.7, "rate": 0.03, "div": 0.01}.items()}
    a = bsm_greeks(x["spot"], x["strike"], 0.7, x["vol"], 0.03, 0.01, True)
    b = bsm_greeks(x["spot"], x["strike"], full["tau"], x["vol"], full["rate"], full["div"], True)
    for f in BSMGreeks._fields:
        np.testing.assert_allclose(getattr(a, f), getattr(b, f), rtol=1e-14, atol=1e-300)


# --------------------------------------------------------------------------- edge cases


def test_expired_options() -> None:
    spot = np.array([90.0, 100.0, 110.0, 90.0, 100.0, 110.0])
    is_call = np.array([True, True, True, False, False, False])
    for tau in (0.0, -0.25):
        g = bsm_greeks(spot, 100.0, tau, 0.2, 0.05, 0.02, is_call)
        np.testing.assert_array_equal(g.price, [0.0, 0.0, 10.0, 10.0, 0.0, 0.0])
        np.testing.assert_array_equal(g.delta, [0.0, 0.0, 1.0, -1.0, 0.0, 0.0])
        for f in ("gamma", "vega", "theta", "rho"):
            np.testing.assert_array_equal(getattr(g, f), np.zeros(6))
    # Mixed with live options: only the expired elements are patched.
    tau = np.array([0.0, 0.5, -1.0, 0.5, 0.0, 0.5])
    g = bsm_greeks(spot, 100.0, tau, 0.2, 0.05, 0.02, is_call)
    live = tau > 0
    for i in np.flatnonzero(live):
        ref = ref_bsm(spot[i], 100.0, tau[i], 0.2, 0.05, 0.02, bool(is_call[i]))
        assert float(g.price[i]) == pytest.approx(ref["price"], abs=1e-12)
    np.testing.assert_array_equal(g.gamma[~live], 0.0)
    np.testing.assert_array_equal(g.price[~live], [0.0, 10.0, 0.0])


def test_zero_vol_is_deterministic() -> None:
    s, k, t, r, q = 100.0, 95.0, 0.5, 0.05, 0.02
    dq, dr = math.exp(-q * t), math.exp(-r * t)
    c = bsm_greeks(s, k, t, 0.0, r, q, True)
    p = bsm_greeks(s, k, t, 0.0, r, q, False)
    assert float(c.price) == pytest.approx(s * dq - k * dr, abs=1e-12)
    assert float(c.delta) == pytest.approx(dq, abs=1e-15)
    assert float(c.theta) == pytest.approx(q * s * dq - r * k * dr, abs=1e-12)
    assert float(c.rho) == pytest.approx(k * t * dr, abs=1e-12)
    for f in ("price", "delta", "gamma", "vega", "theta", "rho"):
        assert float(getattr(p, f)) == 0.0  # the put is surely out of the money
    assert float(c.gamma) == 0.0 and float(c.vega) == 0.0
    # Continuity: a tiny vol gives the same values (away from the forward).
    tiny = bsm_greeks(s, k, t, 1e-9, r, q, True)
    for f in ("price", "delta", "theta", "rho"):
        assert float(getattr(tiny, f)) == pytest.approx(float(getattr(c, f)), abs=1e-10)
    # Mixed array: zero vol only where vol == 0.
    vol = np.array([0.0, 0.2, 0.0])
    g = bsm_greeks(s, k, t, vol, r, q, np.array([True, True, False]))
    assert float(g.gamma[1]) > 0.0 and float(g.gamma[0]) == 0.0
    assert float(g.price[1]) == pytest.approx(ref_bsm(s, k, t, 0.2, r, q, True)["price"], abs=1e-12)


def test_zero_spot_and_zero_strike() -> None:
    t, r, q = 1.0, 0.05, 0.02
    put0 = bsm_greeks(0.0, 100.0, t, 0.3, r, q, False)
    assert float(put0.price) == pytest.approx(100.0 * math.exp(-r * t), abs=1e-12)
    assert float(put0.delta) == pytest.approx(-math.exp(-q * t), abs=1e-15)
    assert float(put0.gamma) == 0.0
    call0 = bsm_greeks(0.0, 100.0, t, 0.3, r, q, True)
    assert float(call0.price) == 0.0 and float(call0.delta) == 0.0
    free = bsm_greeks(100.0, 0.0, t, 0.3, r, q, True)
    assert float(free.price) == pytest.approx(100.0 * math.exp(-q * t), abs=1e-12)
    assert float(free.delta) == pytest.approx(math.exp(-q * t), abs=1e-15)


def test_no_floating_point_warnings_on_edges() -> None:
    x = random_inputs(20_000, seed=5, edges=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            g = bsm_greeks(**x)
            for fn in SINGLE.values():
                fn(**x)
            bsm_greeks(0.0, 0.0, 0.0, 0.0)
            bsm_greeks(0.0, 0.0, 1.0, 0.0)
            bsm_greeks(100.0, 100.0, 1e-300, 1e-300)
    for f in BSMGreeks._fields:
        assert np.all(np.isfinite(getattr(g, f))), f


def test_nan_propagates() -> None:
    g = bsm_greeks(np.array([100.0, np.nan]), 100.0, 1.0, 0.2)
    assert np.isfinite(g.price[0]) and np.isnan(g.price[1]) and np.isnan(g.delta[1])


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("vol", {"vol": -0.1}),
        ("vol", {"vol": np.array([0.2, -1e-12])}),
        ("spot", {"spot": np.array([-1.0, 100.0])}),
        ("strike", {"strike": -5.0}),
    ],
)
def test_negative_inputs_raise(name: str, kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"spot": 100.0, "strike": 100.0, "tau": 1.0, "vol": 0.2}
    args.update(kwargs)
    for fn in (bsm_greeks, *SINGLE.values()):
        with pytest.raises(ValueError, match=name):
            fn(**args)


# --------------------------------------------------------------------------- determinism


def _as_tuple(g: BSMGreeks) -> tuple[np.ndarray, ...]:
    return tuple(getattr(g, f) for f in BSMGreeks._fields)


def test_chunking_is_bit_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    n = 3 * bsm_module.CHUNK + 1234
    x = random_inputs(n, seed=6, edges=True)
    whole = _as_tuple(bsm_greeks(**x))
    # The caller splits the inputs at arbitrary points.
    cuts = [0, 1, 777, bsm_module.CHUNK + 5, 2 * bsm_module.CHUNK, n - 3, n]
    parts = [
        _as_tuple(bsm_greeks(**{k: v[a:b] for k, v in x.items()}))
        for a, b in itertools.pairwise(cuts)
        if b - a > 1
    ]
    parts_cat = [np.concatenate([p[i] for p in parts]) for i in range(6)]
    keep = np.concatenate([np.arange(a, b) for a, b in itertools.pairwise(cuts) if b - a > 1])
    for w, p in zip(whole, parts_cat, strict=True):
        assert np.array_equal(w[keep], p)
    # The kernel's own chunk size does not change any bit either.
    for chunk in (1000, 4096, n + 1):
        monkeypatch.setattr(bsm_module, "CHUNK", chunk)
        again = _as_tuple(bsm_greeks(**x))
        for w, a in zip(whole, again, strict=True):
            assert np.array_equal(w, a)


@pytest.mark.parametrize("scalar_params", [False, True])
def test_greeks_fields_equal_single_functions_exactly(scalar_params: bool) -> None:
    x = random_inputs(3 * bsm_module.CHUNK + 17, seed=7, edges=True)
    if scalar_params:
        x.update(tau=0.4, rate=0.03, div=0.01, is_call=False)
    g = bsm_greeks(**x)
    for f, fn in SINGLE.items():
        assert np.array_equal(getattr(g, f), fn(**x)), f


def test_repeated_calls_identical() -> None:
    x = random_inputs(50_000, seed=8, edges=True)
    a = _as_tuple(bsm_greeks(**x))
    b = _as_tuple(bsm_greeks(**x))
    for u, v in zip(a, b, strict=True):
        assert np.array_equal(u, v)


def test_read_only_inputs_are_not_written() -> None:
    x = random_inputs(40_000, seed=9, edges=True)
    copies = {k: v.copy() for k, v in x.items()}
    for v in x.values():
        v.flags.writeable = False
    g = bsm_greeks(**x)
    for k, v in x.items():
        assert np.array_equal(v, copies[k], equal_nan=True)
    assert all(getattr(g, f).flags.writeable for f in BSMGreeks._fields)


def test_thread_safe_scratch_buffers() -> None:
    inputs = [random_inputs(50_000 + 1000 * i, seed=10 + i) for i in range(4)]
    serial = [_as_tuple(bsm_greeks(**x)) for x in inputs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda x: _as_tuple(bsm_greeks(**x)), inputs * 3))
    for i, got in enumerate(parallel):
        for u, v in zip(serial[i % 4], got, strict=True):
            assert np.array_equal(u, v)


# --------------------------------------------------------------------------- one-option fast path


@pytest.mark.parametrize("form", ["python floats", "size-1 arrays", "numpy scalars"])
def test_one_option_path_is_bit_identical_to_the_array_path(form: str) -> None:
    """A single option (the simulator's one-path case) takes the scalar fast
    path; every output equals, bit for bit, the same option inside an array."""
    x = random_inputs(4000, seed=11, edges=True)
    x["rate"][:50] = 0.0  # the simulator's usual zero rate and dividend
    x["div"][:50] = 0.0
    whole = bsm_greeks(**x)
    taken = 0
    for i in range(x["spot"].size):
        args = {k: v[i] for k, v in x.items()}
        if form == "python floats":
            args = {k: (bool(v) if k == "is_call" else float(v)) for k, v in args.items()}
        elif form == "size-1 arrays":
            args = {k: (bool(v) if k == "is_call" else np.array([v])) for k, v in args.items()}
        scalar_path = bsm_module._one_option(*args.values()) is not None
        taken += scalar_path
        one = bsm_greeks(**args)
        for f in BSMGreeks._fields:
            got = getattr(one, f)
            assert got.dtype == np.float64
            assert got.shape == ((1,) if form == "size-1 arrays" else ())
            assert got.reshape(-1)[0].tobytes() == getattr(whole, f)[i].tobytes(), (f, i)
    # the edge cases (~10%) take the general path, the interior ones the fast path
    assert 0.85 * x["spot"].size < taken < x["spot"].size


def test_one_option_path_falls_back_on_edges_and_bad_input() -> None:
    assert bsm_module._one_option(100.0, 100.0, 0.0, 0.2, 0.0, 0.0, True) is None  # expired
    assert bsm_module._one_option(100.0, 100.0, 0.5, 0.0, 0.0, 0.0, True) is None  # zero vol
    assert bsm_module._one_option(math.nan, 100.0, 0.5, 0.2, 0.0, 0.0, True) is None
    assert bsm_module._one_option(100.0, 100.0, 0.5, 0.2, 0.0, 0.0, np.array([True])) is None
    assert bsm_module._one_option(np.ones(2), 100.0, 0.5, 0.2, 0.0, 0.0, True) is None
    with pytest.raises(ValueError, match="spot must be non-negative"):
        bsm_greeks(-1.0, 100.0, 0.5, 0.2)
    # tiny vol times tiny tau underflows: the general path answers, quietly
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = bsm_greeks(100.0, 90.0, 1e-300, 1e-300)
    assert float(g.price) == pytest.approx(10.0)
