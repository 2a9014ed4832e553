"""Run reports: Parquet tables, PNG plots and one self-contained HTML page.

Every ``gammaray run`` writes, next to ``summary.json``:

* ``series.parquet`` — one row per configuration and step: time, calendar
  ``stamp``, budget usage and breach rate, the allocation scales, mean P&L
  (every path), and the per-step bands over the run's leading paths (the
  report sample, :func:`orchestration.engine.report_sample_paths`; joined
  exactly across shards): ``<x>_p5``, ``_p50``, ``_p95`` of ``pnl``,
  ``delta``, ``gamma``, ``vega``, ``theta``, the desk-unit ``gamma_1pct``,
  ``vega_pt``, ``theta_day``, ``stressed_loss``, ``spot``, ``atm_vol`` and
  ``hold_<instrument>``; ``trade_<instrument>_mean`` / ``_abs`` (mean net
  and absolute order, units); ``sample_paths``;
* ``paths.parquet`` — one row per configuration and path: terminal P&L, costs,
  turnover, breaches and the P&L attribution buckets;
* a PNG per section (``market``, ``pnl_time``, ``greeks``, ``hedges``,
  ``budget``, ``pnl`` (terminal), ``attribution``, ``risk_cost``, and
  ``latency`` when configurations differ only in latency);
* ``report.html`` — a header describing the run, the metrics and event-greeks
  tables and the plots embedded as base64 PNG: it opens offline and
  references no network resource.

``gammaray report RUN_DIR`` rebuilds the plots and the page from the saved
tables (no pickle anywhere); ``gammaray compare RUN_A RUN_B`` prints two runs'
metrics side by side and writes ``compare.html``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from agents import ConfigResult
from orchestration import _report_dist as dist
from orchestration import _report_time as tm
from orchestration._io import atomic_write_bytes, atomic_write_text
from orchestration._report_data import ReportData, load, sample_columns
from orchestration._report_facts import fig_facts
from orchestration._report_html import METRIC_ROWS, STYLE, compare_table, figure_html, page
from orchestration._report_plot import png
from orchestration._signals import test_hold

#: The report's sections in page order: key (PNG name), title, caption, builder.
SECTIONS: tuple[tuple[str, str, str, Callable[[ReportData], Any]], ...] = (
    (
        "market",
        "market: spot and ATM implied vol",
        "The paths' spot and 30-day ATM implied vol through time; events dotted.",
        tm.fig_market,
    ),
    (
        "pnl_time",
        "P&L through time per configuration",
        "Mark-to-market P&L before each step's trades, one panel (and scale) per configuration.",
        tm.fig_pnl_time,
    ),
    (
        "greeks",
        "book greeks through time",
        "Post-trade book greeks in desk units, one column (and scale) per configuration.",
        tm.fig_greeks,
    ),
    (
        "hedges",
        "hedge holdings and trades",
        "Units of each listed instrument held after the step's fills, and the mean net trade.",
        tm.fig_hedges,
    ),
    (
        "budget",
        "risk budget",
        "Stressed loss of the post-trade book over the budget, and the allocation's band scales.",
        tm.fig_budget,
    ),
    (
        "pnl",
        "terminal P&L",
        "Full range, counts on a log scale; VaR and CVaR (loss positive) marked at minus "
        "their value. A one-path run shows its path instead.",
        dist.fig_terminal,
    ),
    (
        "attribution",
        "P&L attribution",
        "Per bucket, mean per path over all paths and over the worst 1% of paths by terminal P&L.",
        dist.fig_attribution,
    ),
    (
        "risk_cost",
        "risk against cost",
        "Mean transaction cost per path against CVaR95, per configuration.",
        dist.fig_risk_cost,
    ),
)
#: The section keys (PNG names) every report has.
PLOTS = tuple(key for key, *_ in SECTIONS)


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


def series_rows(summary: dict[str, Any], results: dict[str, ConfigResult]) -> list[dict[str, Any]]:
    """``series.parquet``'s rows: each step's summaries and its sample bands, per configuration.

    The sample's greek percentiles replace the manager's own (taken per
    shard): the same numbers on every shard layout.
    """
    year_days = float((summary.get("scenario_config") or {}).get("year_days", 365.0))
    rows = []
    for name, res in results.items():
        extra = sample_columns(res, year_days)
        for i, row in enumerate(res.series):
            rows.append({"config": name, **row, **{k: v[i] for k, v in extra.items()}})
    return rows


def write_run_outputs(out: Path, summary: dict[str, Any], results: dict[str, ConfigResult]) -> None:
    """Write the Parquet tables, the plots and ``report.html`` of a run.

    Args:
        out: The run folder (exists; ``summary.json`` is already there).
        summary: The run's summary.
        results: Configuration name to its per-path result.
    """
    _parquet(series_rows(summary, results), out / "series.parquet")
    _parquet(_paths_columns(results), out / "paths.parquet")
    test_hold("report")
    build_report(out)


def build_figures(run_dir: Path) -> tuple[ReportData, dict[str, Any]]:
    """The report's data and its figures, by section key (matplotlib Figures).

    Raises:
        FileNotFoundError: ``summary.json`` or a Parquet table is missing.
    """
    data = load(run_dir)
    figs = {key: build(data) for key, _, _, build in SECTIONS}
    by_latency = config_latencies(data.summary)
    if len(set(by_latency.values())) >= 2:
        figs["latency"] = dist.fig_latency(data, by_latency)
    facts = fig_facts(data)
    if facts is not None:  # the caption travels as the figure's label
        figs["facts"], caption = facts
        figs["facts"].set_label(caption)
    return data, figs


def build_report(run_dir: Path) -> Path:
    """(Re)build the plots and ``report.html`` from a run folder's saved files.

    Raises:
        FileNotFoundError: ``summary.json`` or a Parquet table is missing.
    """
    data, figs = build_figures(run_dir)
    images = {key: png(fig) for key, fig in figs.items()}
    for name, image in images.items():
        atomic_write_bytes(run_dir / f"{name}.png", image)
    titles = {key: (title, caption) for key, title, caption, _ in SECTIONS}
    titles["latency"] = (
        "latency",
        "P&L mean, CVaR95 and slippage against the hedgers' reaction latency.",
    )
    if "facts" in figs:
        titles["facts"] = (
            "stylized facts: this world beside real S&P 500",
            figs["facts"].get_label(),
        )
    sections = [figure_html(k, *titles[k], image) for k, image in images.items()]
    atomic_write_text(run_dir / "report.html", page(data, sections))
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


def compare(run_a: Path, run_b: Path, out: Path) -> str:
    """Two runs side by side: a text table (returned) and ``out/compare.html``.

    Raises:
        FileNotFoundError: A run folder has no ``summary.json``.
    """
    import html

    a = json.loads((run_a / "summary.json").read_text())
    b = json.loads((run_b / "summary.json").read_text())
    lines = [
        f"{'metric':28s}"
        + "".join(
            f"{(lbl + ':' + c)[:22]:>24s}" for lbl, s in (("A", a), ("B", b)) for c in s["configs"]
        )
    ]
    for key, label, fmt, _ in METRIC_ROWS:
        if not all(key in s["configs"][c]["metrics"] for s in (a, b) for c in s["configs"]):
            continue
        lines.append(
            f"{label[:28]:28s}"
            + "".join(
                f"{fmt.format(s['configs'][c]['metrics'][key]):>24s}"
                for s in (a, b)
                for c in s["configs"]
            )
        )
    body = compare_table([("A", a), ("B", b)])
    page_ = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>compare</title>"
        f"<style>{STYLE}</style></head><body><h1>A: {html.escape(str(run_a))} — "
        f"B: {html.escape(str(run_b))}</h1>{body}</body></html>\n"
    )
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "compare.html", page_)
    return "\n".join(lines)
