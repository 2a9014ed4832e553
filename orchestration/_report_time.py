"""The report's figures through time: market fans, P&L, greeks, hedges, budget.

Each builder takes the run's :class:`~orchestration._report_data.ReportData`
and returns a matplotlib Figure: one time unit on every x-axis (dates for a
replay), every scheduled event marked and labelled, units on every y-axis,
and one panel per configuration wherever configurations differ in scale
(each with its own y-scale).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from orchestration._report_data import GREEK_UNITS, ReportData
from orchestration._report_plot import band, color, figure, mark_events, note, tidy, time_axis

#: Panels per row of the per-configuration small multiples.
GRID_COLS = 3


def _grid(n: int, w: float = 4.6, h: float = 2.9) -> tuple[Any, list[Any]]:
    rows, cols = -(-n // GRID_COLS), min(n, GRID_COLS)
    fig, axes = figure(rows, cols, (w * cols, h * rows))
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _time_panel(ax: Any, data: ReportData, ylabel: str, title: str | None = None) -> None:
    time_axis(ax, data)
    ax.set_ylabel(ylabel, fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    mark_events(ax, data)
    tidy(ax)


def _band_note(data: ReportData) -> str:
    if data.one_path:
        return "the one path"
    return f"median, 5–95% band over {data.sample_paths():,} paths"


def fig_market(data: ReportData) -> Any:
    """The spot and ATM implied-vol fans (the paths' gap and the vol crush)."""
    fig, axes = figure(1, 2, (13, 3.8))
    cols = data.series[data.configs[0]]
    x = data.x(cols["time"])
    ccy = data.currency
    if "spot_p50" not in cols:
        for ax in axes[0]:
            note(ax, "no per-step sample recorded in this run")
        return fig
    band(axes[0, 0], x, cols, "spot", color(0))
    band(axes[0, 1], x, cols, "atm_vol", color(3), scale=100.0)
    _time_panel(axes[0, 0], data, f"spot ({ccy})", f"spot ({_band_note(data)})")
    _time_panel(
        axes[0, 1], data, "ATM implied vol (%, 30-day)", f"ATM implied vol ({_band_note(data)})"
    )
    return fig


def fig_pnl_time(data: ReportData) -> Any:
    """P&L through time per configuration: median and 5–95% band, and the mean."""
    fig, axes = _grid(len(data.configs))
    for i, (ax, name) in enumerate(zip(axes, data.configs, strict=True)):
        cols = data.series[name]
        x = data.x(cols["time"])
        if "pnl_p50" in cols:
            band(ax, x, cols, "pnl", color(i), label=_band_note(data))
        if not data.one_path:
            ax.plot(x, cols["pnl_mean"], color="k", linewidth=0.8, linestyle="--", label="mean")
        ax.axhline(0.0, color="grey", linewidth=0.6)
        _time_panel(ax, data, f"P&L ({data.currency}, profit +)", name)
        ax.legend(fontsize=6, loc="lower left")
    return fig


def fig_greeks(data: ReportData) -> Any:
    """The post-trade book greeks in desk units: a row per greek, a column per configuration."""
    n = len(data.configs)
    fig, axes = figure(
        len(GREEK_UNITS), n, (3.3 * n + 0.8, 2.3 * len(GREEK_UNITS)), top=0.65, gap=(0.9, 0.8)
    )
    for j, name in enumerate(data.configs):
        cols = data.series[name]
        x = data.x(cols["time"])
        for i, (key, label) in enumerate(GREEK_UNITS):
            ax = axes[i, j]
            if f"{key}_p50" in cols:
                band(ax, x, cols, key, color(j))
            else:
                note(ax, "not recorded")
            ax.axhline(0.0, color="grey", linewidth=0.6)
            _time_panel(ax, data, label.format(ccy=data.currency), name if i == 0 else None)
    fig.suptitle(f"book greeks after each step's trades ({_band_note(data)})", fontsize=10)
    return fig


def hedge_instruments(data: ReportData) -> list[str]:
    """Listed instruments with holding columns in the series."""
    cols = data.series[data.configs[0]]
    return [k[5:-4] for k in cols if k.startswith("hold_") and k.endswith("_p50")]


def _hedged(data: ReportData) -> list[str]:
    names = hedge_instruments(data)
    return [
        c
        for c in data.configs
        if any(np.any(data.series[c][f"trade_{i}_abs"] > 0.0) for i in names)
    ]


def fig_hedges(data: ReportData) -> Any:
    """Hedge holdings (median, band) and the mean net trade per step, per configuration."""
    names = hedge_instruments(data)
    hedged = _hedged(data)
    if not names or not hedged:
        fig, axes = figure(1, 1, (8, 2))
        note(axes[0, 0], "no configuration traded a hedge instrument")
        return fig
    fig, axes = figure(len(hedged), len(names), (4.4 * len(names), 2.6 * len(hedged)), top=0.65)
    for r, cname in enumerate(hedged):
        cols = data.series[cname]
        x = data.x(cols["time"])
        c = color(data.configs.index(cname))
        width = _bar_width(x)
        for j, inst in enumerate(names):
            ax = axes[r, j]
            if not np.any(cols[f"trade_{inst}_abs"] > 0.0):
                ax.set_visible(False)  # never traded by this configuration
                continue
            band(ax, x, cols, f"hold_{inst}", c, label="held after trades")
            ax.bar(
                x,
                cols[f"trade_{inst}_mean"],
                width=width,
                color="k",
                alpha=0.5,
                label="orders, net (mean; rolls not shown)",
            )
            ax.axhline(0.0, color="grey", linewidth=0.6)
            _time_panel(ax, data, f"{inst} (units)", f"{cname}: {inst}")
            if r == 0:
                ax.legend(fontsize=6, loc="best")
    fig.suptitle(f"hedge holdings and trades ({_band_note(data)})", fontsize=10)
    return fig


def _bar_width(x: np.ndarray) -> Any:
    if x.size < 2:
        return 0.8
    d = np.diff(x)
    if np.issubdtype(d.dtype, np.timedelta64):
        return float(np.min(d).astype("timedelta64[s]").astype(np.float64)) / 86400.0 * 0.8
    return float(np.min(d)) * 0.8


def fig_budget(data: ReportData) -> Any:
    """Budget usage per configuration and the allocation's band scales."""
    fig, axes = figure(2, 1, (12, 7.0), right=3.6, top=0.35)
    left, right = axes[0, 0], axes[1, 0]
    for i, name in enumerate(data.configs):
        cols = data.series[name]
        left.plot(data.x(cols["time"]), cols["budget_usage"], color=color(i), label=name)
    left.axhline(1.0, color="k", linewidth=1, linestyle="--", label="budget")
    _time_panel(left, data, "stressed loss / budget (ratio, mean over paths)", "budget usage")
    left.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    groups: dict[tuple[bytes, bytes], list[str]] = {}
    for name in data.configs:
        cols = data.series[name]
        key = (cols["scale_gamma"].tobytes(), cols["scale_vega"].tobytes())
        groups.setdefault(key, []).append(name)
    for g, members in enumerate(groups.values()):
        cols = data.series[members[0]]
        x = data.x(cols["time"])
        who = ", ".join(members)
        right.plot(x, cols["scale_gamma"], color=color(g), label=f"gamma: {who}")
        right.plot(x, cols["scale_vega"], color=color(g), linestyle="--", label=f"vega: {who}")
    _time_panel(right, data, "band scale (× the static band)", "allocation band scales")
    right.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig
