"""What the report reads: the run's tables, its time axis, its events, its units.

The per-step bands (P&L, greeks, spot, ATM vol, hedge holdings) come from the
run's report sample (:attr:`agents.ConfigResult.sampled`: every step's values
on the run's leading paths, joined exactly across shards), reduced here once
per run -- one vectorised percentile over the path axis for every step and
quantity -- into columns of ``series.parquet``. The terminal distribution and
the attribution come from ``paths.parquet`` (every path).

Desk units (the report's, stated on every axis and table):

* delta: units of the underlying;
* gamma: change of delta for a 1% move of the spot (``gamma * S / 100``);
* vega: currency per vol point (``vega / 100``; vega is per 1.00 of vol);
* theta: currency per day (``theta / year_days``; theta is per year);
* P&L, costs, stressed loss: the scenario's currency.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents import ConfigResult

#: Percentiles of every band, in percent.
BAND = (5.0, 50.0, 95.0)

#: Greek series of the report: key, axis label (``{ccy}`` = currency).
GREEK_UNITS = (
    ("delta", "delta (units of underlying)"),
    ("gamma_1pct", "gamma (Δdelta per 1% spot move, units)"),
    ("vega_pt", "vega ({ccy} per vol point)"),
    ("theta_day", "theta ({ccy} per day)"),
)


def _desk_units(s: dict[str, np.ndarray], year_days: float) -> dict[str, np.ndarray]:
    """The sample with the desk-unit greeks added (``[steps, k]`` each)."""
    out = dict(s)
    out["gamma_1pct"] = s["gamma"] * s["spot"] / 100.0
    out["vega_pt"] = s["vega"] / 100.0
    out["theta_day"] = s["theta"] / year_days
    return out


def sample_columns(res: ConfigResult, year_days: float) -> dict[str, Any]:
    """``series.parquet`` columns of one configuration from its report sample.

    Every quantity ``x`` but the trades becomes ``x_p5``, ``x_p50``, ``x_p95``
    (percentiles across the sampled paths, one vectorised pass for all
    steps); a trade ``trade:<i>`` becomes ``trade_<i>_mean`` (mean net order,
    units) and ``trade_<i>_abs`` (mean absolute order); ``hold:<i>`` becomes
    ``hold_<i>_p*``. Also ``sample_paths`` and ``stamp``.

    Returns:
        Column name to ``[steps]`` values (empty when nothing was sampled).
    """
    s = res.sampled
    if not s:
        return {}
    stamp = s["stamp"]
    values = _desk_units({k: v for k, v in s.items() if k != "stamp"}, year_days)
    keys = [k for k in values if not k.startswith("trade:")]
    stacked = np.stack([values[k] for k in keys])  # [quantity, steps, k]
    q = np.percentile(stacked, BAND, axis=-1)  # [3, quantity, steps]
    cols: dict[str, Any] = {}
    for j, key in enumerate(keys):
        name = key.replace(":", "_")
        for i, p in enumerate(BAND):
            cols[f"{name}_p{p:g}"] = q[i, j]
    for key in values:
        if key.startswith("trade:"):
            name = key.replace(":", "_")
            cols[f"{name}_mean"] = values[key].mean(axis=1)
            cols[f"{name}_abs"] = np.abs(values[key]).mean(axis=1)
    cols["sample_paths"] = np.full(stamp.shape[0], values["pnl"].shape[1], dtype=np.int64)
    cols["stamp"] = [str(x) for x in stamp]
    return cols


def read_parquet(path: Path) -> dict[str, np.ndarray]:
    """A Parquet table as column name to numpy array."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


@dataclass(frozen=True)
class Event:
    """A scheduled event on the time axis.

    Attributes:
        label: What happened (e.g. ``"CPI release"``).
        time: Years since the run start.
    """

    label: str
    time: float


