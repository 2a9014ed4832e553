"""Learned hedgers: policy networks trained on the simulator (deep hedging).

:class:`LearnedHedger` is the general learned agent: its config names the
features (:mod:`agents._features`), the policy kind (``mlp`` or ``gru``, a
recurrent policy whose hidden state is carried across steps and is part of
:meth:`~agents.Agent.snapshot`) and the actions:

* ``holdings``: target holdings ``100 · f(x)_k`` units in each listed
  instrument ``k`` of ``actions.instruments`` (the underlying and options);
  the order is the target minus the book's current position;
* ``fraction``: a learned fraction ``sigmoid(f(x))`` in ``[0, 1]`` of a rule's
  trade in one instrument (the residual overlay; ``rule`` gamma, vega or delta:
  the trade that makes the book's greek neutral);
* ``trade``: a trade of ``100 · f(x)_k`` units (the legacy direct policy);
* ``cascade``: a fraction ``sigmoid(f(x)_k)`` of the trade in instrument
  ``k`` that makes the book's ``rules[k]`` greek neutral, the instruments
  taken in order with the book's greeks moved by the earlier instruments'
  trades (the engine's cascade, e.g. vega, gamma, delta, each rule scaled by
  the policy: one agent trading the options and the underlying).

Orders go through the manager like any agent's, so its hard limits
(``max_order``, ``hard_limit``) bind learned agents too.

The legacy agents of version-2 policies stay: :class:`ResidualHedger` trades
``a · n`` hedge options with ``a = sigmoid(f(x))`` and ``n = -gamma_book /
gamma_hedge`` (the delta-gamma rule's trade times a learned fraction);
:class:`DeepHedger` trades ``100 · f(x)`` hedge options. Their state is the
three features ``gamma_gap``, ``time_fraction``, ``vega_gap``.

Training (:mod:`orchestration.train`) differentiates the hedged P&L through
simulated paths. Inference here runs the trained weights in numpy float64,
with every product summed over the (small) feature axis explicitly
(:mod:`agents._policy_nets`): a path's action does not depend on which other
paths share its batch, so sharded and unsharded runs give the same bits. No
torch import is needed at inference but to read the checkpoint, with
``torch.load(weights_only=True)`` (no pickle code runs), validated when the
scenario is (:mod:`agents._checkpoint`: every refusal is one line).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from agents._checkpoint import (
    ACTION_KINDS,
    CHECKPOINT_VERSION,
    GRU_TENSORS,
    MAX_CHECKPOINT_BYTES,
    MAX_LAYERS,
    MAX_WEIGHT,
    CheckpointError,
    PolicySpec,
    check_family,
    clock_json,
    describe_family,
    load_checkpoint,
)
from agents._features import LEGACY_FEATURES, TINY, context_from_event, instruments_of, parse, stack
from agents._policy_nets import GRUParams, gru_step, mlp_forward, mlp_outputs
from agents.base import Agent, AgentConfig
from market.events import MarketEvent, Order, RiskSnapshot
from market.validation import StrictModel

#: The legacy agents' state vector, in order (a version-2 checkpoint names it).
FEATURES = LEGACY_FEATURES
#: Units per policy output of the ``holdings`` and ``trade`` actions.
ACTION_SCALE = 100.0

__all__ = [
    "ACTION_KINDS",
    "ACTION_SCALE",
    "CHECKPOINT_VERSION",
    "FEATURES",
    "GRU_TENSORS",
    "MAX_CHECKPOINT_BYTES",
    "MAX_LAYERS",
    "MAX_WEIGHT",
    "ActionSpec",
    "CheckpointError",
    "DeepHedger",
    "LearnedHedger",
    "LearnedHedgerConfig",
    "PolicySpec",
    "ResidualHedger",
    "check_family",
    "describe_family",
    "load_checkpoint",
    "mlp_forward",
    "state_vector",
]


def state_vector(
    view_gamma: np.ndarray,
    view_vega: np.ndarray,
    hedge_gamma: np.ndarray,
    hedge_vega: np.ndarray,
    time_fraction: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The policy's input per path, and the gamma-neutralising trade ``n``.

    Args:
        view_gamma: Book gamma per path (per unit spot²), ``[n]``.
        view_vega: Book vega per path (per 1.00 vol), ``[n]``.
        hedge_gamma: Hedge option's gamma per unit, ``[n]``.
        hedge_vega: Hedge option's vega per unit, ``[n]``.
        time_fraction: Elapsed fraction of the horizon.

    Returns:
        ``(x [n, 3], n_needed [n])``.
    """
    safe_g = np.where(np.abs(hedge_gamma) > 1e-12, hedge_gamma, np.inf)
    safe_v = np.where(np.abs(hedge_vega) > 1e-12, hedge_vega, np.inf)
    needed = -view_gamma / safe_g
    x = np.stack(
        [needed / 100.0, np.full(needed.shape, time_fraction), -view_vega / safe_v / 100.0], axis=1
    )
    return x, needed


