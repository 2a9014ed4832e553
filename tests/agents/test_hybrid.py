"""The hybrid: routes to the model-based or the learned child on the alert, or blends them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_deep_policies import FEATURES, HOLD, learned_config, write_policy

from agents import BookPosition, HybridConfig, HybridHedger, LearnedHedger, ManagerConfig
from agents.deep import LearnedHedgerConfig
from agents.manager import RiskManager
from agents.monitor import ALERT_METRIC, CLEAR_METRIC
from agents.testing import _market, check_agent
from market.events import ModelAlert

N_STEPS = 10
ALERT_AT, CLEAR_AT = 3, 7


def hybrid_config(ckpt: Path, **kw: Any) -> dict[str, Any]:
    return {
        "model_based": {"cls": "gamma", "config": {"instrument": "gamma_opt", "target": 0.0}},
        "learned": {"cls": "agents.deep.LearnedHedger", "config": learned_config(ckpt)},
        **kw,
    }


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    return write_policy(tmp_path / "gru.pt", "gru", scale=0.3)


def _alert(step: int, metric: str) -> ModelAlert:
    return ModelAlert(step, "manager", 0.0, metric, 1.0, 0.5)


def drive(agent: HybridHedger, alerts: dict[int, str] | None = None, make: Any = None):
    """The hybrid alone under a manager, with alerts forced into its notices at given steps.

    Returns, per step: the hybrid's orders, its children's orders, what the
    manager booked for it, and the (events, view) it saw.
    """
    alerts = {ALERT_AT: ALERT_METRIC, CLEAR_AT: CLEAR_METRIC} if alerts is None else alerts
    market = _market(3)
    mgr = RiskManager(
        ManagerConfig(budget=1e-6),  # tight bands: the gamma hedger trades
        [agent.name],
        (BookPosition(is_call=True, expiry_days=30.0, qty=-10.0),),
        market.n_paths,
        365.0,
    )
    children: list[dict[str, Any]] = []
    original = agent.child_orders

    def recording(event: Any, view: Any) -> dict[str, Any]:
        children.append(original(event, view))
        return children[-1]

    agent.child_orders = recording  # type: ignore[method-assign]
    rows = []
    for step in range(N_STEPS):
        events = market.start() if step == 0 else market.step()
        turn = mgr.begin_step(events)
        if step in alerts:
            turn = type(turn)(
                (*turn.notices, (make or _alert)(step, alerts[step])),
                turn.view,
                turn.fills,
                turn.due,
            )
        orders = agent.step(events, turn)
        mgr.submit(agent.name, orders)
        booked = [o for o in mgr._orders if o.sender == agent.name]
        mgr.settle()
        rows.append((orders, children[-1], booked, (events, turn.view), agent.alert))
    return rows


def _bits(orders: list[Any]) -> list[tuple[str, bytes]]:
    return [(o.instrument, o.qty.tobytes()) for o in orders]


def test_switch_routes_to_the_learned_child_on_the_alert_and_back(ckpt: Path) -> None:
    hyb = HybridHedger("hyb", HybridConfig.model_validate(hybrid_config(ckpt)))
    rows = drive(hyb)
    for step, (orders, children, booked, _, on) in enumerate(rows):
        learned = ALERT_AT <= step < CLEAR_AT
        assert on is learned, step
        routed = children["learned" if learned else "model_based"]
        assert _bits(orders) == _bits(routed), step  # exact quantities of the routed child
        assert _bits(booked) == _bits(routed), step  # and that is what the manager booked
        assert all(o.sender == "hyb" for o in orders)
    # the children differ (else routing proves nothing): the learned one trades the
    # underlying too, the model one only the gamma option
    assert {o.instrument for o in rows[ALERT_AT][1]["learned"]} == {"gamma_opt", "underlying"}
    assert {o.instrument for o in rows[0][1]["model_based"]} <= {"gamma_opt"}
    assert any(np.abs(o.qty).max() > 0 for o in rows[ALERT_AT][0] if o.instrument == "underlying")
    calm = [r for i, r in enumerate(rows) if not ALERT_AT <= i < CLEAR_AT]
    assert any(np.abs(o.qty).max() > 0 for r in calm for o in r[0])  # the model traded too


def test_the_idle_learned_child_saw_every_step(ckpt: Path) -> None:
    """Its GRU state moved on while idle: a lone LearnedHedger given the same events
    and views gives the learned child's orders, bit for bit, at every step."""
    hyb = HybridHedger("hyb", HybridConfig.model_validate(hybrid_config(ckpt)))
    rows = drive(hyb)
    lone = LearnedHedger("x", LearnedHedgerConfig.model_validate(learned_config(ckpt)))
    for step, (_, children, _, (events, view), _) in enumerate(rows):
        lone._step, lone._time = events[-1].step, events[-1].time
        mine = lone.on_market(events[-1], view)
        assert _bits(mine) == _bits(children["learned"]), step
    assert hyb.children["learned"].hidden is not None
    assert hyb.children["learned"].hidden.tobytes() == lone.hidden.tobytes()


