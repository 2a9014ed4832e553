"""Training the learned hedger: reproducible, consistent with the engine, beats delta-gamma."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.deep import load_checkpoint
from orchestration import AgentSpec, HedgeConfig, config_metrics, load_scenario, run_local
from orchestration._train_pnl import to_device
from orchestration._train_policies import RuleActor, rollout
from orchestration._trainset import build_trainset
from orchestration.cli import main
from orchestration.config import ScenarioError
from orchestration.train import rule_cascade, save_checkpoint, train
from scenarios.cao2023_gbm import MANAGER


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, list[float]]:
    torch.set_num_threads(2)
    sc = load_scenario("cao2023_gbm")
    blob, losses = train(sc, paths=3000, epochs=80, seed=0)
    path = tmp_path_factory.mktemp("model") / "cao.pt"
    save_checkpoint(blob, path)
    return path, losses


def _with_learned(checkpoint: Path, n_paths: int, seed: int = 1):
    sc = load_scenario("cao2023_gbm", [f"n_paths={n_paths}", f"seed={seed}"])
    learned = HedgeConfig(
        agents=(
            AgentSpec(
                cls="agents.deep.ResidualHedger",
                name="learned",
                config={"checkpoint": str(checkpoint)},
            ),
            AgentSpec(cls="delta"),
        ),
        manager=MANAGER,
    )
    return sc.model_copy(update={"configs": {**sc.configs, "learned": learned}})


@pytest.mark.slow
def test_training_is_seeded_and_improves_the_objective(trained) -> None:
    _, losses = trained
    assert losses[-1] < losses[0] - 0.2
    sc = load_scenario("cao2023_gbm")
    a, la = train(sc, paths=500, epochs=3, seed=4)
    b, lb = train(sc, paths=500, epochs=3, seed=4)
    assert la == lb and all(torch.equal(a[k], b[k]) for k in a if k != "meta")


@pytest.mark.slow
def test_learned_hedger_beats_delta_gamma_on_held_out_paths(trained) -> None:
    path, _ = trained
    sc = _with_learned(path, n_paths=3000, seed=1)  # trained on seed 0
    m = {
        k: config_metrics(v, sc.risk_aversion)["mean_std_objective"]
        for k, v in run_local(sc).items()
    }
    print(m)
    assert m["learned"] < m["delta_gamma"] < m["delta"]


def _objective_se(pnl: np.ndarray, c: float) -> float:
    """Standard error of ``-mean + c std`` of a sample (delta method: its influence function)."""
    d = pnl - pnl.mean()
    sd = d.std()
    influence = -d + c * (d * d - sd * sd) / (2 * sd)
    return float(influence.std() / np.sqrt(pnl.size))


@pytest.mark.slow
def test_training_simulator_agrees_with_the_engine_for_the_rule() -> None:
    # The trainer's P&L is the engine's, not a closed form of it: the same paths
    # (the engine's own events), the same rule, to 1e-9 on every path (was 5%).
    sc = load_scenario("cao2023_gbm", ["n_paths=300"])
    hc = sc.configs["delta_gamma"]
    ds = to_device(build_trainset(sc, manager=hc.manager))
    pnl, _ = rollout(ds, [RuleActor(*r) for r in rule_cascade(hc)])
    res = run_local(sc)["delta_gamma"]
    np.testing.assert_allclose(pnl.numpy(), res.pnl, rtol=1e-9)
    sim = float(-pnl.mean() + 1.645 * pnl.std(unbiased=False))
    engine = config_metrics(res, 1.645)["mean_std_objective"]
    assert sim == pytest.approx(engine, rel=1e-9)


@pytest.mark.slow
def test_checkpoints_load_bit_for_bit_and_refuse_mismatches(trained, tmp_path: Path) -> None:
    path, _ = trained
    a = load_checkpoint(path, "residual", "hedge_opt")
    b = load_checkpoint(path, "residual", "hedge_opt")
    for (wa, ba), (wb, bb) in zip(a["params"], b["params"], strict=True):
        assert wa.tobytes() == wb.tobytes() and ba.tobytes() == bb.tobytes()
    sc = _with_learned(path, n_paths=64)
    r1, r2 = run_local(sc), run_local(sc)
    assert r1["learned"].pnl.tobytes() == r2["learned"].pnl.tobytes()
    with pytest.raises(ValueError, match="not 'spx_opt'"):
        load_checkpoint(path, "residual", "spx_opt")
    with pytest.raises(ValueError, match="is a 'residual' policy, not 'direct'"):
        load_checkpoint(path, "direct", "hedge_opt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="corrupt"):
        load_checkpoint(bad, "residual", "hedge_opt")
    with pytest.raises(ValueError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt", "residual", "hedge_opt")


@pytest.mark.slow
def test_actions_do_not_depend_on_sharding(trained) -> None:
    path, _ = trained
    sc = _with_learned(path, n_paths=2500)
    one, three = run_local(sc), run_local(sc, shards=3)
    assert one["learned"].pnl.tobytes() == three["learned"].pnl.tobytes()


@pytest.mark.slow
@pytest.mark.usefixtures("ray_session")
def test_a_trained_agent_runs_on_ray_with_the_same_pnl(trained) -> None:
    from orchestration.ray_runtime import run_ray

    path, _ = trained
    sc = _with_learned(path, n_paths=200)
    local, remote = run_local(sc), run_ray(sc)
    assert local["learned"].pnl.tobytes() == remote["learned"].pnl.tobytes()


@pytest.mark.slow
@pytest.mark.usefixtures("ray_session")
def test_a_deep_hedger_trained_through_train_runs_locally_and_on_ray(tmp_path: Path) -> None:
    # README: agents.deep.DeepHedger "runs like any agent, in-process or on Ray".
    from orchestration.metrics import pnl_sha256
    from orchestration.ray_runtime import run_ray

    torch.set_num_threads(2)
    blob, losses = train(load_scenario("cao2023_gbm"), mode="direct", paths=200, epochs=5, seed=2)
    assert losses[-1] < losses[0]
    path = tmp_path / "deep.pt"
    save_checkpoint(blob, path)
    deep = HedgeConfig(
        agents=(
            AgentSpec(cls="agents.deep.DeepHedger", name="deep", config={"checkpoint": str(path)}),
            AgentSpec(cls="delta"),
        ),
        manager=MANAGER,
    )
    sc = load_scenario("cao2023_gbm", ["n_paths=200", "days=10"])
    sc = sc.model_copy(update={"configs": {"deep": deep}})
    local, remote = run_local(sc)["deep"], run_ray(sc)["deep"]
    assert pnl_sha256(local.pnl) == pnl_sha256(remote.pnl)
    assert local.cost.mean() > 0  # it trades the hedge option (the stock is free)


def test_train_cli_writes_a_checkpoint_and_refuses_unsupported_scenarios(tmp_path: Path) -> None:
    out = tmp_path / "m.pt"
    assert (
        main(
            [
                "train",
                "cao2023_gbm",
                "--out",
                str(out),
                "--paths",
                "300",
                "--epochs",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    assert load_checkpoint(out, "residual", "hedge_opt")["meta"]["epochs"] == 2
    bad = ["train", "macro_gap", "--out", str(tmp_path / "x.pt"), "--epochs", "1"]
    assert main([*bad, "--instrument", "nope"]) == 2
    assert main([*bad, "--instruments", "gamma_opt", "--base", "nope"]) == 2
    assert not (tmp_path / "x.pt").exists()
    with pytest.raises(ScenarioError, match="objective"):
        train(load_scenario("cao2023_gbm"), paths=10, epochs=1, objective="max")


def test_cvar_and_entropic_objectives_equal_their_closed_forms() -> None:
    from scipy.stats import norm

    from orchestration.train import objective_fn

    pnl = -torch.arange(100, dtype=torch.float64)  # losses 0..99
    # CVaR at a tail fraction: the mean of the worst fraction of losses
    assert float(objective_fn("cvar", 0.05)(pnl)) == pytest.approx(97.0, rel=1e-15)
    assert float(objective_fn("cvar", 0.10)(pnl)) == pytest.approx(94.5, rel=1e-15)
    # entropic risk (1/l) log E[exp(-l R)] of a Gaussian R: -mu + l sigma^2 / 2
    # (R on 200,000 normal quantiles: the grid misses ~1e-4 of the far tail)
    z = norm.ppf((np.arange(200_000) + 0.5) / 200_000)
    mu, sigma = 1.5, 2.0
    for lam in (0.1, 0.5):
        r = torch.from_numpy(mu + sigma * z)
        exact = -mu + lam * sigma**2 / 2
        assert float(objective_fn("entropic", lam)(r)) == pytest.approx(exact, rel=2e-4)
    # and on two points, by hand
    two = torch.tensor([1.0, -3.0], dtype=torch.float64)
    by_hand = np.log((np.exp(-0.5) + np.exp(1.5)) / 2) / 0.5
    assert float(objective_fn("entropic", 0.5)(two)) == pytest.approx(by_hand, rel=1e-14)


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["cvar", "entropic"])
def test_other_objectives_train(objective: str) -> None:
    _, losses = train(load_scenario("cao2023_gbm"), paths=400, epochs=5, objective=objective)
    assert np.all(np.isfinite(losses))


@pytest.mark.slow
def test_prohibitive_option_costs_teach_the_learned_hedger_not_to_trade(tmp_path: Path) -> None:
    # The deep-hedging sanity check through the product path (train -> checkpoint
    # -> ResidualHedger in the engine), on a case with a known optimum: when an
    # option trade costs its whole premium (option_cost=1), every trade loses more
    # than it hedges, so the best policy is delta-only.
    torch.set_num_threads(2)
    blob, losses = train(load_scenario("cao2023_gbm", ["option_cost=1.0"]), paths=300, epochs=60)
    assert losses[-1] < 0.05 * losses[0]
    path = tmp_path / "costly.pt"
    save_checkpoint(blob, path)
    sc = _with_learned(path, n_paths=1000, seed=1)  # held-out paths
    sc = sc.model_copy(update={"option_cost": 1.0})
    m = {k: config_metrics(v, sc.risk_aversion) for k, v in run_local(sc).items()}
    obj = {k: v["mean_std_objective"] for k, v in m.items()}
    assert obj["delta_gamma"] > 30 * obj["delta"]  # the rule trades and pays for it
    assert abs(obj["learned"] / obj["delta"] - 1) < 0.03, obj  # measured 1.4%
    assert m["learned"]["transaction_cost"] < 1e-3 * m["delta_gamma"]["transaction_cost"]


# ------------------------------------------------------------------ bad input, one line, exit 2
LEARNED_SCRIPT = """
from orchestration import AgentSpec, HedgeConfig, Scenario
from scenarios.cao2023_gbm import MANAGER, SCENARIO

