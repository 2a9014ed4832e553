"""``gammaray facts SCENARIO``: the world's stylized facts beside real S&P 500 returns.

Simulates the scenario's world at one step a day over its horizon
(:func:`market.facts.simulate_returns`), cuts real S&P 500 daily returns
into non-overlapping windows of the same length, and prints a table of
kurtosis, skewness, ACF of ``|r|`` at lags 1/5/20, the leverage correlation
at lag 1, vol of vol, the half-life of vol shocks and the realised vol
(:mod:`market.facts`); the world is measured on samples as long as the real
history (:func:`market.facts.matched_headline`). A ``history_windows`` world
is real history already: its non-overlapping windows are measured as the real
ones are (a check that both read the same data). ``--out`` writes the plot
(PNG, atomically). :func:`facts_figure` returns that figure for a report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from orchestration._cli_common import UsageError, add_run_options

#: Rows of the table: (key, label).
ROWS = (
    ("kurtosis", "excess kurtosis"),
    ("skewness", "skewness"),
    ("acf_abs_1", "ACF |r| lag 1"),
    ("acf_abs_5", "ACF |r| lag 5"),
    ("acf_abs_20", "ACF |r| lag 20"),
    ("leverage_1", "corr(r_t, |r_t+1|)"),
    ("vol_of_vol", "vol of vol (5-day log RV)"),
    ("half_life", "vol half-life, days"),
    ("ann_vol", "realised vol, annual"),
)


def facts_figure(world: np.ndarray, real: np.ndarray, label: str = "world") -> Any:
    """The side-by-side plot: ACF of ``|r|``, leverage by lag, return density.

    The world's correlations are measured on samples as long as the real
    history (:func:`market.facts.matched_lags`), as in the table.

    Args:
        world: Simulated daily log returns ``[n, T]``, decimal.
        real: Real daily log returns in windows ``[m, T]``, decimal.
        label: Legend name of the world.

    Returns:
        A matplotlib ``Figure`` (Agg; not shown).
    """
    from matplotlib.figure import Figure

    from market.facts import acf_abs, leverage, matched_lags

    fig = Figure(figsize=(13, 4), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    world_lags = matched_lags(world, real.shape[0])
    for r, name, style in ((real, "real S&P 500", "k-o"), (world, label, "C0-s")):
        a, lev = (acf_abs(r), leverage(r)) if r is real else world_lags
        lags = np.arange(1, a.shape[0] + 1)
        ax1.plot(lags, a, style, ms=3, label=name)
        ax2.plot(lags, lev, style, ms=3, label=name)
        x = 100.0 * np.asarray(r).ravel()
        bins = np.linspace(-10, 10, 81)
        dens, edges = np.histogram(np.clip(x, -10, 10), bins=bins, density=True)
        mid = 0.5 * (edges[1:] + edges[:-1])
        ax3.semilogy(mid[dens > 0], dens[dens > 0], style, ms=3, label=name)
    ax1.set(xlabel="lag, trading days", ylabel="autocorrelation of |r|", title="clustering")
    ax2.set(xlabel="lag k, trading days", ylabel="corr(r_t, |r_t+k|)", title="leverage effect")
    ax2.axhline(0.0, color="grey", lw=0.5)
    ax3.set(xlabel="daily log return, % (clipped at ±10)", ylabel="density, per %", title="tails")
    for ax in (ax1, ax2, ax3):
        ax.legend()
    return fig


def write_png(fig: Any, out: Path) -> None:
    """Save a figure as PNG atomically."""
    from orchestration._io import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    atomic_write_bytes(out, buf.getvalue())


def facts_table(world: dict[str, float], real: dict[str, float]) -> list[str]:
    """Lines of the table: statistic, real, world, world / real - 1."""
    lines = [f"{'statistic':28s} {'real SPX':>10s} {'world':>10s} {'vs real':>8s}"]
    for key, label in ROWS:
        a, b = real[key], world[key]
        rel = f"{100 * (b / a - 1):+.0f}%" if a and math.isfinite(a) and math.isfinite(b) else ""
        lines.append(f"{label:28s} {a:10.3f} {b:10.3f} {rel:>8s}")
    return lines


def cmd_facts(args: argparse.Namespace) -> int:
    """``gammaray facts``."""
    from market._history import HistoryDataError, check_data_name
    from market.facts import headline, matched_headline, real_returns, simulate_returns, windows
    from orchestration.config import apply_overrides, load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    if args.paths is not None:
        if args.paths < 1:
            raise UsageError(f"--paths {args.paths}: give at least 1")
        scenario = apply_overrides(scenario, [f"n_paths={args.paths}"])
    data, start, end = _real_window(scenario, args)
    if end < start:
        raise UsageError(f"--start {start} is after --end {end}")
    if args.out is not None and (args.out.is_dir() or not args.out.parent.is_dir()):
        raise UsageError(f"--out {str(args.out)!r}: give a PNG file in an existing folder")
    horizon = round(scenario.days)
    if horizon < 2:
        raise UsageError(f"the scenario's horizon is {scenario.days:g} days: facts need >= 2")
    try:
        check_data_name(data)
        real = windows(real_returns(data, start, end), horizon)
        world = simulate_returns(
            scenario.market, scenario.n_paths, horizon, scenario.year_days, scenario.seed
        )
    except (HistoryDataError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    if scenario.market.kind == "history_windows":
        # real history already: the non-overlapping windows, measured as the real ones
        world = world[:: max(1, math.ceil(horizon / scenario.market.history.stride))]
        w = headline(_facts(world))
    else:
        w = matched_headline(world, real.shape[0])
    r = headline(_facts(real))
    print(
        f"{scenario.name} ({scenario.market.kind}): {world.shape[0]:,} paths x {horizon} days "
        f"vs real {data} {start}..{end}: {real.shape[0]} windows of {horizon} days"
    )
    for line in facts_table(w, r):
        print(line)
    if args.out is not None:
        write_png(facts_figure(world, real, f"{scenario.name} ({scenario.market.kind})"), args.out)
        print(f"wrote {args.out}")
    return 0


def _real_window(scenario: Any, args: argparse.Namespace) -> tuple[str, dt.date, dt.date]:
    """The real data to compare with: the flags, else a fitted world's own fit window,
    else skfolio's S&P 500 1990-2022."""
    from orchestration.cli_fit import _date

    fitted = scenario.market.fitted if scenario.market.kind == "fitted" else None
    spec = fitted.fit if fitted is not None and fitted.fit is not None else None
    data = args.data or (spec.data if spec is not None else "sp500_skfolio")
    start = _date("--start", args.start) if args.start else (spec.start if spec else _LONG[0])
    end = _date("--end", args.end) if args.end else (spec.end if spec else _LONG[1])
    return data, start, end


#: The default real window: all of skfolio's S&P 500 closes.
_LONG = (dt.date(1990, 1, 1), dt.date(2022, 12, 31))


def _facts(r: np.ndarray) -> Any:
    from market.facts import stylized_facts

    return stylized_facts(r)


def register(sub: Any) -> dict[str, Any]:
    """Add ``facts`` to the CLI."""
    p = sub.add_parser("facts", help="a world's stylized facts beside real S&P 500 returns")
    p.add_argument("scenario", help="scenario script path or built-in name")
    p.add_argument("--paths", type=int, help="paths to simulate (default: the scenario's)")
    p.add_argument(
        "--data", help="real returns: sp500 or sp500_skfolio (default: the fit's, else skfolio)"
    )
    p.add_argument("--start", help="first real close (ISO date; default: the fit's, or 1990)")
    p.add_argument("--end", help="last real close (ISO date; default: the fit's, or 2022)")
    p.add_argument("--out", type=Path, help="PNG file for the plot (default: no plot)")
    add_run_options(p, progress=False)
    return {"facts": cmd_facts}
