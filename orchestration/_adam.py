"""Adam for the trainer: torch's update, without importing ``torch._dynamo``.

``torch.optim`` imports ``torch._dynamo`` on an optimiser's first use (about
1.3 s of CPU, a fifth of a Cao et al. training run's start-up). :class:`Adam`
is the update ``torch.optim.Adam`` makes with its defaults on CPU tensors (the
single-tensor path: no weight decay, amsgrad, maximize or capturable), the
same operations in the same order, so the weights after each step are
equal to the bit (``tests/orchestration/test_train_speed.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class Adam:
    """Adam (Kingma & Ba 2015) over a network's parameters.

    Args:
        params: The parameters (tensors with ``requires_grad``).
        lr: Learning rate.
        betas: Decay rates of the first and second moment estimates.
        eps: Added to the denominator.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        import torch

        self.params = list(params)
        self.lr, self.eps = float(lr), float(eps)
        self.beta1, self.beta2 = float(betas[0]), float(betas[1])
        self.exp_avg = [
            torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params
        ]
        self.exp_avg_sq = [
            torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params
        ]
        self.steps = 0

    def zero_grad(self) -> None:
        """Drop the gradients (``set_to_none``, as torch's default)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """One update from the parameters' gradients."""
        import torch

        self.steps += 1
        step = float(self.steps)
        beta1, beta2 = self.beta1, self.beta2
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = self.lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5
        with torch.no_grad():
            for p, exp_avg, exp_avg_sq in zip(
                self.params, self.exp_avg, self.exp_avg_sq, strict=True
            ):
                grad = p.grad
                if grad is None:
                    continue
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
                p.addcdiv_(exp_avg, denom, value=-step_size)
