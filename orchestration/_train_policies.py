"""Policies in training and the trainer's step loop (the engine's cascade, in torch).

:func:`rollout` runs a cascade of actors over a training set step by step,
as the engine's manager does: each actor sees the book (the unhedged book's
greeks plus the hedge's, plus the orders of the actors before it at the
quotes' greeks), its orders pass the manager's per-order limits (an order over
``max_order``, or taking the stressed loss over the ``hard_limit``, is
rejected on that path, as the engine rejects it), and the
step's orders are netted per instrument and filled by the
:class:`~orchestration._train_pnl.Ledger`. Actors:

* :class:`RuleActor` -- a built-in band hedger (delta, gamma or vega): the
  engine's own :func:`agents._band.band_trade`, called with torch tensors;
* :class:`LearnedActor` -- a policy network (MLP or GRU, hidden state
  carried across steps) over named features of :mod:`agents._features` (the
  formulas :class:`agents.deep.LearnedHedger` computes at inference), acting
  as that agent does (:class:`ActionSpec`): target holdings or trades in
  listed instruments, or a fraction in ``[0, 1]`` of the trade that makes one
  greek of the book neutral (the residual overlay).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agents import _features
from agents._band import band_trade
from agents.allocation import stressed_loss
from orchestration._train_clock import AgentClock, clocked
from orchestration._train_pnl import XP, DeviceSet, Ledger

#: The greek each built-in band hedger class keeps in its band.
RULE_GREEKS = {"delta": "delta", "gamma": "gamma", "vega": "vega"}
GREEKS3 = ("delta", "gamma", "vega")


@dataclass(frozen=True)
class ActionSpec:
    """What a learned policy's outputs mean (the agent's, :class:`agents.deep.ActionSpec`).

    Attributes:
        kind: ``"holdings"`` (``100 f_i`` is the target position in instrument
            ``i``), ``"trade"`` (``100 f_i`` units traded) or ``"fraction"``
            (``sigmoid(f)`` of the ``rule`` trade that makes the book's greek
            neutral, in one instrument).
        instruments: The instruments it trades, in order.
        rule: For ``fraction``: the greek its rule neutralises.
    """

    kind: str
    instruments: tuple[str, ...]
    rule: str = "gamma"

    def to_json(self) -> dict[str, Any]:
        """The checkpoint's ``actions`` entry."""
        out: dict[str, Any] = {"kind": self.kind, "instruments": list(self.instruments)}
        if self.kind == "fraction":
            out["rule"] = self.rule
        return out


#: Units per policy output of the ``holdings`` and ``trade`` actions (the agent's).
ACTION_SCALE = 100.0


