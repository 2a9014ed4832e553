"""fitted_spx: the stress scenarios' dealer book in a world fitted to the S&P 500.

The world (``market.kind = "fitted"``) is a GJR-GARCH(1,1) with Student-t
innovations fitted with ``arch`` to the S&P 500's daily log returns
1990-2022 (``skfolio``'s index closes): fat tails, volatility clustering, the
leverage effect and mean-reverting vol, rather than GBM. The ATM implied vol
follows the conditional vol through the relation fitted on the real VIX
(2014-2019); skew is the stress scenarios' assumed constant. Paths start
from the model's stationary distribution of variance (a 250-day burn-in).

The fit is made when a run starts (``market.fitted.fit``), not when this
script loads. To use a saved fit instead: ``gammaray fit --out world.json``
then ``--set 'market.fitted={"path": "world.json"}'``.

Book (short ATM straddles and 90% puts), hedge instruments and the
``unhedged`` / ``delta`` / ``delta_gamma_vega`` configurations are the
stress scenarios' (``scenarios/_stress.py``); 63 trading days, one step a day.

Run it: ``gammaray run scenarios/fitted_spx.py`` or ``gammaray facts fitted_spx``.
"""

from __future__ import annotations

import datetime as dt
import sys

from market import MarketConfig
from market.config import FitSpec, FittedConfig
from orchestration import Scenario
from scenarios._stress import BOOK, CONFIGS, INSTRUMENTS, SURFACE

SCENARIO = Scenario(
    name="fitted_spx",
    version=1,
    description="short-vol dealer book in a GJR-GARCH-t world fitted to the S&P 500 1990-2022",
    seed=2000,
    n_paths=2000,
    days=63.0,
    steps_per_day=1,
    year_days=252.0,
    market=MarketConfig(
        kind="fitted",
        spot=100.0,
        surface=SURFACE,
        fitted=FittedConfig(
            fit=FitSpec(data="sp500_skfolio", start=dt.date(1990, 1, 1), end=dt.date(2022, 12, 31))
        ),
        instruments=INSTRUMENTS,
    ),
    book=BOOK,
    configs=CONFIGS,
)

if __name__ == "__main__":
    from orchestration.cli import main

    sys.exit(main(["run", __file__, *sys.argv[1:]]))