def test_blend_is_exactly_w_learned_plus_one_minus_w_model(ckpt: Path) -> None:
    cfg = HybridConfig.model_validate(hybrid_config(ckpt, route="blend", w_calm=0.25, w_alert=0.8))
    rows = drive(HybridHedger("hyb", cfg))
    zero = np.zeros(len(rows[0][3][0][-1].spot))
    for step, (orders, children, booked, _, on) in enumerate(rows):
        w = 0.8 if ALERT_AT <= step < CLEAR_AT else 0.25
        assert on is (w == 0.8)
        model = {o.instrument: o.qty for o in children["model_based"]}
        learned = {o.instrument: o.qty for o in children["learned"]}
        names = [*model, *(i for i in learned if i not in model)]
        want = [
            (i, (w * learned.get(i, zero) + (1.0 - w) * model.get(i, zero)).tobytes())
            for i in names
        ]
        assert _bits(orders) == want, step
        assert _bits(booked) == want, step
    assert any(np.abs(o.qty).max() > 0 for r in rows for o in r[1]["model_based"])  # both trade


def test_other_alerts_do_not_switch(ckpt: Path) -> None:
    hyb = HybridHedger("hyb", HybridConfig.model_validate(hybrid_config(ckpt)))
    rows = drive(hyb, alerts={2: "something_else"})
    assert not any(r[4] for r in rows)


@pytest.mark.parametrize("route", ["switch", "blend"])
def test_hybrid_passes_check_agent(ckpt: Path, route: str) -> None:
    check_agent(HybridHedger, hybrid_config(ckpt, route=route, w_calm=0.5))


def test_hybrid_snapshot_holds_both_children_and_the_alert(ckpt: Path) -> None:
    hyb = HybridHedger("hyb", HybridConfig.model_validate(hybrid_config(ckpt)))
    drive(hyb, alerts={ALERT_AT: ALERT_METRIC})
    snap = hyb.snapshot()
    assert snap["alert"] is True
    assert snap["children"]["learned"]["hidden"].shape == (64, 5)
    fresh = HybridHedger("hyb", HybridConfig.model_validate(hybrid_config(ckpt)))
    fresh.restore(snap)
    assert fresh.alert and fresh.children["learned"].hidden.tobytes() == (
        hyb.children["learned"].hidden.tobytes()
    )


