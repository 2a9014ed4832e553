"""Allocation policies: every built-in keeps a book inside its bands inside the budget;
cost_aware's closed form; event_aware on top of any base; vol_scaled."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from agents import (
    AllocationState,
    CostAwarePolicy,
    ManagerConfig,
    build_policy,
)
from agents.allocation import (
    GREEKS,
    bands,
    bands_from_shares,
    policy_scales,
    stress_moves,
    stressed_loss,
)
from agents.policies import cost_aware_shares
from agents.policy_config import EventAwareAllocation, PolicyRef

YD = 365.0
T_EVENT = 10 / YD
POLICIES = {
    "static": {"kind": "static"},
    "event_aware": {"kind": "event_aware", "tighten": {"gamma": 0.2, "vega": 0.5}},
    "vol_scaled": {"kind": "vol_scaled", "halflife_days": 0.5},
    "cost_aware": {"kind": "cost_aware"},
    "cost_aware_p1_nofloor": {"kind": "cost_aware", "power": 1.0, "floor": 0.0},
    "event_aware+cost_aware": {"kind": "event_aware", "base": {"kind": "cost_aware"}},
    "event_aware+vol_scaled+cost_aware": {
        "kind": "event_aware",
        "base": {"kind": "vol_scaled", "base": {"kind": "cost_aware"}},
    },
}
_REF: TypeAdapter = TypeAdapter(PolicyRef)


def _state(
    n: int,
    budget: float,
    weights: dict[str, float],
    spot: np.ndarray,
    atm: np.ndarray,
    time: float,
    unit: dict[str, np.ndarray] | None,
    step: int = 0,
) -> AllocationState:
    ds, dv = stress_moves(spot, atm, 3.0, 1 / YD, 0.02)
    pending = (T_EVENT,) if time < T_EVENT else ()
    released = () if time < T_EVENT else (T_EVENT,)
    return AllocationState(
        step=step,
        time=time,
        year_days=YD,
        pending=pending,
        released=released,
        budget=budget,
        weights=weights,
        static={g: budget * weights.get(g, 0.0) for g in GREEKS},
        delta=np.zeros(n),
        gamma=np.zeros(n),
        vega=np.zeros(n),
        spot=spot,
        atm=atm,
        ds=ds,
        dv=dv,
        usage=np.zeros(n),
        last_cost=np.zeros(n),
        unit_costs_fn=None if unit is None else (lambda: unit),
    )


@pytest.mark.parametrize("name", sorted(POLICIES))
@settings(max_examples=40, deadline=None)
@given(
    budget=st.floats(1.0, 1e6),
    w=st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3),
    spots=st.lists(st.floats(10.0, 1000.0), min_size=2, max_size=2),
    vols=st.lists(st.floats(0.0, 2.0), min_size=2, max_size=2),
    costs=st.lists(st.floats(0.0, 10.0), min_size=6, max_size=6),
    days=st.lists(st.floats(0.0, 20.0), min_size=1, max_size=4),
    u=st.floats(0.0, 1.0),
    signs=st.lists(st.sampled_from([-1.0, 1.0]), min_size=3, max_size=3),
)
def test_every_builtin_policy_keeps_a_book_inside_its_bands_inside_the_budget(
    name, budget, w, spots, vols, costs, days, u, signs
) -> None:
    s = sum(w)
    if s == 0:
        return
    weights = {g: x / s for g, x in zip(GREEKS, w, strict=True)}
    policy = build_policy(_REF.validate_python(POLICIES[name]), 2)
    spot, atm = np.array(spots), np.array(vols)
    unit = {g: np.array(costs[2 * i : 2 * i + 2]) for i, g in enumerate(GREEKS)}
    spot_path = spot.copy()
    for k, day in enumerate(sorted(days)):
        spot_path = spot_path * (1.0 + 0.05 * (-1) ** k)  # the market moves between steps
        st_ = _state(2, budget, weights, spot_path, atm, day / YD, unit, step=k)
        alloc = policy.step(st_)  # the framework check: finite, >= 0, within the budget
        total = sum(np.broadcast_to(alloc.shares.get(g, 0.0), (2,)) for g in GREEKS)
        assert np.all(total <= budget * (1 + 1e-9))
        b = bands_from_shares(alloc.shares, st_.ds, st_.dv)
        d, g_, v = (sg * u * b[g] for sg, g in zip(signs, GREEKS, strict=True))
        loss = stressed_loss(d, g_, v, st_.ds, st_.dv)
        assert np.all(loss <= budget * (1 + 1e-9)), (name, loss, budget)


def test_static_and_event_aware_give_the_old_bands_bit_for_bit() -> None:
    # The shares of the built-ins are the formula of the old closed policies:
    # (budget * weight) * scale, so every pinned pnl_sha256 is unchanged.
    w = {"delta": 0.2, "gamma": 0.4, "vega": 0.4}
    spot, atm = np.array([100.0, 97.3, 131.0]), np.array([0.2, 0.35, 0.011])
    cfg = EventAwareAllocation(tighten={"gamma": 0.2, "vega": 0.3}, before_days=2.0)
    policy = build_policy(cfg, 3)
    for day in (1.0, 8.5, 10.2, 12.0):
        st_ = _state(3, 613.7, w, spot, atm, day / YD, None)
        scales, reason = policy_scales(cfg, day / YD, list(st_.pending), list(st_.released), YD)
        old = bands(613.7, w, scales, st_.ds, st_.dv)
        alloc = policy.step(st_)
        new = bands_from_shares(alloc.shares, st_.ds, st_.dv)
        for g in GREEKS:
            assert new[g].tobytes() == old[g].tobytes(), (day, g)
        assert alloc.reason == reason and alloc.scales == scales


def test_cost_aware_with_equal_costs_on_every_greek_gives_the_static_shares() -> None:
    rng = np.random.default_rng(1)
    n = 50
    spot, atm = rng.uniform(50, 150, n), rng.uniform(0.05, 0.8, n)
    w = {"delta": 0.15, "gamma": 0.35, "vega": 0.45}
    ds, dv = stress_moves(spot, atm, 3.0, 1 / YD, 0.02)
    r = rng.uniform(0.001, 5.0, n)  # the same cost per unit of stress on every greek
    unit = {"delta": r * ds, "gamma": r * 0.5 * ds * ds, "vega": r * dv}
    for cfg in ({}, {"power": 1.0, "floor": 0.0}, {"power": 2.0, "floor": 0.5}):
        policy = CostAwarePolicy(CostAwarePolicy.Config(**cfg), n)
        alloc = policy.step(_state(n, 800.0, w, spot, atm, 0.0, unit))
        for g in GREEKS:
            np.testing.assert_allclose(alloc.shares[g], 800.0 * w[g], rtol=1e-12)


def test_cost_aware_closed_form_minimises_the_expected_rebalancing_cost() -> None:
    # power 0.5, no floor: s minimises sum w_i² r_i / s_i subject to sum s_i = S.
    w = {"delta": 0.2, "gamma": 0.3, "vega": 0.5}
    static = {g: 1000.0 * x for g, x in w.items()}
    r = {"delta": np.array([0.003]), "gamma": np.array([0.04]), "vega": np.array([0.12])}
    s = cost_aware_shares(static, r, 0.5, 0.0)
    total = sum(static.values())
    assert abs(sum(float(s[g][0]) for g in GREEKS) - total) < 1e-9

    def objective(x: dict[str, float]) -> float:
        return sum(static[g] ** 2 * float(r[g][0]) / x[g] for g in GREEKS)

    best = objective({g: float(s[g][0]) for g in GREEKS})
    rng = np.random.default_rng(0)
    for _ in range(200):
        eps = rng.normal(0, 5.0, 3)
        eps -= eps.mean()  # stay on the budget
        x = {g: float(s[g][0]) + e for g, e in zip(GREEKS, eps, strict=True)}
        if min(x.values()) > 0:
            assert objective(x) >= best - 1e-9
    # the dearer greek gets the wider band
    assert (
        s["vega"][0] / static["vega"]
        > s["gamma"][0] / static["gamma"]
        > s["delta"][0] / static["delta"]
    )


def test_cost_aware_treats_an_unhedgeable_greek_as_the_dearest() -> None:
    static = {"delta": 200.0, "gamma": 400.0, "vega": 400.0}
    r = {"delta": np.array([0.01]), "gamma": np.array([0.1]), "vega": np.array([np.inf])}
    s = cost_aware_shares(static, r, 0.5, 0.0)
    assert np.isfinite(s["vega"][0]) and s["vega"][0] == pytest.approx(s["gamma"][0])
    none = cost_aware_shares(static, {g: np.zeros(1) for g in GREEKS}, 0.5, 0.0)
    assert [float(none[g][0]) for g in GREEKS] == [200.0, 400.0, 400.0]


def test_event_aware_tightens_any_base_policy_inside_the_window_only() -> None:
    w = {"delta": 0.2, "gamma": 0.4, "vega": 0.4}
    spot, atm = np.array([100.0, 90.0]), np.array([0.2, 0.3])
    unit = {
        "delta": np.array([0.01, 0.01]),
        "gamma": np.array([0.2, 0.3]),
        "vega": np.array([0.003, 0.002]),
    }
    base = CostAwarePolicy(CostAwarePolicy.Config(), 2)
    ev = build_policy(EventAwareAllocation(base={"kind": "cost_aware"}, tighten={"vega": 0.25}), 2)
    for day, tight in ((5.0, False), (9.0, True), (10.2, True), (11.0, False)):
        st_ = _state(2, 500.0, w, spot, atm, day / YD, unit)
        a, b = base.step(st_), ev.step(st_)
        assert np.array_equal(b.shares["gamma"], a.shares["gamma"])
        factor = 0.25 if tight else 1.0
        assert np.array_equal(b.shares["vega"], a.shares["vega"] * factor)
        assert b.reason == (
            "pre_event" if day < 10 and tight else "post_event" if tight else a.reason
        )


def test_vol_scaled_tightens_when_realised_vol_exceeds_implied_and_round_trips() -> None:
    w = {"delta": 0.2, "gamma": 0.4, "vega": 0.4}
    atm = np.array([0.2, 0.2])
    policy = build_policy(_REF.validate_python({"kind": "vol_scaled", "halflife_days": 1.0}), 2)
    first = policy.step(_state(2, 100.0, w, np.array([100.0, 100.0]), atm, 0.0, None))
    assert [float(np.max(first.shares[g])) for g in GREEKS] == [20.0, 40.0, 40.0]
    # path 0 barely moves, path 1 jumps 5% in a day (realised >> 20% implied)
    second = policy.step(_state(2, 100.0, w, np.array([100.01, 105.0]), atm, 1 / YD, None, 1))
    assert second.shares["gamma"][1] < 0.5 * 40.0 and second.shares["gamma"][0] == 40.0
    snap = policy.snapshot()
    fresh = build_policy(_REF.validate_python({"kind": "vol_scaled", "halflife_days": 1.0}), 2)
    fresh.restore(snap)
    nxt = _state(2, 100.0, w, np.array([99.0, 104.0]), atm, 2 / YD, None, 2)
    a, b = policy.step(nxt), fresh.step(nxt)
    for g in GREEKS:
        assert a.shares[g].tobytes() == b.shares[g].tobytes()


def test_unknown_policy_kind_or_bad_field_names_the_field() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="unknown policy"):
        ManagerConfig(policy={"kind": "nope"})
    with pytest.raises(ValidationError, match="power"):
        ManagerConfig(policy={"kind": "cost_aware", "power": -1})
    with pytest.raises(ValidationError, match=r"unknown policy class 'no_such_mod\.X'"):
        ManagerConfig(policy={"cls": "no_such_mod.X"})
