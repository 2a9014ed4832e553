"""Replay tables: read and check a table of recorded market data.

:func:`load_table` reads a :class:`~market.config.ReplayConfig`'s table (CSV
through the standard library, Parquet through pyarrow, or inline rows) and
checks it, raising :class:`ReplayDataError` with one line naming the column,
the row and the value. Public through :mod:`market.replay`; its own module so
that :mod:`market.config` can check a table without importing the generator
(which imports the config: no import circle).
"""

from __future__ import annotations

import csv
import gzip
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from market.config import ReplayConfig


#: Cell values read as a missing number in a CSV file.
MISSING = frozenset({"", "nan", "NaN", "NAN", "NA", "N/A", "null", "NULL", "None", "#N/A"})
#: Highest ATM vol a table may hold once read, decimal (5.0 = 500%): a larger value is
#: almost surely a percentage read as a decimal (20 for 20% would run at 2000% vol).
MAX_VOL = 5.0
#: File suffixes read as CSV and as Parquet.
CSV_SUFFIXES = (".csv", ".csv.gz", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")


class ReplayDataError(ValueError):
    """Market data that cannot be replayed; the message is one line.

    A ``ValueError``, so inside a scenario's validation it becomes a
    one-line scenario error (exit status 2 from the command line).
    """


@dataclass(frozen=True, slots=True)
class ReplayData:
    """A checked table of market data, one row per day, in time order.

    Attributes:
        times: Row timestamps, ``datetime64[s]`` or ``float64``, strictly increasing.
        spot: Spot closes, currency, ``float64 [rows]``, all > 0.
        atm_vol: ATM implied vol at the 30-day reference tenor, decimal, all > 0.
        skew: Vol per unit log-moneyness per row, or None (not in the table).
        term: Vol per year of tenor per row, or None.
        rows: Row numbers in the source (1-based data rows), for messages.
    """

    times: np.ndarray
    spot: np.ndarray
    atm_vol: np.ndarray
    skew: np.ndarray | None
    term: np.ndarray | None
    rows: np.ndarray

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return int(self.spot.shape[0])

    def labels(self) -> list[str]:
        """The timestamps as text (ISO dates where every time is midnight)."""
        return _time_labels(self.times)


def _time_labels(times: np.ndarray) -> list[str]:
    if times.dtype.kind != "M":
        return [repr(float(t)) for t in times]
    days = times.astype("datetime64[D]")
    if bool(np.all(days == times)):
        return [str(d) for d in days]
    return [str(t) for t in times.astype("datetime64[s]")]


def _label(times: np.ndarray, i: int) -> str:
    return _time_labels(times[i : i + 1])[0]


# ---------------------------------------------------------------- importers
def read_csv_columns(path: Path, columns: list[str]) -> dict[str, list[str]]:
    """Read the named columns of a CSV file (header row first) as text.

    Args:
        path: A ``.csv`` (optionally ``.csv.gz``) file.
        columns: Column names to keep.

    Returns:
        Column name to its cells, in file order.

    Raises:
        ReplayDataError: The file cannot be read, a column is missing, or a
            row has fewer cells than the header.
    """
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise ReplayDataError(f"{path}: empty file (no header row)")
            header = [h.strip() for h in header]
            _require_columns(path, header, columns)
            index = {c: header.index(c) for c in columns}
            out: dict[str, list[str]] = {c: [] for c in columns}
            for line_no, row in enumerate(reader, start=2):
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) < len(header):
                    raise ReplayDataError(
                        f"{path}: line {line_no} has {len(row)} cells, the header has {len(header)}"
                    )
                for c, j in index.items():
                    out[c].append(row[j].strip())
    except ReplayDataError:
        raise
    except (OSError, UnicodeDecodeError, csv.Error, EOFError, zlib.error) as exc:
        raise ReplayDataError(f"{path}: cannot read as CSV: {_one_line(exc)}") from None
    return out


