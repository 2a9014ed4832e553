"""Out of sample on real history: every rolling window of real closes, one path each.

``market.kind = "history_windows"`` (:class:`~market.config.HistoryWindowsConfig`).
Path ``i`` is the window of ``window_days + 1`` closes starting at trading
day ``i * stride`` of the data between ``start`` and ``end``; row ``k`` of
a window is day ``k`` of the scenario (one step a day; a step between two
closes holds the earlier one). Each window is rebased to the market's
``spot`` (its returns kept). The ATM implied vol of a close is the VIX
close where ``arch`` ships it (2014-01-03..2019-01-03) and elsewhere the
fitted world's implied vol at the GJR-GARCH variance forecast made at that
close (:mod:`market.generators.fitted_fit`; the parameters are fitted on
``history.fit``'s sample, the filter uses only closes up to that day).
Skew and term slope are the market's ``surface.skew`` / ``surface.term``.

Everything is vectorised over windows: a step gathers one row per path
from the precomputed columns. No random numbers are drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from market._history import HistoryDataError, iso, load_closes, load_vix
from market._rng import BlockRNG
from market.config import HistoryWindowsConfig, MarketConfig
from market.generators.fitted_fit import filter_variance, fit_world, implied_atm
from market.generators.gbm import GBMGenerator, Release
from market.surface import SurfaceState


@dataclass(frozen=True, slots=True)
class HistoryTable:
    """The closes and ATM vols the windows read, and where each window starts.

    Attributes:
        dates: Trading days of the span, ``datetime64[D] [rows]``.
        close: Closes, index points, ``[rows]``.
        atm_vol: ATM implied vol per close, decimal, ``[rows]``.
        from_vix: True where the vol is a VIX close, ``bool [rows]``.
        starts: First row of every window, ``int64 [n_windows]``.
        window_days: Days a window spans.
    """

    dates: np.ndarray
    close: np.ndarray
    atm_vol: np.ndarray
    from_vix: np.ndarray
    starts: np.ndarray
    window_days: int

    @property
    def n_windows(self) -> int:
        """Number of windows (the ``n_paths`` of a run over all of them)."""
        return int(self.starts.shape[0])


def history_table(cfg: HistoryWindowsConfig) -> HistoryTable:
    """Build the windows of a history config from the shipped data.

    Raises:
        HistoryDataError: No data, or fewer closes than one window needs.
    """
    full = load_closes(cfg.data)
    world = fit_world(cfg.fit)
    h = filter_variance(np.diff(np.log(full.close)), world)
    hbar = world.unconditional_variance
    atm_full = implied_atm(np.concatenate([[hbar], h]), world)
    lo = np.searchsorted(full.dates, np.datetime64(cfg.start, "D"), side="left")
    hi = np.searchsorted(full.dates, np.datetime64(cfg.end, "D"), side="right")
    dates, close, atm = full.dates[lo:hi], full.close[lo:hi], atm_full[lo:hi].copy()
    rows = dates.shape[0]
    if rows < cfg.window_days + 1:
        raise HistoryDataError(
            f"market.history: {rows} {cfg.data} closes between {cfg.start} and {cfg.end}; a "
            f"window of {cfg.window_days} days needs {cfg.window_days + 1}"
        )
    from_vix = np.zeros(rows, dtype=bool)
    if cfg.vix:
        vdates, vix = load_vix()
        _, i_d, i_v = np.intersect1d(dates, vdates, return_indices=True)
        atm[i_d] = vix[i_v]
        from_vix[i_d] = True
    starts = np.arange(0, rows - cfg.window_days, cfg.stride, dtype=np.int64)
    return HistoryTable(dates, close, atm, from_vix, starts, cfg.window_days)


def check_paths(table: HistoryTable, cfg: HistoryWindowsConfig, path_stop: int) -> None:
    """Refuse more paths than windows (one line naming the count)."""
    if path_stop > table.n_windows:
        raise HistoryDataError(
            f"market.history: {table.n_windows} windows of {cfg.window_days} days in "
            f"{iso(table.dates[0])}..{iso(table.dates[-1])} (stride {cfg.stride}); n_paths "
            f"must be at most {table.n_windows}, got {path_stop}"
        )


class HistoryWindowsGenerator(GBMGenerator):
    """Rolling windows of real closes, one per path (``kind = "history_windows"``).

    Args:
        config: The market config; ``config.history`` names the windows.
        rng: Gives the paths (its ``path_start``: path ``i`` is window ``i``); no draws.
        year_days: Days per year: converts times (years) to window rows.

    Raises:
        HistoryDataError: The data cannot be read, or there are fewer windows than paths.
    """

    def __init__(self, config: MarketConfig, rng: BlockRNG, year_days: float) -> None:
        super().__init__(config, rng, year_days)
        cfg = config.history
        self.table = history_table(cfg)
        start = rng.path_start
        check_paths(self.table, cfg, start + rng.n)
        self._starts = self.table.starts[start : start + rng.n]
        first = self.table.close[self._starts]
        self._scale = config.spot / first if cfg.rebase else np.ones(rng.n)
        self.row = 0
        self.spot = first * self._scale

    def stamp(self, time: float) -> str:
        """No single date: every path is a different window."""
        return ""

    def surface(self, time: float) -> SurfaceState:
        """The recorded (or fitted) ATM vol of each window's current close."""
        n = self._starts.shape[0]
        s = self.config.surface
        return SurfaceState(
            atm=self.table.atm_vol[self._starts + self.row],
            skew=np.full(n, s.skew),
            term=np.full(n, s.term),
            event_var=np.zeros(n),
            event_time=math.inf,
        )

    def advance(self, t0: float, t1: float) -> list[Release]:
        """Move every window to its row in force at ``t1`` (years).

        Raises:
            HistoryDataError: ``t1`` is past the window's last close.
        """
        row = math.floor(t1 * self.year_days + 1e-6)
        if row > self.table.window_days:
            raise HistoryDataError(
                f"market.history.window_days is {self.table.window_days}: day {row} is past "
                f"the window (give the scenario days <= window_days)"
            )
        self.row = row
        self.spot = self.table.close[self._starts + row] * self._scale
        return []

    def snapshot(self) -> dict[str, Any]:
        """The current row (everything else is the data)."""
        return {"row": self.row}

    def restore(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`snapshot`."""
        self.row = int(state["row"])
        self.spot = self.table.close[self._starts + self.row] * self._scale


def worst_windows(cfg: HistoryWindowsConfig, pnl: np.ndarray, k: int = 10) -> list[dict[str, Any]]:
    """The ``k`` windows with the lowest P&L: dates, closes and P&L (JSON values).

    Args:
        cfg: The history config of the run.
        pnl: Terminal P&L per path (= per window), currency, ``[n_paths]``.
        k: How many.

    Returns:
        Worst first: ``rank``, ``window`` (its index), ``start`` / ``end``
        (ISO dates of its first and last close), ``spot_start`` /
        ``spot_end`` (the real closes, index points), ``pnl``.
    """
    table = history_table(cfg)
    order = np.argsort(pnl, kind="stable")[:k]
    out = []
    for rank, i in enumerate(order, 1):
        s = int(table.starts[i])
        e = s + table.window_days
        out.append(
            {
                "rank": rank,
                "window": int(i),
                "start": iso(table.dates[s]),
                "end": iso(table.dates[e]),
                "spot_start": float(table.close[s]),
                "spot_end": float(table.close[e]),
                "pnl": float(pnl[i]),
            }
        )
    return out


__all__ = [
    "HistoryTable",
    "HistoryWindowsGenerator",
    "check_paths",
    "history_table",
    "worst_windows",
]
