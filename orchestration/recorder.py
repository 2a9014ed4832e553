"""The event log of a run: its header names the scenario; the format is in the market layer.

The file format (frames, checksums, limits, streaming reader and atomic
writer) lives in :mod:`market.eventlog`, so the market's log replay reads
logs without importing the orchestration. This module adds what only the
orchestration knows: the header of a recorded *run* (its scenario as JSON
data, seed, path and step counts) and :class:`RecordWriter`, the writer that
builds it. Every name this module had before the format moved is still
importable from here.

The recorded scenario is data: replaying a log never imports a class it
names (see :mod:`orchestration.cli_replay`).
"""

from __future__ import annotations

import json
import os
from typing import Any

from market._logframes import MAX_EVENT_DEPTH, MAX_META_DEPTH, split_step
from market.eventlog import (
    FORMAT_NAME,
    FORMAT_VERSION,
    HEADER,
    MAGIC,
    MAX_FRAME_BYTES,
    MAX_META_BYTES,
    STEP,
    SUFFIX,
    TRAILER,
    EventLogError,
    EventLogReader,
    EventLogWriter,
    base_header,
    event_schema,
    gammaray_version,
    read_header,
)

#: An event log that cannot be written or read (one line); the market layer's class.
RecordError = EventLogError
#: The streaming, verifying reader (:class:`market.eventlog.EventLogReader`).
RecordReader = EventLogReader

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "HEADER",
    "MAGIC",
    "MAX_EVENT_DEPTH",
    "MAX_FRAME_BYTES",
    "MAX_META_BYTES",
    "MAX_META_DEPTH",
    "STEP",
    "SUFFIX",
    "TRAILER",
    "RecordError",
    "RecordReader",
    "RecordWriter",
    "event_schema",
    "gammaray_version",
    "make_header",
    "read_header",
    "scenario_json",
    "split_step",
]


def _class_path(obj: Any) -> Any:
    if isinstance(obj, type):
        return f"{obj.__module__}.{obj.__qualname__}"
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def scenario_json(scenario: Any) -> dict[str, Any]:
    """A scenario as JSON-able data: classes as dotted paths, a replay table inlined.

    Args:
        scenario: A :class:`~orchestration.config.Scenario`.

    Returns:
        ``json.loads(scenario.model_dump_json(...))``, with a file-backed
        replay table replaced by its rows (so the log replays without the file).
    """
    replay = getattr(scenario.market, "replay", None)
    if replay is not None and replay.path is not None:
        from market.replay import inline_config

        market = scenario.market.model_copy(update={"replay": inline_config(replay)})
        scenario = scenario.model_copy(update={"market": market})
    return json.loads(scenario.model_dump_json(fallback=_class_path))


def make_header(scenario: Any = None, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The header map of a new log.

    Args:
        scenario: The scenario whose run is recorded (or None).
        meta: Extra JSON-able facts (e.g. ``{"source": "gammaray run"}``).

    Returns:
        ``format``, ``format_version``, ``gammaray_version``, ``scenario``,
        ``scenario_name``, ``seed``, ``n_paths``, ``n_steps``, ``dt`` (years),
        ``year_days``, ``schema`` and ``meta``.
    """
    none = scenario is None
    facts = {
        "scenario": None if none else scenario_json(scenario),
        "scenario_name": None if none else scenario.name,
        "seed": None if none else scenario.seed,
        "n_paths": None if none else scenario.n_paths,
        "n_steps": None if none else scenario.n_steps,
        "dt": None if none else scenario.dt,
        "year_days": None if none else scenario.year_days,
    }
    return base_header(facts, meta)


class RecordWriter(EventLogWriter):
    """Write a run's event log, one step at a time, finished atomically.

    :class:`market.eventlog.EventLogWriter` with the header of a recorded run.
    Use it as a context manager: on a clean exit the log is finished
    (:meth:`close`); on an exception it is discarded (:meth:`abort`) and
    nothing is left at ``path``. :meth:`write` (or the writer itself: it is
    callable) is the ``record`` callback of
    :func:`~orchestration.engine.run_protocol` and the runtimes.

    Args:
        path: Destination file (its folder must exist).
        scenario: The scenario whose run is recorded (stored in the header).
        meta: Extra JSON-able facts for the header.
        header: A complete header map to write instead (e.g. another log's
            :attr:`RecordReader.header`, to copy or filter a log).

    Raises:
        RecordError: The destination folder does not exist or ``path`` is a folder.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        scenario: Any = None,
        meta: dict[str, Any] | None = None,
        header: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(path, make_header(scenario, meta) if header is None else header)