def read_parquet_columns(path: Path, columns: list[str]) -> dict[str, Any]:
    """Read the named columns of a Parquet file (pyarrow).

    Args:
        path: A Parquet file.
        columns: Column names to keep.

    Returns:
        Column name to a numpy array (numbers, ``datetime64`` or objects);
        nulls become NaN / NaT / None.

    Raises:
        ReplayDataError: The file cannot be read or a column is missing.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        _require_columns(path, list(schema.names), columns)
        table = pq.read_table(path, columns=columns)
    except ReplayDataError:
        raise
    except (OSError, pa.ArrowException) as exc:
        raise ReplayDataError(f"{path}: cannot read as Parquet: {_one_line(exc)}") from None
    out: dict[str, Any] = {}
    for c in columns:
        col = table.column(c)
        typ = col.type
        if pa.types.is_date(typ) or pa.types.is_timestamp(typ):
            if pa.types.is_timestamp(typ) and typ.tz is not None:
                col = col.cast(pa.timestamp(typ.unit))
            values = col.to_numpy().astype("datetime64[s]")
        elif pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ):
            values = col.cast(pa.float64()).to_numpy()
        else:
            values = np.array(["" if v is None else str(v) for v in col.to_pylist()], dtype=object)
        out[c] = values
    return out


def _require_columns(source: Any, have: list[str], want: list[str]) -> None:
    for c in want:
        if c not in have:
            shown = ", ".join(repr(h) for h in have[:12]) + (", ..." if len(have) > 12 else "")
            raise ReplayDataError(f"{source}: missing column {c!r} (columns: {shown})")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _numbers(source: str, name: str, cells: Any) -> np.ndarray:
    """A column as float64; missing cells become NaN (checked later)."""
    if isinstance(cells, np.ndarray) and cells.dtype.kind in "fiu":
        return cells.astype(np.float64)
    if isinstance(cells, np.ndarray) and cells.dtype.kind in "Mm":
        raise ReplayDataError(f"{source}: column {name!r} holds timestamps, not numbers")
    out = np.empty(len(cells))
    for i, cell in enumerate(cells):
        if isinstance(cell, int | float):
            out[i] = float(cell)
            continue
        text = str(cell).strip()
        if text in MISSING:
            out[i] = math.nan
            continue
        try:
            out[i] = float(text)
        except ValueError:
            raise ReplayDataError(
                f"{source}: column {name!r} row {i + 1}: {text!r} is not a number"
            ) from None
    return out


def _times(source: str, name: str, cells: Any) -> np.ndarray:
    """The time column as ``datetime64[s]`` (dates) or ``float64`` (numbers)."""
    if isinstance(cells, np.ndarray) and cells.dtype.kind == "M":
        times = cells.astype("datetime64[s]")
    elif isinstance(cells, np.ndarray) and cells.dtype.kind in "fiu":
        times = cells.astype(np.float64)
    else:
        texts = [str(c).strip() for c in cells]
        try:
            times = np.array([math.nan if t in MISSING else float(t) for t in texts])
        except ValueError:
            parsed = []
            for i, t in enumerate(texts):
                if t in MISSING:
                    parsed.append(np.datetime64("NaT", "s"))
                    continue
                try:
                    parsed.append(np.datetime64(t).astype("datetime64[s]"))
                except ValueError:
                    raise ReplayDataError(
                        f"{source}: time column {name!r} row {i + 1}: "
                        f"{t!r} is neither a date nor a number"
                    ) from None
            times = np.array(parsed, dtype="datetime64[s]")
    missing = np.isnat(times) if times.dtype.kind == "M" else np.isnan(times)
    if missing.any():
        i = int(np.argmax(missing))
        raise ReplayDataError(f"{source}: time column {name!r} row {i + 1}: missing timestamp")
    return times


def _check_order(source: str, name: str, times: np.ndarray) -> None:
    if times.shape[0] < 2:
        return
    diff = times[1:] - times[:-1]
    zero = np.zeros(1, dtype=diff.dtype)[0]
    dup = np.flatnonzero(diff == zero)
    back = np.flatnonzero(diff < zero)
    if dup.size and (not back.size or dup[0] < back[0]):
        i = int(dup[0])
        raise ReplayDataError(
            f"{source}: duplicate timestamp {_label(times, i)} in column {name!r} "
            f"(rows {i + 1} and {i + 2})"
        )
    if back.size:
        i = int(back[0])
        raise ReplayDataError(
            f"{source}: timestamps in column {name!r} are not sorted: row {i + 2} "
            f"({_label(times, i + 1)}) comes after row {i + 1} ({_label(times, i)})"
        )


def _check_values(
    source: str, name: str, values: np.ndarray, times: np.ndarray, rows: np.ndarray, positive: bool
) -> None:
    bad = np.isnan(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise ReplayDataError(
            f"{source}: column {name!r} has a missing value (NaN) at row {int(rows[i])} "
            f"({_label(times, i)})"
        )
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise ReplayDataError(
            f"{source}: column {name!r} is infinite at row {int(rows[i])} ({_label(times, i)})"
        )
    if positive:
        bad = values <= 0.0
        if bad.any():
            i = int(np.argmax(bad))
            raise ReplayDataError(
                f"{source}: column {name!r} must be positive, got {float(values[i])!r} at row "
                f"{int(rows[i])} ({_label(times, i)})"
            )


def _check_vol_ceiling(
    source: str,
    config: ReplayConfig,
    raw: np.ndarray,
    atm: np.ndarray,
    times: np.ndarray,
    rows: np.ndarray,
) -> None:
    """Refuse ATM vols above :data:`MAX_VOL` once read, suggesting the decimal form."""
    bad = atm > MAX_VOL
    if not bad.any():
        return
    i = int(np.argmax(bad))
    name, value = config.atm_vol_column, float(raw[i])
    where = f"{source}: column {name!r} row {int(rows[i])} ({_label(times, i)})"
    ceiling = f"the {MAX_VOL:g} ({MAX_VOL:.0%}) ceiling"
    if config.vol_units == "percent":
        raise ReplayDataError(
            f"{where}: {value:g} percent is a vol of {float(atm[i]):g}, above {ceiling}"
        )
    raise ReplayDataError(
        f"{where}: vol {value:g} is above {ceiling}; vols are decimal (0.2 = 20%): "
        f"write {value / 100:g} for {value:g}%, or set vol_units = 'percent'"
    )


def _window_bound(source: str, times: np.ndarray, bound: Any, which: str) -> np.datetime64:
    if times.dtype.kind != "M":
        raise ReplayDataError(
            f"{source}: {which} needs a time column of dates (this one holds numbers)"
        )
    return np.datetime64(bound, "s")


def load_table(config: ReplayConfig) -> ReplayData:
    """Read, map, window and check the table a replay config names.

    Args:
        config: The replay config (a file ``path`` or an inline ``table``).

    Returns:
        The checked rows inside the ``start`` / ``end`` window, vols decimal.

    Raises:
        ReplayDataError: One line naming what is wrong: an unreadable or
            unsupported file, a missing column, a value that is not a number,
            unsorted or duplicate timestamps, a NaN or an infinity, a
            non-positive spot or ATM vol, an ATM vol above :data:`MAX_VOL`
            once read (suggesting the decimal form), fewer than two rows in
            the window.
    """
    names = [config.time_column, config.spot_column, config.atm_vol_column]
    names += [c for c in (config.skew_column, config.term_column) if c is not None]
    names = list(dict.fromkeys(names))
    cells: dict[str, Any]
    if config.table is not None:
        source = "replay table"
        _require_columns(source, list(config.table), names)
        cells = {c: list(config.table[c]) for c in names}
        lengths = {len(v) for v in cells.values()}
        if len(lengths) > 1:
            shown = ", ".join(f"{c}: {len(v)}" for c, v in cells.items())
            raise ReplayDataError(f"{source}: columns have different lengths ({shown})")
    else:
        path = Path(str(config.path))
        source = str(path)
        if not path.is_file():
            raise ReplayDataError(f"replay file {source!r} does not exist")
        lower = path.name.lower()
        if lower.endswith(PARQUET_SUFFIXES):
            cells = read_parquet_columns(path, names)
        elif lower.endswith(CSV_SUFFIXES):
            cells = read_csv_columns(path, names)
        else:
            raise ReplayDataError(
                f"replay file {source!r}: unsupported type (use .csv, .csv.gz, .parquet or .pq)"
            )
    times = _times(source, config.time_column, cells[config.time_column])
    _check_order(source, config.time_column, times)
    rows = np.arange(1, times.shape[0] + 1)
    keep = np.ones(times.shape[0], dtype=bool)
    if config.start is not None:
        keep &= times >= _window_bound(source, times, config.start, "start")
    if config.end is not None:
        end = _window_bound(source, times, config.end, "end") + np.timedelta64(1, "D")
        keep &= times < end
    times, rows = times[keep], rows[keep]
    if times.shape[0] < 2:
        window = f" between {config.start} and {config.end}" if config.start or config.end else ""
        raise ReplayDataError(
            f"{source}: {times.shape[0]} row(s){window}; a replay needs at least 2"
        )

    def column(name: str, positive: bool) -> np.ndarray:
        values = _numbers(source, name, cells[name])[keep]
        _check_values(source, name, values, times, rows, positive)
        return values

    spot = column(config.spot_column, positive=True)
    raw_atm = column(config.atm_vol_column, positive=True)
    atm = raw_atm / 100.0 if config.vol_units == "percent" else raw_atm
    _check_vol_ceiling(source, config, raw_atm, atm, times, rows)
    skew = None if config.skew_column is None else column(config.skew_column, positive=False)
    term = None if config.term_column is None else column(config.term_column, positive=False)
    return ReplayData(times=times, spot=spot, atm_vol=atm, skew=skew, term=term, rows=rows)
