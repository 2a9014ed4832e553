"""Budget arithmetic and allocation policies."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from agents.allocation import (
    bands,
    policy_scales,
    stress_moves,
    stressed_loss,
)
from agents.policy_config import EventAwareAllocation, StaticAllocation


def test_stressed_loss_is_the_worst_of_the_grid() -> None:
    rng = np.random.default_rng(0)
    d, g, v = rng.normal(0, 50, 500), rng.normal(0, 20, 500), rng.normal(0, 1e4, 500)
    ds, dv = np.full(500, 3.0), 0.02
    worst = np.zeros(500)
    for s in (-3.0, 0.0, 3.0):
        for x in (-dv, 0.0, dv):
            worst = np.minimum(worst, d * s + 0.5 * g * s * s + v * x)
    np.testing.assert_allclose(stressed_loss(d, g, v, ds, dv), -worst, rtol=1e-12, atol=1e-9)


@given(
    st.floats(1.0, 1e6),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
)
def test_a_book_inside_its_bands_is_inside_the_budget(total, wd, wg, wv, u) -> None:
    s = wd + wg + wv
    if s == 0:
        return
    w = {"delta": wd / s, "gamma": wg / s, "vega": wv / s}
    ds, dv = stress_moves(np.array([100.0]), np.array([0.2]), 3.0, 1 / 365, 0.02)
    b = bands(total, w, dict.fromkeys(w, 1.0), ds, dv)
    loss = stressed_loss(u * b["delta"], -u * b["gamma"], u * b["vega"], ds, dv)
    assert loss[0] <= total * (1 + 1e-12)


def test_scales_tighten_the_bands_proportionally() -> None:
    ds, dv = np.array([2.0]), 0.01
    w = {"delta": 0.2, "gamma": 0.4, "vega": 0.4}
    full = bands(100.0, w, {"delta": 1.0, "gamma": 1.0, "vega": 1.0}, ds, dv)
    tight = bands(100.0, w, {"delta": 1.0, "gamma": 0.25, "vega": 0.5}, ds, dv)
    assert full["gamma"][0] == 0.4 * 100.0 / (0.5 * 4.0)
    assert tight["gamma"][0] == 0.25 * full["gamma"][0]
    assert tight["vega"][0] == 0.5 * full["vega"][0]
    assert tight["delta"][0] == full["delta"][0]


def test_event_aware_policy_tightens_before_and_restores_after() -> None:
    p = EventAwareAllocation(tighten={"gamma": 0.2}, before_days=2.0, after_days=1.0)
    yd = 365.0
    t_event = 10 / yd
    assert policy_scales(p, 7 / yd, [t_event], [], yd)[0]["gamma"] == 1.0
    scales, reason = policy_scales(p, 8.5 / yd, [t_event], [], yd)
    assert scales == {"delta": 1.0, "gamma": 0.2, "vega": 1.0} and reason == "pre_event"
    assert policy_scales(p, 10.5 / yd, [], [t_event], yd)[1] == "post_event"
    assert policy_scales(p, 11.5 / yd, [], [t_event], yd) == (
        {"delta": 1.0, "gamma": 1.0, "vega": 1.0},
        "normal",
    )
    assert policy_scales(StaticAllocation(), 9.9 / yd, [t_event], [], yd)[0]["gamma"] == 1.0
