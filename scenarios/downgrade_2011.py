"""downgrade_2011: a short-vol dealer book hedged through a recorded stress event.

S&P cut the US credit rating after the close on Friday 5 Aug 2011; the index
fell 6.7% the next Monday.

The market replays the S&P 500's daily closes over the window, rebased to
100, one step per trading day, one path. The data are built when this
script loads (:func:`market.stress.build_stress`); none is stored here.

No implied vol is shipped for this window, so the ATM vol is **derived**: a
GARCH(1,1) fitted with `arch` to the S&P 500's daily log returns (see
:mod:`market.stress`); the scenario's description and
``market.replay.iv_source`` say so. It is a statistical forecast, not a
traded price.

The book (short ATM straddles and 90% puts), the hedge instruments and the
``unhedged`` / ``delta`` / ``delta_gamma_vega`` configurations are
shared by every stress scenario (``scenarios/_stress.py``).

Run it: ``gammaray run scenarios/downgrade_2011.py --runtime local`` or
``python scenarios/downgrade_2011.py``.
"""

from __future__ import annotations

import sys

from scenarios._stress import stress_scenario

#: What ``gammaray list`` shows, read without loading (and fitting) the data;
#: the scenario's own description adds the window's numbers.
DESCRIPTION = (
    "the US credit-rating downgrade (S&P, 5 Aug 2011) and the August selloff: "
    "S&P 500 2011-07-25..2011-08-31; IV derived (GARCH(1,1)), not quoted"
)

SCENARIO = stress_scenario("downgrade_2011", seed=2011)

if __name__ == "__main__":
    from orchestration.cli import main

    sys.exit(main(["run", __file__, *sys.argv[1:]]))
