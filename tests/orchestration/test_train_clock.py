"""The trainer runs the rule agents on the engine's clock: reaction latency (orders
in flight, executed at the first step at or after decision + latency, with the
limits of that step), clock schedules (the decision grid, wake-ups, releases) and
state triggers (spot move, band breach). Its P&L is the engine's to 1e-9 relative
on every path, in the event-time scenario cpi_intraday and with scheduled and
triggered hedgers."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from agents._checkpoint import CheckpointError, PolicySpec, load_checkpoint
from orchestration import load_scenario
from orchestration._train_clock import AgentClock, arrival_steps
from orchestration._train_pnl import to_device
from orchestration._train_policies import RuleActor, rollout
from orchestration._trainset import build_trainset, engine_trades
from orchestration.config import ScenarioError, validate_scenario
from orchestration.train import rule_cascade, save_checkpoint, train


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def _trainer(sc, cname, clock=True):
    hc = sc.configs[cname]
    ds = to_device(build_trainset(sc, manager=hc.manager))
    rules = rule_cascade(hc)
    if not clock:
        rules = [(g, i, t, None) for g, i, t, _ in rules]
    with torch.no_grad():
        pnl, cost = rollout(ds, [RuleActor(*r) for r in rules])
    return pnl.numpy(), cost.numpy()


@pytest.fixture(scope="module")
def cpi():
    sc = load_scenario("cpi_intraday", ["n_paths=32"])
    results, _ = engine_trades(sc)
    return sc, results


@pytest.mark.slow
def test_every_latency_of_cpi_intraday_gives_the_engines_pnl(cpi) -> None:
    sc, results = cpi
    for cname in sc.configs:
        pnl, cost = _trainer(sc, cname)
        assert _rel(pnl, results[cname].pnl) <= 1e-9, cname
        np.testing.assert_allclose(cost, results[cname].cost, rtol=1e-9, atol=1e-9)


@pytest.mark.slow
def test_the_latency_matters(cpi) -> None:
    # Dropping the clock (the rules trading at once, at every step of the
    # timeline) is not the engine's run: the equivalence above tests the clock.
    sc, results = cpi
    for cname in ("latency_60s", "latency_900s"):
        pnl, _ = _trainer(sc, cname, clock=False)
        assert _rel(pnl, results[cname].pnl) > 1e-4, cname


def _triggers_scenario():
    sc = load_scenario("cpi_intraday", ["n_paths=32"])
    data = sc.model_dump()
    mgr = data["configs"]["latency_0.1s"]["manager"]
    trig = [
        {
            "cls": "vega",
            "config": {
                "instrument": "vega_opt",
                "target": 0.8,
                "latency": 60.0,
                "schedule": {"kind": "every", "minutes": 360},
            },
        },
        {
            "cls": "gamma",
            "config": {
                "instrument": "gamma_opt",
                "target": 0.8,
                "schedule": {"kind": "on_release"},
            },
        },
        {
            "cls": "delta",
            "config": {"latency": 5.0, "schedule": {"kind": "spot_move", "threshold": 0.003}},
        },
    ]
    band = [
        {
            "cls": "gamma",
            "config": {
                "instrument": "gamma_opt",
                "target": 0.5,
                "schedule": {"kind": "band", "greek": "vega"},
            },
        },
        {"cls": "delta", "config": {"latency": 900.0, "schedule": {"kind": "band"}}},
    ]
    data["configs"] = {
        "triggers": {"manager": mgr, "agents": trig},
        "band": {"manager": mgr, "agents": band},
    }
    return validate_scenario(data)


@pytest.mark.slow
def test_scheduled_and_triggered_hedgers_give_the_engines_pnl() -> None:
    sc = _triggers_scenario()
    results, trades = engine_trades(sc)
    for cname in sc.configs:
        assert np.any(trades[cname]), cname
        pnl, cost = _trainer(sc, cname)
        assert _rel(pnl, results[cname].pnl) <= 1e-9, cname
        np.testing.assert_allclose(cost, results[cname].cost, rtol=1e-9, atol=1e-9)
        loose, _ = _trainer(sc, cname, clock=False)
        assert _rel(loose, results[cname].pnl) > 1e-6, cname


def test_an_order_arrives_at_the_first_step_at_or_after_its_latency() -> None:
    yd = 365.0
    day = 1.0 / yd
    times = np.array([0.0, day / 1440.0, 2 * day / 1440.0, day, 2 * day])  # 0, 1 min, 2 min, 1 d
    np.testing.assert_array_equal(arrival_steps(times, 60.0, yd), [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(arrival_steps(times, 90.0, yd), [2, 3, 3, 4, 5])
    np.testing.assert_array_equal(arrival_steps(times, 1e-9, yd), [1, 2, 3, 4, 5])


@pytest.mark.slow
def test_a_learned_agent_trains_with_the_latency_it_replaces_and_refuses_another(tmp_path) -> None:
    sc = load_scenario("cpi_intraday", ["n_paths=8", "days=3"])
    blob, losses = train(
        sc, instruments=("gamma_opt",), action="fraction", paths=8, epochs=1, base="latency_60s"
    )
    meta = json.loads(blob["meta"])
    assert meta["latency"] == 60.0 and meta["schedule"] == {"kind": "every_step"}
    assert len(losses) == 1 and np.isfinite(losses[0])
    path = tmp_path / "p.pt"
    save_checkpoint(blob, path)
    spec = PolicySpec("mlp", tuple(meta["features"]), "fraction", ("gamma_opt",), "gamma")
    load_checkpoint(path, dataclasses.replace(spec, clock=AgentClock(60.0).key("gamma")))
    with pytest.raises(CheckpointError, match="latency"):
        load_checkpoint(path, dataclasses.replace(spec, clock=AgentClock().key("gamma")))


def test_a_non_bsm_hedger_is_still_refused_in_one_line() -> None:
    sc = load_scenario("model_risk", ["n_paths=8", "days=3"])
    bad = next(hc for hc in sc.configs.values() if any(s.config.get("model") for s in hc.agents))
    with pytest.raises(ScenarioError, match="BSM greeks") as exc:
        rule_cascade(bad)
    assert "\n" not in str(exc.value)


def _actor_of(blob):
    """The trainer's actor of a checkpoint's policy (raw features: identity norm)."""
    from orchestration._train_policies import ActionSpec, LearnedActor, make_net

    meta = json.loads(blob["meta"])
    a = meta["actions"]
    net = make_net(meta["policy"], len(meta["features"]), 1, meta["hidden"], 1)
    with torch.no_grad():
        net.load_state_dict({k: v for k, v in blob.items() if k != "meta"})
    spec = ActionSpec(a["kind"], tuple(a["instruments"]), a["rule"])
    actor = LearnedActor(net, meta["features"], spec, a["instruments"][0])
    actor.norm.mu = torch.zeros(len(meta["features"]), dtype=torch.float64)
    actor.norm.sd = torch.ones(len(meta["features"]), dtype=torch.float64)
    actor.clock = AgentClock(meta["latency"])
    return actor


@pytest.mark.slow
def test_a_policy_trained_with_latency_has_the_trainers_pnl_in_the_engine(tmp_path) -> None:
    # A GRU trained among cpi_intraday's 60 s hedgers, run by LearnedHedger with
    # its 60 s latency in the engine: the trainer's P&L on every path, to 1e-9.
    from orchestration import AgentSpec, run_local

    feats = ("gamma_gap:gamma_opt", "vega_gap:vega_opt", "time_to_event", "book_delta")
    sc = load_scenario("cpi_intraday", ["n_paths=16"])
    blob, _ = train(
        sc,
        instruments=("gamma_opt",),
        action="fraction",
        policy="gru",
        features=feats,
        hidden=4,
        paths=16,
        epochs=2,
        seed=3,
        base="latency_60s",
    )
    path = tmp_path / "gru.pt"
    save_checkpoint(blob, path)
    hc = sc.configs["latency_60s"]
    learned = AgentSpec(
        cls="agents.deep.LearnedHedger",
        name="learned",
        config={
            "checkpoint": str(path),
            "policy": "gru",
            "features": list(feats),
            "actions": {"kind": "fraction", "instruments": ["gamma_opt"], "rule": "gamma"},
            "horizon_days": sc.days,
            "year_days": sc.year_days,
            "latency": 60.0,
        },
    )
    vega, _, delta = hc.agents
    hc = hc.model_copy(update={"agents": (vega, learned, delta)})
    one = sc.model_copy(update={"configs": {"learned": hc}})
    engine = run_local(one)["learned"]
    rules = rule_cascade(hc.model_copy(update={"agents": (vega, delta)}))
    cascade = [RuleActor(*rules[0]), _actor_of(blob), RuleActor(*rules[1])]
    ds = to_device(build_trainset(one, manager=hc.manager))
    with torch.no_grad():
        pnl, cost = rollout(ds, cascade)
    assert _rel(pnl.numpy(), engine.pnl) <= 1e-9
    np.testing.assert_allclose(cost.numpy(), engine.cost, rtol=1e-9, atol=1e-9)
    # and the agent refuses another latency than the one it was trained with
    bad = learned.model_copy(update={"config": {**learned.config, "latency": 5.0}})
    with pytest.raises(Exception, match=r"latency of 60\.0 s"):
        run_local(
            sc.model_copy(
                update={"configs": {"x": hc.model_copy(update={"agents": (vega, bad, delta)})}}
            )
        )
