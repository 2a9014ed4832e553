"""The hybrid: a model-based and a learned agent for the same risk, routed or blended.

:class:`HybridHedger` holds two child agents -- ``model_based`` (e.g. the gamma band
hedger, whose BSM greeks decay in a stressed world) and ``learned`` (e.g. a
:class:`~agents.deep.LearnedHedger`) -- and one routing policy:

* ``switch``: the model's orders trade until the model-decay alert
  (:data:`~agents.monitor.ALERT_METRIC`, raised by the manager's monitor), the
  learned agent's from then on, the model's again once the alert clears
  (:data:`~agents.monitor.CLEAR_METRIC`);
* ``blend``: per instrument ``w · learned + (1 − w) · model`` with
  ``w = w_calm`` normally and ``w = w_alert`` while the alert is on.

A per-path alert (a monitor with ``per_path``, whose alerts carry every
path's state) routes or weights each path by its own alert: a path whose
alert is on trades the learned child's orders (or ``w_alert``), the others
the model's.

Both children see every step the hybrid is called (every event, notice, fill
and the same view of the book), so the idle one keeps its state (a GRU's
hidden state, a band's memory); only the routed (or blended) orders reach the
manager, sent as the hybrid's, so its hard limits bind them as any agent's.
The children run on the hybrid's schedule and latency (theirs must be left at
the defaults; their configs take the hybrid's, so a learned child's
checkpoint is checked against the clock it runs on) and see the book under
the hybrid's pricing ``model`` (a child that names a model must name the
same); the hybrid runs in the cascade's gamma slot (subclass it to set
another ``greek``). Its snapshot holds both children's and the alert state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from agents._builtins import BUILTIN_AGENTS
from agents._resolve import resolve_class
from agents.base import Agent, AgentConfig, EveryStep
from agents.models import BSMModel, PricingModel
from agents.monitor import ALERT_METRIC, CLEAR_METRIC
from market.events import MarketEvent, Order, RiskSnapshot
from market.validation import StrictModel


def resolve_child(ref: str) -> type[Agent]:
    """The agent class a child spec names: a built-in short name or a dotted path.

    Raises:
        ValueError: It names no importable subclass of :class:`~agents.Agent`.
    """
    return resolve_class(ref, Agent, BUILTIN_AGENTS, "agent class")


class ChildSpec(StrictModel):
    """One child of the hybrid.

    Attributes:
        cls: Built-in short name (``"gamma"``) or dotted path of the agent class.
        config: Fields of that class's ``Config`` (validated with the hybrid's).
    """

    cls: str = Field(min_length=1)
    config: dict[str, Any] = Field(default_factory=dict)

    def validated(
        self, model: Any = None, clock: AgentConfig | None = None
    ) -> tuple[type[Agent], AgentConfig]:
        """The class and its validated config.

        Args:
            model: The hybrid's pricing model; a child naming another is refused.
            clock: The hybrid's config: the child runs on its latency and
                schedule, so its config takes them (a learned child's
                checkpoint is checked against the clock it really runs on).
        """
        cls = resolve_child(self.cls)
        cfg = cls.Config.model_validate(self.config)
        if cfg.latency != 0.0 or cfg.schedule != EveryStep():
            raise ValueError(
                f"child {self.cls!r}: set schedule and latency on the hybrid, not on its children"
            )
        own = getattr(cfg, "model", None)
        if model is not None and own is not None and own != model:
            raise ValueError(
                f"child {self.cls!r} prices with {own.kind!r}, the hybrid with {model.kind!r}: "
                "set the pricing model on the hybrid (its children see its view)"
            )
        if clock is not None:
            cfg = cfg.model_copy(update={"latency": clock.latency, "schedule": clock.schedule})
        return cls, cfg


class HybridConfig(AgentConfig):
    """Config of :class:`HybridHedger`.

    Attributes:
        model_based: The model-based child.
        learned: The learned child.
        route: ``"switch"`` (one child's orders trade) or ``"blend"``.
        w_calm: Blend weight of the learned child while no alert is on, in [0, 1].
        w_alert: Blend weight of the learned child while the alert is on, in [0, 1].
        model: The pricing model of the view both children see (default BSM).
    """

    model_based: ChildSpec
    learned: ChildSpec
    route: Literal["switch", "blend"] = "switch"
    w_calm: float = Field(0.0, ge=0.0, le=1.0)
    w_alert: float = Field(1.0, ge=0.0, le=1.0)
    model: PricingModel = BSMModel()

    @model_validator(mode="after")
    def _check(self) -> HybridConfig:
        for label, child in (("model_based", self.model_based), ("learned", self.learned)):
            try:
                child.validated(self.model)
            except ValueError as exc:
                first = " ".join(str(exc).split())
                raise ValueError(f"{label}: {first}") from None
        return self


class HybridHedger(Agent):
    """Routes to (or blends) a model-based and a learned child on the model-decay alert."""

    Config: ClassVar[type[AgentConfig]] = HybridConfig
    greek: ClassVar[str | None] = "gamma"
    config: HybridConfig

    def __init__(self, name: str, config: AgentConfig | None = None, **kw: Any) -> None:
        super().__init__(name, config, **kw)
        self.children: dict[str, Agent] = {}
        for label in ("model_based", "learned"):
            cls, cfg = getattr(self.config, label).validated(clock=self.config)
            self.children[label] = cls(f"{name}.{label}", cfg, rng=self.rng)
        #: The alert: one for every path (bool), or per path (``[n]`` bool).
        self.alert: bool | np.ndarray = False

    @classmethod
    def check_scenario(cls, config: AgentConfig, family: Mapping[str, Any]) -> None:
        """Both children's checks (a learned child's checkpoint, for one)."""
        if not isinstance(config, HybridConfig):
            raise TypeError(f"{cls.__name__} needs a HybridConfig")
        for label in ("model_based", "learned"):
            child_cls, cfg = getattr(config, label).validated(clock=config)
            try:
                child_cls.check_scenario(cfg, family)
            except ValueError as exc:
                raise ValueError(f"{label}: {exc}") from None

    @property
    def weight(self) -> float | np.ndarray:
        """The learned child's weight now (switch: 0 or 1), per path under a per-path alert."""
        cfg = self.config
        on, off = (1.0, 0.0) if cfg.route == "switch" else (cfg.w_alert, cfg.w_calm)
        if isinstance(self.alert, np.ndarray):
            return np.where(self.alert, on, off)
        return on if self.alert else off

    # ------------------------------------------------------------ forwarded hooks
    def on_fill(self, fill: Any) -> None:
        """Both children learn of the hybrid's fills."""
        for c in self.children.values():
            c.on_fill(fill)

    def on_budget(self, update: Any) -> None:
        """Forward to both children."""
        for c in self.children.values():
            c.on_budget(update)

    def on_announcement(self, announcement: Any) -> None:
        """Forward to both children."""
        for c in self.children.values():
            c.on_announcement(announcement)

    def on_alert(self, alert: Any) -> None:
        """Route on the model-decay alert and its clearing; forward to both children."""
        metric = getattr(alert, "metric", None)
        paths = getattr(alert, "paths", None)
        if metric in (ALERT_METRIC, CLEAR_METRIC) and paths is not None:
            self.alert = np.array(paths, dtype=bool)
        elif metric == ALERT_METRIC:
            self.alert = True
        elif metric == CLEAR_METRIC:
            self.alert = False
        for c in self.children.values():
            c.on_alert(alert)

    def on_end(self, end: Any) -> None:
        """Forward to both children."""
        for c in self.children.values():
            c.on_end(end)

    # ----------------------------------------------------------------- decide
    def child_orders(self, event: MarketEvent, view: RiskSnapshot) -> dict[str, list[Order]]:
        """Both children's orders this step (each decides on the same view), checked."""
        out = {}
        for label, c in self.children.items():
            c._step, c._time = self._step, self._time
            try:
                out[label] = c._check_orders(c.on_market(event, view), event)
            except Exception as exc:
                why = f"{type(exc).__name__}: {exc}"
                raise ValueError(f"{label} child {type(c).__name__}: {why}") from exc
        return out

    def on_market(self, event: MarketEvent, view: RiskSnapshot) -> list[Order]:
        """The routed child's orders (switch), or the blend, as the hybrid's."""
        orders = self.child_orders(event, view)
        alert = self.alert
        if self.config.route == "switch" and not isinstance(alert, np.ndarray):
            routed = orders["learned" if alert else "model_based"]
            return [self.order(o.instrument, o.qty) for o in routed]
        w = self.weight
        model, learned = _by_instrument(orders["model_based"]), _by_instrument(orders["learned"])
        zero = np.zeros(event.n_paths)
        names = [*model, *(i for i in learned if i not in model)]
        if self.config.route == "switch":  # per path: each path's routed child, exactly
            return [
                self.order(i, np.where(alert, learned.get(i, zero), model.get(i, zero)))
                for i in names
            ]
        return [
            self.order(i, w * learned.get(i, zero) + (1.0 - w) * model.get(i, zero)) for i in names
        ]

    # ------------------------------------------------------------------ state
    def snapshot(self) -> dict[str, Any]:
        """The alert state and both children's snapshots."""
        return {
            "alert": self.alert.copy() if isinstance(self.alert, np.ndarray) else self.alert,
            "children": {k: c.snapshot() for k, c in self.children.items()},
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`snapshot`."""
        a = state["alert"]
        self.alert = np.array(a, dtype=bool) if isinstance(a, np.ndarray) else bool(a)
        for k, c in self.children.items():
            c.restore(state["children"][k])


def _by_instrument(orders: list[Order]) -> dict[str, np.ndarray]:
    """Quantities summed per instrument, in first-order order."""
    out: dict[str, np.ndarray] = {}
    for o in orders:
        out[o.instrument] = out[o.instrument] + o.qty if o.instrument in out else o.qty
    return out
