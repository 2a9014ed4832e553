"""The report's page: a header describing the run, the tables, the figures.

Everything is inline (CSS, PNG as base64): the page opens offline and
references no network resource.
"""

from __future__ import annotations

import base64
import html
from typing import Any

import numpy as np

from orchestration._report_data import GREEK_UNITS, ReportData

STYLE = (
    "body{font-family:sans-serif;margin:1.5em;max-width:1800px}"
    "table{border-collapse:collapse;margin:0.5em 0 1em}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:13px}"
    "th{background:#f4f4f4}td.l,th.l{text-align:left}"
    "img{max-width:100%;height:auto;display:block}figure{margin:0 0 1.5em}"
    "figcaption,.note{color:#444;font-size:13px}dl{display:grid;"
    "grid-template-columns:max-content auto;gap:2px 14px;font-size:14px}dt{font-weight:bold}"
)

#: Metric rows: key, label, format, which way is good.
METRIC_ROWS = (
    ("pnl_mean", "P&L mean", "{:,.2f}", "higher is better"),
    ("pnl_std", "P&L std", "{:,.2f}", "lower is better"),
    ("var_95", "VaR95 (loss +)", "{:,.2f}", "lower is better"),
    ("cvar_95", "CVaR95 (loss +)", "{:,.2f}", "lower is better"),
    ("var_99", "VaR99 (loss +)", "{:,.2f}", "lower is better"),
    ("cvar_99", "CVaR99 (loss +)", "{:,.2f}", "lower is better"),
    ("mean_std_objective", "mean loss + c·std", "{:,.2f}", "lower is better"),
    ("transaction_cost", "transaction cost per path", "{:,.2f}", "lower is better"),
    ("turnover", "turnover per path (notional at mid)", "{:,.0f}", "—"),
    ("slippage", "slippage vs pre-release mid", "{:,.2f}", "lower is better"),
)


def _esc(x: Any) -> str:
    return html.escape(str(x))


