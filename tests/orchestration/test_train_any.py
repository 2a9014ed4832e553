"""Training on any scenario: devices, GRU and MLP checkpoints, the folded
normalisation, the cost-penalised objective, and a learned macro_gap policy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from agents import _features
from agents.deep import CHECKPOINT_VERSION, mlp_forward
from orchestration import config_metrics, load_scenario
from orchestration._train_pnl import to_device
from orchestration._train_policies import feature_context
from orchestration._trainset import build_trainset
from orchestration.cli import main
from orchestration.config import ScenarioError
from orchestration.train import check_device, objective_fn, save_checkpoint, train

FEATS = ("gamma_gap:gamma_opt", "vega_gap:vega_opt", "time_to_event", "book_delta", "atm_vol")


def test_device_cuda_without_cuda_is_one_line_exit_2_and_auto_falls_back(tmp_path, capsys):
    if torch.cuda.is_available():  # pragma: no cover - a GPU machine
        assert check_device("cuda") == "cuda"
        return
    assert check_device("auto") == "cpu"
    assert check_device("cpu") == "cpu"
    out = tmp_path / "m.pt"
    args = ["train", "cao2023_gbm", "--out", str(out), "--paths", "20", "--epochs", "1"]
    assert main([*args, "--device", "cuda", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "CUDA is not available" in err
    assert not out.exists()
    assert main([*args, "--device", "tpu", "--no-progress"]) == 2
    assert main([*args, "--device", "auto", "--no-progress"]) == 0
    meta = json.loads(torch.load(out, weights_only=True)["meta"])
    assert meta["device"] == "cpu" and meta["version"] == CHECKPOINT_VERSION == 3


def test_a_gru_checkpoint_names_torchs_tensors_and_the_contract_meta(tmp_path: Path) -> None:
    sc = load_scenario("macro_gap", ["days=12"])
    blob, losses = train(
        sc,
        action="holdings",
        instruments=("gamma_opt", "underlying"),
        policy="gru",
        features=FEATS,
        hidden=8,
        paths=64,
        epochs=3,
        seed=4,
        base="delta_gamma",
    )
    assert np.all(np.isfinite(losses))
    names = {k for k in blob if k != "meta"}
    assert names == {
        "gru.weight_ih_l0",
        "gru.weight_hh_l0",
        "gru.bias_ih_l0",
        "gru.bias_hh_l0",
        "head.weight",
        "head.bias",
    }
    assert tuple(blob["gru.weight_ih_l0"].shape) == (24, len(FEATS))
    meta = json.loads(blob["meta"])
    assert meta["policy"] == "gru" and meta["hidden"] == 8 and meta["layers"] == 1
    assert meta["features"] == list(FEATS)
    assert meta["actions"] == {
        "kind": "holdings",
        "instruments": ["gamma_opt", "underlying"],
    }
    assert meta["family"] == sc.family
    save_checkpoint(blob, tmp_path / "g.pt")
    again = torch.load(tmp_path / "g.pt", weights_only=True)
    assert all(torch.equal(again[k], blob[k]) for k in names)


def test_the_folded_normalisation_gives_the_trained_networks_outputs() -> None:
    # The checkpoint's first layer takes raw features: numpy inference on them
    # (agents.deep.mlp_forward) equals torch's net on the normalised features.
    from orchestration import train as tr

    sc = load_scenario("macro_gap", ["days=12"])
    captured = {}
    real = tr._fold

    def spy(net, mu, sd):
        captured.update(net=net, mu=mu, sd=sd)
        return real(net, mu, sd)

    tr._fold = spy
    try:
        blob, _ = train(
            sc,
            instruments=("gamma_opt", "vega_opt"),
            action="trade",
            features=FEATS,
            paths=64,
            epochs=2,
        )
    finally:
        tr._fold = real
    meta = json.loads(blob["meta"])
    assert meta["actions"] == {"kind": "trade", "instruments": ["gamma_opt", "vega_opt"]}
    params = [(blob[f"w{i}"].numpy(), blob[f"b{i}"].numpy()) for i in range(meta["layers"])]
    ds = to_device(build_trainset(sc, 32, 9))
    from orchestration._train_pnl import Ledger

    led = Ledger(ds)
    led.begin(5)
    view = {g: ds.book[g][5] for g in ("delta", "gamma", "vega")}
    ctx = feature_context(5, view, led, ["gamma_opt", "vega_opt"])
    x = _features.stack(FEATS, ctx, torch)
    net, mu, sd = captured["net"], captured["mu"], captured["sd"]
    with torch.no_grad():
        want = net((x - mu) / sd)[0].numpy()
    for j in range(2):
        w = [
            (a, b) if i < len(params) - 1 else (a[:, j : j + 1], b[j : j + 1])
            for i, (a, b) in enumerate(params)
        ]
        np.testing.assert_allclose(mlp_forward(w, x.numpy()), want[:, j], rtol=1e-9, atol=1e-12)


def test_the_cost_penalised_objective_adds_the_mean_cost() -> None:
    pnl = torch.tensor([1.0, -1.0, 3.0], dtype=torch.float64)
    cost = torch.tensor([0.5, 1.0, 1.5], dtype=torch.float64)
    base = float(objective_fn("mean_std", 1.645)(pnl))
    assert float(objective_fn("cost_penalised", 1.645, 2.0)(pnl, cost)) == pytest.approx(
        base + 2.0, rel=1e-15
    )


def test_bad_trainer_arguments_are_refused() -> None:
    sc = load_scenario("macro_gap", ["days=12"])
    with pytest.raises(ScenarioError, match="not listed"):
        train(sc, instruments=("nope",), paths=8, epochs=1)
    with pytest.raises(ScenarioError, match="features"):
        train(sc, instruments=("gamma_opt",), features=("bogus",), paths=8, epochs=1)
    with pytest.raises(ScenarioError, match="policy"):
        train(sc, instruments=("gamma_opt",), policy="lstm", paths=8, epochs=1)
    with pytest.raises(ScenarioError, match="one rule"):
        train(sc, instruments=("vega_opt", "gamma_opt"), action="fraction", paths=8, epochs=1)
    # A cascade names a rule per instrument; delta_gamma runs none for vega_opt.
    cas = {"instruments": ("vega_opt", "underlying"), "action": "cascade", "paths": 8}
    with pytest.raises(ScenarioError, match="--rules must name"):
        train(sc, base="delta_gamma", epochs=1, **cas)
    with pytest.raises(ScenarioError, match="--rules must name"):
        train(sc, base="delta_gamma", epochs=1, rules=("vega", "theta"), **cas)


def test_a_cascade_action_names_one_rule_per_instrument_and_only_it_does() -> None:
    from pydantic import ValidationError

    from agents.deep import ActionSpec

    ok = ActionSpec(kind="cascade", instruments=("vega_opt", "underlying"), rules=("vega", "delta"))
    assert ok.rules == ("vega", "delta")
    for bad in (
        {"kind": "cascade", "instruments": ("vega_opt",)},
        {"kind": "cascade", "instruments": ("vega_opt", "underlying"), "rules": ("vega",)},
        {"kind": "holdings", "instruments": ("vega_opt",), "rules": ("vega",)},
    ):
        with pytest.raises(ValidationError, match="one rule per instrument"):
            ActionSpec.model_validate(bad)


def _learned_rollout(sc, blob, hc_name: str = "learned"):
    """The trainer's P&L of a checkpoint's policy on the scenario's own paths."""
    from orchestration._train_cascade import CascadeActor, CascadeSpec
    from orchestration._train_policies import ActionSpec, LearnedActor, RuleActor, make_net, rollout
    from orchestration.train import rule_cascade

    meta = json.loads(blob["meta"])
    a = meta["actions"]
    spec = ActionSpec(a["kind"], tuple(a["instruments"]), a.get("rule", "gamma"))
    if a["kind"] == "cascade":
        spec = CascadeSpec(a["kind"], tuple(a["instruments"]), "gamma", tuple(a["rules"]))
    n_out = len(a["instruments"])
    net = make_net(
        meta["policy"], len(meta["features"]), n_out, meta["hidden"], max(1, meta["layers"] - 1)
    )
    with torch.no_grad():
        if meta["policy"] == "mlp":
            for i, m in enumerate(net.linears()):
                m.weight.copy_(blob[f"w{i}"].T)
                m.bias.copy_(blob[f"b{i}"])
        else:
            net.load_state_dict({k: v for k, v in blob.items() if k != "meta"})
    cls = CascadeActor if a["kind"] == "cascade" else LearnedActor
    actor = cls(net, meta["features"], spec, a["instruments"][0])
    actor.norm.mu = torch.zeros(len(meta["features"]), dtype=torch.float64)
    actor.norm.sd = torch.ones(len(meta["features"]), dtype=torch.float64)
    hc = sc.configs[hc_name]
    others = [
        r
        for r in rule_cascade(
            hc.model_copy(
                update={
                    "agents": tuple(x for x in hc.agents if x.cls != "agents.deep.LearnedHedger")
                }
            )
        )
    ]
    from agents.manager_config import cascade_order

    kept = {f"rule{j}": r for j, r in enumerate(others)}
    order = cascade_order([*((n, r[0]) for n, r in kept.items()), ("learned", "gamma")])
    cascade = [actor if n == "learned" else RuleActor(*kept[n]) for n in order]
    ds = to_device(build_trainset(sc, manager=hc.manager))
    with torch.no_grad():
        return rollout(ds, cascade)


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["mlp", "gru"])
def test_a_trained_policy_in_the_engine_has_the_trainers_pnl(policy: str, tmp_path: Path) -> None:
    # End to end: gammaray train's checkpoint, run by agents.deep.LearnedHedger in
    # the engine (numpy inference), gives on every path the P&L the trainer's step
    # loop computes for the same policy on the same events (torch), to 1e-9.
    from orchestration import AgentSpec, HedgeConfig, run_local
    from scenarios.macro_gap import DELTA, EVENT_AWARE, VEGA

    base = load_scenario("macro_gap", ["n_paths=48", "days=12"])
    feats = FEATS
    blob, _ = train(
        base,
        instrument="gamma_opt",
        mode="residual",
        features=feats,
        policy=policy,
        hidden=6,
        paths=48,
        epochs=3,
        seed=5,
        base="event_aware",
    )
    path = tmp_path / f"{policy}.pt"
    save_checkpoint(blob, path)
    actions = {"kind": "fraction", "instruments": ["gamma_opt"], "rule": "gamma"}
    spec = AgentSpec(
        cls="agents.deep.LearnedHedger",
        name="learned",
        config={"checkpoint": str(path), "policy": policy, "features": list(feats)}
        | {"actions": actions, "horizon_days": 12.0, "year_days": 365.0},
    )
    hc = HedgeConfig(agents=(VEGA, spec, DELTA), manager=EVENT_AWARE)
    sc = base.model_copy(update={"configs": {"learned": hc}})
    engine = run_local(sc)["learned"]
    pnl, cost = _learned_rollout(sc, blob)
    np.testing.assert_allclose(pnl.numpy(), engine.pnl, rtol=1e-9)
    np.testing.assert_allclose(cost.numpy(), engine.cost, rtol=1e-9, atol=1e-9)
    assert engine.cost.mean() > 0


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["mlp", "gru"])
def test_a_cascade_policy_in_the_engine_has_the_trainers_pnl(policy: str, tmp_path: Path) -> None:
    # The cascade action (one policy trading vega_opt, gamma_opt and the
    # underlying, each a learned fraction of its rule's trade after the earlier
    # ones): the engine's LearnedHedger and the trainer's CascadeActor agree to 1e-9.
    from orchestration import AgentSpec, HedgeConfig, run_local
    from scenarios.macro_gap import MANAGER

    base = load_scenario("macro_gap", ["n_paths=48", "days=12"])
    insts, rules = ("vega_opt", "gamma_opt", "underlying"), ("vega", "gamma", "delta")
    blob, _ = train(
        base,
        instruments=insts,
        action="cascade",
        rules=rules,
        features=FEATS,
        policy=policy,
        hidden=6,
        paths=48,
        epochs=3,
        seed=5,
        base="delta_gamma",
    )
    meta = json.loads(blob["meta"])
    assert meta["actions"] == {"kind": "cascade", "instruments": list(insts), "rules": list(rules)}
    path = tmp_path / f"{policy}.pt"
    save_checkpoint(blob, path)
    actions = {"kind": "cascade", "instruments": list(insts), "rules": list(rules)}
    spec = AgentSpec(
        cls="agents.deep.LearnedHedger",
        name="learned",
        config={"checkpoint": str(path), "policy": policy, "features": list(FEATS)}
        | {"actions": actions, "horizon_days": 12.0, "year_days": 365.0},
    )
    sc = base.model_copy(
        update={"configs": {"learned": HedgeConfig(agents=(spec,), manager=MANAGER)}}
    )
    engine = run_local(sc)["learned"]
    pnl, cost = _learned_rollout(sc, blob)
    np.testing.assert_allclose(pnl.numpy(), engine.pnl, rtol=1e-9)
    np.testing.assert_allclose(cost.numpy(), engine.cost, rtol=1e-9, atol=1e-9)
    assert engine.cost.mean() > 0
    from agents.deep import CheckpointError, LearnedHedger

    wrong = {**spec.config, "actions": {**actions, "rules": ["vega", "delta", "delta"]}}
    with pytest.raises(CheckpointError, match="scales the rules"):
        LearnedHedger("x", LearnedHedger.Config.model_validate(wrong))


