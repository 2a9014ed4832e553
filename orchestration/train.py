"""Training the learned hedgers on the engine's own events (deep hedging).

A training set is the scenario's market taken once from the engine's
simulator (any world, clock, book and flow; :mod:`orchestration._trainset`);
a policy's trades are booked in torch float64 with the engine's own fill,
roll, expiry, carry and flow formulas (:mod:`orchestration._train_pnl`),
through the engine's cascade with the manager's per-order limits
(:mod:`orchestration._train_policies`). The risk of the terminal P&L is
minimised with Adam (Buehler et al. 2019): mean-std ``E[loss] + c std``,
CVaR at a tail fraction, entropic risk, or ``cost_penalised`` (mean-std plus
``cost_penalty`` times the mean trading cost). Seeded and reproducible.

The learned agent (:class:`agents.deep.LearnedHedger` at inference) takes
the place, in a *base* configuration's cascade, of the rule agents trading
its instruments, in the cascade's gamma slot; the other rule agents of that
configuration run around it (the Cao et al. set-up: a learned option hedge,
then the delta hedger), each with its latency, clock schedule and state
trigger as in the engine (:mod:`orchestration._train_clock`); the learned
agent takes those of the rules it replaces, and the meta records them.
Its actions (:class:`~orchestration._train_policies.ActionSpec`) are target
holdings, trades, a fraction of the trade that neutralises one greek of the
book, or (``cascade``, :mod:`orchestration._train_cascade`) a fraction of
each instrument's rule trade in turn.

The checkpoint (version 3) is ``torch.save`` of tensors and one JSON string,
written atomically and read with ``torch.load(weights_only=True)``: ``mlp``
layers ``w0, b0, ...`` (``W [in, out]``), or ``gru`` as torch names them
(``gru.weight_ih_l0``, ``gru.weight_hh_l0``, ``gru.bias_ih_l0``,
``gru.bias_hh_l0``, ``head.weight``, ``head.bias``); the features'
normalisation is folded into the first layer, so the agent feeds the raw
features of :mod:`agents._features`. The meta names the policy kind, the
features, the actions, the widths, the objective and the scenario family.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from agents import RiskManager, _features
from agents._features import LEGACY_FEATURES
from agents.deep import CHECKPOINT_VERSION
from orchestration._adam import Adam
from orchestration._io import atomic_write_bytes
from orchestration._train_cascade import CascadeActor, CascadeSpec
from orchestration._train_checks import check_device, check_supported, check_train_args
from orchestration._train_clock import AgentClock
from orchestration._train_pnl import to_device
from orchestration._train_policies import (
    ACTION_SCALE,
    RULE_GREEKS,
    ActionSpec,
    LearnedActor,
    RuleActor,
    make_net,
    rollout,
)
from orchestration._trainset import build_trainset
from orchestration.config import HedgeConfig, Scenario, ScenarioError

__all__ = [
    "TrainingDiverged",
    "base_config",
    "check_device",
    "check_supported",
    "check_train_args",
    "learned_clock",
    "objective_fn",
    "rule_cascade",
    "save_checkpoint",
    "train",
]


class TrainingDiverged(RuntimeError):
    """The objective became non-finite while training (exit status 1)."""


def objective_fn(kind: str, level: float, cost_penalty: float = 0.0) -> Callable[..., Any]:
    """The risk of P&L ``R`` to minimise (torch): mean-std, CVaR, entropic or cost-penalised.

    The returned function takes ``(pnl, cost=None)``; ``cost_penalised`` is
    mean-std plus ``cost_penalty * mean(cost)``.
    """
    import torch

    if kind in ("mean_std", "cost_penalised"):
        pen = cost_penalty if kind == "cost_penalised" else 0.0

        def mean_std(pnl: Any, cost: Any = None) -> Any:
            out = (-pnl).mean() + level * pnl.std(unbiased=False)
            return out + pen * cost.mean() if pen and cost is not None else out

        return mean_std
    if kind == "cvar":

        def cvar(pnl: Any, cost: Any = None) -> Any:
            loss = -pnl
            k = max(1, round(level * loss.numel()))
            return torch.topk(loss, k).values.mean()

        return cvar
    if kind == "entropic":
        return lambda pnl, cost=None: (
            torch.logsumexp(-level * pnl, 0) / level - np.log(pnl.numel()) / level
        )
    raise ScenarioError(
        f"objective must be mean_std, cvar, entropic or cost_penalised, got {kind!r}"
    )


def _rule_of(spec: Any) -> tuple[str, str, float, AgentClock] | None:
    """``(greek, instrument, target, clock)`` of a built-in BSM band hedger's spec, else None."""
    from agents._band import BandHedger
    from agents.models import BSMModel

    cls = spec.agent_class
    if not issubclass(cls, BandHedger) or cls.greek not in RULE_GREEKS:
        return None
    cfg = cls.Config.model_validate(spec.config)
    if not isinstance(cfg.model, BSMModel):
        return None
    return str(cls.greek), cfg.instrument, float(cfg.target), AgentClock.of(cfg)


