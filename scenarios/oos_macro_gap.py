"""oos_macro_gap: macro_gap's hedgers out of sample, on every 30-day window of real history.

Each path is one window of 31 S&P 500 closes (skfolio's index, 1990-01-02 to
2022-12-28), rebased to 100: 8,283 overlapping windows, stride one trading
day, one step a day (``year_days = 252``, so tenors are in trading days).
The ATM vol is the VIX close where ``arch`` ships it (2014-2018) and elsewhere
the implied vol of a GJR-GARCH-t fitted to the same closes (its conditional
vol mapped through the relation fitted on that VIX; see
:mod:`market.generators.fitted_history`). Nothing is read or fitted when this
script loads: the data are read and the fit made when the run starts.

The book (short 30-day ATM calls, short 90-day ATM puts), the instruments and
the five configurations are macro_gap's (no scheduled announcement here:
``event_aware`` then acts as ``delta_gamma_vega``). ``summary.json`` carries
the P&L distribution over windows and, under ``worst_windows``, the ten worst
windows of each configuration with their dates.

Run it: ``gammaray run scenarios/oos_macro_gap.py --runtime local``.
"""

from __future__ import annotations

import sys

from market import MarketConfig, SurfaceConfig
from market.config import HistoryWindowsConfig
from orchestration import Scenario
from scenarios.macro_gap import SCENARIO as MACRO_GAP

#: Windows of 30 trading days in skfolio's closes 1990-01-02..2022-12-28
#: (8,313 closes - 30); a test checks it against the data, and a run with
#: more paths than windows is refused when it starts.
N_WINDOWS = 8283

SCENARIO = Scenario(
    name="oos_macro_gap",
    version=1,
    description="macro_gap's hedgers on every 30-day window of real S&P 500 history 1990-2022",
    seed=7,
    n_paths=N_WINDOWS,
    days=30.0,
    steps_per_day=1,
    year_days=252.0,
    market=MarketConfig(
        kind="history_windows",
        spot=100.0,
        surface=SurfaceConfig(atm=0.20, skew=-0.10, term=0.02),
        history=HistoryWindowsConfig(window_days=30),
        instruments=MACRO_GAP.market.instruments,
    ),
    book=MACRO_GAP.book,
    configs=MACRO_GAP.configs,
)

if __name__ == "__main__":
    from orchestration.cli import main

    sys.exit(main(["run", __file__, *sys.argv[1:]]))
