"""Run reports: Parquet tables, PNG plots and one self-contained HTML page.

Every ``gammaray run`` writes, next to ``summary.json``:

* ``series.parquet`` — one row per configuration and step: time, the book's
  delta/gamma/vega percentiles (5, 50, 95) across paths after trading, budget
  usage and breach rate, the allocation scales, mean P&L;
* ``paths.parquet`` — one row per configuration and path: terminal P&L, costs,
  turnover, breaches and the P&L attribution buckets;
* ``pnl.png``, ``greeks.png``, ``budget.png``, ``attribution.png``;
* ``report.html`` — the metrics table and the plots embedded as base64 PNG:
  it opens offline and references no network resource.

``gammaray report RUN_DIR`` rebuilds the plots and the page from the saved
tables (no pickle anywhere); ``gammaray compare RUN_A RUN_B`` prints two runs'
metrics side by side and writes ``compare.html``.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from agents import ConfigResult
from agents.attribution import BUCKETS
from orchestration._io import atomic_write_bytes, atomic_write_text
from orchestration._signals import test_hold

#: Metric rows of the HTML table: (key, label, format).
METRIC_ROWS = (
    ("pnl_mean", "P&L mean", "{:,.2f}"),
    ("pnl_std", "P&L std", "{:,.2f}"),
    ("var_95", "VaR 95 (loss)", "{:,.2f}"),
    ("cvar_95", "CVaR 95 (loss)", "{:,.2f}"),
    ("mean_std_objective", "mean + c·std (loss)", "{:,.2f}"),
    ("transaction_cost", "transaction cost", "{:,.2f}"),
    ("turnover", "turnover", "{:,.0f}"),
    ("budget_breaches", "budget breaches (path-steps)", "{:,d}"),
)
PLOTS = ("pnl", "greeks", "budget", "attribution")


def _parquet(table: list[dict[str, Any]] | dict[str, Any], path: Path) -> None:
    """Write rows (a list of dicts) or columns (a dict of arrays) as Parquet, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    data = pa.Table.from_pydict(table) if isinstance(table, dict) else pa.Table.from_pylist(table)
    pq.write_table(data, sink)
    atomic_write_bytes(path, sink.getvalue())


def _paths_columns(results: dict[str, ConfigResult]) -> dict[str, Any]:
    """``paths.parquet``'s columns: config, path, then float64 per-path values.

    Built column-wise (a few arrays, not a dict per path) so that the table
    costs about its own size in memory.
    """
    import pyarrow as pa

    names = list(results)
    sizes = [results[n].pnl.size for n in names]
    config = pa.DictionaryArray.from_arrays(
        np.repeat(np.arange(len(names), dtype=np.int32), sizes), pa.array(names, pa.string())
    ).cast(pa.string())
    cols: dict[str, Any] = {
        "config": config,
        "path": np.concatenate([np.arange(k, dtype=np.int64) for k in sizes]),
    }
    per_path = [
        {
            "pnl": r.pnl,
            "cost": r.cost,
            "turnover": r.turnover,
            "breaches": r.breaches,
            **{f"attr_{b}": v for b, v in r.attribution.items()},
        }
        for r in (results[n] for n in names)
    ]
    for key in per_path[0]:
        cols[key] = np.concatenate([np.asarray(p[key], dtype=np.float64) for p in per_path])
    return cols


def _read_parquet(path: Path) -> dict[str, np.ndarray]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


def write_run_outputs(out: Path, summary: dict[str, Any], results: dict[str, ConfigResult]) -> None:
    """Write the Parquet tables, the plots and ``report.html`` of a run.

    Args:
        out: The run folder (exists; ``summary.json`` is already there).
        summary: The run's summary.
        results: Configuration name to its per-path result.
    """
    series = [{"config": name, **row} for name, res in results.items() for row in res.series]
    _parquet(series, out / "series.parquet")
    _parquet(_paths_columns(results), out / "paths.parquet")
    test_hold("report")
    build_report(out)


