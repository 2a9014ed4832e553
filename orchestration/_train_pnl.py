"""The hedged P&L of any trades over a training set, in torch (float64, differentiable).

:class:`Ledger` books a hedge's trades the way the engine's portfolio does --
every formula is the engine's own (:func:`market._fills.fill_terms` for the
price and cost of a fill, :mod:`agents._ledger` for cash, interest,
dividends and settlement at expiry), called with torch tensors -- over the
slots of a :class:`~orchestration._trainset.TrainSet`. Step ``k`` first
carries the hedge to the step's time and settles what expires, closes what
the exchange relisted or re-struck (the engine's rolls, at their cost), then
takes the step's trades at the step's quotes and fast-market spreads. The
terminal P&L is the unhedged book's plus the hedge's wealth at the last
quote; for the trades the engine's manager actually filled it equals the
engine's P&L to rounding (the equivalence tests).

Tensors live on one device (``cpu`` or ``cuda``); the training set is copied
there once (:func:`to_device`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agents._ledger import cash_after_fill, dividends, interest
from market._fills import fill_terms
from orchestration._trainset import TrainSet


class TorchNS:
    """The array namespace the shared formulas need, over torch tensors."""

    @staticmethod
    def abs(x: Any) -> Any:
        import torch

        return torch.abs(x)

    @staticmethod
    def sign(x: Any) -> Any:
        import torch

        return torch.sign(x)

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        import torch

        return torch.where(cond, a, b)

    @staticmethod
    def maximum(x: Any, y: float) -> Any:
        import torch

        return torch.clamp_min(x, y)


XP = TorchNS()


@dataclass
class DeviceSet:
    """A training set's arrays as torch tensors on one device (see :class:`TrainSet`)."""

    ts: TrainSet
    spot: Any
    atm: Any
    quotes: dict[str, dict[str, Any]]
    book: dict[str, Any]
    bands: dict[str, Any]
    book_pnl: Any
    slot_value: list[Any]
    slot_vega: list[Any]
    slot_close: list[Any]
    slot_payoff: list[Any]
    slot_greeks: list[dict[str, Any]]
    strike: dict[str, Any]
    kept: list[int]
    kept_greeks: dict[str, Any]
    kept_live: Any
    device: Any
    stress_ds: Any = None


def to_device(ts: TrainSet, device: str = "cpu") -> DeviceSet:
    """Copy a training set's arrays to ``device`` as float64 tensors (shared on cpu)."""
    import torch

    def t(a: np.ndarray | None) -> Any:
        if a is None:
            return None
        return torch.from_numpy(np.ascontiguousarray(a)).to(device)

    kept = [i for i, s in enumerate(ts.slots) if s.contract is not None]
    T1 = ts.n_steps + 1
    live = np.zeros((len(kept), T1, 1))
    for j, i in enumerate(kept):
        s = ts.slots[i]
        live[j, s.first : s.expire if s.expire is not None else T1] = 1.0
    kept_greeks = {
        g: torch.from_numpy(np.stack([ts.slots[i].greeks[g] for i in kept]) * live).to(device)
        if kept
        else None
        for g in ("delta", "gamma", "vega")
    }
    return DeviceSet(
        ts=ts,
        kept=kept,
        kept_greeks=kept_greeks,
        kept_live=live,
        spot=t(ts.spot),
        atm=t(ts.atm),
        quotes={k: {g: t(v) for g, v in q.items()} for k, q in ts.quotes.items()},
        book={g: t(v) for g, v in ts.book.items()},
        bands={g: t(v) for g, v in ts.bands.items()},
        book_pnl=t(ts.book_pnl),
        slot_value=[t(s.value) for s in ts.slots],
        slot_vega=[t(s.vega) for s in ts.slots],
        slot_close=[t(s.close) for s in ts.slots],
        slot_payoff=[t(s.payoff) for s in ts.slots],
        slot_greeks=[{g: t(v) for g, v in s.greeks.items()} for s in ts.slots],
        strike={k: t(v) for k, v in ts.strike.items()},
        device=device,
        stress_ds=t(ts.stress_ds) if ts.hard_limit is not None else None,
    )