@pytest.mark.slow
def test_a_learned_macro_gap_policy_beats_delta_gamma_on_held_out_paths(tmp_path: Path) -> None:
    # Trained on seed 100's paths; run in the engine (agents.deep.LearnedHedger)
    # on the scenario's own seed (7): paths it never saw.
    from orchestration import run_local
    from scenarios.macro_gap import LEARNED, LEARNED_BASE, learned_config

    torch.manual_seed(0)
    sc = load_scenario("macro_gap", ["n_paths=400"])
    acts = LEARNED["actions"]
    blob, losses = train(
        sc,
        instruments=tuple(acts["instruments"]),
        action=acts["kind"],
        rule=acts.get("rule"),
        rules=tuple(acts["rules"]) if "rules" in acts else None,
        policy=LEARNED["policy"],
        features=tuple(LEARNED["features"]),
        base=LEARNED_BASE,
        paths=400,
        epochs=25,
        seed=100,
        hidden=16,
    )
    assert losses[-1] < losses[0]
    path = tmp_path / "macro_gap.pt"
    save_checkpoint(blob, path)
    held_out = load_scenario("macro_gap", ["n_paths=1000"])
    configs = {"delta_gamma": held_out.configs["delta_gamma"], "learned": learned_config(path)}
    res = run_local(held_out.model_copy(update={"configs": configs}))
    # The metric of issue 10's experiment 1: the tail (CVaR95) of the held-out P&L.
    cvar = {k: config_metrics(v, 1.645)["cvar_95"] for k, v in res.items()}
    assert cvar["learned"] < cvar["delta_gamma"], cvar