def build_report(run_dir: Path) -> Path:
    """(Re)build the plots and ``report.html`` from a run folder's saved files.

    Raises:
        FileNotFoundError: ``summary.json`` or a Parquet table is missing.
    """
    summary = json.loads((run_dir / "summary.json").read_text())
    series = _read_parquet(run_dir / "series.parquet")
    paths = _read_parquet(run_dir / "paths.parquet")
    configs = list(summary["configs"])
    images = {
        "pnl": _plot_pnl(paths, configs),
        "greeks": _plot_greeks(series, configs, summary),
        "budget": _plot_budget(series, configs),
        "attribution": _plot_attribution(paths, configs),
    }
    by_latency = config_latencies(summary)
    if len(set(by_latency.values())) >= 2:
        images["latency"] = _plot_latency(summary, by_latency)
    for name, png in images.items():
        atomic_write_bytes(run_dir / f"{name}.png", png)
    page = _html(summary, images)
    atomic_write_text(run_dir / "report.html", page)
    return run_dir / "report.html"


def config_latencies(summary: dict[str, Any]) -> dict[str, float]:
    """Each hedged configuration's reaction latency, seconds, from the run's scenario.

    A configuration counts when all its agents share one ``latency`` (absent = 0);
    unhedged configurations and mixed latencies are left out.
    """
    out: dict[str, float] = {}
    configs = (summary.get("scenario_config") or {}).get("configs") or {}
    for name, hc in configs.items():
        agents = (hc or {}).get("agents") or []
        lat = {float((a.get("config") or {}).get("latency", 0.0)) for a in agents}
        if len(lat) == 1 and name in summary["configs"]:
            out[name] = lat.pop()
    return out


def _plot_latency(summary: dict[str, Any], by_latency: dict[str, float]) -> bytes:
    """P&L mean, CVaR95 and slippage against the hedgers' reaction latency (log axis)."""
    names = sorted(by_latency, key=lambda n: by_latency[n])
    x = np.array([max(by_latency[n], 1e-3) for n in names])
    panels = [
        ("pnl_mean", "P&L mean (currency units; profit +)"),
        ("cvar_95", "CVaR95 (currency units; loss +)"),
        ("slippage", "slippage vs pre-release mid (currency units)"),
    ]
    panels = [p for p in panels if all(p[0] in summary["configs"][n]["metrics"] for n in names)]
    fig, axes = _figure(1, len(panels), (4.2 * len(panels), 3.6))
    for ax, (key, label) in zip(axes[0], panels, strict=True):
        y = [summary["configs"][n]["metrics"][key] for n in names]
        ax.plot(x, y, marker="o")
        ax.set_xscale("log")
        ax.set_xlabel("reaction latency (s, log scale)")
        ax.set_title(label, fontsize=9)
        for xi, yi, n in zip(x, y, names, strict=True):
            ax.annotate(n, (xi, yi), fontsize=7, textcoords="offset points", xytext=(3, 3))
    return _png(fig)


def _figure(rows: int = 1, cols: int = 1, size: tuple[float, float] = (9, 4)) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(rows, cols, figsize=size, squeeze=False)


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def _plot_pnl(paths: dict[str, np.ndarray], configs: list[str]) -> bytes:
    fig, ax = _figure()
    pnl_all = paths["pnl"]
    lo, hi = np.percentile(pnl_all, [0.5, 99.5]) if pnl_all.size else (0.0, 1.0)
    bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 60)
    for name in configs:
        ax[0, 0].hist(
            paths["pnl"][paths["config"] == name],
            bins=bins,
            histtype="step",
            density=True,
            label=name,
            linewidth=1.5,
        )
    ax[0, 0].set(title="Terminal P&L per configuration", xlabel="P&L", ylabel="density")
    ax[0, 0].legend()
    return _png(fig)


def _plot_greeks(series: dict[str, np.ndarray], configs: list[str], summary: dict) -> bytes:
    fig, axes = _figure(1, 3, (13, 4))
    days = 365.0 if "scenario_config" not in summary else summary["scenario_config"]["year_days"]
    event = None
    if "scenario_config" in summary and summary["scenario_config"]["market"]["kind"] == "macro_gap":
        event = summary["scenario_config"]["market"]["gap"]["day"]
    for ax, greek in zip(axes[0], ("delta", "gamma", "vega"), strict=True):
        for name in configs:
            m = series["config"] == name
            t = series["time"][m] * days
            line = ax.plot(t, series[f"{greek}_p50"][m], label=name)[0]
            ax.fill_between(
                t,
                series[f"{greek}_p5"][m],
                series[f"{greek}_p95"][m],
                alpha=0.15,
                color=line.get_color(),
            )
        if event is not None:
            ax.axvline(event, color="k", linestyle=":", linewidth=1)
        ax.set(title=f"book {greek} (median, 5–95%)", xlabel="day")
    axes[0, 0].legend(fontsize=7)
    return _png(fig)