def _tanh_function() -> Any:
    """``tanh`` as ``2 sigmoid(2x) - 1`` (torch's float64 ``tanh`` is ~5x slower on CPU).

    Equal to ``tanh`` to a few ulps of 1 (absolute); the backward pass is
    torch's own ``tanh_backward`` of the output.
    """
    import torch

    class FastTanh(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            # |2x| <= 80 changes nothing (tanh is +-1 to the bit past |x| = 20) and keeps
            # sigmoid off its slow path for exp over- and underflow (|2x| > 709).
            y = torch.sigmoid((x * 2.0).clamp_(-80.0, 80.0)).mul_(2.0).sub_(1.0)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            (y,) = ctx.saved_tensors
            return torch.ops.aten.tanh_backward(grad, y)

    return FastTanh.apply


def make_net(policy: str, n_in: int, n_out: int, hidden: int, layers: int) -> Any:
    """A float64 policy network: ``"mlp"`` (tanh hidden layers) or ``"gru"``.

    The MLP maps ``[n, n_in]`` to ``[n, n_out]`` but works feature-major inside
    (``W @ x.T``: the paths on the long axis, which MKL multiplies about
    twice as fast as ``x @ W.T`` at these widths).
    """
    import torch

    tanh = _tanh_function()

    class MLP(torch.nn.Module):
        kind = "mlp"

        def __init__(self) -> None:
            super().__init__()
            mods: list[Any] = []
            width = n_in
            for _ in range(layers):
                mods += [torch.nn.Linear(width, hidden), torch.nn.Tanh()]
                width = hidden
            mods.append(torch.nn.Linear(width, n_out))
            self.net = torch.nn.Sequential(*mods)

        def forward(self, x: Any, h: Any = None) -> tuple[Any, Any]:
            lins = self.linears()
            z = x.T
            for j, lin in enumerate(lins):
                z = torch.addmm(lin.bias[:, None], lin.weight, z)
                if j < len(lins) - 1:
                    z = tanh(z)
            return z.T, None

        def linears(self) -> list[Any]:
            return [m for m in self.net if isinstance(m, torch.nn.Linear)]

    class GRU(torch.nn.Module):
        kind = "gru"

        def __init__(self) -> None:
            super().__init__()
            self.gru = torch.nn.GRU(n_in, hidden, num_layers=1)
            self.head = torch.nn.Linear(hidden, n_out)

        def forward(self, x: Any, h: Any = None) -> tuple[Any, Any]:
            out, h = self.gru(x[None], h)
            return self.head(out[0]), h

    net = MLP() if policy == "mlp" else GRU()
    return net.double()


class Normalizer:
    """Per-feature centre and scale (taken from the first rollout), folded into
    the first layer when the checkpoint is written.

    A feature that depends on the policy's own trades (``holding:*``) is near
    constant on the first rollout (the initial policy holds ~nothing); its
    scale is floored (:meth:`fit`'s ``floor``) so that the network's initial
    weights do not make the policy's target hugely sensitive to its own past
    holdings (a feedback that stalls training).
    """

    def __init__(self) -> None:
        self.mu: Any = None
        self.sd: Any = None
        self.seen: list[Any] = []

    def __call__(self, x: Any) -> Any:
        if self.mu is None:
            self.seen.append(x.detach())
            return x * 0.0
        return (x - self.mu) / self.sd

    def fit(self, floor: Any = None) -> None:
        """Take the centre and scale of the inputs seen (``floor [n_features]``: least scales)."""
        import torch

        allx = torch.cat(self.seen, 0)
        self.mu = allx.mean(0)
        self.sd = torch.where(allx.std(0) > 1e-12, allx.std(0), torch.ones_like(self.mu))
        if floor is not None:
            self.sd = torch.maximum(self.sd, floor.to(self.sd))
        self.seen = []


class RuleActor:
    """A built-in band hedger: ``band_trade(view greek, band, unit greek, target)``."""

    def __init__(
        self, greek: str, instrument: str, target: float, clock: AgentClock | None = None
    ) -> None:
        self.greek, self.instrument, self.target = greek, instrument, target
        self.clock = clock  # latency and schedule (orchestration._train_clock)

    def reset(self) -> None:
        """Nothing to reset (no state)."""

    def act(self, k: int, view: dict[str, Any], led: Ledger) -> list[tuple[str, Any]]:
        ds = led.ds
        unit = ds.quotes[self.instrument][self.greek][k]
        qty = band_trade(view[self.greek], ds.bands[self.greek][k], unit, self.target, XP)
        return [(self.instrument, qty)]


def feature_context(
    k: int, view: dict[str, Any], led: Ledger, instruments: Any, keys: Any = None
) -> dict[str, Any]:
    """The :mod:`agents._features` context of step ``k`` in torch (the agent's, at inference).

    ``keys``: the context keys the features read (None: all); holdings are
    summed only where read.
    """
    ds = led.ds
    ts = ds.ts
    ctx: dict[str, Any] = {
        "spot": ds.spot[k],
        "t": float(ts.times[k]),
        "horizon": ts.horizon,
        "atm_vol": ds.atm[k],
        "event_time": float(ts.event_time[k]),
        "book_delta": view["delta"],
        "book_gamma": view["gamma"],
        "book_vega": view["vega"],
    }
    for inst in instruments:
        ctx[f"strike:{inst}"] = ds.strike[inst][k]
        ctx[f"expiry:{inst}"] = float(ts.expiry[inst][k])
        ctx[f"gamma:{inst}"] = ds.quotes[inst]["gamma"][k]
        ctx[f"vega:{inst}"] = ds.quotes[inst]["vega"][k]
        if keys is None or f"holding:{inst}" in keys:
            ctx[f"holding:{inst}"] = led.position(inst)
    return ctx


#: Context keys that depend on the hedge (the rest are the training set's, fixed per step).
HEDGE_KEYS = ("book_delta", "book_gamma", "book_vega", "holding:{i}")


class LearnedActor:
    """A policy network acting by an :class:`ActionSpec` over named features.

    Features that read none of the hedge's keys (:data:`HEDGE_KEYS`: time,
    vol, strikes, ...) and the fraction action's safe denominator are the
    same in every rollout over one training set: they are computed once per
    step and kept (``self._fixed``, for the :class:`DeviceSet` they came from).
    """

    def __init__(
        self, net: Any, features: list[str], spec: ActionSpec, default_instrument: str | None
    ) -> None:
        self.net, self.features, self.spec = net, features, spec
        self.default = default_instrument
        self.reads = sorted(_features.instruments_of(features, default_instrument))
        self.keys = set(_features.required_keys(features, default_instrument))
        self.fixed = {
            f
            for f in features
            if not set(_features.parse(f, default_instrument)[0].inputs) & set(HEDGE_KEYS)
        }
        self.norm = Normalizer()
        self.h: Any = None
        self.greek = "gamma"  # its band trigger's default greek (LearnedHedger.greek)
        self.clock: AgentClock | None = None  # latency and schedule (orchestration._train_clock)
        self._fixed: dict[Any, Any] = {}
        self._fixed_for: Any = None

    def reset(self) -> None:
        """Start of a rollout: no hidden state."""
        self.h = None

    def outputs(self, k: int, view: dict[str, Any], led: Ledger) -> Any:
        """The network's outputs at step ``k`` (``[n, outputs]``); carries the GRU state."""
        import torch

        if self._fixed_for is not led.ds:
            self._fixed, self._fixed_for = {}, led.ds
        ctx = feature_context(k, view, led, self.reads, self.keys)
        cols = []
        for name in self.features:
            col = self._fixed.get((name, k)) if name in self.fixed else None
            if col is None:
                col = _features.compute(name, ctx, torch, self.default)
                if name in self.fixed:
                    self._fixed[name, k] = col
            cols.append(col)
        x = torch.stack(cols, dim=-1)  # _features.stack, with the fixed columns kept
        out, self.h = self.net(self.norm(x), self.h)
        return out

    def safe_unit(self, inst: str, rule: str, k: int, ds: DeviceSet) -> Any:
        """``inst``'s ``rule`` greek per unit at step ``k``, ``inf`` where ~0 (kept per step)."""
        import torch

        safe = self._fixed.get(("safe", inst, rule, k))
        if safe is None:
            unit = ds.quotes[inst][rule][k]
            safe = torch.where(torch.abs(unit) > _features.TINY, unit, torch.inf)
            self._fixed["safe", inst, rule, k] = safe
        return safe

    def act(self, k: int, view: dict[str, Any], led: Ledger) -> list[tuple[str, Any]]:
        import torch

        out = self.outputs(k, view, led)
        orders = []
        for j, inst in enumerate(self.spec.instruments):
            f = out[:, j]
            if self.spec.kind == "holdings":
                qty = ACTION_SCALE * f - led.position(inst)
            elif self.spec.kind == "trade":
                qty = ACTION_SCALE * f
            else:
                safe = self.safe_unit(inst, self.spec.rule, k, led.ds)
                qty = torch.sigmoid(f) * (-view[self.spec.rule] / safe)
            orders.append((inst, qty))
        return orders


def hard_limit(qty: Any, view: dict[str, Any], q: dict[str, Any], k: int, ds: DeviceSet) -> Any:
    """The manager's ``hard_limit`` on one order (its :meth:`check_order`), in torch.

    The order is cut to zero on the paths where it takes the book's stressed
    loss (:func:`agents.allocation.stressed_loss` at the step's stress grid)
    above ``hard_limit x budget`` and raises it.

    Args:
        qty: Units ordered, ``[n]``.
        view: The book's greeks before the order, ``[n]`` each.
        q: The instrument's quotes (greeks per unit, ``[T + 1, n]``).
        k: The step.
        ds: The training set (its ``stress_ds``, ``stress_dv``, ``hard_limit``, ``budget``).
    """
    import torch

    ts = ds.ts
    assert ts.hard_limit is not None and ds.stress_ds is not None
    d, dv = ds.stress_ds[k], ts.stress_dv
    before = stressed_loss(view["delta"], view["gamma"], view["vega"], d, dv, XP)
    moved = {g: view[g] + qty * q[g][k] for g in GREEKS3}
    after = stressed_loss(moved["delta"], moved["gamma"], moved["vega"], d, dv, XP)
    reject: Any = (after > ts.hard_limit * ts.budget) & (after > before)
    return torch.where(reject, qty * 0.0, qty)


def rollout(ds: DeviceSet, cascade: list[Any]) -> tuple[Any, Any]:
    """Run the cascade over every step of the training set.

    Args:
        ds: The training set on its device.
        cascade: Actors in cascade order (:class:`RuleActor`, :class:`LearnedActor`).

    Returns:
        ``(pnl [n], trading cost [n])`` (differentiable in the policies' weights).
    """
    import torch

    led = Ledger(ds)
    ts = ds.ts
    cascade = clocked(ds, cascade)  # schedules, triggers, latency (orchestration._train_clock)
    for a in cascade:
        a.reset()
    last = cascade[-1] if cascade else None
    for k in range(ts.n_steps):
        led.begin(k)
        hedge = led.greeks()
        view = {g: ds.book[g][k] + hedge[g] for g in GREEKS3}
        net: dict[str, Any] = {}
        for actor in cascade:
            for inst, qty in actor.act(k, view, led):
                limit = ts.max_order.get(inst)
                if limit is not None:
                    qty = torch.where(torch.abs(qty) > limit, qty * 0.0, qty)
                q = ds.quotes[inst]
                if ts.hard_limit is not None:
                    qty = hard_limit(qty, view, q, k, ds)
                # The last actor's orders change no later actor's view (only its
                # own next order's hard-limit check reads it).
                if actor is not last or ts.hard_limit is not None:
                    view = {g: view[g] + qty * q[g][k] for g in GREEKS3}
                net[inst] = net[inst] + qty if inst in net else qty
        for inst, qty in net.items():
            led.trade(inst, qty)
    return led.finish(), led.cost
