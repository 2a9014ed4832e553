"""The ``cascade`` action in training: a learned fraction of each of a cascade of rules' trades.

One policy output per instrument ``k``: ``sigmoid(f_k)`` of the trade in that
instrument that makes the book's ``rules[k]`` greek neutral, the instruments
taken in order and the book's greeks moved by the earlier instruments' trades
at their quotes' greeks (the engine's cascade of vega, gamma and delta
hedgers, each scaled by the policy). :class:`agents.deep.LearnedHedger` acts
so at inference (``actions.kind = "cascade"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestration._train_pnl import Ledger
from orchestration._train_policies import GREEKS3, ActionSpec, LearnedActor


@dataclass(frozen=True)
class CascadeSpec(ActionSpec):
    """A ``cascade`` action: ``rules[k]`` is the greek instrument ``k``'s trade neutralises."""

    rules: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The checkpoint's ``actions`` entry."""
        return {"kind": "cascade", "instruments": list(self.instruments), "rules": list(self.rules)}


class CascadeActor(LearnedActor):
    """A policy network acting by a :class:`CascadeSpec`."""

    spec: CascadeSpec

    def act(self, k: int, view: dict[str, Any], led: Ledger) -> list[tuple[str, Any]]:
        """The orders of step ``k``: each instrument's fraction of its rule's trade, in order."""
        import torch

        ds = led.ds
        out = self.outputs(k, view, led)
        book = dict(view)
        orders = []
        for j, (inst, rule) in enumerate(zip(self.spec.instruments, self.spec.rules, strict=True)):
            q = ds.quotes[inst]
            qty = torch.sigmoid(out[:, j]) * (-book[rule] / self.safe_unit(inst, rule, k, ds))
            book = {g: book[g] + qty * q[g][k] for g in GREEKS3}
            orders.append((inst, qty))
        return orders