def _plot_budget(series: dict[str, np.ndarray], configs: list[str]) -> bytes:
    fig, axes = _figure(1, 2, (12, 4))
    for name in configs:
        m = series["config"] == name
        t = series["time"][m] * 365.0
        axes[0, 0].plot(t, series["budget_usage"][m], label=name)
        axes[0, 1].plot(t, series["scale_gamma"][m], label=f"{name} gamma")
        axes[0, 1].plot(t, series["scale_vega"][m], linestyle="--", label=f"{name} vega")
    axes[0, 0].axhline(1.0, color="k", linewidth=1, linestyle=":")
    axes[0, 0].set(title="stressed loss / budget (mean over paths)", xlabel="day (ACT/365)")
    axes[0, 1].set(title="band scales (allocation)", xlabel="day (ACT/365)")
    axes[0, 0].legend(fontsize=7)
    axes[0, 1].legend(fontsize=6)
    return _png(fig)


def _plot_attribution(paths: dict[str, np.ndarray], configs: list[str]) -> bytes:
    fig, ax = _figure(size=(10, 4))
    width = 0.8 / max(1, len(configs))
    x = np.arange(len(BUCKETS))
    for i, name in enumerate(configs):
        m = paths["config"] == name
        means = [float(paths[f"attr_{b}"][m].mean()) for b in BUCKETS]
        ax[0, 0].bar(x + i * width, means, width, label=name)
    ax[0, 0].set_xticks(x + 0.4 - width / 2, BUCKETS)
    ax[0, 0].axhline(0.0, color="k", linewidth=0.8)
    ax[0, 0].set(title="P&L attribution (mean per path)", ylabel="P&L")
    ax[0, 0].legend(fontsize=7)
    return _png(fig)


def _table(summaries: list[tuple[str, dict[str, Any]]]) -> str:
    head = "".join(
        f"<th>{html.escape(label)}<br>{html.escape(c)}</th>"
        for label, s in summaries
        for c in s["configs"]
    )
    rows = []
    for key, label, fmt in METRIC_ROWS:
        cells = "".join(
            f"<td>{fmt.format(s['configs'][c]['metrics'][key])}</td>"
            for _, s in summaries
            for c in s["configs"]
        )
        rows.append(f"<tr><th>{html.escape(label)}</th>{cells}</tr>")
    return f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"


STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}img{max-width:100%}"
)


def _html(summary: dict[str, Any], images: dict[str, bytes]) -> str:
    title = (
        f"{summary['scenario']} — {summary['n_paths']:,} paths, seed {summary['seed']}, "
        f"{summary['runtime']} runtime"
    )
    imgs = "".join(
        f'<h2>{name}</h2><img alt="{name}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}">'
        for name, png in images.items()
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>Losses are positive in VaR, CVaR and the objective.</p>"
        f"{_table([('', summary)])}{imgs}</body></html>\n"
    )


def compare(run_a: Path, run_b: Path, out: Path) -> str:
    """Two runs side by side: a text table (returned) and ``out/compare.html``.

    Raises:
        FileNotFoundError: A run folder has no ``summary.json``.
    """
    a = json.loads((run_a / "summary.json").read_text())
    b = json.loads((run_b / "summary.json").read_text())
    lines = [
        f"{'metric':28s}"
        + "".join(
            f"{(lbl + ':' + c)[:22]:>24s}" for lbl, s in (("A", a), ("B", b)) for c in s["configs"]
        )
    ]
    for key, label, fmt in METRIC_ROWS:
        lines.append(
            f"{label[:28]:28s}"
            + "".join(
                f"{fmt.format(s['configs'][c]['metrics'][key]):>24s}"
                for s in (a, b)
                for c in s["configs"]
            )
        )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>compare</title>"
        f"<style>{STYLE}</style></head><body><h1>A: {html.escape(str(run_a))} — "
        f"B: {html.escape(str(run_b))}</h1>{_table([('A', a), ('B', b)])}</body></html>\n"
    )
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "compare.html", page)
    return "\n".join(lines)
