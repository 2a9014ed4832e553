"""Learned hedgers: a policy network trained on the simulator (deep hedging).

Two agents share one small policy (an MLP) and one state vector per path:

* ``x0 = n / 100`` where ``n = -gamma_book / gamma_hedge`` is the number of
  hedge options that would make the book gamma-neutral (in hundreds),
* ``x1 = t / T`` the elapsed fraction of the horizon,
* ``x2 = vega_book / (100 vega_hedge)`` the book's vega in hundreds of hedge
  options.

:class:`ResidualHedger` — the hybrid a desk runs — trades ``a · n`` hedge
options with ``a = sigmoid(f(x))`` in ``[0, 1]``: the delta-gamma rule's trade,
scaled by a learned, bounded fraction (``a = 1`` is the rule). Under costs the
right fraction depends on the state: a partial hedge when the gamma gap is
small, more when it is large. :class:`DeepHedger` trades ``100 · f(x)`` hedge
options directly (the model-free policy). Both are followed in the cascade by
the delta hedger (stock, delta kept neutral), as in Buehler et al. (2019) and
Cao et al. (2023).

Training (:mod:`orchestration.train`) differentiates the hedged P&L through
simulated paths. Inference here runs the trained weights in numpy float64,
with every product summed over the (small) feature axis explicitly: a path's
action does not depend on which other paths share its batch, so sharded and
unsharded runs give the same bits. No torch import is needed at inference;
checkpoints are read with ``torch.load(weights_only=True)`` (no pickle code
runs) and validated when the scenario is: a missing, empty, oversized or
corrupt file, missing or ill-shaped layers, non-finite weights, another
version, feature list, instrument or mode, or a policy trained for another
scenario family (name, world, book) is refused in one line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from agents.base import Agent, AgentConfig
from market.events import MarketEvent, Order, RiskSnapshot

#: The state vector, in order (a checkpoint must name the same list).
FEATURES = ("gamma_gap", "time_fraction", "vega_gap")
#: Checkpoint format version (2: the meta records the scenario family).
CHECKPOINT_VERSION = 3
#: Largest checkpoint file read, bytes (a policy is kilobytes).
MAX_CHECKPOINT_BYTES = 64 * 1024 * 1024
#: Most layers a policy may have.
MAX_LAYERS = 64
#: Largest weight magnitude of a trained policy.
MAX_WEIGHT = 1e6


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or for another set-up."""


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