@dataclass
class ReportData:
    """A run folder, read once for every section of the report.

    Attributes:
        summary: ``summary.json``.
        configs: Configuration names, in the run's order.
        series: Configuration to its ``series.parquet`` columns (``[steps]``).
        paths: Configuration to its ``paths.parquet`` columns (``[n_paths]``).
        year_days: Days per year of the scenario.
        currency: The scenario's currency code.
        events: The scheduled events.
        dates: Per step of the series, its date (``datetime64``), when every
            step has a calendar stamp; else None (the axis is in days).
    """

    summary: dict[str, Any]
    configs: list[str]
    series: dict[str, dict[str, np.ndarray]]
    paths: dict[str, dict[str, np.ndarray]]
    year_days: float
    currency: str
    events: list[Event] = field(default_factory=list)
    dates: np.ndarray | None = None

    @property
    def scenario(self) -> dict[str, Any]:
        """The scenario as run (``summary["scenario_config"]``; empty if absent)."""
        return self.summary.get("scenario_config") or {}

    @property
    def n_paths(self) -> int:
        """Paths per configuration."""
        return int(self.summary["n_paths"])

    @property
    def one_path(self) -> bool:
        """A one-path run (a replay): paths are shown, not distributions."""
        return self.n_paths == 1

    def times(self, config: str | None = None) -> np.ndarray:
        """Step times of a configuration's series (the first one's by default), years."""
        return self.series[config or self.configs[0]]["time"]

    def x(self, times: np.ndarray) -> np.ndarray:
        """Time-axis coordinates of times in years: dates or days since the start."""
        if self.dates is None:
            return np.asarray(times) * self.year_days
        base_t = self.times()
        base_x = self.dates.astype("datetime64[s]").astype(np.float64)
        t = np.asarray(times, dtype=np.float64)
        if base_t.size < 2:
            sec = base_x[0] + (t - base_t[0]) * self.year_days * 86400.0
        else:
            # Inside the recorded steps: interpolated; past the last one (the
            # horizon): the last step's pace carried on.
            slope = (base_x[-1] - base_x[-2]) / (base_t[-1] - base_t[-2])
            sec = np.where(
                t > base_t[-1], base_x[-1] + (t - base_t[-1]) * slope, np.interp(t, base_t, base_x)
            )
        return np.asarray(sec).astype("datetime64[s]")

    @property
    def x_label(self) -> str:
        """The one time unit of the report."""
        if self.dates is not None:
            d = self.dates
            what = "date" if np.all(d == d.astype("datetime64[D]")) else "date and time"
            recorded = (self.scenario.get("market") or {}).get("kind") == "replay"
            y0, y1 = str(d[0])[:4], str(d[-1])[:4]
            years = y0 if y0 == y1 else f"{y0}–{y1}"
            return f"{what}, {years} ({'recorded' if recorded else 'the run calendar'})"
        kind = "trading days" if self.year_days == 252.0 else f"days, {self.year_days:g}/year"
        return f"time since start ({kind})"

    def sample_paths(self) -> int:
        """Paths the per-step bands are taken over."""
        col = self.series[self.configs[0]].get("sample_paths")
        return int(col[0]) if col is not None and col.size else 0


def scheduled_events(
    summary: dict[str, Any], dates: np.ndarray | None, times: np.ndarray
) -> list[Event]:
    """The run's scheduled events: a ``macro_gap`` release, a stress replay's shock day."""
    sc = summary.get("scenario_config") or {}
    market = sc.get("market") or {}
    year_days = float(sc.get("year_days", 365.0))
    out: list[Event] = []
    gap = market.get("gap") or {}
    if market.get("kind") == "macro_gap" and gap:
        day = float(gap.get("day", 0.0))
        at = gap.get("at")
        if at:
            parts = [int(p) for p in str(at).split(":")]
            day += (parts[0] * 3600 + parts[1] * 60 + (parts[2] if len(parts) > 2 else 0)) / 86400
        out.append(Event(f"{gap.get('name', 'event')} release", day / year_days))
    if market.get("kind") == "replay" and dates is not None and times.size:
        focus = _stress_focus(str(summary.get("scenario", "")))
        if focus is not None:
            label, focus_day = focus
            x = dates.astype("datetime64[D]").astype(np.int64)
            d = np.datetime64(focus_day.isoformat(), "D").astype(np.int64)
            if x[0] <= d <= x[-1]:
                out.append(Event(label, float(np.interp(d, x, times))))
    return out


def _stress_focus(name: str) -> tuple[str, dt.date] | None:
    """The shock day of a built-in stress replay (by scenario name), if it is one."""
    from market.stress import STRESS_EVENTS

    e = STRESS_EVENTS.get(name)
    if e is None:
        return None
    return f"shock: {e.focus:%d %b %Y}", e.focus


def _dates(stamps: np.ndarray | None) -> np.ndarray | None:
    if stamps is None or not len(stamps) or any(not str(s) for s in stamps):
        return None
    try:
        return np.array([str(s)[:19] for s in stamps], dtype="datetime64[s]")
    except ValueError:
        return None


def load(run_dir: Path) -> ReportData:
    """Read a run folder for the report.

    Raises:
        FileNotFoundError: ``summary.json`` or a Parquet table is missing.
    """
    summary = json.loads((run_dir / "summary.json").read_text())
    series = read_parquet(run_dir / "series.parquet")
    paths = read_parquet(run_dir / "paths.parquet")
    configs = list(summary["configs"])

    def split(table: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
        by = table["config"]
        return {c: {k: v[by == c] for k, v in table.items() if k != "config"} for c in configs}

    sc = summary.get("scenario_config") or {}
    data = ReportData(
        summary=summary,
        configs=configs,
        series=split(series),
        paths=split(paths),
        year_days=float(sc.get("year_days", 365.0)),
        currency=str(sc.get("currency", "USD")),
    )
    data.dates = _dates(data.series[configs[0]].get("stamp"))
    data.events = scheduled_events(summary, data.dates, data.times())
    return data
