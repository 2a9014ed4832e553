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
        mode="direct",
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
        "scale": {"gamma_opt": 100.0, "underlying": 100.0},
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
            sc, instruments=("gamma_opt", "vega_opt"), features=FEATS, paths=64, epochs=2
        )
    finally:
        tr._fold = real
    meta = json.loads(blob["meta"])
    assert meta["actions"]["rules"] == {
        "gamma_opt": {"greek": "gamma", "target": 0.8},
        "vega_opt": {"greek": "vega", "target": 0.8},
    }
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
    with pytest.raises(ScenarioError, match="no band hedger"):
        train(sc, instruments=("vega_opt",), base="delta_gamma", paths=8, epochs=1)


@pytest.mark.slow
def test_a_learned_macro_gap_policy_beats_delta_gamma_on_held_out_paths() -> None:
    # Trained on seed 100's paths; judged on the scenario's own seed (7), unseen.
    torch.manual_seed(0)
    sc = load_scenario("macro_gap", ["n_paths=600"])
    blob, losses = train(
        sc,
        instruments=("vega_opt", "gamma_opt"),
        features=FEATS,
        base="event_aware",
        paths=600,
        epochs=25,
        seed=100,
        hidden=16,
    )
    assert losses[-1] < losses[0]
    from orchestration._train_pnl import to_device as dev
    from orchestration._train_policies import ActionSpec, LearnedActor, RuleActor, make_net, rollout

    # the held-out evaluation runs the trained net through the trainer's loop
    # on the engine's own events of the held-out seed
    meta = json.loads(blob["meta"])
    net = make_net("mlp", len(FEATS), 2, 16, 2)
    lin = net.linears()
    with torch.no_grad():
        for i, m in enumerate(lin):
            m.weight.copy_(blob[f"w{i}"].T)
            m.bias.copy_(blob[f"b{i}"])
    rules = {k: (v["greek"], v["target"]) for k, v in meta["actions"]["rules"].items()}
    actor = LearnedActor(
        net, list(FEATS), ActionSpec("fraction", ("vega_opt", "gamma_opt"), rules), "gamma_opt"
    )
    actor.norm.mu, actor.norm.sd = (
        torch.zeros(len(FEATS), dtype=torch.float64),
        torch.ones(len(FEATS), dtype=torch.float64),
    )
    held_out = load_scenario("macro_gap", ["n_paths=1000"])
    ds = dev(build_trainset(held_out, manager=held_out.configs["event_aware"].manager))
    with torch.no_grad():
        pnl, _ = rollout(ds, [actor, RuleActor("delta", "underlying", 0.0)])
    from orchestration import run_local

    res = run_local(
        held_out.model_copy(update={"configs": {"delta_gamma": held_out.configs["delta_gamma"]}})
    )
    learned = float(-pnl.mean() + 1.645 * pnl.std(unbiased=False))
    rule = config_metrics(res["delta_gamma"], 1.645)["mean_std_objective"]
    assert learned < rule, (learned, rule)