def test_bad_hybrid_configs_are_one_line(ckpt: Path, tmp_path: Path) -> None:
    base = hybrid_config(ckpt)
    cases = [
        (base | {"model_based": {"cls": "nope"}}, "model_based: unknown agent class 'nope'"),
        (
            base | {"model_based": {"cls": "delta", "config": {"latency": 1.0}}},
            "set schedule and latency on the hybrid",
        ),
        (base | {"learned": {"cls": "agents.deep.LearnedHedger", "config": {}}}, "learned: "),
        (
            base | {"model_based": {"cls": "delta", "config": {"model": {"kind": "heston"}}}},
            "prices with 'heston', the hybrid with 'bsm'",
        ),
        (base | {"route": "vote"}, "route"),
        (base | {"w_calm": 1.5}, "w_calm"),
    ]
    for cfg, needle in cases:
        with pytest.raises(ValueError) as info:
            HybridConfig.model_validate(cfg)
        assert needle in str(info.value), (needle, str(info.value))
    wrong = HybridConfig.model_validate(base)
    with pytest.raises(
        ValueError, match=r"^learned: checkpoint .* was trained for scenario 'check'"
    ):
        HybridHedger.check_scenario(wrong, {"scenario": "macro_gap", "market": "x", "book": []})


def test_a_learned_childs_features_and_actions_are_its_own() -> None:
    assert HOLD["instruments"] == ["gamma_opt", "underlying"] and "gamma_gap" in FEATURES


def test_a_per_path_alert_routes_each_path_to_its_own_child(ckpt: Path) -> None:
    """Paths whose alert is on trade the learned child's orders, the others the model's."""
    hyb = HybridHedger("hyb", HybridConfig.model_validate(hybrid_config(ckpt)))
    n = 64  # agents.testing._market(3)'s paths
    mask = np.arange(n) % 3 == 0

    def forced(step: int) -> ModelAlert:
        return ModelAlert(step, "manager", 0.0, ALERT_METRIC, float(mask.mean()), 0.5, mask)

    rows = drive(hyb, {ALERT_AT: ALERT_METRIC}, lambda step, metric: forced(step))
    for step, (orders, children, booked, _, _on) in enumerate(rows):
        if step < ALERT_AT:  # no alert yet: the model child's orders, as they are
            assert _bits(orders) == _bits(children["model_based"]), step
            continue
        route, zero = mask, np.zeros(n)
        model = {o.instrument: o.qty for o in children["model_based"]}
        learned = {o.instrument: o.qty for o in children["learned"]}
        names = [*model, *(i for i in learned if i not in model)]
        want = [
            (i, np.where(route, learned.get(i, zero), model.get(i, zero)).tobytes()) for i in names
        ]
        assert _bits(orders) == want, step
        assert _bits(booked) == want, step
    assert np.array_equal(hyb.alert, mask)
    assert hyb.snapshot()["alert"].tolist() == mask.tolist()
    learned_rows = [r for i, r in enumerate(rows) if i >= ALERT_AT]
    under = [o.qty for r in learned_rows for o in r[0] if o.instrument == "underlying"]
    assert any(np.abs(q[mask]).max() > 0 for q in under)  # routed paths trade the learned child's
    assert all(np.abs(q[~mask]).max() == 0 for q in under)  # the model child trades no underlying


def test_a_learned_child_is_checked_against_the_hybrids_latency(tmp_path: Path) -> None:
    # The children run on the hybrid's clock, so a learned child's checkpoint
    # must have been trained with the hybrid's latency, not the child's default.
    trained_60 = write_policy(tmp_path / "l60.pt", "gru", scale=0.3, latency=60.0)
    HybridHedger("h", HybridConfig.model_validate(hybrid_config(trained_60, latency=60.0)))
    with pytest.raises(Exception, match=r"trained with a latency of 60\.0 s, this agent has 5 s"):
        HybridHedger("h", HybridConfig.model_validate(hybrid_config(trained_60, latency=5.0)))
    trained_0 = write_policy(tmp_path / "l0.pt", "gru", scale=0.3)
    with pytest.raises(Exception, match=r"trained with a latency of 0\.0 s, this agent has 60 s"):
        HybridHedger("h", HybridConfig.model_validate(hybrid_config(trained_0, latency=60.0)))
