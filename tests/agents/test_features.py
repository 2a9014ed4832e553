"""The feature spec: every feature gives the same numbers in numpy and torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from agents import _features as F
from agents.deep import state_vector

INSTS = ("underlying", "gamma_opt")
ALL_NAMES = [
    f"{name}:{i}" if feat.per_instrument else name
    for name, feat in F.FEATURE_REGISTRY.items()
    for i in (INSTS if feat.per_instrument else ("",))
]

finite = st.floats(-1e4, 1e4, allow_nan=False)
positive = st.floats(1e-3, 1e4, allow_nan=False)


@st.composite
def contexts(draw: st.DrawFn) -> dict[str, object]:
    n = draw(st.integers(1, 6))

    def arr(elems: st.SearchStrategy[float]) -> np.ndarray:
        return np.array(draw(st.lists(elems, min_size=n, max_size=n)), dtype=np.float64)

    t = draw(st.floats(0.0, 2.0))
    ctx: dict[str, object] = {
        "spot": arr(positive),
        "t": t,
        "horizon": draw(st.floats(1e-3, 5.0)),
        "atm_vol": arr(st.floats(0.0, 3.0)),
        "event_time": draw(st.one_of(st.just(float("inf")), st.floats(0.0, 3.0))),
        "book_delta": arr(finite),
        "book_gamma": arr(st.one_of(finite, st.just(0.0))),
        "book_vega": arr(finite),
    }
    for i in INSTS:
        under = i == "underlying"
        ctx[f"strike:{i}"] = np.zeros(n) if under else arr(positive)
        ctx[f"expiry:{i}"] = float("inf") if under else t + draw(st.floats(-0.1, 2.0))
        ctx[f"gamma:{i}"] = np.zeros(n) if under else arr(st.one_of(finite, st.just(0.0)))
        ctx[f"vega:{i}"] = np.zeros(n) if under else arr(st.one_of(finite, st.just(1e-13)))
        ctx[f"holding:{i}"] = arr(finite)
    return ctx


def _torch(ctx: dict[str, object]) -> dict[str, object]:
    return {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in ctx.items()}


@settings(max_examples=60, deadline=None)
@given(ctx=contexts(), names=st.permutations(ALL_NAMES))
def test_every_feature_is_equal_in_numpy_and_torch(ctx, names) -> None:
    x = F.stack(names, ctx, np)
    y = F.stack(names, _torch(ctx), torch)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float64
    n = len(ctx["spot"])  # type: ignore[arg-type]
    assert x.shape == tuple(y.shape) == (n, len(names))
    assert np.all(np.isfinite(x)), (names, x)
    np.testing.assert_allclose(y.numpy(), x, rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(ctx=contexts())
def test_features_accept_tensor_time_and_a_step_axis(ctx) -> None:
    """Training batches may carry ``t`` per path and step: same values as per step."""
    tc = _torch(ctx)
    tc["t"] = torch.full_like(tc["spot"], ctx["t"])  # type: ignore[arg-type]
    for name in ALL_NAMES:
        np.testing.assert_allclose(
            F.compute(name, tc, torch).numpy(), F.compute(name, ctx, np), rtol=1e-12, atol=1e-12
        )


def test_legacy_features_are_todays_state_vector_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    n = 50
    g, v = rng.normal(size=n), rng.normal(size=n)
    hg, hv = rng.normal(size=n), rng.normal(size=n)
    hg[:5] = 0.0
    ctx = {
        "spot": np.full(n, 100.0),
        "t": 0.25,
        "horizon": 0.5,
        "book_gamma": g,
        "book_vega": v,
        "gamma:hedge_opt": hg,
        "vega:hedge_opt": hv,
    }
    x = F.stack(F.LEGACY_FEATURES, ctx, np, default_instrument="hedge_opt")
    want, _ = state_vector(g, v, hg, hv, 0.5)
    assert x.tobytes() == want.tobytes()


def test_values_and_units_of_a_few_features() -> None:
    ctx = {
        "spot": np.array([110.0]),
        "t": 0.1,
        "horizon": 0.2,
        "event_time": 0.15,
        "strike:o": np.array([100.0]),
        "expiry:o": 0.3,
        "book_gamma": np.array([0.02]),
        "holding:o": np.array([-250.0]),
    }
    assert F.compute("log_moneyness:o", ctx) == pytest.approx(np.log(1.1), rel=1e-15)
    assert F.compute("time_to_expiry:o", ctx) == pytest.approx(1.0, rel=1e-15)
    assert F.compute("sqrt_time_to_expiry:o", ctx) == pytest.approx(np.sqrt(0.2), rel=1e-15)
    assert F.compute("time_to_event", ctx) == pytest.approx(0.25, rel=1e-15)
    assert F.compute("time_to_event", {**ctx, "event_time": np.inf})[0] == 1.0
    assert F.compute("time_to_event", {**ctx, "event_time": 0.05})[0] == 0.0
    assert F.compute("book_gamma", ctx) == pytest.approx(0.02 * 110**2 / 1e4, rel=1e-15)
    assert F.compute("holding:o", ctx)[0] == -2.5


def test_every_feature_documents_unit_and_inputs() -> None:
    for name, feat in F.FEATURE_REGISTRY.items():
        assert feat.name == name and feat.unit and feat.doc and feat.inputs


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("no_such", "unknown feature 'no_such'"),
        ("atm_vol:gamma_opt", "takes no instrument"),
        ("gamma_gap", "needs an instrument"),
    ],
)
def test_bad_names_are_refused_in_one_line(name: str, why: str) -> None:
    with pytest.raises(F.FeatureError) as exc:
        F.parse(name)
    assert why in str(exc.value) and "\n" not in str(exc.value)


def test_a_missing_context_key_is_named() -> None:
    with pytest.raises(F.FeatureError, match=r"needs context keys \['strike:o'\]"):
        F.compute("log_moneyness:o", {"spot": np.ones(2)})
    assert F.required_keys(["gamma_gap", "time_fraction"], "o") == [
        "book_gamma",
        "gamma:o",
        "spot",
        "t",
        "horizon",
    ]


def test_context_from_a_simulated_event() -> None:
    from agents.testing import _market

    market = _market(1)
    market.start()
    ev = market.step()[-1]
    n = ev.n_paths
    from market.events import RiskSnapshot

    z = np.zeros(n)
    view = RiskSnapshot(0, "m", ev.time, z + 1, z + 2, z + 3, z, z, {}, {"underlying": z + 5})
    ctx = F.context_from_event(ev, view, 30 / 365, ["underlying", "gamma_opt"])
    x = F.stack([*ALL_NAMES[:1], "log_moneyness:gamma_opt", "holding:underlying"], ctx)
    assert x.shape == (n, 3) and np.all(np.isfinite(x))
    q = ev.quote("gamma_opt")
    np.testing.assert_array_equal(x[:, 1], np.log(ev.spot / q.strike))
    np.testing.assert_array_equal(x[:, 2], 0.05)
