"""The manager's per-step series (greek percentiles, budget usage, scales, mean P&L),
buffered and summarised in batches. Part of :class:`agents.manager.RiskManager`."""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.allocation import GREEKS
from agents.manager_config import ManagerConfig
from agents.portfolio import Portfolio
from market.events import MarketEvent, Order

#: Numbers the per-step series buffer holds (five per path and step) before
#: its percentiles are taken.
SERIES_BUFFER_ELEMENTS = 1 << 20
#: Most steps buffered at once.
SERIES_MAX_ROWS = 4096
#: Paths the per-step greek percentiles are taken over, at most (an evenly
#: strided sample beyond it; exact below).
SERIES_SAMPLE_PATHS = 2048


class SeriesBuffer:
    """The series half of :class:`~agents.manager.RiskManager` (a mixin; state set there)."""

    config: ManagerConfig
    scales: dict[str, float]
    _running: dict[str, np.ndarray]
    _wealth: np.ndarray
    _series: list[dict[str, float]]
    _series_buf: np.ndarray | None
    _series_meta: list[tuple[float, float, tuple[float, ...], tuple[float, float, float] | None]]
    sample_paths: int
    portfolio: Portfolio
    _sample: list[dict[str, np.ndarray]]
    _stamps: list[str]

    def net_orders(self) -> list[Order]:
        raise NotImplementedError

    @property
    def series(self) -> list[dict[str, float]]:
        """Per-step summaries across paths of the post-trade book (for reports).

        One dict per settled step: ``step``, ``time``, the 5th/50th/95th
        percentiles of delta, gamma and vega, ``budget_usage`` (mean stressed
        loss / budget), ``breach_rate``, the budget ``scale_*`` and
        ``pnl_mean`` (pre-trade wealth).
        """
        self._flush_series()
        return self._series

    @series.setter
    def series(self, rows: list[dict[str, float]]) -> None:
        self._series = list(rows)
        self._series_buf, self._series_meta = None, []

    def _series_add(self, market: MarketEvent, loss: np.ndarray) -> None:
        """Keep this step's summary inputs; the summaries are taken in batches.

        The post-trade delta, gamma and vega (and, on up to
        :data:`SERIES_SAMPLE_PATHS` paths, the stressed loss and wealth) are
        copied into a buffer of up to :data:`SERIES_BUFFER_ELEMENTS` numbers;
        when it is full (and whenever :attr:`series` is read) one vectorised
        pass takes the percentiles and means of every buffered step -- the
        same numbers, bit for bit, as one pass per step, at a fraction of the
        fixed cost. On more paths than :data:`SERIES_SAMPLE_PATHS` the greek
        percentiles are those of an evenly strided sample of paths (``0, s,
        2s, ...`` with ``s = ceil(n / SERIES_SAMPLE_PATHS)``, at least
        ``SERIES_SAMPLE_PATHS / 2`` paths): an exact percentile is an
        O(n) selection costing about as much as the step's pricing, for a
        plotted band. The means (budget usage, breach rate, P&L) always use
        every path.
        """
        n = loss.shape[0]
        stride = -(-n // SERIES_SAMPLE_PATHS)
        exact = stride == 1
        buf = self._series_buf
        if buf is None:
            width, m = (5, n) if exact else (3, len(range(0, n, stride)))
            rows = max(1, min(SERIES_MAX_ROWS, SERIES_BUFFER_ELEMENTS // (width * m)))
            buf = self._series_buf = np.empty((rows, width, m))
        i = len(self._series_meta)
        r = self._running
        means: tuple[float, float, float] | None = None
        if exact:
            buf[i, 0], buf[i, 1], buf[i, 2] = r["delta"], r["gamma"], r["vega"]
            buf[i, 3], buf[i, 4] = loss, self._wealth
        else:
            buf[i, 0] = r["delta"][::stride]
            buf[i, 1] = r["gamma"][::stride]
            buf[i, 2] = r["vega"][::stride]
            budget = self.config.budget
            means = (
                float(np.mean(loss) / budget),
                float(np.mean(loss > budget)),
                float(np.mean(self._wealth)),
            )
        scales = tuple(self.scales[g] for g in GREEKS)
        self._series_meta.append((float(market.step), market.time, scales, means))
        if i + 1 == buf.shape[0]:
            self._flush_series()

    def _flush_series(self) -> None:
        meta = self._series_meta
        if not meta:
            return
        k, budget = len(meta), self.config.budget
        buf = self._series_buf
        assert buf is not None
        # The buffer is scratch: let the selection work in place.
        q = np.percentile(buf[:k, :3], (5, 50, 95), axis=-1, overwrite_input=True)
        if buf.shape[1] == 5:
            usage = np.mean(buf[:k, 3], axis=-1) / budget
            breach = np.mean(buf[:k, 3] > budget, axis=-1)
            pnl = np.mean(buf[:k, 4], axis=-1)
        for i, (step, time, scales, means) in enumerate(meta):
            row = {"step": step, "time": float(time)}
            for j, g in enumerate(GREEKS):
                row.update(
                    {
                        f"{g}_p5": float(q[0, i, j]),
                        f"{g}_p50": float(q[1, i, j]),
                        f"{g}_p95": float(q[2, i, j]),
                    }
                )
            if means is None:
                means = (float(usage[i]), float(breach[i]), float(pnl[i]))
            row["budget_usage"], row["breach_rate"] = means[0], means[1]
            row.update({f"scale_{g}": float(x) for g, x in zip(GREEKS, scales, strict=True)})
            row["pnl_mean"] = means[2]
            self._series.append(row)
        self._series_meta = []

    def _sample_add(self, market: MarketEvent, loss: np.ndarray) -> None:
        """Copy this step's post-trade values on the first :attr:`sample_paths` paths."""
        k, n = self.sample_paths, market.n_paths
        r = self._running

        def head(x: Any) -> np.ndarray:
            return np.array(np.broadcast_to(np.asarray(x, dtype=np.float64), (n,))[:k])

        row = {
            "pnl": head(self._wealth),
            "delta": head(r["delta"]),
            "gamma": head(r["gamma"]),
            "vega": head(r["vega"]),
            "theta": head(r["theta"]),
            "stressed_loss": head(loss),
            "spot": head(market.spot),
            "atm_vol": head(market.surface.atm),
        }
        traded = {o.instrument: o.qty for o in self.net_orders()}
        held = self.portfolio.positions()
        for q in market.quotes:
            row[f"hold:{q.instrument}"] = head(held.get(q.instrument, 0.0))
            row[f"trade:{q.instrument}"] = head(traded.get(q.instrument, 0.0))
        self._sample.append(row)
        self._stamps.append(market.stamp)

    @property
    def sampled(self) -> dict[str, np.ndarray]:
        """Per-step values on the first :attr:`sample_paths` paths (empty when none).

        ``pnl`` (pre-trade mark-to-market wealth, currency), the post-trade
        book ``delta`` (units of spot), ``gamma`` (per unit of spot), ``vega``
        (per 1.00 of vol), ``theta`` (per year), ``stressed_loss`` (currency),
        ``spot``, ``atm_vol`` (decimal), and per listed instrument
        ``hold:<name>`` (units held after the step's fills) and
        ``trade:<name>`` (the step's net order, units): ``[steps, k]`` each;
        ``stamp``: the steps' calendar stamps, ``[steps]``.
        """
        rows = self._sample
        if not rows:
            return {}
        keys = list(dict.fromkeys(key for row in rows for key in row))
        zero = np.zeros(self.sample_paths)
        out = {key: np.stack([row.get(key, zero) for row in rows]) for key in keys}
        out["stamp"] = np.array(self._stamps, dtype=str)
        return out
