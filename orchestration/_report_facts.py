"""The report's stylized-facts section: the run's world beside real S&P 500 returns.

The world's daily log returns are simulated afresh from the run's *market*
config (``summary.json``'s ``scenario_config.market``: plain data, no class
is imported) with the scenario's seed, one step a day over the scenario's
horizon, as ``gammaray facts`` does; real returns are skfolio's S&P 500
closes 1990-2022 cut into windows of the same horizon. Replays (one recorded
path) and horizons under five days have no such section.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from orchestration._report_data import ReportData

#: Most simulated paths the section measures.
MAX_PATHS = 512
#: Shortest horizon with a facts section, days.
MIN_DAYS = 5
#: The real history compared with.
REAL = ("sp500_skfolio", dt.date(1990, 1, 1), dt.date(2022, 12, 31))


def facts_panels(data: ReportData) -> tuple[Any, Any, str] | None:
    """``(world r[n, T], real r[m, T], label)`` for the section, or None when it has none."""
    from market.config import MarketConfig
    from market.facts import real_returns, simulate_returns, windows

    sc = data.scenario
    market = sc.get("market")
    horizon = round(float(sc.get("days", 0.0)))
    if data.one_path or not isinstance(market, dict) or horizon < MIN_DAYS:
        return None
    if market.get("kind") == "replay":
        return None
    try:
        config = MarketConfig.model_validate(market)
        n = min(data.n_paths, MAX_PATHS)
        world = simulate_returns(config, n, horizon, data.year_days, int(data.summary["seed"]))
        real = windows(real_returns(*REAL), horizon)
    except (ValueError, OSError):  # a world that cannot be re-simulated from data alone
        return None
    return world, real, f"{data.summary['scenario']} ({market.get('kind')})"


def fig_facts(data: ReportData) -> tuple[Any, str] | None:
    """The facts figure and a caption with the headline numbers, or None."""
    from market.facts import headline, matched_headline, stylized_facts
    from orchestration.cli_facts import facts_figure

    panels = facts_panels(data)
    if panels is None:
        return None
    world, real, label = panels
    w, r = matched_headline(world, real.shape[0]), headline(stylized_facts(real))

    def pair(key: str, name: str) -> str:
        a, b = r[key], w[key]
        if not (math.isfinite(a) and math.isfinite(b)):
            return f"{name} n/a at this horizon"
        return f"{name} {b:.3g} (real {a:.3g})"

    names = {
        "kurtosis": "excess kurtosis",
        "acf_abs_1": "ACF of |r| at lag 1",
        "leverage_1": "corr(r_t, |r_t+1|)",
    }
    caption = (
        f"{world.shape[0]} simulated paths of {world.shape[1]} trading days (seed "
        f"{data.summary['seed']}) against {real.shape[0]} windows of real S&P 500 daily log "
        "returns 1990-2022 (skfolio). "
        + "; ".join(pair(k, name) for k, name in names.items())
        + "."
    )
    return facts_figure(world, real, label), caption