def mlp_forward(params: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> np.ndarray:
    """The policy in numpy float64: tanh hidden layers, linear output, ``[n]``.

    Each layer is ``sum_j x[:, j, None] * W[j]`` over the input axis, so a row's
    result does not depend on the batch (no BLAS blocking).
    """
    h = x
    for i, (w, b) in enumerate(params):
        z = (h[:, :, None] * w[None, :, :]).sum(axis=1) + b
        h = np.tanh(z) if i < len(params) - 1 else z
    return h[:, 0]


def load_checkpoint(
    path: str | Path, mode: str, instrument: str, family: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Read and validate a policy checkpoint.

    Args:
        path: The ``.pt`` file written by ``gammaray train``.
        mode: ``"residual"`` or ``"direct"`` (the agent's).
        instrument: The hedge instrument the agent trades.
        family: The scenario family it is used with (see
            :meth:`Agent.check_scenario`); None skips that check.

    Returns:
        ``{"params": [(W, b), ...], "meta": {...}}`` in float64 numpy.

    Raises:
        CheckpointError: Missing, not a file, too large, corrupt, without
            layers, with ill-shaped or non-finite tensors, or for another
            version, feature list, instrument, mode or scenario family (one
            line that says which).
    """
    p = Path(path)
    name = repr(str(p))
    try:
        if not p.exists():
            raise CheckpointError(
                f"checkpoint {name} does not exist (train one: gammaray train SCENARIO --out FILE)"
            )
        if not p.is_file():
            raise CheckpointError(f"checkpoint {name} is not a file")
        size = p.stat().st_size
    except OSError as exc:
        raise CheckpointError(f"checkpoint {name}: {exc.strerror or exc}") from None
    if size == 0:
        raise CheckpointError(f"checkpoint {name} is empty (0 bytes)")
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(
            f"checkpoint {name} is {size:,} bytes, more than a policy's {MAX_CHECKPOINT_BYTES:,}"
        )
    blob, meta = _read(p, name)
    _check_meta(meta, name, mode, instrument)
    params = _read_params(blob, int(meta["layers"]), name)
    if family is not None:
        check_family(meta, family, name)
    return {"params": params, "meta": meta}


def _one_line(exc: BaseException) -> str:
    """The exception's first sentence, printable, on one line (at most 100 characters)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    text = text.split(". ")[0]
    return text if len(text) <= 100 else text[:97] + "..."


def _read(p: Path, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tensors and the meta of a checkpoint file (no pickle code runs)."""
    import torch

    try:
        blob = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        # torch raises pickle.UnpicklingError for anything but tensors and plain data.
        why = (
            "it is not tensors and JSON only; nothing in it was run"
            if type(exc).__name__ == "UnpicklingError"
            else f"{type(exc).__name__}: {_one_line(exc)}"
        )
        raise CheckpointError(
            f"checkpoint {name} is corrupt or not a gammaray policy ({why})"
        ) from None
    if not isinstance(blob, dict) or not isinstance(blob.get("meta"), str):
        raise CheckpointError(f"checkpoint {name} is not a gammaray policy (no meta)")
    try:
        meta = json.loads(blob["meta"])
    except (ValueError, RecursionError):
        meta = None
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint {name} has a corrupt meta (not a JSON object)")
    return blob, meta


def _check_meta(meta: dict[str, Any], name: str, mode: str, instrument: str) -> None:
    if meta.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"checkpoint {name} has version {meta.get('version')!r}, not {CHECKPOINT_VERSION} "
            "(retrain it: gammaray train SCENARIO --out FILE)"
        )
    features = meta.get("features")
    if not isinstance(features, list) or tuple(features) != FEATURES:
        raise CheckpointError(
            f"checkpoint {name} features {features!r:.80} differ from this agent's {list(FEATURES)}"
        )
    if meta.get("instrument") != instrument:
        raise CheckpointError(
            f"checkpoint {name} was trained for instrument {meta.get('instrument')!r:.40}, "
            f"not {instrument!r}"
        )
    if meta.get("mode") != mode:
        raise CheckpointError(
            f"checkpoint {name} is a {meta.get('mode')!r:.40} policy, not {mode!r}"
        )
    layers = meta.get("layers")
    if not isinstance(layers, int) or isinstance(layers, bool) or layers < 1:
        raise CheckpointError(f"checkpoint {name} has no layers (layers = {layers!r:.40})")
    if layers > MAX_LAYERS:
        raise CheckpointError(f"checkpoint {name} has {layers} layers, more than {MAX_LAYERS}")
    if not isinstance(meta.get("family"), dict):
        raise CheckpointError(f"checkpoint {name} does not record the scenario it was trained for")


def _read_params(
    blob: dict[str, Any], layers: int, name: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The layers' ``(W [in, out], b [out])`` in float64, checked for shape and finiteness."""
    import torch

    params = []
    width = len(FEATURES)
    for i in range(layers):
        w, b = blob.get(f"w{i}"), blob.get(f"b{i}")
        if not isinstance(w, torch.Tensor) or not isinstance(b, torch.Tensor):
            raise CheckpointError(f"checkpoint {name} lacks the tensors of layer {i} (w{i}, b{i})")
        if not (w.is_floating_point() and b.is_floating_point()):
            raise CheckpointError(f"checkpoint {name} layer {i} is not floating point")
        last = i == layers - 1
        out = w.shape[1] if w.dim() == 2 else 0
        if (
            w.dim() != 2
            or w.shape[0] != width
            or out < 1
            or (last and out != 1)
            or tuple(b.shape) != (out,)
        ):
            want = "1" if last else "n"
            raise CheckpointError(
                f"checkpoint {name} layer {i} has shapes w {list(w.shape)}, b {list(b.shape)}; "
                f"expected w [{width}, {want}], b [{want}]"
            )
        try:
            wn, bn = w.double().numpy().copy(), b.double().numpy().copy()
        except Exception as exc:  # sparse, quantized or meta tensors
            raise CheckpointError(
                f"checkpoint {name} layer {i} is not a dense tensor ({_one_line(exc)})"
            ) from None
        for label, arr in ((f"w{i}", wn), (f"b{i}", bn)):
            if not np.all(np.isfinite(arr)):
                raise CheckpointError(f"checkpoint {name} has non-finite weights in {label}")
            if arr.size and np.abs(arr).max() > MAX_WEIGHT:
                raise CheckpointError(
                    f"checkpoint {name} has weights above {MAX_WEIGHT:g} in {label}: "
                    "not a trained policy"
                )
        params.append((wn, bn))
        width = out
    return params


def check_family(meta: Mapping[str, Any], family: Mapping[str, Any], name: str = "") -> None:
    """Refuse a checkpoint trained for another scenario family.

    Args:
        meta: The checkpoint's meta (its ``family`` as recorded by ``gammaray train``).
        family: The family of the scenario it is used with.
        name: The checkpoint's name in the message.

    Raises:
        CheckpointError: The families differ (the message says both).
    """
    trained = meta.get("family")
    if trained == dict(family):
        return
    if not isinstance(trained, Mapping):
        raise CheckpointError(f"checkpoint {name} does not record the scenario it was trained for")
    diff = [k for k in sorted(set(trained) | set(family)) if trained.get(k) != family.get(k)]
    raise CheckpointError(
        f"checkpoint {name} was trained for {describe_family(trained)}; this is "
        f"{describe_family(family)} (differs in {', '.join(diff)}; retrain: gammaray train)"
    )


def describe_family(family: Mapping[str, Any]) -> str:
    """A scenario family in words: name, world and book (one line)."""

    def opt(p: Any) -> str:
        if not isinstance(p, Mapping):
            return "?"
        kind = "call" if p.get("is_call", True) else "put"
        qty = f"{p['qty']:+g} " if isinstance(p.get("qty"), int | float) else ""
        return f"{qty}{p.get('moneyness', '?')}x {p.get('expiry_days', '?')}d {kind}"

    book = family.get("book")
    positions = ", ".join(opt(p) for p in book) if isinstance(book, list) and book else "no book"
    flow = family.get("flow")
    text = (
        f"scenario {str(family.get('scenario'))!r:.60} ({family.get('market')!s:.20} world, "
        f"{positions:.120}"
    )
    return text + (", client flow)" if flow else ")")


class LearnedConfig(AgentConfig):
    """Config of a learned hedger.

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
        return needed / (1.0 + np.exp(-out))


class DeepHedger(_Learned):
    """A model-free policy: the option trade is ``100 · f(state)`` units."""

    mode: ClassVar[str] = "direct"

    def _act(self, out: np.ndarray, needed: np.ndarray) -> np.ndarray:
        return 100.0 * out
