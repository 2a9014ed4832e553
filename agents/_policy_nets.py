"""Policy networks at inference: numpy float64, batch-independent.

Every matrix product sums over the (small) input axis explicitly
(``(x[:, :, None] * W[None]).sum(axis=1)``), never through BLAS, whose blocking
depends on the batch size: a path's action is the same whichever paths share
its batch, so sharded and unsharded runs give the same bits.

* :func:`mlp_forward` -- tanh hidden layers, linear output.
* :func:`gru_step` -- one step of ``torch.nn.GRU`` (one layer, gates r, z, n in
  PyTorch's order and equations), then a linear head.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def matvec(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x @ w`` row by row, summed over the input axis explicitly.

    Args:
        x: Inputs, ``[n, in]``.
        w: Weights, ``[in, out]``.

    Returns:
        ``[n, out]``; row ``i`` depends on ``x[i]`` only.
    """
    return (x[:, :, None] * w[None, :, :]).sum(axis=1)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, ``1 / (1 + exp(-x))``.

    ``exp(-x)`` overflows to ``inf`` for ``x < -709``, where the value is 0
    exactly: that overflow is the right answer, not an error to warn about.
    """
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def mlp_forward(params: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> np.ndarray:
    """The MLP policy: tanh hidden layers, linear output.

    Args:
        params: ``(W [in, out], b [out])`` per layer.
        x: Features, ``[n, in]``.

    Returns:
        The first output, ``[n]`` (a version-2 policy has one); see
        :func:`mlp_outputs` for all of them.
    """
    return mlp_outputs(params, x)[:, 0]


def mlp_outputs(params: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> np.ndarray:
    """The MLP policy's outputs, ``[n, out]`` (see :func:`mlp_forward`)."""
    h = x
    for i, (w, b) in enumerate(params):
        z = matvec(h, w) + b
        h = np.tanh(z) if i < len(params) - 1 else z
    return h


@dataclass(frozen=True, slots=True)
class GRUParams:
    """A one-layer GRU and its linear head, float64, in PyTorch's layout.

    Attributes:
        weight_ih: ``[3H, in]``, rows ``(W_ir; W_iz; W_in)``.
        weight_hh: ``[3H, H]``, rows ``(W_hr; W_hz; W_hn)``.
        bias_ih: ``[3H]``.
        bias_hh: ``[3H]``.
        head_weight: ``[out, H]``.
        head_bias: ``[out]``.
    """

    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias_ih: np.ndarray
    bias_hh: np.ndarray
    head_weight: np.ndarray
    head_bias: np.ndarray

    @property
    def hidden(self) -> int:
        """Hidden size ``H``."""
        return int(self.weight_hh.shape[1])


def gru_step(p: GRUParams, x: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One GRU step and the head, as ``torch.nn.GRU`` + ``torch.nn.Linear``.

    ``r = σ(W_ir x + b_ir + W_hr h + b_hr)``,
    ``z = σ(W_iz x + b_iz + W_hz h + b_hz)``,
    ``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))``,
    ``h' = (1 − z) ⊙ n + z ⊙ h``; output ``W_head h' + b_head``.

    Args:
        p: The weights.
        x: Features, ``[n, in]``.
        h: Hidden state, ``[n, H]``.

    Returns:
        ``(outputs [n, out], h' [n, H])``.
    """
    H = p.hidden
    gi = matvec(x, p.weight_ih.T) + p.bias_ih
    gh = matvec(h, p.weight_hh.T) + p.bias_hh
    r = sigmoid(gi[:, :H] + gh[:, :H])
    z = sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
    n = np.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
    h_new = (1.0 - z) * n + z * h
    return matvec(h_new, p.head_weight.T) + p.head_bias, h_new
