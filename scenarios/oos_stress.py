"""oos_stress: the stress scenarios' dealer book, out of sample on every 30-day window of history.

The short-vol book (short three-month ATM straddles and six-month 90% puts),
its hedge instruments and the ``unhedged`` / ``delta`` / ``delta_gamma_vega``
configurations of ``scenarios/_stress.py``, run on every window of 31 S&P 500
closes 1990-01-02..2022-12-28 (skfolio), a path each (8,283 windows), rebased
to 100, one step a trading day. The ATM vol is the VIX close where ``arch``
ships it and elsewhere a fitted GJR-GARCH-t's implied vol (as in
``oos_macro_gap``); the skew is the stress scenarios' assumed constant. Data
are read and the model fitted when the run starts, not when this loads.
``summary.json``'s ``worst_windows`` lists the ten worst windows per
configuration with their dates: compare them with the hand-picked stress
events (lehman_2008, covid_2020, ...).

Run it: ``gammaray run scenarios/oos_stress.py --runtime local``.
"""

from __future__ import annotations

import sys

from market import MarketConfig
from market.config import HistoryWindowsConfig
from orchestration import Scenario
from scenarios._stress import BOOK, CONFIGS, INSTRUMENTS, SURFACE

#: Windows of 30 trading days in skfolio's closes 1990-01-02..2022-12-28 (a test
#: checks it against the data; a run with more paths is refused when it starts).
N_WINDOWS = 8283

SCENARIO = Scenario(
    name="oos_stress",
    version=1,
    description="the stress dealer book on every 30-day window of real S&P 500 history 1990-2022",
    seed=2008,
    n_paths=N_WINDOWS,
    days=30.0,
    steps_per_day=1,
    year_days=252.0,
    market=MarketConfig(
        kind="history_windows",
        spot=100.0,
        surface=SURFACE,
        history=HistoryWindowsConfig(window_days=30),
        instruments=INSTRUMENTS,
    ),
    book=BOOK,
    configs=CONFIGS,
)

if __name__ == "__main__":
    from orchestration.cli import main

    sys.exit(main(["run", __file__, *sys.argv[1:]]))
