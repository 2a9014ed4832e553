"""Recorded markets: replay an event log, or drive the simulator from market data.

Two ways to put a recorded market in front of the agents:

* :class:`LogReplayMarket` streams the steps of an event log written by
  :mod:`market.eventlog` (``gammaray record`` / ``gammaray run --record``).
  It has the market simulator's ``start()`` / ``step()`` / ``snapshot()`` /
  ``restore()``, so any set of agents runs against exactly the recorded
  events; replaying a run's own log with the same agents gives the same P&L
  to the last bit.
* :class:`ReplayGenerator` is a path generator (``market.kind = "replay"``)
  driven by a table of market data: a timestamped spot and ATM implied vol
  (optionally skew and term slope) per row. The simulator lists and quotes
  the hedge instruments off the recorded vol as it does for simulated worlds.
  Every path sees the same recorded path (a replay is one path; more paths
  are copies of it).

The table importers (:func:`load_table`: CSV through the standard library,
Parquet through pyarrow, or an inline table) check the data and raise
:class:`ReplayDataError` with one line naming the column, the row and the
value: a missing column, unsorted or duplicate timestamps, a NaN or an
infinity, a non-positive price or vol, an ATM vol above :data:`MAX_VOL`
(500%: a percentage read as a decimal), a file that does not decompress.

Units: spot in currency; vols decimal once read (``vol_units = "percent"``
divides the ATM column by 100); skew in vol per unit log-moneyness; term in
vol per year of tenor. Row ``k`` of the table is day ``k`` of the scenario.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from market._log_replay import LogReplayMarket
from market._rng import BlockRNG
from market._tables import (
    CSV_SUFFIXES,
    MAX_VOL,
    MISSING,
    PARQUET_SUFFIXES,
    ReplayData,
    ReplayDataError,
    load_table,
    read_csv_columns,
    read_parquet_columns,
)
from market.config import MarketConfig, ReplayConfig
from market.generators.gbm import GBMGenerator, Release, Scheduled
from market.surface import SurfaceState

__all__ = [
    "CSV_SUFFIXES",
    "MAX_VOL",
    "MISSING",
    "PARQUET_SUFFIXES",
    "LogReplayMarket",
    "ReplayData",
    "ReplayDataError",
    "ReplayGenerator",
    "check_horizon",
    "inline_config",
    "load_table",
    "read_csv_columns",
    "read_parquet_columns",
    "required_rows",
]


def inline_config(config: ReplayConfig) -> ReplayConfig:
    """The same replay with its window's rows inline (no file needed to run it).

    The event recorder stores this form in a log's header, so a log replays
    on a machine that never had the data file. ATM vols are stored decimal.

    Args:
        config: A replay config (file or inline).

    Returns:
        A config with ``table`` holding the window's rows and no window.
    """
    data = load_table(config)
    table: dict[str, tuple[float, ...] | tuple[str, ...]] = {
        "time": tuple(data.labels()) if data.times.dtype.kind == "M" else tuple(data.times),
        "spot": tuple(float(x) for x in data.spot),
        "atm_vol": tuple(float(x) for x in data.atm_vol),
    }
    if data.skew is not None:
        table["skew"] = tuple(float(x) for x in data.skew)
    if data.term is not None:
        table["term"] = tuple(float(x) for x in data.term)
    return ReplayConfig(
        table=table,
        time_column="time",
        spot_column="spot",
        atm_vol_column="atm_vol",
        skew_column="skew" if data.skew is not None else None,
        term_column="term" if data.term is not None else None,
        vol_units="decimal",
        rebase=config.rebase,
        iv_source=config.iv_source,
    )


def required_rows(days: float) -> int:
    """Table rows a scenario of ``days`` days reads (row 0 is the first quote)."""
    return math.floor(days + 1e-6) + 1


def check_horizon(config: MarketConfig, days: float) -> None:
    """Refuse a horizon longer than a replay table (nothing to check for other worlds).

    Args:
        config: The market config.
        days: The scenario's horizon, days (``n_steps / steps_per_day``).

    Raises:
        ReplayDataError: The table has fewer than ``days + 1`` rows.
    """
    if config.kind != "replay" or config.replay is None:
        return
    rows = load_table(config.replay).n_rows
    if required_rows(days) > rows:
        raise ReplayDataError(
            f"days: the replay table has {rows} rows, so a replay runs at most {rows - 1} "
            f"days (n_steps <= rows - 1 at one step a day); got {days:g}"
        )


# ---------------------------------------------------------------- generator
class ReplayGenerator(GBMGenerator):
    """A path generator that replays a table of market data (``kind = "replay"``).

    Row ``k`` of the table is the close of day ``k`` (time ``k / year_days``
    years); a step between two closes holds the earlier close, so with one
    step a day step ``k`` is row ``k``. Every path carries the same recorded
    values. The surface's ATM level is the recorded ATM vol, its skew and term
    slope the recorded columns or else the market's ``surface.skew`` /
    ``surface.term``; no event variance (nothing is scheduled). It draws no
    random numbers.

    Args:
        config: The market config; ``config.replay`` names the table.
        rng: Gives the number of paths (no draws are made).
        year_days: Days per year: converts times (years) to table rows.

    Raises:
        ReplayDataError: The table cannot be read or is invalid.
    """

    def __init__(self, config: MarketConfig, rng: BlockRNG, year_days: float) -> None:
        super().__init__(config, rng, year_days)
        if config.replay is None:
            raise ReplayDataError("market.replay is required for the replay world")
        self.data = load_table(config.replay)
        scale = config.spot / float(self.data.spot[0]) if config.replay.rebase else 1.0
        self._spots = self.data.spot * scale
        n = rng.n
        rows = self.data.n_rows
        s = config.surface
        self._skews = self.data.skew if self.data.skew is not None else np.full(rows, s.skew)
        self._terms = self.data.term if self.data.term is not None else np.full(rows, s.term)
        self.n = n
        self.row = 0
        self.spot = np.full(n, self._spots[0])

    @property
    def schedule(self) -> list[Scheduled]:
        """Nothing is scheduled in a replay."""
        return []

    def row_of(self, time: float) -> int:
        """The table row in force at ``time`` (years)."""
        return math.floor(time * self.year_days + 1e-6)

    def stamp(self, time: float) -> str:
        """The recorded date of the row in force at ``time`` plus the time of day (ISO 8601).

        Dated tables only (numeric time columns give "").
        """
        times = self.data.times
        if times.dtype.kind != "M":
            return ""
        row = min(self.row_of(time), self.data.n_rows - 1)
        ms = round((time * self.year_days - row) * 86_400_000.0)
        at = times[row].astype("datetime64[ms]") + np.timedelta64(ms, "ms")
        return str(np.datetime_as_string(at, unit="ms"))

    def surface(self, time: float) -> SurfaceState:
        """The recorded surface of the current row, the same on every path."""
        r = self.row
        return SurfaceState(
            atm=np.full(self.n, self.data.atm_vol[r]),
            skew=np.full(self.n, self._skews[r]),
            term=np.full(self.n, self._terms[r]),
            event_var=np.zeros(self.n),
            event_time=math.inf,
        )

    def advance(self, t0: float, t1: float) -> list[Release]:
        """Move to the row in force at ``t1`` (years).

        Raises:
            ReplayDataError: ``t1`` is past the table's last row.
        """
        row = self.row_of(t1)
        if row >= self.data.n_rows:
            last = self.data.labels()[-1]
            raise ReplayDataError(
                f"the replay table ends at row {self.data.n_rows} ({last}): day {row} is past "
                f"it (the scenario must run at most {self.data.n_rows - 1} days)"
            )
        self.row = row
        self.spot = np.full(self.n, self._spots[row])
        return []

    def snapshot(self) -> dict[str, Any]:
        """The current row (everything else is the table)."""
        return {"row": self.row}

    def restore(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`snapshot`."""
        self.row = int(state["row"])
        self.spot = np.full(self.n, self._spots[self.row])
