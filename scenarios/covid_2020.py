"""covid_2020: a short-vol dealer book hedged through a recorded stress event.

The COVID-19 crash: from its 19 Feb 2020 high the S&P 500 fell a third in 23
trading days, with daily moves of 5-12% in mid-March.

The market replays the S&P 500's daily closes over the window, rebased to
100, one step per trading day, one path. The data are built when this
script loads (:func:`market.stress.build_stress`); none is stored here.

No implied vol is shipped for this window, so the ATM vol is **derived**: a
GARCH(1,1) fitted with `arch` to the S&P 500's daily log returns (see
:mod:`market.stress`); the scenario's description and
``market.replay.iv_source`` say so. It is a statistical forecast, not a
traded price.

The S&P 500 closes for 2020 come from ``skfolio`` (``load_sp500_index``);
``arch`` ships them only to 2018.

The book (short ATM straddles and 90% puts), the hedge instruments and the
``unhedged`` / ``delta`` / ``delta_gamma_vega`` configurations are
shared by every stress scenario (``scenarios/_stress.py``).

Run it: ``gammaray run scenarios/covid_2020.py --runtime local`` or
``python scenarios/covid_2020.py``.
"""

from __future__ import annotations

import sys

from scenarios._stress import stress_scenario

#: What ``gammaray list`` shows, read without loading (and fitting) the data;
#: the scenario's own description adds the window's numbers.
DESCRIPTION = (
    "the COVID-19 crash, Feb-Apr 2020: "
    "S&P 500 2020-02-10..2020-04-09; IV derived (GARCH(1,1)), not quoted"
)

SCENARIO = stress_scenario("covid_2020", seed=2020)

if __name__ == "__main__":
    from orchestration.cli import main

    sys.exit(main(["run", __file__, *sys.argv[1:]]))
