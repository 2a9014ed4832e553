"""The report's figures across paths: terminal P&L, attribution, risk against cost, latency.

Every configuration has its own panel and scale. A one-path run (a replay)
shows its path, not a distribution: no histogram and no percentile of one
number.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.attribution import BUCKETS
from orchestration._report_data import ReportData
from orchestration._report_plot import color, figure, mark_events, tidy, time_axis
from orchestration._report_time import _grid

#: Share of the paths the tail attribution averages over.
TAIL_SHARE = 0.01
#: Risk markers on the terminal distribution: metric key, label, line style.
RISK_MARKS = (
    ("var_95", "VaR95", "--"),
    ("cvar_95", "CVaR95", "-"),
    ("var_99", "VaR99", "-."),
    ("cvar_99", "CVaR99", ":"),
)


def tail_count(n: int) -> int:
    """Paths in the worst :data:`TAIL_SHARE` of ``n`` (at least one)."""
    return max(1, int(np.ceil(TAIL_SHARE * n)))


def fig_terminal(data: ReportData) -> Any:
    """Terminal P&L: per configuration its full histogram with VaR and CVaR marked.

    The bins span each configuration's minimum to maximum (no clip); counts
    are on a log scale so that single tail paths stay visible. A one-path
    run plots each configuration's P&L path through time instead.
    """
    ccy = data.currency
    if data.one_path:
        fig, axes = figure(1, 1, (12, 4.2), right=2.4)
        ax = axes[0, 0]
        horizon = float(data.scenario.get("days", 0.0)) / data.year_days
        for i, name in enumerate(data.configs):
            cols = data.series[name]
            t = np.append(cols["time"], horizon) if horizon > cols["time"][-1] else cols["time"]
            y = np.append(cols["pnl_mean"], data.paths[name]["pnl"][0])[: t.size]
            ax.plot(data.x(t), y, color=color(i), marker=".", label=name)
        ax.axhline(0.0, color="grey", linewidth=0.6)
        time_axis(ax, data)
        ax.set_ylabel(f"P&L ({ccy}, profit +)", fontsize=8)
        ax.set_title("one recorded path: P&L to the end (no distribution)", fontsize=9)
        mark_events(ax, data)
        tidy(ax)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return fig
    fig, axes = _grid(len(data.configs))
    for i, (ax, name) in enumerate(zip(axes, data.configs, strict=True)):
        pnl = data.paths[name]["pnl"]
        lo, hi = float(pnl.min()), float(pnl.max())
        bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 61)
        ax.hist(pnl, bins=bins, color=color(i), alpha=0.7)
        ax.set_yscale("log")
        metrics = data.summary["configs"][name]["metrics"]
        for key, label, style in RISK_MARKS:
            if key in metrics:
                v = float(metrics[key])
                ax.axvline(-v, color="k", linestyle=style, linewidth=1, label=f"{label} {v:,.0f}")
        ax.set_xlabel(f"terminal P&L ({ccy}, profit +; full range)", fontsize=8)
        ax.set_ylabel("paths per bin (log scale)", fontsize=8)
        ax.set_title(f"{name} (markers: loss at -x)", fontsize=9)
        tidy(ax)
        ax.legend(fontsize=6, loc="upper left")
    return fig


def attribution_means(data: ReportData, name: str) -> tuple[dict[str, float], dict[str, float]]:
    """Mean attribution per path: over every path and over the worst 1% (by terminal P&L)."""
    p = data.paths[name]
    worst = np.argsort(p["pnl"], kind="stable")[: tail_count(p["pnl"].size)]
    overall = {b: float(p[f"attr_{b}"].mean()) for b in BUCKETS}
    tail = {b: float(p[f"attr_{b}"][worst].mean()) for b in BUCKETS}
    return overall, tail


def fig_attribution(data: ReportData) -> Any:
    """P&L attribution per configuration: mean over every path, and over the worst 1%."""
    n = len(data.configs)
    rows = 1 if data.one_path else 2
    fig, axes = figure(rows, n, (3.6 * n + 0.8, 3.1 * rows), left=1.5, top=0.6, gap=(1.4, 1.05))
    y = np.arange(len(BUCKETS))
    k = tail_count(data.n_paths)
    for j, name in enumerate(data.configs):
        overall, tail = attribution_means(data, name)
        panels = [(overall, "the path" if data.one_path else "mean over all paths")]
        if not data.one_path:
            panels.append((tail, f"mean over the worst 1% ({k:,} paths)"))
        for r, (means, what) in enumerate(panels):
            ax = axes[r, j]
            ax.barh(y, [means[b] for b in BUCKETS], color=color(j))
            ax.set_yticks(y, BUCKETS, fontsize=7)
            ax.axvline(0.0, color="k", linewidth=0.6)
            ax.set_xlabel(f"P&L per path ({data.currency}, profit +)", fontsize=8)
            ax.set_title(f"{name}:\n{what}", fontsize=8)
            tidy(ax)
    return fig


def fig_risk_cost(data: ReportData) -> Any:
    """Transaction cost against CVaR95, one point per configuration."""
    fig, axes = figure(1, 1, (10, 4.5))
    ax = axes[0, 0]
    ccy = data.currency
    for i, name in enumerate(data.configs):
        m = data.summary["configs"][name]["metrics"]
        ax.scatter([m["transaction_cost"]], [m["cvar_95"]], color=color(i), s=40, zorder=3)
        ax.annotate(
            name,
            (m["transaction_cost"], m["cvar_95"]),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.set_xlabel(f"transaction cost ({ccy} per path, mean)", fontsize=8)
    risk = "loss of the one path" if data.one_path else "CVaR95 (loss +)"
    ax.set_ylabel(f"{risk} ({ccy})", fontsize=8)
    ax.set_title("risk against cost (lower left is better)", fontsize=9)
    tidy(ax)
    return fig


def fig_latency(data: ReportData, by_latency: dict[str, float]) -> Any:
    """P&L mean, CVaR95 and slippage against the hedgers' reaction latency (log axis)."""
    summary, ccy = data.summary, data.currency
    names = sorted(by_latency, key=lambda n: by_latency[n])
    x = np.array([max(by_latency[n], 1e-3) for n in names])
    panels = [
        ("pnl_mean", f"P&L mean ({ccy}, profit +)"),
        ("cvar_95", f"CVaR95 ({ccy}, loss +)"),
        ("slippage", f"slippage vs pre-release mid ({ccy})"),
    ]
    panels = [p for p in panels if all(p[0] in summary["configs"][n]["metrics"] for n in names)]
    fig, axes = figure(1, len(panels), (4.4 * len(panels), 3.6))
    for ax, (key, label) in zip(axes[0], panels, strict=True):
        y = [summary["configs"][n]["metrics"][key] for n in names]
        ax.plot(x, y, marker="o")
        ax.set_xscale("log")
        ax.set_xlabel("reaction latency (s, log scale)", fontsize=8)
        ax.set_ylabel(label, fontsize=8)
        for xi, yi, n in zip(x, y, names, strict=True):
            ax.annotate(n, (xi, yi), fontsize=7, textcoords="offset points", xytext=(3, 3))
        tidy(ax)
    return fig