def rule_cascade(hc: HedgeConfig) -> list[tuple[str, str, float, AgentClock]]:
    """A configuration's band hedgers in the engine's cascade order (vega, gamma, delta).

    Each is ``(greek, instrument, target, clock)`` (``RuleActor(*rule)``): its
    clock is its latency and schedule, which the trainer runs as the engine
    does (:mod:`orchestration._train_clock`).

    Raises:
        ScenarioError: An agent the trainer cannot run (not a built-in delta,
            gamma or vega band hedger with BSM greeks).
    """
    from agents.manager_config import cascade_order

    rules = {}
    for spec in hc.agents:
        r = _rule_of(spec)
        if r is None:
            raise ScenarioError(
                f"train: agent {spec.agent_name!r} is not a built-in delta/gamma/vega band "
                "hedger with BSM greeks: the trainer runs only those around the learned policy"
            )
        rules[spec.agent_name] = r
    order = cascade_order([(n, rules[n][0]) for n in rules])
    return [rules[n] for n in order]


def learned_clock(
    rules: list[tuple[str, str, float, AgentClock]], insts: tuple[str, ...]
) -> AgentClock:
    """The learned agent's latency and schedule: those of the rules it replaces.

    Raises:
        ScenarioError: The rules trading its instruments have different clocks.
    """
    clocks = {r[3] for r in rules if r[1] in insts}
    if len(clocks) > 1:
        raise ScenarioError(
            "train: the band hedgers the learned agent replaces have different latencies or "
            "schedules: train on a --base whose hedgers of its instruments share one"
        )
    return clocks.pop() if clocks else AgentClock()


def base_config(scenario: Scenario, instruments: tuple[str, ...], base: str | None) -> str:
    """The configuration whose rule agents the learned one replaces (or runs among).

    Default: the first with the fewest agents whose band hedgers trade every
    instrument of the action.
    """
    if base is not None:
        if base not in scenario.configs:
            raise ScenarioError(
                f"--base {base!r} is not a configuration ({', '.join(scenario.configs)})"
            )
        return base
    best = None
    for name, hc in scenario.configs.items():
        try:
            rules = rule_cascade(hc)
        except ScenarioError:
            continue
        if set(instruments) <= {r[1] for r in rules} and (
            best is None or len(hc.agents) < len(scenario.configs[best].agents)
        ):
            best = name
    if best is None:
        raise ScenarioError(
            f"train: no configuration's band hedgers trade {', '.join(instruments)}: "
            "name one with --base"
        )
    return best


#: Least scale of the ``holding`` feature (hundreds of units) for a policy that starts
#: from holding / trading nothing: the action's scale, ``ACTION_SCALE`` units. Its first
#: rollout's holdings are ~0 with a tiny std, which would make the policy's target
#: hugely sensitive to its own past holdings (training stalls). A ``fraction`` or
#: ``cascade`` policy starts near its rules, so its first rollout's scale is kept.
HOLDING_SD_FLOOR = ACTION_SCALE / 100.0


def _scale_features(actor: LearnedActor, starts_flat: bool = False) -> None:
    import torch

    holding = [_features.parse(f, actor.default)[0].name == "holding" for f in actor.features]
    floor = [HOLDING_SD_FLOOR if h and starts_flat else 0.0 for h in holding]
    actor.norm.fit(torch.tensor(floor, dtype=torch.float64))


def _fold(net: Any, mu: Any, sd: Any) -> dict[str, Any]:
    """The network's tensors with the input normalisation folded into the first layer."""
    import torch

    out: dict[str, Any] = {}
    if net.kind == "mlp":
        for i, lin in enumerate(net.linears()):
            w, b = lin.weight.detach().clone(), lin.bias.detach().clone()
            if i == 0:
                b = b - (w * (mu / sd)[None, :]).sum(1)
                w = w / sd[None, :]
            out[f"w{i}"] = w.T.contiguous().cpu()
            out[f"b{i}"] = b.cpu()
        return out
    sd_ = {k: v.detach().clone() for k, v in net.state_dict().items()}
    w = sd_["gru.weight_ih_l0"]
    sd_["gru.bias_ih_l0"] = sd_["gru.bias_ih_l0"] - (w * (mu / sd)[None, :]).sum(1)
    sd_["gru.weight_ih_l0"] = w / sd[None, :]
    return {k: v.contiguous().cpu().to(torch.float64) for k, v in sd_.items()}


def train(
    scenario: Scenario,
    instrument: str = "hedge_opt",
    mode: str = "residual",
    paths: int = 20_000,
    epochs: int = 300,
    seed: int = 0,
    objective: str = "mean_std",
    level: float | None = None,
    hidden: int = 32,
    on_epoch: Callable[[int, float], None] | None = None,
    *,
    instruments: tuple[str, ...] | None = None,
    policy: str = "mlp",
    features: tuple[str, ...] | None = None,
    layers: int = 2,
    base: str | None = None,
    cost_penalty: float = 1.0,
    device: str = "cpu",
    lr: float = 0.01,
    action: str | None = None,
    rule: str | None = None,
    rules: tuple[str, ...] | None = None,
) -> tuple[dict[str, Any], list[float]]:
    """Train a policy on the scenario's market; return the checkpoint blob and losses.

    Args:
        scenario: Any scenario (see :func:`check_supported`).
        instrument: The instrument it trades when ``instruments`` is None.
        mode: ``"residual"`` (action ``fraction``) or ``"direct"`` (action
            ``trade``), when ``action`` is None (the legacy agents' modes).
        paths: Training paths (one full batch).
        epochs: Adam steps.
        seed: Seeds the market paths (``seed``; the scenario's own seed is for
            held-out runs) and the initial weights.
        objective: ``mean_std`` (level c, default the scenario's risk
            aversion), ``cvar`` (tail fraction, 0.05), ``entropic`` (aversion,
            0.1) or ``cost_penalised`` (mean-std plus ``cost_penalty`` x mean cost).
        level: The objective's parameter.
        hidden: Width of the hidden layers (GRU state).
        on_epoch: Called with (epoch, objective value) after each step.
        instruments: The instruments it trades, in order.
        policy: ``"mlp"`` or ``"gru"``.
        features: Feature names (:mod:`agents._features`); default the legacy three.
        layers: Hidden layers of the MLP (1 for the GRU).
        base: The configuration whose band hedgers it replaces and runs among.
        cost_penalty: Weight of the mean cost in ``cost_penalised``.
        device: ``cpu``, ``cuda`` or ``auto``.
        lr: Adam's learning rate.
        action: ``holdings``, ``fraction``, ``trade`` or ``cascade`` (see
            :class:`~orchestration._train_policies.ActionSpec`).
        rule: The greek a ``fraction`` action neutralises (default: that of the
            base's hedger of the instrument).
        rules: The greek per instrument a ``cascade`` neutralises (default:
            those of the base's hedgers of the instruments).
    """
    import torch

    insts = tuple(instruments) if instruments is not None else (instrument,)
    lvl = check_train_args(scenario, paths, epochs, objective, level, hidden, seed, mode)
    if policy not in ("mlp", "gru"):
        raise ScenarioError(f"--policy must be mlp or gru, got {policy!r}")
    dev = check_device(device)
    if isinstance(layers, bool) or not isinstance(layers, int) or not 1 <= layers <= 16:
        raise ScenarioError(f"--layers must be a whole number in [1, 16], got {layers!r}")
    if not (isinstance(cost_penalty, int | float) and 0.0 <= cost_penalty <= 1e6):
        raise ScenarioError(f"--cost-penalty must be a number in [0, 1e6], got {cost_penalty!r}")
    check_supported(scenario, insts)
    feats = list(features) if features is not None else list(LEGACY_FEATURES)
    default = insts[0]  # a bare per-instrument feature means the first action instrument
    try:
        for f in feats:
            _features.parse(f, default)
    except _features.FeatureError as exc:
        raise ScenarioError(f"--features: {exc}") from None
    bname = base_config(scenario, insts, base)
    hc = scenario.configs[bname]
    if hc.manager_class is not RiskManager:
        raise ScenarioError(
            f"train: configuration {bname!r} names a custom manager "
            f"({hc.manager_class.__name__}), whose hooks training does not run: train on "
            "another --base"
        )
    base_rules = rule_cascade(hc)
    kind = action if action is not None else ("fraction" if mode == "residual" else "trade")
    if kind not in ("holdings", "fraction", "trade", "cascade"):
        raise ScenarioError(f"--action must be holdings, fraction, trade or cascade, got {kind!r}")
    replaced = {r[1]: r[0] for r in base_rules if r[1] in insts}
    greek = rule
    if kind == "fraction":
        if len(insts) != 1:
            raise ScenarioError("a fraction action scales one rule's trade: name one instrument")
        greek = rule or replaced.get(insts[0]) or "gamma"
        if greek not in RULE_GREEKS:
            raise ScenarioError(f"--rule must be delta, gamma or vega, got {greek!r}")
    spec = ActionSpec(kind, insts, greek or "gamma")
    if kind == "cascade":
        cas = tuple(rules) if rules is not None else tuple(replaced.get(i, "") for i in insts)
        if len(cas) != len(insts) or not set(cas) <= set(RULE_GREEKS):
            raise ScenarioError(
                f"--rules must name delta, gamma or vega for each of {', '.join(insts)}, "
                f"got {','.join(cas)!r}"
            )
        spec = CascadeSpec(kind, insts, "gamma", cas)
    ts = build_trainset(scenario, paths, seed, manager=hc.manager_config)
    ds = to_device(ts, dev)
    torch.manual_seed(seed)
    n_layers = layers if policy == "mlp" else 1
    net = make_net(policy, len(feats), len(insts), hidden, n_layers).to(dev)
    head = net.linears()[-1] if policy == "mlp" else net.head
    if kind == "fraction":
        torch.nn.init.constant_(head.bias, 2.0)  # start near the rule (sigmoid(2) = 0.88)
    elif kind == "cascade":  # near the base's rules where it runs one (0.88), else near 0.02
        with torch.no_grad():
            head.bias.copy_(torch.tensor([2.0 if i in replaced else -4.0 for i in insts]))
    else:  # start from holding / trading nothing (outputs are 100 units each)
        with torch.no_grad():
            head.weight.mul_(0.01)
            head.bias.zero_()
    actor = (CascadeActor if kind == "cascade" else LearnedActor)(net, feats, spec, default)
    actor.clock = learned_clock(base_rules, insts)  # the replaced rules' latency and schedule
    # The learned agent runs in the cascade's gamma slot (agents.deep.LearnedHedger.greek)
    # among the base configuration's band hedgers that trade other instruments.
    from agents.manager_config import cascade_order

    kept = {f"rule{j}": r for j, r in enumerate(base_rules) if r[1] not in insts}
    order = cascade_order([*((n, r[0]) for n, r in kept.items()), ("learned", "gamma")])
    cascade: list[Any] = [actor if n == "learned" else RuleActor(*kept[n]) for n in order]
    risk = objective_fn(objective, lvl, cost_penalty)
    with torch.no_grad():  # the features' centre and scale, on the initial policy's paths
        rollout(ds, cascade)
    _scale_features(actor, kind in ("holdings", "trade"))  # floored where it holds ~0
    opt = Adam(net.parameters(), lr=lr)
    losses: list[float] = []
    for epoch in range(epochs):
        opt.zero_grad()
        pnl, cost = rollout(ds, cascade)
        loss = risk(pnl, cost)
        if not torch.isfinite(loss):
            raise TrainingDiverged(
                f"training diverged at epoch {epoch + 1}: the objective is {float(loss)} "
                "(try another --level or --seed)"
            )
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if on_epoch is not None:
            on_epoch(epoch, losses[-1])
    if not all(bool(torch.isfinite(p).all()) for p in net.parameters()):
        raise TrainingDiverged(
            "training diverged: the weights are not finite (try another --level)"
        )
    blob = _fold(net, actor.norm.mu, actor.norm.sd)
    try:
        version = metadata.version("gammaray")
    except metadata.PackageNotFoundError:  # pragma: no cover
        version = "unknown"
    option_cost = max(
        (scenario.instrument_costs()[i].fee_pct / 100.0 for i in insts if i != "underlying"),
        default=0.0,
    )
    blob["meta"] = json.dumps(
        {
            "version": CHECKPOINT_VERSION,
            "policy": policy,
            "features": feats,
            "actions": spec.to_json(),
            "hidden": hidden,
            "layers": n_layers + 1 if policy == "mlp" else 1,
            "instrument": default,
            "mode": {"fraction": "residual", "trade": "direct"}.get(kind, kind),
            "base": bname,
            **actor.clock.to_json("gamma"),
            "horizon_days": scenario.days,
            "objective": objective,
            "level": lvl,
            "cost_penalty": cost_penalty if objective == "cost_penalised" else 0.0,
            "scenario": scenario.name,
            "family": scenario.family,
            "option_cost": option_cost,
            "seed": seed,
            "paths": paths,
            "epochs": epochs,
            "device": dev,
            "code_version": version,
        }
    )
    return blob, losses


def save_checkpoint(blob: dict[str, Any], path: Path) -> None:
    """Write a checkpoint atomically (``torch.save`` of tensors and a JSON string)."""
    import torch

    buf = io.BytesIO()
    torch.save(blob, buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())
