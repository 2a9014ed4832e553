"""The hedged P&L of any trades over a training set, in torch (float64, differentiable).

:class:`Ledger` books a hedge's trades the way the engine's portfolio does --
every formula is the engine's own (:func:`market._fills.fill_cost`, the cost of
:func:`~market._fills.fill_terms`' fill, :mod:`agents._ledger` for cash, interest,
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
from market._fills import fill_cost
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
#: The greeks the ledger sums over its slots, in the order of ``DeviceSet.kept_g``.
GREEKS = ("delta", "gamma", "vega")


@dataclass
class DeviceSet:
    """A training set's arrays as torch tensors on one device (see :class:`TrainSet`).

    Besides the arrays it keeps what the :class:`Ledger`'s step loop needs as
    plain Python (so a step issues no host syncs and no per-slot work that is
    structurally zero): per step ``k`` the rolled slots closed on some path
    (``closing[k]``: ``(slot, close mask or None where every path closes)``),
    the slots settling (``expiring[k]``), the step's length, rate and
    dividend as floats; and the greeks of the held-to-expiry slots (``kept``)
    that can hold units at step ``k``: ``kept_g[k] = (lo, [3, rows, n])``,
    delta, gamma and vega of ``kept[lo:lo + rows]`` (zero outside a slot's life).
    """

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
    kept_g: list[tuple[int, Any]]
    closing: list[list[tuple[int, Any]]]
    expiring: list[list[int]]
    dt: list[float]
    rate: list[float]
    div: list[float]
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
    # Per step, the rows of ``kept`` that can hold units then (entered before
    # the step, not yet settled) and their greeks, one [3, rows, n] tensor.
    kept_g: list[tuple[int, Any]] = []
    ends: list[int] = []
    for i in kept:
        end = ts.slots[i].expire
        ends.append(T1 if end is None else end)
    for k in range(T1):
        rows = [j for j, i in enumerate(kept) if ts.slots[i].first < k < ends[j]]
        if not rows:
            kept_g.append((0, None))
            continue
        lo, hi = rows[0], rows[-1] + 1
        g = np.zeros((3, hi - lo, ts.n_paths))
        for j in range(lo, hi):
            s = ts.slots[kept[j]]
            if s.first <= k < ends[j]:
                for r, name in enumerate(GREEKS):
                    g[r, j - lo] = s.greeks[name][k]
        kept_g.append((lo, t(g)))
    slot_close = [t(s.close) for s in ts.slots]
    closing: list[list[tuple[int, Any]]] = [[] for _ in range(T1)]
    expiring: list[list[int]] = [[] for _ in range(T1)]
    for i, s in enumerate(ts.slots):
        if s.expire is not None:
            expiring[s.expire].append(i)
        if s.contract is None and s.close is not None:
            for k in range(1, T1):
                if s.close[k].all():
                    closing[k].append((i, None))
                elif s.close[k].any():
                    closing[k].append((i, slot_close[i][k]))
    times = ts.times.tolist()
    return DeviceSet(
        ts=ts,
        kept=kept,
        kept_g=kept_g,
        closing=closing,
        expiring=expiring,
        dt=[0.0] + [times[k] - times[k - 1] for k in range(1, T1)],
        rate=[float(r) for r in ts.rate],
        div=[float(d) for d in ts.div],
        spot=t(ts.spot),
        atm=t(ts.atm),
        quotes={k: {g: t(v) for g, v in q.items()} for k, q in ts.quotes.items()},
        book={g: t(v) for g, v in ts.book.items()},
        bands={g: t(v) for g, v in ts.bands.items()},
        book_pnl=t(ts.book_pnl),
        slot_value=[t(s.value) for s in ts.slots],
        slot_vega=[t(s.vega) for s in ts.slots],
        slot_close=slot_close,
        slot_payoff=[t(s.payoff) for s in ts.slots],
        slot_greeks=[{g: t(v) for g, v in s.greeks.items()} for s in ts.slots],
        strike={k: t(v) for k, v in ts.strike.items()},
        device=device,
        stress_ds=t(ts.stress_ds) if ts.hard_limit is not None else None,
    )


class Ledger:
    """The hedge's cash, stock and option slots over the paths, stepped in torch.

    A slot nothing has entered yet (or that settled) holds the ledger's one
    zero tensor (``self.zero``, compared by identity), and the step loop
    skips it: at step ``k`` only the slots that can hold units cost work.

    Args:
        ds: The training set on its device.
    """

    def __init__(self, ds: DeviceSet) -> None:
        import torch

        self.ds = ds
        ts = ds.ts
        n = ts.n_paths
        z = torch.zeros(n, dtype=torch.float64, device=ds.device)
        self.zero = z
        self.cash = z
        self.stock = z
        self.cost = z
        self.held: list[Any] = [z for _ in ts.slots]
        self.step = -1
        self._rolled = [(i, s.instrument) for i, s in enumerate(ts.slots) if s.contract is None]
        self._of: dict[str, list[int]] = {}
        for i, s in enumerate(ts.slots):
            self._of.setdefault(s.instrument, []).append(i)
        self._trade = {
            inst: (
                ts.kinds[j] == "option",
                ts.costs[inst],
                [float(m) for m in ts.spread_mult[inst]],
                [int(i) for i in ts.trade_slot[inst]],
            )
            for j, inst in enumerate(ts.instruments)
        }

    def begin(self, k: int) -> None:
        """Carry the hedge to step ``k``: interest, dividends, expiries, rolls."""
        ts, ds = self.ds.ts, self.ds
        self._carry(k)
        if k > 0:
            for i, close in ds.closing[k]:
                held = self.held[i]
                if held is self.zero:
                    continue
                s = ts.slots[i]
                qty = -held if close is None else XP.where(close, -held, 0.0)
                value, vega = ds.slot_value[i][k], ds.slot_vega[i][k]
                paid = fill_cost(qty, value, vega, True, ts.costs[s.instrument], 1.0, XP)
                self._book(qty, value, paid)
                self.held[i] = self.zero if close is None else held + qty
        self.step = k

    def _carry(self, k: int) -> None:
        ds = self.ds
        if k > 0:
            dt = ds.dt[k]
            if dt > 0.0:
                if ds.rate[k] != 0.0:
                    self.cash = self.cash + interest(self.cash, ds.rate[k], dt)
                if ds.div[k] != 0.0:
                    paid = dividends(self.stock, ds.spot[k - 1], ds.div[k], dt)
                    self.cash = self.cash + paid
        for i in ds.expiring[k]:
            if self.held[i] is not self.zero:
                self.cash = self.cash + self.held[i] * ds.slot_payoff[i]
                self.held[i] = self.zero

    def trade(self, inst: str, qty: Any) -> None:
        """Fill ``qty`` units of ``inst`` (``[n]``) at this step's quote, spread and costs."""
        ds, k = self.ds, self.step
        q = ds.quotes[inst]
        is_option, cost, mult, slot = self._trade[inst]
        mid = q["mid"][k]
        self._book(qty, mid, fill_cost(qty, mid, q["vega"][k], is_option, cost, mult[k], XP))
        if is_option:
            i = slot[k]
            self.held[i] = qty if self.held[i] is self.zero else self.held[i] + qty
        else:
            self.stock = self.stock + qty

    def _book(self, qty: Any, mid: Any, paid: Any) -> None:
        """Book a fill of ``qty`` at ``mid`` plus ``paid`` against cash (``paid``: 0.0 if free)."""
        self.cash = cash_after_fill(self.cash, qty, mid, paid)
        if not isinstance(paid, float):
            self.cost = self.cost + paid

    def position(self, inst: str) -> Any:
        """Units held of ``inst`` (summed over its contracts), ``[n]``."""
        if inst == "underlying":
            return self.stock
        held = [self.held[i] for i in self._of.get(inst, ()) if self.held[i] is not self.zero]
        if not held:
            return self.zero
        out = held[0]
        for h in held[1:]:
            out = out + h
        return out

    def greeks(self) -> dict[str, Any]:
        """The hedge's delta, gamma and vega at this step (after its roll), ``[n]`` each."""
        import torch

        ds, k = self.ds, self.step
        out = {"delta": self.stock, "gamma": self.zero, "vega": self.zero}
        for i, inst in self._rolled:
            if self.held[i] is not self.zero:
                for g in out:
                    out[g] = out[g] + self.held[i] * ds.quotes[inst][g][k]
        base, greeks = ds.kept_g[k]
        rows = [j for j, i in enumerate(ds.kept) if self.held[i] is not self.zero]
        if rows:
            lo, hi = rows[0], rows[-1] + 1
            assert greeks is not None and base <= lo and hi - base <= greeks.shape[1]
            held = torch.stack([self.held[i] for i in ds.kept[lo:hi]])
            kept = (held[None] * greeks[:, lo - base : hi - base]).sum(1).unbind(0)
            for r, g in enumerate(GREEKS):
                out[g] = kept[r] if out[g] is self.zero else out[g] + kept[r]
        return out

    def finish(self) -> Any:
        """The terminal P&L ``[n]``: the book's plus the hedge's wealth at the last quote."""
        ts, ds = self.ds.ts, self.ds
        T = ts.n_steps
        self._carry(T)
        wealth = self.cash + self.stock * ds.spot[T]
        for i, held in enumerate(self.held):
            if held is not self.zero:
                wealth = wealth + held * ds.slot_value[i][T]
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
