"""Real stress events as replayable market data, built at run time from shipped data.

No market data is stored in this repository. The tables are built when a
stress scenario is loaded, from data that installed packages ship:

* ``arch`` (``arch.data.sp500``): daily S&P 500 closes, 1999-01-04 to 2018-12-31;
  ``arch.data.vix``: daily VIX closes, 2014-01-03 to 2019-01-03 only.
* ``skfolio`` (``skfolio.datasets.load_sp500_index``): daily S&P 500 closes,
  1990-01-02 to 2022-12-28 (the only shipped source after 2018).

Each event is a window of trading days (one row per day). The spot is the
S&P 500 close. The implied vol is the VIX close (as the 30-day ATM vol,
decimal) where VIX is shipped for the window (2015, 2018). Elsewhere no
implied vol is shipped, so one is **derived**, and labelled so in the
table's ``iv_source`` and in the scenario description: a GARCH(1,1)
(constant mean, normal errors) fitted with ``arch`` to daily log returns
(in percent) from four years before the window through its end; the vol of
day ``t`` is the model's average variance forecast over the next 21
trading days made at the close of ``t`` (only returns up to ``t`` enter the
filter; the parameters use the whole fit sample, window included),
annualised with 252 days and rounded to 1e-6. A GARCH vol is a statistical
forecast, not a traded price: it carries no variance risk premium and
usually sits below where the options market traded.

Units: spot in index points (a scenario may rebase it to 100); vol decimal.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from market.config import ReplayConfig

#: Trading days per year used to annualise daily variance.
TRADING_DAYS = 252
#: Forecast horizon of a derived implied vol, trading days (VIX's 30 calendar days).
IV_HORIZON = 21
#: Years of returns before a window that a GARCH fit uses.
FIT_YEARS = 4


class StressDataError(ValueError):
    """The data for a stress event cannot be built (one line)."""


@dataclass(frozen=True, slots=True)
class StressEvent:
    """A real stress event: its window of trading days and where its data come from.

    Attributes:
        name: Identifier (the scenario script's name).
        title: One line for descriptions.
        start: First trading day of the window (inclusive).
        end: Last trading day of the window (inclusive).
        focus: The day of the shock, for descriptions.
        spot_source: ``"arch"`` (S&P 500 to 2018) or ``"skfolio"`` (to 2022).
        iv: ``"vix"`` (VIX closes) or ``"garch"`` (derived, see the module doc).
    """

    name: str
    title: str
    start: dt.date
    end: dt.date
    focus: dt.date
    spot_source: Literal["arch", "skfolio"]
    iv: Literal["vix", "garch"]


#: The built-in stress events by name (read-only).
STRESS_EVENTS: Mapping[str, StressEvent] = MappingProxyType(
    {
        e.name: e
        for e in (
            StressEvent(
                "lehman_2008",
                "Lehman Brothers' bankruptcy and the autumn-2008 crash",
                dt.date(2008, 9, 2),
                dt.date(2008, 10, 31),
                dt.date(2008, 9, 15),
                "arch",
                "garch",
            ),
            StressEvent(
                "downgrade_2011",
                "the US credit-rating downgrade (S&P, 5 Aug 2011) and the August selloff",
                dt.date(2011, 7, 25),
                dt.date(2011, 8, 31),
                dt.date(2011, 8, 8),
                "arch",
                "garch",
            ),
            StressEvent(
                "flash_2015",
                "the 24 Aug 2015 flash crash (China devaluation selloff)",
                dt.date(2015, 8, 10),
                dt.date(2015, 9, 11),
                dt.date(2015, 8, 24),
                "arch",
                "vix",
            ),
            StressEvent(
                "volmageddon_2018",
                "Volmageddon, 5 Feb 2018 (VIX 17 to 37 in a day, short-vol ETPs blown up)",
                dt.date(2018, 1, 22),
                dt.date(2018, 2, 23),
                dt.date(2018, 2, 5),
                "arch",
                "vix",
            ),
            StressEvent(
                "covid_2020",
                "the COVID-19 crash, Feb-Apr 2020",
                dt.date(2020, 2, 10),
                dt.date(2020, 4, 9),
                dt.date(2020, 3, 16),
                "skfolio",
                "garch",
            ),
        )
    }
)


@dataclass(frozen=True, slots=True)
class StressData:
    """The table of one stress event, one row per trading day.

    Attributes:
        event: The event.
        dates: ISO dates of the rows.
        spot: S&P 500 closes, index points, ``float64 [rows]``.
        atm_vol: 30-day ATM implied vol, decimal, ``float64 [rows]``.
        iv_source: Where the vol comes from ("VIX close ..." or "derived: ...").
        spot_source: Where the closes come from.
    """

    event: StressEvent
    dates: tuple[str, ...]
    spot: np.ndarray
    atm_vol: np.ndarray
    iv_source: str
    spot_source: str

    @property
    def days(self) -> int:
        """Trading days the window spans (rows - 1): the longest replay of it."""
        return len(self.dates) - 1

    @property
    def derived(self) -> bool:
        """True when the implied vol is derived, not a market quote."""
        return self.event.iv == "garch"

    def table(self) -> dict[str, tuple[float, ...] | tuple[str, ...]]:
        """Columns ``date``, ``spot``, ``atm_vol`` (decimal), for a replay config."""
        return {
            "date": self.dates,
            "spot": tuple(float(x) for x in self.spot),
            "atm_vol": tuple(float(x) for x in self.atm_vol),
        }

    def replay_config(self, rebase: bool = True) -> ReplayConfig:
        """An inline :class:`~market.config.ReplayConfig` of this table.

        Args:
            rebase: Scale the spot so the first row equals the market's ``spot``.
        """
        return ReplayConfig(
            table=self.table(),
            time_column="date",
            spot_column="spot",
            atm_vol_column="atm_vol",
            vol_units="decimal",
            rebase=rebase,
            iv_source=self.iv_source,
        )


def _series(frame: Any, column: str) -> Any:
    s = frame[column].dropna().astype("float64")
    s.index = s.index.normalize()
    return s.sort_index()


def sp500_closes(source: Literal["arch", "skfolio"]) -> Any:
    """Daily S&P 500 closes as a pandas Series indexed by date.

    Args:
        source: ``"arch"`` (1999-2018, ``arch.data.sp500``) or ``"skfolio"``
            (1990-2022, ``skfolio.datasets.load_sp500_index``).

    Raises:
        StressDataError: The package that ships the data is not installed.
    """
    if source == "arch":
        try:
            import arch.data.sp500
        except ImportError:
            raise StressDataError("S&P 500 data need the 'arch' package") from None
        return _series(arch.data.sp500.load(), "Adj Close")
    try:
        from skfolio.datasets import load_sp500_index
    except ImportError:
        raise StressDataError(
            "S&P 500 closes after 2018 need the 'skfolio' package (pip install skfolio)"
        ) from None
    return _series(load_sp500_index(), "SP500")


def vix_closes() -> Any:
    """Daily VIX closes (percent) from ``arch.data.vix``, 2014-01-03 to 2019-01-03."""
    try:
        import arch.data.vix
    except ImportError:
        raise StressDataError("VIX data need the 'arch' package (pip install arch)") from None
    return _series(arch.data.vix.load(), "vix")


def garch_vol(closes: Any, fit_start: dt.date, fit_end: dt.date, dates: Any) -> np.ndarray:
    """Derived 21-day implied vol: GARCH(1,1) average variance forecast, annualised.

    Args:
        closes: Daily closes (pandas Series by date).
        fit_start: First day of returns the model is fitted to.
        fit_end: Last day of returns the model is fitted to.
        dates: The days to give a vol for (inside the fit sample).

    Returns:
        Vol per day of ``dates``, decimal, rounded to 1e-6.

    Raises:
        StressDataError: The fit did not converge.
    """
    from arch import arch_model

    prices = closes.loc[str(fit_start) : str(fit_end)]
    returns = 100.0 * np.log(prices).diff().dropna()
    model = arch_model(returns, mean="Constant", vol="GARCH", p=1, q=1, dist="normal")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(disp="off")
    if res.convergence_flag != 0:
        raise StressDataError(f"the GARCH(1,1) fit did not converge ({res.optimization_result})")
    forecast = res.forecast(horizon=IV_HORIZON, start=dates[0], reindex=False)
    variance = forecast.variance.loc[dates].mean(axis=1).to_numpy()  # percent² per day
    return np.round(np.sqrt(variance * TRADING_DAYS) / 100.0, 6)


def build_stress(name: str) -> StressData:
    """Build the table of a stress event from the shipped data.

    Args:
        name: A key of :data:`STRESS_EVENTS`.

    Returns:
        The event's rows: S&P 500 closes and the implied vol (VIX or derived).

    Raises:
        StressDataError: Unknown event, a package missing, or data missing in
            the window.
    """
    event = STRESS_EVENTS.get(name)
    if event is None:
        raise StressDataError(f"unknown stress event {name!r} (known: {', '.join(STRESS_EVENTS)})")
    closes = sp500_closes(event.spot_source)
    window = closes.loc[str(event.start) : str(event.end)]
    if len(window) < 2:
        raise StressDataError(f"{name}: no S&P 500 closes between {event.start} and {event.end}")
    dates = window.index
    pkg = "arch.data.sp500" if event.spot_source == "arch" else "skfolio sp500_index"
    spot_source = f"S&P 500 daily close ({pkg})"
    if event.iv == "vix":
        vix = vix_closes().reindex(dates)
        if vix.isna().any():
            missing = vix.index[vix.isna()][0].date()
            raise StressDataError(f"{name}: no VIX close on {missing}")
        atm = vix.to_numpy() / 100.0
        iv_source = "VIX close (arch.data.vix) / 100, as the 30-day ATM implied vol"
    else:
        fit_start = dt.date(event.start.year - FIT_YEARS, event.start.month, 1)
        atm = garch_vol(closes, fit_start, event.end, dates)
        iv_source = (
            f"derived: GARCH(1,1) fitted with arch to S&P 500 daily log returns "
            f"{fit_start}..{event.end}; {IV_HORIZON}-day average variance forecast at each "
            f"close, annualised (252 days); not a market quote"
        )
    spot = window.to_numpy(dtype=np.float64)
    if not (np.all(np.isfinite(atm)) and np.all(atm > 0.0)):
        raise StressDataError(f"{name}: the implied vol is not positive and finite")
    labels = tuple(d.date().isoformat() for d in dates)
    return StressData(
        event, labels, spot, np.asarray(atm, dtype=np.float64), iv_source, spot_source
    )


def stress_replay(name: str, rebase: bool = True) -> ReplayConfig:
    """The inline replay config of a stress event (see :func:`build_stress`).

    Args:
        name: A key of :data:`STRESS_EVENTS`.
        rebase: Scale the spot so the first row equals the market's ``spot``.
    """
    return build_stress(name).replay_config(rebase)


def write_stress_table(name: str, path: str | os.PathLike[str]) -> Path:
    """Write a stress event's table to a CSV or Parquet file, atomically.

    Columns ``date`` (ISO), ``spot`` and ``atm_vol`` (decimal): a
    :class:`~market.config.ReplayConfig` reads it with the default mapping.

    Args:
        name: A key of :data:`STRESS_EVENTS`.
        path: Destination ending in ``.csv`` or ``.parquet`` / ``.pq``; its folder must exist.

    Returns:
        The path written.
    """
    data = build_stress(name)
    dest = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        if dest.suffix in (".parquet", ".pq"):
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.table(
                {
                    "date": pa.array([dt.date.fromisoformat(d) for d in data.dates]),
                    "spot": pa.array(data.spot),
                    "atm_vol": pa.array(data.atm_vol),
                }
            )
            pq.write_table(table, tmp)
        else:
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                fh.write("date,spot,atm_vol\n")
                for d, s, v in zip(data.dates, data.spot, data.atm_vol, strict=True):
                    fh.write(f"{d},{float(s)!r},{float(v)!r}\n")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return dest


def describe(data: StressData) -> str:
    """One line for a scenario description: the event, its window and the IV source."""
    e = data.event
    drop = data.spot.min() / data.spot[0] - 1.0
    peak = data.atm_vol.max()
    kind = "derived GARCH vol" if data.derived else "VIX"
    return (
        f"{e.title}: S&P 500 {e.start}..{e.end} ({data.days} trading days, worst "
        f"{100 * drop:+.0f}%, peak {kind} {100 * peak:.0f}%)"
        + ("; IV derived (GARCH(1,1)), not quoted" if data.derived else "; IV = VIX close")
    )


__all__ = [
    "FIT_YEARS",
    "IV_HORIZON",
    "STRESS_EVENTS",
    "TRADING_DAYS",
    "StressData",
    "StressDataError",
    "StressEvent",
    "build_stress",
    "describe",
    "garch_vol",
    "sp500_closes",
    "stress_replay",
    "vix_closes",
    "write_stress_table",
]
