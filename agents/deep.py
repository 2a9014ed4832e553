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
runs) and validated: another feature list, instrument or mode is refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from agents.base import Agent, AgentConfig
from market.events import MarketEvent, Order, RiskSnapshot

#: The state vector, in order (a checkpoint must name the same list).
FEATURES = ("gamma_gap", "time_fraction", "vega_gap")
#: Checkpoint format version.
CHECKPOINT_VERSION = 1


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


def load_checkpoint(path: str | Path, mode: str, instrument: str) -> dict[str, Any]:
    """Read and validate a policy checkpoint.

    Args:
        path: The ``.pt`` file written by ``gammaray train``.
        mode: ``"residual"`` or ``"direct"`` (the agent's).
        instrument: The hedge instrument the agent trades.

    Returns:
        ``{"params": [(W, b), ...], "meta": {...}}`` in float64 numpy.

    Raises:
        CheckpointError: Missing, corrupt, or for another feature list,
            instrument or mode (the message says which).
    """
    import torch

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint {str(p)!r} does not exist (train one: gammaray train)")
    try:
        blob = torch.load(p, map_location="cpu", weights_only=True)
        meta = json.loads(blob["meta"])
        layers = int(meta["layers"])
        params = [
            (blob[f"w{i}"].double().numpy().copy(), blob[f"b{i}"].double().numpy().copy())
            for i in range(layers)
        ]
    except Exception as exc:
        raise CheckpointError(
            f"checkpoint {str(p)!r} is corrupt or not a gammaray policy: {exc}"
        ) from None
    if meta.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"checkpoint version {meta.get('version')} is not {CHECKPOINT_VERSION}"
        )
    if tuple(meta.get("features", ())) != FEATURES:
        raise CheckpointError(
            f"checkpoint features {meta.get('features')} differ from this agent's {list(FEATURES)}"
        )
    if meta.get("instrument") != instrument:
        raise CheckpointError(
            f"checkpoint was trained for instrument {meta.get('instrument')!r}, not {instrument!r}"
        )
    if meta.get("mode") != mode:
        raise CheckpointError(f"checkpoint is a {meta.get('mode')!r} policy, not {mode!r}")
    return {"params": params, "meta": meta}


class LearnedConfig(AgentConfig):
    """Config of a learned hedger.

    Attributes:
        checkpoint: Path of the trained policy (``gammaray train ... --out``).
        instrument: The hedge option it trades.
        horizon_days: The horizon the time feature is a fraction of, days.
        year_days: Days per year of the scenario.
    """

    checkpoint: str
    instrument: str = "hedge_opt"
    horizon_days: float = Field(30.0, gt=0.0)
    year_days: float = Field(252.0, gt=0.0)


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