@pytest.mark.slow
def test_zero_costs_bsm_world_the_learned_stock_hedge_is_bsm_delta_across_moneyness() -> None:
    # One short 30-day ATM call, no costs, a GBM world quoted at its own vol: the
    # variance-minimising stock holding is the BSM delta. A policy of target
    # stock holdings over (log-moneyness, sqrt time to expiry) of a listed
    # contract with the book option's terms learns it to within 0.05.
    from agents._policy_nets import mlp_outputs
    from market import InstrumentSpec
    from market.pricing import bsm_greeks
    from tests.conftest import bsm_world_scenario

    torch.set_num_threads(1)
    sc = bsm_world_scenario(n_paths=2000)
    listed = (
        InstrumentSpec(name="underlying", kind="underlying"),
        InstrumentSpec(name="opt", tenor_days=30.0, relist_days=29.0),
    )
    sc = sc.model_copy(update={"market": sc.market.model_copy(update={"instruments": listed})})
    feats = ("log_moneyness:opt", "sqrt_time_to_expiry:opt")
    blob, losses = train(
        sc,
        instruments=("underlying",),
        action="holdings",
        features=feats,
        base="delta",
        paths=2000,
        epochs=600,
        seed=0,
        hidden=16,
        lr=0.005,
    )
    assert losses[-1] < 0.2 * losses[0]
    meta = json.loads(blob["meta"])
    params = [(blob[f"w{i}"].numpy(), blob[f"b{i}"].numpy()) for i in range(meta["layers"])]
    strike, expiry = 100.0, 30.0 / 365.0
    spot = np.linspace(90.0, 110.0, 21)
    for frac in (0.2, 0.5, 0.8):
        t = frac * expiry
        ctx = {"spot": spot, "t": t, "horizon": expiry, "strike:opt": np.full(21, strike)}
        ctx["expiry:opt"] = expiry
        held = 100.0 * mlp_outputs(params, _features.stack(feats, ctx, np))[:, 0]
        delta = bsm_greeks(spot, strike, expiry - t, 0.2, 0.0, 0.0, True).delta
        assert np.max(np.abs(held - delta)) < 0.05, (frac, held - delta)
