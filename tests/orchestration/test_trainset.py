"""The trainer's P&L is the engine's: the training set is the engine's events, the
ledger books trades with the engine's formulas, and the trainer's step loop runs the
engine's band rules. Equal to 1e-9 relative on every path, in four worlds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from orchestration import load_scenario
from orchestration._train_pnl import pnl_of_trades, to_device
from orchestration._train_policies import RuleActor, rollout
from orchestration._trainset import build_trainset, engine_trades
from orchestration.config import ScenarioError
from orchestration.train import rule_cascade

#: One scenario per world: gbm (client flow, options held to expiry), macro_gap
#: (rolls, re-strikes, fast-market spreads, four steps a day and the release),
#: heston (quotes at the world's prices), replay (recorded index, one path).
WORLDS = {
    "gbm": ("cao2023_gbm", ["n_paths=64", "days=12"]),
    "macro_gap": ("macro_gap", ["n_paths=64", "days=14"]),
    "heston": ("model_risk", ["n_paths=64", "days=10"]),
    "replay": ("covid_2020", []),
}


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


@pytest.fixture(scope="module", params=sorted(WORLDS))
def world(request):
    name, sets = WORLDS[request.param]
    sc = load_scenario(name, sets)
    results, trades = engine_trades(sc)
    return request.param, sc, results, trades


def test_the_engines_own_fills_give_the_engines_pnl(world) -> None:
    kind, sc, results, trades = world
    hedged = 0
    for cname, hc in sc.configs.items():
        ds = to_device(build_trainset(sc, manager=hc.manager))
        pnl, cost = pnl_of_trades(ds, torch.from_numpy(trades[cname]))
        engine = results[cname]
        assert _rel(pnl.numpy(), engine.pnl) <= 1e-9, (kind, cname)
        np.testing.assert_allclose(cost.numpy(), engine.cost, rtol=1e-9, atol=1e-9)
        hedged += bool(np.any(trades[cname]))
    assert hedged >= 1  # the configurations trade: the test is not of the book alone
    # and the trades matter: the book alone is not the hedged P&L
    some = next(c for c in sc.configs if np.any(trades[c]))
    assert _rel(results[some].pnl, results[next(iter(sc.configs))].pnl) > 1e-6 or some == next(
        iter(sc.configs)
    )


def test_the_rule_agents_run_through_the_trainers_step_loop(world) -> None:
    # The delta/gamma/vega band hedgers' own rule (agents._band.band_trade) in
    # torch, in the engine's cascade order, with the manager's order limits.
    kind, sc, results, _ = world
    for cname, hc in sc.configs.items():
        if any(s.config.get("model") for s in hc.agents):
            continue  # a hedger with a non-BSM model (model_risk's true_delta)
        ds = to_device(build_trainset(sc, manager=hc.manager))
        cascade = [RuleActor(*r) for r in rule_cascade(hc)]
        pnl, cost = rollout(ds, cascade)
        assert _rel(pnl.numpy(), results[cname].pnl) <= 1e-9, (kind, cname)
        np.testing.assert_allclose(cost.numpy(), results[cname].cost, rtol=1e-9, atol=1e-9)


def test_the_pnl_is_differentiable_in_the_trades() -> None:
    sc = load_scenario("macro_gap", ["n_paths=16", "days=12"])
    ds = to_device(build_trainset(sc))
    T, n = ds.ts.n_steps, ds.ts.n_paths
    base = torch.zeros((T, 3, n), dtype=torch.float64)
    base[0, 0] = 1.0  # long one unit of stock (at 0 the spread's subgradient is 0)
    trades = base.requires_grad_(True)
    pnl, _ = pnl_of_trades(ds, trades)
    pnl.sum().backward()
    # one more unit of stock bought at step 0 and held: S_T - S_0 less the half-spread
    g = trades.grad[0, 0].numpy()
    half = 1e-4 * ds.ts.spot[0]
    np.testing.assert_allclose(g, ds.ts.spot[-1] - ds.ts.spot[0] - half, rtol=1e-12)


def test_an_option_held_to_expiry_and_restruck_is_refused() -> None:
    sc = load_scenario("cao2023_gbm", ["n_paths=8"])
    m = sc.market
    insts = tuple(
        i.model_copy(update={"recenter": 0.05}) if i.kind == "option" else i for i in m.instruments
    )
    bad = sc.model_copy(update={"market": m.model_copy(update={"instruments": insts})})
    with pytest.raises(ScenarioError, match="recenter"):
        build_trainset(bad)


def _fixed_fraction_checkpoint(path, sc, instrument: str, logit: float) -> None:
    """A ResidualHedger policy that always answers ``sigmoid(logit)``."""
    import json

    from agents._features import LEGACY_FEATURES
    from orchestration._train_policies import make_net
    from orchestration.train import _fold, save_checkpoint

    net = make_net("mlp", 3, 1, 4, 2)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.linears()[-1].bias.fill_(logit)
    blob = _fold(net, torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
    blob["meta"] = json.dumps(
        {
            "version": 3,
            "policy": "mlp",
            "features": list(LEGACY_FEATURES),
            "actions": {"kind": "fraction", "instruments": [instrument], "rule": "gamma"},
            "hidden": 4,
            "layers": 3,
            "instrument": instrument,
            "mode": "residual",
            "family": sc.family,
        }
    )
    save_checkpoint(blob, path)


@pytest.mark.parametrize(
    ("world", "instrument"), [("gbm", "hedge_opt"), ("macro_gap", "gamma_opt")]
)
def test_a_residual_hedger_at_a_fixed_fraction_has_the_trainers_pnl(world, instrument, tmp_path):
    from orchestration import AgentSpec, HedgeConfig
    from orchestration._train_policies import ActionSpec, LearnedActor, make_net

    name, sets = WORLDS[world]
    sc = load_scenario(name, sets)
    path = tmp_path / "fixed.pt"
    _fixed_fraction_checkpoint(path, sc, instrument, 0.4)
    manager = next(iter(sc.configs.values())).manager
    hc = HedgeConfig(
        agents=(
            AgentSpec(
                cls="agents.deep.ResidualHedger",
                name="residual",
                config={"checkpoint": str(path), "instrument": instrument},
            ),
            AgentSpec(cls="delta"),
        ),
        manager=manager,
    )
    sc = sc.model_copy(update={"configs": {"residual": hc}})
    results, trades = engine_trades(sc)
    ds = to_device(build_trainset(sc, manager=manager))
    pnl, _ = pnl_of_trades(ds, torch.from_numpy(trades["residual"]))
    assert _rel(pnl.numpy(), results["residual"].pnl) <= 1e-9
    # and the policy itself through the trainer's loop: sigmoid(0.4) of the gamma rule
    net = make_net("mlp", 3, 1, 4, 2)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.linears()[-1].bias.fill_(0.4)
    from agents._features import LEGACY_FEATURES

    actor = LearnedActor(
        net, list(LEGACY_FEATURES), ActionSpec("fraction", (instrument,), "gamma"), instrument
    )
    actor.norm.mu = torch.zeros(3, dtype=torch.float64)
    actor.norm.sd = torch.ones(3, dtype=torch.float64)
    cascade = [actor, RuleActor("delta", "underlying", 0.0)]
    with torch.no_grad():
        pnl2, _ = rollout(ds, cascade)
    assert _rel(pnl2.numpy(), results["residual"].pnl) <= 1e-9
    assert np.any(
        trades["residual"][
            :,
            sc.market.instruments.index(
                next(i for i in sc.market.instruments if i.name == instrument)
            ),
        ]
    )