def _dl(items: list[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in items) + "</dl>"


def _world(market: dict[str, Any]) -> str:
    kind = market.get("kind", "?")
    s = market.get("surface") or {}
    text = (
        f"{kind}; spot {market.get('spot')}, ATM vol {s.get('atm')}, skew {s.get('skew')}, "
        f"rate {market.get('rate')}, dividend {market.get('div')}"
    )
    if kind == "macro_gap":
        g = market.get("gap") or {}
        text += (
            f"; {g.get('name')} on day {g.get('day')}: gap {g.get('distribution')} std "
            f"{g.get('size_std')}, vol bid +{g.get('bid')} over {g.get('bid_days')} days, "
            f"crush {g.get('crush')}"
        )
    if kind == "replay":
        r = market.get("replay") or {}
        text += f"; recorded data, IV: {r.get('iv_source') or 'as recorded'}"
    return text


def _book(book: list[dict[str, Any]]) -> str:
    if not book:
        return "empty"
    return "; ".join(
        f"{p.get('qty'):+,g} × {'call' if p.get('is_call') else 'put'} "
        f"{100 * float(p.get('moneyness', 1.0)):g}% moneyness, {p.get('expiry_days')} days"
        for p in book
    )


def _cost(cost: dict[str, Any]) -> str:
    parts = [
        f"{k} {v:g}" for k, v in cost.items() if isinstance(v, float) and v and "mult" not in k
    ]
    return ", ".join(parts) or "none"


def _instruments(market: dict[str, Any]) -> str:
    out = []
    for i in market.get("instruments") or []:
        what = (
            "spot"
            if i.get("kind") == "underlying"
            else (
                f"{'call' if i.get('is_call') else 'put'} {i.get('tenor_days')}d, relisted every "
                f"{i.get('relist_days')}d"
            )
        )
        out.append(f"{i.get('name')} ({what}; costs: {_cost(i.get('cost') or {})})")
    return "; ".join(out) or "none"


def _configs(scenario: dict[str, Any]) -> str:
    out = []
    for name, hc in (scenario.get("configs") or {}).items():
        agents = ", ".join(a.get("cls", "?") for a in hc.get("agents") or []) or "no hedging"
        m = hc.get("manager") or {}
        policy = (m.get("policy") or {}).get("kind", "static")
        out.append(f"{name} ({agents}; budget {m.get('budget')}, policy {policy})")
    return "; ".join(out)


def header(data: ReportData) -> str:
    """What was run: scenario, book, world, instruments, costs, configurations, units."""
    s, sc = data.summary, data.scenario
    items = [
        (
            "scenario",
            f"{s['scenario']} v{s.get('scenario_version', '?')}: {sc.get('description', '')}",
        ),
        (
            "run",
            f"{s['n_paths']:,} paths, seed {s['seed']}, {s.get('n_steps', '?')} steps, "
            f"{s.get('runtime', '?')} runtime, {s.get('shards', 1)} shard(s)",
        ),
        (
            "horizon",
            f"{sc.get('days', '?')} days, {sc.get('steps_per_day', '?')} steps/day, "
            f"{data.year_days:g} days/year",
        ),
        ("world", _world(sc.get("market") or {})),
        ("book", _book(sc.get("book") or [])),
        ("hedge instruments and costs", _instruments(sc.get("market") or {})),
        ("configurations", _configs(sc)),
        ("events", ", ".join(f"{e.label} ({_when(data, e.time)})" for e in data.events) or "none"),
        (
            "units",
            f"money in {data.currency}; delta in units of the underlying; gamma as the change "
            "of delta for a 1% spot move; vega per vol point (1%); theta per day; P&L profit "
            "positive, VaR/CVaR loss positive",
        ),
    ]
    if not data.one_path:
        items.append(
            (
                "bands",
                f"per-step bands (median, 5–95%) over the first {data.sample_paths():,} paths; "
                "means, the terminal distribution and the attribution over all paths",
            )
        )
    return _dl(items)


def _when(data: ReportData, t: float) -> str:
    if data.dates is not None:
        return str(data.x(np.array([t]))[0].astype("datetime64[D]"))
    return f"day {t * data.year_days:g}"


def metrics_table(data: ReportData) -> str:
    """The metrics per configuration, with their unit and which way is good."""
    s = data.summary
    ccy = data.currency
    head = "".join(f"<th>{_esc(c)}</th>" for c in data.configs)
    rows = []
    for key, label, fmt, good in METRIC_ROWS:
        if not all(key in s["configs"][c]["metrics"] for c in data.configs):
            continue
        if data.one_path and key in ("pnl_std", "mean_std_objective"):
            continue
        if data.one_path and key.startswith(("var_", "cvar_")):
            if key != "var_95":
                continue
            label, good = "loss of the one path", "lower is better"
        cells = "".join(
            f"<td>{fmt.format(s['configs'][c]['metrics'][key])}</td>" for c in data.configs
        )
        rows.append(
            f"<tr><th class=l>{_esc(f'{label} ({ccy})')}</th><td class=l>{good}</td>{cells}</tr>"
        )
    steps = int(s.get("n_steps") or 0)
    breach = []
    for c in data.configs:
        m = s["configs"][c]["metrics"]
        total = max(1, steps * data.n_paths)
        breach.append(f"<td>{100.0 * m.get('budget_breaches', 0) / total:.2f}%</td>")
    rows.append(
        "<tr><th class=l>budget breaches (% of path-steps)</th><td class=l>lower is better</td>"
        + "".join(breach)
        + "</tr>"
    )
    anyb = "".join(
        f"<td>{int(np.count_nonzero(data.paths[c]['breaches'] > 0)):,} of {data.n_paths:,}</td>"
        for c in data.configs
    )
    rows.append(
        f"<tr><th class=l>paths with any breach</th><td class=l>lower is better</td>{anyb}</tr>"
    )
    note = (
        "<p class=note>One recorded path: no spread across paths (no std); the loss shown "
        "is the path's own.</p>"
        if data.one_path
        else ""
    )
    return (
        f"<table><tr><th class=l>metric</th><th class=l>good</th>{head}</tr>"
        f"{''.join(rows)}</table>{note}"
    )


def event_steps(data: ReportData, t: float) -> tuple[int | None, int | None]:
    """Indices of the series steps just before and at/just after time ``t``, years."""
    times = data.times()
    tol = 1e-12
    before = np.nonzero(times < t - tol)[0]
    after = np.nonzero(times >= t - tol)[0]
    return (
        int(before[-1]) if before.size else None,
        int(after[0]) if after.size else None,
    )


def greeks_table(data: ReportData) -> str:
    """Per event, each configuration's median book greeks just before and just after it."""
    if not data.events:
        return "<p class=note>The run has no scheduled event.</p>"
    ccy = data.currency
    units = "".join(f"<th>{_esc(lbl.format(ccy=ccy))}</th>" for _, lbl in GREEK_UNITS)
    out = []
    for e in data.events:
        i0, i1 = event_steps(data, e.time)
        times = data.times()
        whens = ["—" if i is None else f"{_when(data, float(times[i]))}" for i in (i0, i1)]
        rows = []
        for c in data.configs:
            cols = data.series[c]
            cells = []
            for i in (i0, i1):
                for key, _ in GREEK_UNITS:
                    col = cols.get(f"{key}_p50")
                    cells.append(
                        "<td>—</td>" if i is None or col is None else f"<td>{col[i]:,.2f}</td>"
                    )
            rows.append(f"<tr><th class=l>{_esc(c)}</th>{''.join(cells)}</tr>")
        out.append(
            f"<h3>{_esc(e.label)} ({_esc(_when(data, e.time))})</h3>"
            f"<table><tr><th></th><th colspan={len(GREEK_UNITS)}>just before: step at "
            f"{_esc(whens[0])}</th><th colspan={len(GREEK_UNITS)}>just after: step at "
            f"{_esc(whens[1])}</th></tr><tr><th class=l>configuration (median)</th>"
            f"{units}{units}</tr>{''.join(rows)}</table>"
        )
    return "".join(out)


def figure_html(key: str, title: str, caption: str, png: bytes) -> str:
    """One section: heading, the PNG inline, a caption."""
    b64 = base64.b64encode(png).decode()
    return (
        f'<section id="{key}"><h2>{_esc(title)}</h2><figure>'
        f'<img alt="{_esc(title)}" src="data:image/png;base64,{b64}">'
        f"<figcaption>{_esc(caption)}</figcaption></figure></section>"
    )


def page(data: ReportData, sections: list[str]) -> str:
    """The whole report page."""
    s = data.summary
    title = f"{s['scenario']} — {s['n_paths']:,} paths, seed {s['seed']}, {s['runtime']} runtime"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_esc(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{_esc(title)}</h1>{header(data)}"
        f"<h2>metrics</h2>{metrics_table(data)}"
        f"<h2>greeks just before and just after each event</h2>{greeks_table(data)}"
        f"{''.join(sections)}</body></html>\n"
    )


def compare_table(summaries: list[tuple[str, dict[str, Any]]]) -> str:
    """Two (or more) runs' metrics side by side."""
    head = "".join(
        f"<th>{_esc(label)}<br>{_esc(c)}</th>" for label, s in summaries for c in s["configs"]
    )
    rows = []
    for key, label, fmt, good in METRIC_ROWS:
        if not all(key in s["configs"][c]["metrics"] for _, s in summaries for c in s["configs"]):
            continue
        ccy = {str((s.get("scenario_config") or {}).get("currency", "USD")) for _, s in summaries}
        cells = "".join(
            f"<td>{fmt.format(s['configs'][c]['metrics'][key])}</td>"
            for _, s in summaries
            for c in s["configs"]
        )
        rows.append(
            f"<tr><th class=l>{_esc(label)} ({_esc('/'.join(sorted(ccy)))})</th>"
            f"<td class=l>{good}</td>{cells}</tr>"
        )
    return f"<table><tr><th></th><th>good</th>{head}</tr>{''.join(rows)}</table>"