class LearnedConfig(AgentConfig):
    """Config of a legacy learned hedger (:class:`ResidualHedger`, :class:`DeepHedger`).

    Attributes:
        checkpoint: Path of the trained policy (``gammaray train ... --out``).
        instrument: The hedge option it trades.
        horizon_days: The horizon the time feature is a fraction of, days.
        year_days: Days per year of the scenario.
    """

    checkpoint: str = Field(min_length=1)
    instrument: str = "hedge_opt"
    horizon_days: float = Field(30.0, gt=0.0, le=36_525.0)
    year_days: float = Field(252.0, ge=1.0, le=366.0)


class _Learned(Agent):
    """Shared machinery: load the policy once, compute the state, act."""

    Config: ClassVar[type[AgentConfig]] = LearnedConfig
    greek: ClassVar[str | None] = "gamma"
    mode: ClassVar[str] = "residual"
    config: LearnedConfig

    def __init__(self, name: str, config: AgentConfig | None = None, **kw: Any) -> None:
        super().__init__(name, config, **kw)
        ckpt = load_checkpoint(self.config.checkpoint, self.mode, self.config.instrument)
        self.params = ckpt["params"]

    @classmethod
    def check_scenario(cls, config: AgentConfig, family: Mapping[str, Any]) -> None:
        """Load the checkpoint: it must be valid and trained for this scenario's family."""
        if not isinstance(config, LearnedConfig):
            raise TypeError(f"{cls.__name__} needs a LearnedConfig")
        load_checkpoint(config.checkpoint, cls.mode, config.instrument, family)

    def _act(self, out: np.ndarray, needed: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def on_market(self, event: MarketEvent, view: RiskSnapshot) -> list[Order]:
        """Trade the hedge option by the policy's action."""
        q = event.quote(self.config.instrument)
        hedge = view.hedge_greeks.get(self.config.instrument, {})
        tf = event.time * self.config.year_days / self.config.horizon_days
        x, needed = state_vector(
            view.gamma, view.vega, hedge.get("gamma", q.gamma), hedge.get("vega", q.vega), tf
        )
        qty = self._act(mlp_forward(self.params, x), needed)
        return [self.order(self.config.instrument, np.where(np.isfinite(qty), qty, 0.0))]


class ResidualHedger(_Learned):
    """The delta-gamma rule's option trade times a learned fraction in [0, 1]."""

    mode: ClassVar[str] = "residual"

    def _act(self, out: np.ndarray, needed: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):  # exp overflow: a fraction of exactly 0
            return needed / (1.0 + np.exp(-out))


class DeepHedger(_Learned):
    """A model-free policy: the option trade is ``100 · f(state)`` units."""

    mode: ClassVar[str] = "direct"

    def _act(self, out: np.ndarray, needed: np.ndarray) -> np.ndarray:
        return 100.0 * out


class ActionSpec(StrictModel):
    """What a learned policy's outputs do.

    Attributes:
        kind: ``"holdings"`` (target units ``100 · f_k``), ``"fraction"`` (a
            fraction ``sigmoid(f)`` of the ``rule``'s trade), ``"trade"``
            (``100 · f_k`` units traded) or ``"cascade"`` (a fraction
            ``sigmoid(f_k)`` of ``rules[k]``'s trade in instrument ``k``, in order).
        instruments: Listed instruments, one policy output each (``fraction``: one).
        rule: The greek the ``fraction`` rule neutralises.
        rules: For ``cascade``: the greek each instrument's rule neutralises.
    """

    kind: Literal["holdings", "fraction", "trade", "cascade"] = "holdings"
    instruments: tuple[str, ...] = Field(min_length=1)
    rule: Literal["gamma", "vega", "delta"] = "gamma"
    rules: tuple[Literal["gamma", "vega", "delta"], ...] = ()

    @model_validator(mode="after")
    def _check(self) -> ActionSpec:
        if len(set(self.instruments)) != len(self.instruments):
            raise ValueError(f"actions.instruments repeats a name: {list(self.instruments)}")
        if self.kind == "fraction" and len(self.instruments) != 1:
            raise ValueError("a fraction action scales one rule's trade: name one instrument")
        if (self.kind == "cascade") != bool(self.rules) or (
            self.rules and len(self.rules) != len(self.instruments)
        ):
            raise ValueError("a cascade action names one rule per instrument (and only it does)")
        return self


class LearnedHedgerConfig(AgentConfig):
    """Config of :class:`LearnedHedger`.

    Attributes:
        checkpoint: Path of the trained policy (``gammaray train ... --out``).
        policy: ``"mlp"`` or ``"gru"`` (the checkpoint must be one).
        features: Feature names (:mod:`agents._features`), in input order; a
            bare per-instrument name means the first action instrument.
        actions: What the outputs do (:class:`ActionSpec`).
        horizon_days: The horizon the time features are fractions of, days.
        year_days: Days per year of the scenario.
    """

    checkpoint: str = Field(min_length=1)
    policy: Literal["mlp", "gru"] = "mlp"
    features: tuple[str, ...] = Field(min_length=1)
    actions: ActionSpec
    horizon_days: float = Field(30.0, gt=0.0, le=36_525.0)
    year_days: float = Field(365.0, ge=1.0, le=366.0)

    @model_validator(mode="after")
    def _check(self) -> LearnedHedgerConfig:
        for f in self.features:
            parse(f, self.actions.instruments[0])
        return self

    @property
    def spec(self) -> PolicySpec:
        """The checkpoint this config expects."""
        a = self.actions
        sch = self.schedule.model_dump(mode="json")
        if sch["kind"] == "band" and sch.get("greek") is None:
            sch["greek"] = LearnedHedger.greek  # the manager's default: the agent's greek
        clock = clock_json(self.latency, sch)
        return PolicySpec(
            self.policy,
            self.features,
            a.kind,
            a.instruments,
            a.rule,
            mode=None,
            rules=a.rules,
            clock=clock,
        )


class LearnedHedger(Agent):
    """A learned policy over declared features, acting by a declared action spec.

    Runs in the cascade's gamma slot (before a delta hedger, which then
    neutralises what it leaves). A GRU policy's hidden state (``[n, H]``,
    zeros at the start) moves on at every step the agent is called and is in
    :meth:`snapshot`.
    """

    Config: ClassVar[type[AgentConfig]] = LearnedHedgerConfig
    greek: ClassVar[str | None] = "gamma"
    config: LearnedHedgerConfig

    def __init__(self, name: str, config: AgentConfig | None = None, **kw: Any) -> None:
        super().__init__(name, config, **kw)
        cfg = self.config
        self.params = load_checkpoint(cfg.checkpoint, cfg.spec)["params"]
        inst = cfg.actions.instruments
        self._default = inst[0]
        self._reads = sorted(instruments_of(cfg.features, inst[0]) | set(inst))
        self.hidden: np.ndarray | None = None

    @classmethod
    def check_scenario(cls, config: AgentConfig, family: Mapping[str, Any]) -> None:
        """Load the checkpoint: valid, this config's spec, trained for this scenario's family."""
        if not isinstance(config, LearnedHedgerConfig):
            raise TypeError(f"{cls.__name__} needs a LearnedHedgerConfig")
        load_checkpoint(config.checkpoint, config.spec, family=family)

    def policy_outputs(self, event: MarketEvent, view: RiskSnapshot) -> np.ndarray:
        """The policy's outputs this step, ``[n, len(instruments)]`` (moves a GRU on)."""
        cfg = self.config
        horizon = cfg.horizon_days / cfg.year_days
        ctx = context_from_event(event, view, horizon, self._reads)
        x = stack(cfg.features, ctx, np, self._default)
        if isinstance(self.params, GRUParams):
            h = self.hidden
            if h is None or h.shape[0] != x.shape[0]:
                h = np.zeros((x.shape[0], self.params.hidden))
            out, self.hidden = gru_step(self.params, x, h)
            return out
        return mlp_outputs(self.params, x)

    def on_market(self, event: MarketEvent, view: RiskSnapshot) -> list[Order]:
        """Trade each action instrument by the policy's output."""
        out = self.policy_outputs(event, view)
        a = self.config.actions
        if a.kind == "cascade":
            return self._cascade(out, event, view)
        orders = []
        for k, inst in enumerate(a.instruments):
            f = out[:, k]
            if a.kind == "holdings":
                held = view.positions.get(inst)
                qty = ACTION_SCALE * f - (0.0 if held is None else held)
            elif a.kind == "trade":
                qty = ACTION_SCALE * f
            else:
                with np.errstate(over="ignore"):  # exp overflow: a fraction of exactly 0
                    qty = rule_trade(a.rule, inst, event, view) / (1.0 + np.exp(-f))
            orders.append(self.order(inst, np.where(np.isfinite(qty), qty, 0.0)))
        return orders

    def _cascade(self, out: np.ndarray, event: MarketEvent, view: RiskSnapshot) -> list[Order]:
        """Each instrument in turn trades ``sigmoid(f_k)`` of its rule's neutralising trade."""
        book = {g: np.asarray(getattr(view, g), dtype=np.float64) for g in _GREEKS}
        a = self.config.actions
        orders = []
        for k, (inst, rule) in enumerate(zip(a.instruments, a.rules, strict=True)):
            unit = _unit_greeks(inst, event, view)
            safe = np.where(np.abs(unit[rule]) > TINY, unit[rule], np.inf)
            with np.errstate(over="ignore"):  # exp overflow: a fraction of exactly 0
                qty = (-book[rule] / safe) / (1.0 + np.exp(-out[:, k]))
            qty = np.where(np.isfinite(qty), qty, 0.0)
            book = {g: book[g] + qty * unit[g] for g in _GREEKS}
            orders.append(self.order(inst, qty))
        return orders

    def snapshot(self) -> dict[str, Any]:
        """The GRU's hidden state (None before the first step, and for an MLP)."""
        return {"hidden": None if self.hidden is None else self.hidden.copy()}

    def restore(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`snapshot`."""
        h = state["hidden"]
        self.hidden = None if h is None else np.array(h, dtype=np.float64)


_GREEKS = ("delta", "gamma", "vega")


def _unit_greeks(instrument: str, event: MarketEvent, view: RiskSnapshot) -> dict[str, Any]:
    """Per-unit delta, gamma and vega of ``instrument``: the agent's model's, else the quote's."""
    q = event.quote(instrument)
    model = view.hedge_greeks.get(instrument, {})
    return {g: model.get(g, getattr(q, g)) for g in _GREEKS}


def rule_trade(rule: str, instrument: str, event: MarketEvent, view: RiskSnapshot) -> np.ndarray:
    """Units of ``instrument`` that make the book's ``rule`` greek neutral, ``[n]``.

    The per-unit greek is the agent's model's (``view.hedge_greeks``), else the
    quote's; a per-unit greek below 1e-12 in size gives 0 (no trade).
    """
    q = event.quote(instrument)
    unit = view.hedge_greeks.get(instrument, {}).get(rule, getattr(q, rule))
    safe = np.where(np.abs(unit) > TINY, unit, np.inf)
    return -getattr(view, rule) / safe