class Ledger:
    """The hedge's cash, stock and option slots over the paths, stepped in torch.

    Args:
        ds: The training set on its device.
    """

    def __init__(self, ds: DeviceSet) -> None:
        import torch

        self.ds = ds
        ts = ds.ts
        n = ts.n_paths
        z = torch.zeros(n, dtype=torch.float64, device=ds.device)
        self.cash = z
        self.stock = z
        self.cost = z
        self.held: list[Any] = [z for _ in ts.slots]
        self.step = -1

    def begin(self, k: int) -> None:
        """Carry the hedge to step ``k``: interest, dividends, expiries, rolls."""
        ts, ds = self.ds.ts, self.ds
        self._carry(k)
        for i, s in enumerate(ts.slots):
            if s.contract is None and k > 0:
                close = ds.slot_close[i][k]
                if bool(close.any()):
                    qty = XP.where(close, -self.held[i], 0.0)
                    value, vega = ds.slot_value[i][k], ds.slot_vega[i][k]
                    _, paid = fill_terms(qty, value, vega, True, ts.costs[s.instrument], 1.0, XP)
                    self.cash = cash_after_fill(self.cash, qty, value, paid)
                    self.cost = self.cost + paid
                    self.held[i] = self.held[i] + qty
        self.step = k

    def _carry(self, k: int) -> None:
        ts, ds = self.ds.ts, self.ds
        if k > 0:
            dt = float(ts.times[k] - ts.times[k - 1])
            if dt > 0.0:
                if ts.rate[k] != 0.0:
                    self.cash = self.cash + interest(self.cash, float(ts.rate[k]), dt)
                if ts.div[k] != 0.0:
                    paid = dividends(self.stock, ds.spot[k - 1], float(ts.div[k]), dt)
                    self.cash = self.cash + paid
        for i, s in enumerate(ts.slots):
            if s.expire == k:
                self.cash = self.cash + self.held[i] * ds.slot_payoff[i]
                self.held[i] = self.held[i] * 0.0

    def trade(self, inst: str, qty: Any) -> None:
        """Fill ``qty`` units of ``inst`` (``[n]``) at this step's quote, spread and costs."""
        ts, ds, k = self.ds.ts, self.ds, self.step
        q = ds.quotes[inst]
        is_option = ts.kinds[ts.instruments.index(inst)] == "option"
        mult = float(ts.spread_mult[inst][k])
        _, paid = fill_terms(qty, q["mid"][k], q["vega"][k], is_option, ts.costs[inst], mult, XP)
        self.cash = cash_after_fill(self.cash, qty, q["mid"][k], paid)
        self.cost = self.cost + paid
        if is_option:
            i = int(ts.trade_slot[inst][k])
            self.held[i] = self.held[i] + qty
        else:
            self.stock = self.stock + qty

    def position(self, inst: str) -> Any:
        """Units held of ``inst`` (summed over its contracts), ``[n]``."""
        if inst == "underlying":
            return self.stock
        out = self.stock * 0.0
        for i, s in enumerate(self.ds.ts.slots):
            if s.instrument == inst:
                out = out + self.held[i]
        return out

    def greeks(self) -> dict[str, Any]:
        """The hedge's delta, gamma and vega at this step (after its roll), ``[n]`` each."""
        ts, ds, k = self.ds.ts, self.ds, self.step
        import torch

        out = {"delta": self.stock, "gamma": self.stock * 0.0, "vega": self.stock * 0.0}
        for i, s in enumerate(ts.slots):
            if s.contract is None:
                for g in out:
                    out[g] = out[g] + self.held[i] * ds.quotes[s.instrument][g][k]
        if ds.kept:
            held = torch.stack([self.held[i] for i in ds.kept])
            for g in out:
                out[g] = out[g] + (held * ds.kept_greeks[g][:, k]).sum(0)
        return out

    def finish(self) -> Any:
        """The terminal P&L ``[n]``: the book's plus the hedge's wealth at the last quote."""
        ts, ds = self.ds.ts, self.ds
        T = ts.n_steps
        self._carry(T)
        wealth = self.cash + self.stock * ds.spot[T]
        for i, _ in enumerate(ts.slots):
            wealth = wealth + self.held[i] * ds.slot_value[i][T]
        return ds.book_pnl + wealth


def pnl_of_trades(ds: DeviceSet, trades: Any) -> tuple[Any, Any]:
    """The terminal P&L of given net trades per step and instrument.

    Args:
        ds: The training set on its device.
        trades: ``[T, I, n]`` units per step, instrument (listing order) and path
            (a tensor, e.g. the fills the engine's manager made, or a policy's).

    Returns:
        ``(pnl [n], trading cost [n])``, currency.
    """
    led = Ledger(ds)
    ts = ds.ts
    for k in range(ts.n_steps):
        led.begin(k)
        for j, inst in enumerate(ts.instruments):
            led.trade(inst, trades[k, j])
    return led.finish(), led.cost
