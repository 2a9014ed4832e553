"""Learned policies at inference: GRU == torch.nn.GRU, the agent contract, actions, limits."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from agents import BookPosition, ManagerConfig, RiskManager
from agents._policy_nets import GRUParams, gru_step, mlp_outputs
from agents.deep import (
    CHECKPOINT_VERSION,
    CheckpointError,
    LearnedHedger,
    LearnedHedgerConfig,
    PolicySpec,
    load_checkpoint,
)
from agents.testing import AgentContractError, _market, check_agent

CHECK_FAMILY = {"scenario": "check", "market": "gbm", "book": [], "flow": None}
FEATURES = [
    "gamma_gap",
    "time_fraction",
    "vega_gap:vega_opt",
    "log_moneyness:gamma_opt",
    "time_to_expiry:gamma_opt",
    "holding:gamma_opt",
    "holding:underlying",
    "book_delta",
    "book_gamma",
    "book_vega",
    "atm_vol",
    "time_to_event",
]
HOLD = {"kind": "holdings", "instruments": ["gamma_opt", "underlying"]}


def policy_tensors(
    policy: str,
    n_in: int,
    n_out: int,
    hidden: int = 5,
    layers: int = 2,
    seed: int = 0,
    scale: float = 0.5,
) -> dict[str, torch.Tensor]:
    """Random weights of an MLP (``w{i} [in, out]``) or a GRU + head (PyTorch's names)."""
    gen = torch.Generator().manual_seed(seed)

    def rnd(*shape: int) -> torch.Tensor:
        return scale * torch.randn(*shape, generator=gen, dtype=torch.float64)

    if policy == "gru":
        return {
            "gru.weight_ih_l0": rnd(3 * hidden, n_in),
            "gru.weight_hh_l0": rnd(3 * hidden, hidden),
            "gru.bias_ih_l0": rnd(3 * hidden),
            "gru.bias_hh_l0": rnd(3 * hidden),
            "head.weight": rnd(n_out, hidden),
            "head.bias": rnd(n_out),
        }
    widths = [n_in] + [hidden] * (layers - 1) + [n_out]
    out = {}
    for i in range(layers):
        out[f"w{i}"] = rnd(widths[i], widths[i + 1])
        out[f"b{i}"] = rnd(widths[i + 1])
    return out


def write_policy(
    path: Path,
    policy: str = "gru",
    features: list[str] | None = None,
    actions: dict[str, Any] | None = None,
    hidden: int = 5,
    layers: int | None = None,
    family: dict[str, Any] | None = None,
    seed: int = 0,
    scale: float = 0.5,
    tensors: dict[str, torch.Tensor] | None = None,
    **meta: Any,
) -> Path:
    """A version-3 checkpoint (the container ``gammaray train`` writes); ``meta`` overrides."""
    features = FEATURES if features is None else features
    actions = HOLD if actions is None else actions
    layers = (1 if policy == "gru" else 2) if layers is None else layers
    blob: dict[str, Any] = dict(
        tensors
        if tensors is not None
        else policy_tensors(
            policy, len(features), len(actions["instruments"]), hidden, layers, seed, scale
        )
    )
    info = {
        "version": CHECKPOINT_VERSION,
        "policy": policy,
        "features": features,
        "actions": actions,
        "hidden": hidden,
        "layers": layers,
        "family": CHECK_FAMILY if family is None else family,
        "objective": "cvar",
    } | meta
    blob["meta"] = json.dumps({k: v for k, v in info.items() if v is not None})
    buf = io.BytesIO()
    torch.save(blob, buf)
    path.write_bytes(buf.getvalue())
    return path


def learned_config(path: Path, policy: str = "gru", **kw: Any) -> dict[str, Any]:
    return {
        "checkpoint": str(path),
        "policy": policy,
        "features": kw.pop("features", FEATURES),
        "actions": kw.pop("actions", HOLD),
        **kw,
    }


# ------------------------------------------------------------------ the networks
@settings(max_examples=25, deadline=None)
@given(
    n_in=st.integers(1, 6),
    hidden=st.integers(1, 8),
    n_out=st.integers(1, 3),
    n=st.integers(1, 9),
    steps=st.integers(1, 5),
    seed=st.integers(0, 2**31 - 1),
)
def test_gru_step_equals_torch_nn_gru_and_linear(n_in, hidden, n_out, n, steps, seed) -> None:
    torch.manual_seed(seed)
    gru = torch.nn.GRU(n_in, hidden, batch_first=True).double()
    head = torch.nn.Linear(hidden, n_out).double()
    with torch.no_grad():  # not just the default init range
        for p in (*gru.parameters(), *head.parameters()):
            p.mul_(3.0)
    x = torch.randn(n, steps, n_in, dtype=torch.float64) * 2.0
    with torch.no_grad():
        seq, h_last = gru(x)
        want = head(seq).numpy()
    params = GRUParams(
        *(t.detach().numpy().copy() for t in (*gru.parameters(), *head.parameters()))
    )
    h = np.zeros((n, hidden))
    for s in range(steps):
        out, h = gru_step(params, x[:, s].numpy(), h)
        np.testing.assert_allclose(out, want[:, s], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(h, seq[:, s].numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h, h_last[0].numpy(), rtol=1e-12, atol=1e-12)


def test_gru_and_mlp_rows_do_not_depend_on_their_batch() -> None:
    t = policy_tensors("gru", 4, 2, hidden=6)
    p = GRUParams(*(v.numpy() for v in t.values()))
    rng = np.random.default_rng(1)
    x, h = rng.normal(size=(33, 4)), rng.normal(size=(33, 6))
    out, h1 = gru_step(p, x, h)
    for i in (0, 7, 32):
        o, hi = gru_step(p, x[i : i + 1], h[i : i + 1])
        assert o.tobytes() == out[i : i + 1].tobytes() and hi.tobytes() == h1[i : i + 1].tobytes()
    m = policy_tensors("mlp", 4, 2, hidden=6, layers=3)
    mp = [(m[f"w{i}"].numpy(), m[f"b{i}"].numpy()) for i in range(3)]
    full = mlp_outputs(mp, x)
    assert mlp_outputs(mp, x[5:6]).tobytes() == full[5:6].tobytes()
    seq = torch.nn.Sequential(
        torch.nn.Linear(4, 6),
        torch.nn.Tanh(),
        torch.nn.Linear(6, 6),
        torch.nn.Tanh(),
        torch.nn.Linear(6, 2),
    ).double()
    with torch.no_grad():
        for i, lin in enumerate(m_ for m_ in seq if isinstance(m_, torch.nn.Linear)):
            lin.weight.copy_(m[f"w{i}"].T)
            lin.bias.copy_(m[f"b{i}"])
        want = seq(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(full, want, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------- the agent
@pytest.mark.parametrize("policy", ["gru", "mlp"])
def test_learned_agent_passes_check_agent(tmp_path: Path, policy: str) -> None:
    path = write_policy(tmp_path / "p.pt", policy)
    check_agent(LearnedHedger, learned_config(path, policy))


def test_a_gru_whose_snapshot_drops_the_hidden_state_fails_check_agent(tmp_path: Path) -> None:
    """The check is not vacuous: the hidden state changes the orders."""

    class Forgetful(LearnedHedger):
        def snapshot(self) -> dict[str, Any]:
            return {"hidden": None}

    path = write_policy(tmp_path / "p.pt", "gru")
    with pytest.raises(AgentContractError, match="does not round-trip"):
        check_agent(Forgetful, learned_config(path))


def _drive(agent: LearnedHedger, steps: int = 6, manager: ManagerConfig | None = None):
    """The agent alone under a manager on check_agent's market; its orders and the booked ones."""
    market = _market(3)
    mgr = RiskManager(
        manager or ManagerConfig(budget=50.0),
        [agent.name],
        (BookPosition(is_call=True, expiry_days=30.0, qty=-10.0),),
        market.n_paths,
        365.0,
    )
    sent, booked, views = [], [], []
    for step in range(steps):
        events = market.start() if step == 0 else market.step()
        turn = mgr.begin_step(events)
        views.append((events[-1], turn.view))
        orders = agent.step(events, turn)
        mgr.submit(agent.name, orders)
        booked.append([o for o in mgr._orders if o.sender == agent.name])
        mgr.settle()
        sent.append(orders)
    return sent, booked, views, mgr


def test_holdings_orders_are_target_minus_position_from_the_gru(tmp_path: Path) -> None:
    path = write_policy(tmp_path / "p.pt", "gru")
    agent = LearnedHedger("l", LearnedHedgerConfig.model_validate(learned_config(path)))
    sent, _, views, _ = _drive(agent)
    params = load_checkpoint(path, agent.config.spec)["params"]
    from agents import _features

    h = np.zeros((views[0][0].n_paths, 5))
    for orders, (ev, view) in zip(sent, views, strict=True):
        insts = ["gamma_opt", "underlying", "vega_opt"]
        ctx = _features.context_from_event(ev, view, 30 / 365, insts)
        x = _features.stack(FEATURES, ctx, np, "gamma_opt")
        out, h = gru_step(params, x, h)
        assert [o.instrument for o in orders] == ["gamma_opt", "underlying"]
        for k, o in enumerate(orders):
            held = view.positions.get(o.instrument, 0.0)
            assert o.qty.tobytes() == (100.0 * out[:, k] - held).tobytes()
    assert any(np.abs(o.qty).max() > 0 for o in sent[-1])


def test_the_managers_hard_limits_bind_a_learned_agent(tmp_path: Path) -> None:
    path = write_policy(tmp_path / "p.pt", "mlp", scale=0.3)
    cfg = LearnedHedgerConfig.model_validate(learned_config(path, "mlp"))
    free, free_booked, _, _ = _drive(LearnedHedger("l", cfg))
    for sent_k, booked_k in zip(free, free_booked, strict=True):  # no limit: booked as sent
        assert [o.qty.tobytes() for o in booked_k] == [o.qty.tobytes() for o in sent_k]
    limit = float(np.median(np.abs(np.concatenate([o[0].qty for o in free]))))
    sent, booked, _, mgr = _drive(
        LearnedHedger("l", cfg), manager=ManagerConfig(budget=50.0, max_order={"gamma_opt": limit})
    )
    over = 0
    for sent_k, booked_k in zip(sent, booked, strict=True):
        q = sent_k[0].qty
        (b,) = [o for o in booked_k if o.instrument == "gamma_opt"]
        assert b.qty.tobytes() == np.where(np.abs(q) > limit, 0.0, q).tobytes()
        over += int((np.abs(q) > limit).sum())
    assert 0 < over < sum(len(k[0].qty) for k in sent)
    assert mgr.rejected.sum() == over


def test_a_fraction_action_scales_the_rule_trade(tmp_path: Path) -> None:
    acts = {"kind": "fraction", "instruments": ["gamma_opt"], "rule": "gamma"}
    feats = ["gamma_gap", "time_fraction", "vega_gap:vega_opt"]
    path = write_policy(tmp_path / "p.pt", "mlp", features=feats, actions=acts)
    cfg = LearnedHedgerConfig.model_validate(
        learned_config(path, "mlp", features=feats, actions=acts)
    )
    agent = LearnedHedger("l", cfg)
    sent, _, views, _ = _drive(agent, steps=3)
    for orders, (ev, view) in zip(sent, views, strict=True):
        frac = 1.0 / (1.0 + np.exp(-agent.policy_outputs(ev, view)[:, 0]))
        need = -view.gamma / view.hedge_greeks.get("gamma_opt", {}).get(
            "gamma", ev.quote("gamma_opt").gamma
        )
        np.testing.assert_allclose(orders[0].qty, frac * need, rtol=1e-14)
        assert np.all((frac > 0) & (frac < 1))


# --------------------------------------------------------------- refusals
def _refusals(tmp_path: Path) -> list[tuple[str, Path, dict[str, Any], str]]:
    cases = []

    def case(label: str, needle: str, agent: dict[str, Any] | None = None, **kw: Any) -> None:
        path = write_policy(tmp_path / f"{label}.pt", **kw)
        cases.append((label, path, agent or {}, needle))

    case("unknown_feature", "unknown feature 'moneyness'", features=["moneyness", *FEATURES[1:]])
    case("other_features", "features ['time_fraction'", features=["time_fraction"])
    case("policy_kind", "is a mlp policy, this agent runs a gru policy", policy="mlp")
    case("unknown_policy", "has policy 'lstm', not mlp or gru", policy="lstm")
    case(
        "action_kind",
        "acts by 'fraction', this agent by 'holdings'",
        actions={"kind": "fraction", "instruments": ["gamma_opt"]},
        tensors=policy_tensors("gru", len(FEATURES), 1),
    )
    case(
        "instruments",
        "acts on instruments ['vega_opt', 'underlying'], this agent on ['gamma_opt', 'underlying']",
        actions={"kind": "holdings", "instruments": ["vega_opt", "underlying"]},
    )
    case(
        "no_action_instruments",
        "names no action instruments",
        actions={"kind": "holdings", "instruments": []},
    )
    case(
        "unknown_action",
        "has action kind 'sell', not one of",
        actions={"kind": "sell", "instruments": ["x"]},
    )
    case("gru_layers", "has 2 GRU layers; one is read", layers=2)
    case("no_hidden", "has no GRU hidden size", hidden=0, tensors=policy_tensors("gru", 12, 2))
    case(
        "gru_shape",
        "tensor gru.weight_ih_l0 has shape [15, 12], expected [21, 12] (hidden 7",
        hidden=7,
        tensors=policy_tensors("gru", 12, 2, hidden=5),
    )
    case("version", "has version 4, not 3", version=4)
    return cases


def test_every_mismatched_checkpoint_is_refused_in_one_line(tmp_path: Path) -> None:
    cases = _refusals(tmp_path)
    assert len(cases) == 12
    spec = LearnedHedgerConfig.model_validate(learned_config(Path("x"))).spec
    for label, path, _, needle in cases:
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path, spec, family=CHECK_FAMILY)
        msg = str(info.value)
        assert needle in msg, (label, msg)
        assert "\n" not in msg and repr(str(path)) in msg, (label, msg)


def test_a_good_v3_checkpoint_loads_and_the_family_is_checked(tmp_path: Path) -> None:
    path = write_policy(tmp_path / "p.pt")
    cfg = LearnedHedgerConfig.model_validate(learned_config(path))
    ck = load_checkpoint(path, cfg.spec, family=CHECK_FAMILY)
    assert isinstance(ck["params"], GRUParams) and ck["params"].hidden == 5
    assert ck["spec"] == PolicySpec(
        "gru",
        tuple(FEATURES),
        "holdings",
        ("gamma_opt", "underlying"),
        clock='{"latency": 0.0, "schedule": {"kind": "every_step"}}',
    )  # no latency nor schedule in the meta: 0 s, every step
    with pytest.raises(CheckpointError, match="was trained for scenario 'check'"):
        LearnedHedger.check_scenario(cfg, CHECK_FAMILY | {"scenario": "macro_gap"})


def test_bad_learned_configs_are_refused_when_validated(tmp_path: Path) -> None:
    base = learned_config(tmp_path / "p.pt")
    with pytest.raises(ValueError, match="unknown feature 'nope'"):
        LearnedHedgerConfig.model_validate(base | {"features": ["nope"]})
    with pytest.raises(ValueError, match="scales one rule's trade"):
        LearnedHedgerConfig.model_validate(
            base | {"actions": {"kind": "fraction", "instruments": ["a", "b"]}}
        )
    with pytest.raises(ValueError, match="repeats a name"):
        LearnedHedgerConfig.model_validate(
            base | {"actions": {"kind": "holdings", "instruments": ["a", "a"]}}
        )


def test_an_unlisted_action_instrument_fails_at_the_first_step_in_one_line(tmp_path: Path) -> None:
    from agents.base import AgentError

    acts = {"kind": "holdings", "instruments": ["spx_opt"]}
    feats = ["time_fraction", "holding:spx_opt"]
    path = write_policy(tmp_path / "p.pt", "mlp", features=feats, actions=acts)
    cfg = LearnedHedgerConfig.model_validate(
        learned_config(path, "mlp", features=feats, actions=acts)
    )
    with pytest.raises(AgentError) as info:
        _drive(LearnedHedger("l", cfg), steps=1)
    msg = str(info.value)
    assert "step 0" in msg and "'spx_opt' is not listed" in msg and "\n" not in msg
