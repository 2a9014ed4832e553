"""Real index history read at run time from installed packages (none is stored here).

* ``"sp500"``: ``arch.data.sp500`` adjusted closes, 1999-01-04 to 2018-12-31.
* ``"sp500_skfolio"``: ``skfolio``'s S&P 500 index closes, 1990-01-02 to 2022-12-28.
* VIX closes (``arch.data.vix``, percent), 2014-01-03 to 2019-01-03.

The readers are cached per process (the data are read-only and the same
for every caller); they return plain numpy arrays.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np

#: Data names to (package the closes ship in, what they are).
DATA_SOURCES: dict[str, tuple[str, str]] = {
    "sp500": ("arch", "S&P 500 daily adjusted close (arch.data.sp500), 1999-2018"),
    "sp500_skfolio": ("skfolio", "S&P 500 index daily close (skfolio sp500_index), 1990-2022"),
}


class HistoryDataError(ValueError):
    """Real data cannot be read or a window of it is unusable (one line)."""


@dataclass(frozen=True, slots=True)
class Closes:
    """Daily closes of one data set.

    Attributes:
        name: The data name (a key of :data:`DATA_SOURCES`).
        dates: Trading days, ``datetime64[D] [rows]``, increasing.
        close: Closes, index points, ``float64 [rows]``.
    """

    name: str
    dates: np.ndarray
    close: np.ndarray

    def window(self, start: dt.date, end: dt.date) -> Closes:
        """The rows with ``start <= date <= end``."""
        lo = np.searchsorted(self.dates, np.datetime64(start, "D"), side="left")
        hi = np.searchsorted(self.dates, np.datetime64(end, "D"), side="right")
        return Closes(self.name, self.dates[lo:hi], self.close[lo:hi])


def check_data_name(name: str) -> None:
    """Raise :class:`HistoryDataError` for a data name that is not known."""
    if name not in DATA_SOURCES:
        raise HistoryDataError(f"unknown data {name!r} (known: {', '.join(DATA_SOURCES)})")


@functools.lru_cache(maxsize=4)
def load_closes(name: str) -> Closes:
    """The daily closes of data set ``name`` (read once per process).

    Raises:
        HistoryDataError: Unknown name, or the package that ships it is missing.
    """
    check_data_name(name)
    from market.stress import StressDataError, sp500_closes

    try:
        series = sp500_closes("arch" if name == "sp500" else "skfolio")
    except StressDataError as exc:
        raise HistoryDataError(str(exc)) from None
    dates = series.index.to_numpy().astype("datetime64[D]")
    close = series.to_numpy(dtype=np.float64)
    for a in (dates, close):
        a.flags.writeable = False
    return Closes(name, dates, close)


@functools.lru_cache(maxsize=1)
def load_vix() -> tuple[np.ndarray, np.ndarray]:
    """VIX closes: dates ``datetime64[D]`` and the close as a decimal vol (``vix / 100``)."""
    from market.stress import StressDataError, vix_closes

    try:
        s = vix_closes()
    except StressDataError as exc:
        raise HistoryDataError(str(exc)) from None
    dates = s.index.to_numpy().astype("datetime64[D]")
    vol = s.to_numpy(dtype=np.float64) / 100.0
    for a in (dates, vol):
        a.flags.writeable = False
    return dates, vol


def iso(day: np.datetime64) -> str:
    """ISO date of a ``datetime64[D]``."""
    return str(np.datetime_as_string(day, unit="D"))


__all__ = [
    "DATA_SOURCES",
    "Closes",
    "HistoryDataError",
    "check_data_name",
    "iso",
    "load_closes",
    "load_vix",
]
