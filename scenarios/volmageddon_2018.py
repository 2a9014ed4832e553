"""volmageddon_2018: a short-vol dealer book hedged through a recorded stress event.

On Monday 5 Feb 2018 the S&P 500 fell 4.1% and VIX closed at 37.3 from 17.3
(the largest one-day rise on record); inverse-VIX notes lost almost
everything overnight.

The market replays the S&P 500's daily closes over the window, rebased to
100, one step per trading day, one path. The data are built when this
script loads (:func:`market.stress.build_stress`); none is stored here.

The ATM vol is the VIX close (``arch.data.vix``), a 30-day implied
variance-swap vol, used as the 30-day ATM level (``market.replay.iv_source``).

The book (short ATM straddles and 90% puts), the hedge instruments and the
``unhedged`` / ``delta`` / ``delta_gamma_vega`` configurations are
shared by every stress scenario (``scenarios/_stress.py``).

Run it: ``gammaray run scenarios/volmageddon_2018.py --runtime local`` or
``python scenarios/volmageddon_2018.py``.
"""

from __future__ import annotations

import sys

from scenarios._stress import stress_scenario

#: What ``gammaray list`` shows, read without loading (and fitting) the data;
#: the scenario's own description adds the window's numbers.
DESCRIPTION = (
    "Volmageddon, 5 Feb 2018 (VIX 17 to 37 in a day, short-vol ETPs blown up): "
    "S&P 500 2018-01-22..2018-02-23; IV = VIX close"
)

SCENARIO = stress_scenario("volmageddon_2018", seed=2018)

if __name__ == "__main__":
    from orchestration.cli import main

    sys.exit(main(["run", __file__, *sys.argv[1:]]))
