"""Training the learned hedgers: differentiable P&L through simulated paths.

For a scenario in the Cao et al. (2023) family — a GBM world with a flat
surface, a book of options (with daily client flow), a hedge option listed
each day and held to expiry, the stock free and delta kept neutral every day,
one step a day — the hedged P&L is *linear* in the option trades ``q_k``::

    R = B + sum_k q_k A_k - c sum_k |q_k| P_k

where ``B`` is the book's delta-hedged P&L, ``A_k`` the delta-hedged P&L of one
unit of the option listed on day ``k`` and ``P_k`` its premium (all from
Black-Scholes on the paths, no gradient needed), and the policy's state on
day ``k`` depends on the earlier trades through the book's gamma and vega.
:func:`precompute` builds those arrays once in numpy; :func:`train` runs the
policy over the days in torch (float64) and backpropagates the risk
objective (Buehler et al. 2019): mean-std ``E[loss] + c std(loss)``, CVaR at a
level, or entropic risk with a risk aversion. The arguments are checked
first (:func:`check_train_args`: paths, epochs, a finite level in range,
memory). Seeded, reproducible, and the checkpoint (weights, feature list,
instrument, mode, objective, the scenario family it was trained for, code
version) is written atomically with ``torch.save`` of tensors and a JSON string, and
read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from agents.deep import CHECKPOINT_VERSION, FEATURES
from market.pricing import bsm_greeks
from orchestration._io import atomic_write_bytes
from orchestration._train_checks import check_supported, check_train_args
from orchestration.config import Scenario, ScenarioError


class TrainingDiverged(RuntimeError):
    """The objective became non-finite while training (exit status 1)."""


@dataclass
class Precomputed:
    """Per-path arrays of one training set (float64; ``T`` days, ``n`` paths).

    Attributes:
        book_pnl: ``B``, the book's delta-hedged P&L, ``[n]``.
        unit_pnl: ``A[k]``, delta-hedged P&L of one hedge option listed on day k, ``[T, n]``.
        premium: ``P[k]``, its premium on day k, ``[T, n]``.
        book_gamma: The book's gamma on day k (flow included), ``[T, n]``.
        book_vega: The book's vega on day k, ``[T, n]``.
        hedge_gamma: ``G[j, k]``: gamma on day k of the option listed on day j, ``[T, T, n]``.
        hedge_vega: Same for vega, ``[T, T, n]``.
        cost: Proportional option cost (fraction of premium).
    """

    book_pnl: np.ndarray
    unit_pnl: np.ndarray
    premium: np.ndarray
    book_gamma: np.ndarray
    book_vega: np.ndarray
    hedge_gamma: np.ndarray
    hedge_vega: np.ndarray
    cost: float


def precompute(scenario: Scenario, n_paths: int, seed: int, instrument: str) -> Precomputed:
    """Simulate ``n_paths`` paths of the scenario's world and book; the linear P&L pieces.

    Raises:
        ScenarioError: The scenario is outside what the trainer supports.
    """
    spec = check_supported(scenario, instrument)
    m, T, dt = scenario.market, scenario.n_steps, scenario.dt
    rng = np.random.default_rng(seed)
    sigma = m.surface.atm * m.realized_vol_ratio
    mu = m.rate if m.drift is None else m.drift
    z = rng.standard_normal((T, n_paths))
    logs = np.vstack(
        [
            np.zeros(n_paths),
            np.cumsum((mu - m.div - 0.5 * sigma**2) * dt + sigma * np.sqrt(dt) * z, axis=0),
        ]
    )
    spot = m.spot * np.exp(logs)  # [T+1, n]
    iv = m.surface.atm
    r, q = m.rate, m.div
    # book lines: (listing day, strike [n], expiry years, is_call, qty [n])
    lines = [
        (
            0,
            np.full(n_paths, p.moneyness * m.spot),
            p.expiry_days / scenario.year_days,
            p.is_call,
            np.full(n_paths, p.qty),
        )
        for p in scenario.book
    ]
    flow = scenario.flow
    if flow is not None:
        for day in range(1, T):
            count = rng.poisson(flow.rate_per_day, n_paths)
            units = (
                (2 * rng.binomial(count, 0.5) - count)
                if flow.side == "random"
                else (count if flow.side == "long" else -count)
            )
            lines.append(
                (
                    day,
                    flow.moneyness * spot[day],
                    day * dt + flow.expiry_days / scenario.year_days,
                    flow.is_call,
                    flow.qty * units.astype(float),
                )
            )

    def track(day0: int, strike: np.ndarray, expiry: float, call: bool):
        t = np.arange(day0, T + 1)[:, None] * dt
        g = bsm_greeks(spot[day0:], strike[None, :], expiry - t, iv, r, q, call)
        ds = np.diff(spot[day0:], axis=0)
        pnl = (np.diff(g.price, axis=0) - g.delta[:-1] * ds).sum(axis=0)
        return g, pnl

    book_pnl = np.zeros(n_paths)
    book_gamma, book_vega = np.zeros((T, n_paths)), np.zeros((T, n_paths))
    for day0, strike, e, call, qty in lines:
        g, pnl = track(day0, strike, e, call)
        book_pnl += qty * pnl
        book_gamma[day0:] += qty * g.gamma[:-1]
        book_vega[day0:] += qty * g.vega[:-1]
    unit_pnl, premium = np.zeros((T, n_paths)), np.zeros((T, n_paths))
    hg, hv = np.zeros((T, T, n_paths)), np.zeros((T, T, n_paths))
    tenor = spec.tenor_days / scenario.year_days
    for k in range(T):
        g, pnl = track(k, spot[k], k * dt + tenor, spec.is_call)
        unit_pnl[k], premium[k] = pnl, g.price[0]
        hg[k, k:], hv[k, k:] = g.gamma[:-1], g.vega[:-1]
    cost = scenario.instrument_costs()[instrument].fee_pct / 100.0
    return Precomputed(book_pnl, unit_pnl, premium, book_gamma, book_vega, hg, hv, cost)


def objective_fn(kind: str, level: float) -> Callable[[Any], Any]:
    """The risk of P&L ``R`` to minimise (torch): mean-std, CVaR or entropic."""
    import torch

    if kind == "mean_std":
        return lambda pnl: (-pnl).mean() + level * pnl.std(unbiased=False)
    if kind == "cvar":

        def cvar(pnl: Any) -> Any:
            loss = -pnl
            k = max(1, round(level * loss.numel()))
            return torch.topk(loss, k).values.mean()

        return cvar
    if kind == "entropic":
        return lambda pnl: torch.logsumexp(-level * pnl, 0) / level - np.log(pnl.numel()) / level
    raise ScenarioError(f"objective must be mean_std, cvar or entropic, got {kind!r}")


def rollout(pre: Precomputed, net: Any, mode: str) -> Any:
    """The P&L ``[n]`` of a policy over the precomputed paths (torch, differentiable)."""
    import torch

    t = {
        k: torch.from_numpy(getattr(pre, k))
        for k in (
            "book_pnl",
            "unit_pnl",
            "premium",
            "book_gamma",
            "book_vega",
            "hedge_gamma",
            "hedge_vega",
        )
    }
    n_days = pre.unit_pnl.shape[0]
    pnl = t["book_pnl"].clone()
    held_g = torch.zeros_like(t["book_gamma"])
    held_v = torch.zeros_like(t["book_vega"])
    for k in range(n_days):
        gamma = t["book_gamma"][k] + held_g[k]
        vega = t["book_vega"][k] + held_v[k]
        gk, vk = t["hedge_gamma"][k, k], t["hedge_vega"][k, k]
        needed = -gamma / gk
        x = torch.stack(
            [needed / 100.0, torch.full_like(needed, k / n_days), -vega / vk / 100.0], dim=1
        )
        out = net(x)[:, 0]
        qty = needed * torch.sigmoid(out) if mode == "residual" else 100.0 * out
        pnl = pnl + qty * t["unit_pnl"][k] - pre.cost * qty.abs() * t["premium"][k]
        held_g = held_g + qty[None, :] * t["hedge_gamma"][k]
        held_v = held_v + qty[None, :] * t["hedge_vega"][k]
    return pnl


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
) -> tuple[dict[str, Any], list[float]]:
    """Train a policy for the scenario's hedge option; return the checkpoint blob and losses.

    Args:
        scenario: A scenario the trainer supports (see :func:`precompute`).
        instrument: The hedge option the policy trades.
        mode: ``"residual"`` (fraction of the gamma-neutral trade) or ``"direct"``.
        paths: Training paths (one full batch).
        epochs: Adam steps.
        seed: Seeds the paths and the initial weights.
        objective: ``"mean_std"`` (level = c, default the scenario's risk
            aversion), ``"cvar"`` (level = tail fraction, default 0.05) or
            ``"entropic"`` (level = risk aversion, default 0.1).
        level: The objective's parameter.
        hidden: Width of the two hidden layers.
        on_epoch: Called with (epoch, objective value) after each step.
    """
    import torch

    lvl = check_train_args(scenario, paths, epochs, objective, level, hidden, seed, mode)
    check_supported(scenario, instrument)
    risk = objective_fn(objective, lvl)
    pre = precompute(scenario, paths, seed, instrument)
    torch.manual_seed(seed)
    head = torch.nn.Linear(hidden, 1)
    net = torch.nn.Sequential(
        torch.nn.Linear(len(FEATURES), hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, hidden),
        torch.nn.Tanh(),
        head,
    ).double()
    if mode == "residual":
        torch.nn.init.constant_(head.bias, 2.0)  # start near the rule (sigmoid(2) = 0.88)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    losses = []
    for epoch in range(epochs):
        opt.zero_grad()
        loss = risk(rollout(pre, net, mode))
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
    layers = [m for m in net if isinstance(m, torch.nn.Linear)]
    if not all(bool(torch.isfinite(p).all()) for p in net.parameters()):
        raise TrainingDiverged(
            "training diverged: the weights are not finite (try another --level)"
        )
    blob: dict[str, Any] = {}
    for i, layer in enumerate(layers):
        blob[f"w{i}"] = layer.weight.detach().T.contiguous().clone()  # [in, out]
        blob[f"b{i}"] = layer.bias.detach().clone()
    try:
        version = metadata.version("gammaray")
    except metadata.PackageNotFoundError:  # pragma: no cover
        version = "unknown"
    blob["meta"] = json.dumps(
        {
            "version": CHECKPOINT_VERSION,
            "features": list(FEATURES),
            "instrument": instrument,
            "mode": mode,
            "layers": len(layers),
            "objective": objective,
            "level": lvl,
            "scenario": scenario.name,
            "family": scenario.family,
            "option_cost": pre.cost,
            "seed": seed,
            "paths": paths,
            "epochs": epochs,
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