data = SCENARIO.model_dump()
data["name"] = {name!r}
data["configs"] = dict(data["configs"], learned=HedgeConfig(
    agents=(
        AgentSpec(cls="agents.deep.ResidualHedger", name="learned",
                  config={{"checkpoint": {checkpoint!r}}}),
        AgentSpec(cls="delta"),
    ),
    manager=MANAGER,
))
SCENARIO = Scenario.model_validate(data)
"""


def _script(tmp_path: Path, checkpoint: Path, name: str = "cao2023_gbm") -> str:
    path = tmp_path / f"learned_{checkpoint.stem}_{name}.py"
    path.write_text(LEARNED_SCRIPT.format(name=name, checkpoint=str(checkpoint)))
    return str(path)


def _run(script: str, out: Path, *extra: str) -> int:
    argv = ["run", script, "--runtime", "local", "--paths", "64", "--no-progress", "--no-report"]
    return main([*argv, "--out", str(out), *extra])


def _one_line_refusal(capsys, needle: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gammaray: error: "), err
    assert needle in err, err
    return err


def _variant(src: Path, dst: Path, **changes) -> Path:
    """A copy of a real checkpoint with some tensors or meta keys replaced."""
    blob = torch.load(src, weights_only=True)
    meta = json.loads(blob["meta"])
    for k, v in changes.items():
        if k in blob and k != "meta":
            blob[k] = v(blob[k].clone())
        else:
            meta[k] = v
    blob["meta"] = json.dumps(meta)
    save_checkpoint(blob, dst)
    return dst


@pytest.mark.slow
def test_bad_checkpoints_are_one_line_exit_2_and_nothing_written(trained, tmp_path, capsys):
    path, _ = trained
    good = path.read_bytes()
    out = tmp_path / "run"
    assert _run(_script(tmp_path, path), out) == 0  # the good one runs
    assert (out / "summary.json").is_file()
    capsys.readouterr()

    def nan_first(t):
        t.view(-1)[0] = float("nan")
        return t

    def inf_last(t):
        t.view(-1)[-1] = float("inf")
        return t

    cases = {
        "missing": (tmp_path / "none.pt", "does not exist"),
        "directory": (tmp_path / "adir.pt", "is not a file"),
        "zero": (tmp_path / "zero.pt", "is empty"),
        "truncated": (tmp_path / "trunc.pt", "is corrupt"),
        "random": (tmp_path / "random.pt", "is corrupt"),
        "version": (_variant(path, tmp_path / "v.pt", version=1), "has version 1, not 3"),
        "features": (
            _variant(path, tmp_path / "f.pt", features=["time_fraction"]),
            "features ['time_fraction'] differ",
        ),
        "mode": (_variant(path, tmp_path / "m.pt", mode="direct"), "is a 'direct' policy"),
        "instrument": (_variant(path, tmp_path / "i.pt", instrument="spx"), "instrument 'spx'"),
        "layers": (_variant(path, tmp_path / "l.pt", layers=0), "has no layers"),
        "nan": (_variant(path, tmp_path / "nan.pt", w1=nan_first), "non-finite weights in w1"),
        "inf": (_variant(path, tmp_path / "inf.pt", b2=inf_last), "non-finite weights in b2"),
    }
    (tmp_path / "adir.pt").mkdir()
    (tmp_path / "zero.pt").write_bytes(b"")
    (tmp_path / "trunc.pt").write_bytes(good[: len(good) // 3])
    (tmp_path / "random.pt").write_bytes(np.random.default_rng(1).bytes(len(good)))
    for name, (ckpt, needle) in cases.items():
        out = tmp_path / f"out_{name}"
        assert _run(_script(tmp_path, ckpt), out) == 2, name
        err = _one_line_refusal(capsys, needle)
        assert "configs.learned.agents.0.config: checkpoint" in err, err
        assert not out.exists(), name


@pytest.mark.slow
def test_a_nan_weight_checkpoint_is_refused_not_run_as_delta_only(trained, tmp_path, capsys):
    path, _ = trained
    nan = _variant(path, tmp_path / "nan.pt", w0=lambda t: t * float("nan"))
    with pytest.raises(ValueError, match="non-finite weights in w0"):
        load_checkpoint(nan, "residual", "hedge_opt")
    out = tmp_path / "run"
    assert _run(_script(tmp_path, nan), out) == 2
    _one_line_refusal(capsys, "non-finite weights in w0")
    assert not out.exists()


@pytest.mark.slow
def test_a_checkpoint_trained_for_another_scenario_family_is_refused(trained, tmp_path, capsys):
    path, _ = trained
    assert json.loads(torch.load(path, weights_only=True)["meta"])["family"] == (
        load_scenario("cao2023_gbm").family
    )
    out = tmp_path / "run"
    assert _run(_script(tmp_path, path, name="other_desk"), out) == 2
    err = _one_line_refusal(capsys, "was trained for scenario 'cao2023_gbm' (gbm world")
    assert "this is scenario 'other_desk'" in err and "differs in scenario" in err
    assert _run(_script(tmp_path, path), out, "--set", "book.0.qty=-200") == 2
    _one_line_refusal(capsys, "differs in book")
    assert _run(_script(tmp_path, path), out, "--set", "flow=null") == 2
    _one_line_refusal(capsys, "differs in flow")
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--paths", "0"], "--paths must be a whole number in [1, "),
        (["--paths", "-5"], "--paths must be a whole number in [1, "),
        (["--epochs", "0"], "--epochs must be a whole number in [1, "),
        (["--level", "nan"], "--level must be a finite number, got nan"),
        (["--level", "inf"], "--level must be a finite number, got inf"),
        (["--level", "-1"], "--level for mean_std must be c in [0, 100]"),
        (["--objective", "cvar", "--level", "1.5"], "must be a tail fraction in (0, 1]"),
        (["--objective", "entropic", "--level", "0"], "must be an aversion in (0, 100]"),
        (["--seed", "-1"], "--seed must be a whole number"),
        (["--paths", "9000000"], "GiB available: use fewer paths"),
        (["--set", "market.spot=NaN"], "--set market.spot: 'NaN' is not a finite number"),
    ],
)
def test_bad_train_arguments_are_refused_before_anything_is_written(
    args, needle, tmp_path, capsys, monkeypatch
) -> None:
    import orchestration._train_checks
    import orchestration.train

    monkeypatch.setattr(orchestration._train_checks, "_available_bytes", lambda: 8 * 2**30)
    monkeypatch.setattr(orchestration.train, "build_trainset", lambda *a, **k: pytest.fail("built"))
    out = tmp_path / "m.pt"
    assert main(["train", "cao2023_gbm", "--out", str(out), "--no-progress", *args]) == 2
    _one_line_refusal(capsys, needle)
    assert not out.exists()


def test_train_refuses_an_out_that_cannot_be_a_file(tmp_path, capsys) -> None:
    (tmp_path / "adir").mkdir()
    assert main(["train", "cao2023_gbm", "--out", str(tmp_path / "adir"), "--epochs", "1"]) == 2
    _one_line_refusal(capsys, "is a directory")
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / "m.pt"
    assert main(["train", "cao2023_gbm", "--out", str(out), "--epochs", "1"]) == 2
    _one_line_refusal(capsys, "is not a directory")
    with pytest.raises(ScenarioError, match="--epochs must be"):
        train(load_scenario("cao2023_gbm"), paths=10, epochs=0)


def test_train_takes_a_non_uniform_timeline_but_refuses_a_base_agent_it_cannot_run(
    tmp_path, capsys
) -> None:
    # A latency elsewhere adds its orders' arrival steps to the timeline: the
    # training set is the engine's events on that timeline, so it trains. A
    # latency on an agent of the base configuration (around the learned one)
    # trains too (orchestration._train_clock runs it as the engine does); a
    # hedger with a non-BSM model is refused.
    out = tmp_path / "m.pt"
    argv = ["train", "cao2023_gbm", "--out", str(out), "--epochs", "1", "--no-progress"]
    argv += ["--paths", "40"]
    assert main([*argv, "--set", "configs.delta.agents.0.config.latency=5"]) == 0
    assert out.is_file()
    out.unlink()
    late = [*argv, "--set", "configs.delta_gamma.agents.1.config.latency=5"]
    assert main([*late, "--base", "delta_gamma"]) == 0
    meta = json.loads(torch.load(out, weights_only=True)["meta"])
    assert meta["base"] == "delta_gamma" and meta["latency"] == 0.0  # its gamma rule has none
    out.unlink()
    merton = [*argv, "--set", 'configs.delta_gamma.agents.1.config.model={"kind": "merton"}']
    assert main(merton) == 2
    _one_line_refusal(capsys, "name one with --base")
    assert main([*merton, "--base", "delta_gamma"]) == 2
    _one_line_refusal(capsys, "BSM greeks")
    assert not out.exists()
