"""Training the learned hedger: reproducible, consistent with the engine, beats delta-gamma."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from agents.deep import load_checkpoint
from orchestration import AgentSpec, HedgeConfig, config_metrics, load_scenario, run_local
from orchestration.cli import main
from orchestration.config import ScenarioError
from orchestration.train import precompute, rollout, save_checkpoint, train
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


def test_training_is_seeded_and_improves_the_objective(trained) -> None:
    _, losses = trained
    assert losses[-1] < losses[0] - 0.2
    sc = load_scenario("cao2023_gbm")
    a, la = train(sc, paths=500, epochs=3, seed=4)
    b, lb = train(sc, paths=500, epochs=3, seed=4)
    assert la == lb and all(torch.equal(a[k], b[k]) for k in a if k != "meta")


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


def test_training_simulator_agrees_with_the_engine_for_the_rule() -> None:
    sc = load_scenario("cao2023_gbm", ["n_paths=8000"])
    pre = precompute(sc, 8000, seed=11, instrument="hedge_opt")
    rule = rollout(pre, lambda x: torch.full((x.shape[0], 1), 60.0, dtype=x.dtype), "residual")
    sim = float(-rule.mean() + 1.645 * rule.std(unbiased=False))
    res = run_local(sc)["delta_gamma"]
    engine = config_metrics(res, 1.645)["mean_std_objective"]
    # independent paths: the two estimates differ by Monte Carlo error only
    # (~0.7% each here); allow 3 standard errors of the difference (2.8%).
    se = np.hypot(_objective_se(rule.numpy(), 1.645), _objective_se(res.pnl, 1.645))
    assert abs(sim - engine) < 3 * se, (sim, engine, se)
    assert 3 * se < 0.03 * engine  # the bound is that tight, not loose


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


def test_actions_do_not_depend_on_sharding(trained) -> None:
    path, _ = trained
    sc = _with_learned(path, n_paths=2500)
    one, three = run_local(sc), run_local(sc, shards=3)
    assert one["learned"].pnl.tobytes() == three["learned"].pnl.tobytes()


@pytest.mark.usefixtures("ray_session")
def test_a_trained_agent_runs_on_ray_with_the_same_pnl(trained) -> None:
    from orchestration.ray_runtime import run_ray

    path, _ = trained
    sc = _with_learned(path, n_paths=200)
    local, remote = run_local(sc), run_ray(sc)
    assert local["learned"].pnl.tobytes() == remote["learned"].pnl.tobytes()


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
    assert main(["train", "macro_gap", "--out", str(tmp_path / "x.pt"), "--epochs", "1"]) == 2
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


@pytest.mark.parametrize("objective", ["cvar", "entropic"])
def test_other_objectives_train(objective: str) -> None:
    _, losses = train(load_scenario("cao2023_gbm"), paths=400, epochs=5, objective=objective)
    assert np.all(np.isfinite(losses))


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
