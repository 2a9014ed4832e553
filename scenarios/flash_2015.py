"""flash_2015: a short-vol dealer book hedged through a recorded stress event.

On Monday 24 Aug 2015, after China's devaluation and a week of selling, the
S&P 500 fell 5% at the open and closed 3.9% down; VIX closed at 40.7
(intraday above 53).

The market replays the S&P 500's daily closes over the window, rebased to
100, one step per trading day, one path. The data are built when this
script loads (:func:`market.stress.build_stress`); none is stored here.

The ATM vol is the VIX close (``arch.data.vix``), a 30-day implied
variance-swap vol, used as the 30-day ATM level (``market.replay.iv_source``).

The book (short ATM straddles and 90% puts), the hedge instruments and the
``unhedged`` / ``delta`` / ``delta_gamma_vega`` configurations are
shared by every stress scenario (``scenarios/_stress.py``).

Run it: ``gammaray run scenarios/flash_2015.py --runtime local`` or
``python scenarios/flash_2015.py``.
"""

from __future__ import annotations

import sys

from scenarios._stress import stress_scenario

#: What ``gammaray list`` shows, read without loading (and fitting) the data;
#: the scenario's own description adds the window's numbers.
DESCRIPTION = (
    "the 24 Aug 2015 flash crash (China devaluation selloff): "
    "S&P 500 2015-08-10..2015-09-11; IV = VIX close"
)

SCENARIO = stress_scenario("flash_2015", seed=2015)

if __name__ == "__main__":
    from orchestration.cli import main

    sys.exit(main(["run", __file__, *sys.argv[1:]]))
