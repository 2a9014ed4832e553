"""The trainer's fast paths compute what the plain torch ones do.

The trainer's own Adam (no ``torch._dynamo`` import) gives torch.optim.Adam's
weights to the bit; the MLP (feature-major, ``tanh`` as ``2 sigmoid(2x) - 1``)
gives the plain ``torch.nn.Sequential``'s outputs and gradients to rounding.
"""

from __future__ import annotations

import torch

from orchestration._adam import Adam
from orchestration._train_policies import make_net


def _loss(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    out, _ = net(x)
    return (out**2).mean() + out.std()


def test_adam_equals_torch_adam_to_the_bit() -> None:
    torch.manual_seed(0)
    a = make_net("mlp", 3, 1, 8, 2)
    b = make_net("mlp", 3, 1, 8, 2)
    b.load_state_dict(a.state_dict())
    x = torch.randn(64, 3, dtype=torch.float64)
    ours, theirs = Adam(a.parameters(), lr=0.01), torch.optim.Adam(b.parameters(), lr=0.01)
    for _ in range(7):
        for net, opt in ((a, ours), (b, theirs)):
            opt.zero_grad()
            _loss(net, x).backward()
            opt.step()
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_mlp_is_the_plain_tanh_network_to_rounding() -> None:
    torch.manual_seed(1)
    net = make_net("mlp", 4, 2, 16, 2)
    x = (torch.randn(200, 4, dtype=torch.float64) * 3.0).requires_grad_()
    out, _ = net(x)
    plain = net.net(x)  # the same Linear and Tanh modules, row-major, torch's tanh
    assert out.shape == (200, 2)
    assert torch.allclose(out, plain, rtol=0.0, atol=1e-14)
    g_fast = torch.autograd.grad(out.sum(), [x, *net.parameters()])
    g_plain = torch.autograd.grad(plain.sum(), [x, *net.parameters()])
    for a, b in zip(g_fast, g_plain, strict=True):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-12)
