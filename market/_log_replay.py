"""Replay a recorded event log as the market (:class:`LogReplayMarket`).

Public as :class:`market.replay.LogReplayMarket`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from market.eventlog import EventLogError, EventLogReader
from market.events import MarketEvent


def _freeze(obj: Any) -> None:
    """Make every array of a decoded event read-only, as the simulator's are."""
    if isinstance(obj, np.ndarray):
        obj.flags.writeable = False
    elif isinstance(obj, dict):
        for v in obj.values():
            _freeze(v)
    elif isinstance(obj, tuple | list):
        for v in obj:
            _freeze(v)
    elif hasattr(obj, "__dataclass_fields__"):
        for name in obj.__dataclass_fields__:
            _freeze(getattr(obj, name))


def _take(obj: Any, start: int, stop: int, n: int) -> Any:
    """``obj`` with every per-path array (first axis ``n``) cut to paths ``[start, stop)``."""
    if isinstance(obj, np.ndarray):
        return obj[start:stop] if obj.ndim and obj.shape[0] == n else obj
    if isinstance(obj, tuple):
        return tuple(_take(v, start, stop, n) for v in obj)
    if isinstance(obj, list):
        return [_take(v, start, stop, n) for v in obj]
    if isinstance(obj, dict):
        return {k: _take(v, start, stop, n) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        cut = {f.name: _take(getattr(obj, f.name), start, stop, n) for f in dataclasses.fields(obj)}
        return dataclasses.replace(obj, **cut)
    return obj


def _count(path: Path, header: dict[str, Any], key: str, least: int) -> int | None:
    """A whole-number header entry (``n_steps``, ``n_paths``), None when absent.

    Raises:
        EventLogError: It is not a whole number of at least ``least``.
    """
    value = header.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise EventLogError(
            f"{path}: the header's {key} must be a whole number >= {least}, got {value!r:.60}"
        )
    return value


class LogReplayMarket:
    """A market source that streams the steps of a recorded event log.

    It stands in for :class:`~market.simulator.MarketSimulator` in the step
    protocol (``run_local(..., market=...)``, ``run_ray(..., market=...)``):
    ``start()`` returns the recorded first quote, each ``step()`` the next
    recorded step, in order, read one frame at a time (constant memory). The
    log's checksums are verified as it goes; the trailer (step and event
    counts, sha256 of the whole file) when the last step is read. Arrays are
    read-only, as the simulator's.

    The file is opened on :meth:`start` and reopened by :meth:`restore`, so
    the object pickles (to a Ray actor) as its path and position; the log must
    be readable at the same path where the market runs (always so on a local
    Ray).

    Args:
        path: The event log.

    Raises:
        market.eventlog.EventLogError: The file is not a valid event log.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        # Absolute: an actor may not share the driver's working directory.
        self.path = Path(path).absolute()
        with EventLogReader(self.path) as reader:
            self.header: dict[str, Any] = reader.header
            n_steps = _count(self.path, self.header, "n_steps", 0)
            if n_steps is None:
                n_steps = int(reader.verify()["steps"]) - 1
        self.n_steps = n_steps
        self.n_paths = _count(self.path, self.header, "n_paths", 1)
        self.step_index = 0
        self._started = False
        self._reader: Any = None
        #: ``(start, stop)``: this source emits only those paths (:meth:`paths`).
        self.path_range: tuple[int, int] | None = None

    def paths(self, start: int, stop: int) -> LogReplayMarket:
        """The same log as a source of paths ``[start, stop)`` only (one shard's market).

        Every per-path array of every event is cut to the range; the file is
        read (and verified) whole, as by the full source.

        Raises:
            ValueError: The range is empty or outside the log's paths.
        """
        n = self.n_paths
        if n is None or not 0 <= start < stop <= n:
            raise ValueError(f"paths [{start}, {stop}) are not within the log's {n} paths")
        part = LogReplayMarket.__new__(LogReplayMarket)
        part.__setstate__({**self.__getstate__(), "started": False})
        part.path_range = (start, stop)
        return part

    # Pickling (Ray actors, deep copies) carries the path and the position only.
    def __getstate__(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "header": self.header,
            "n_steps": self.n_steps,
            "n_paths": self.n_paths,
            "step_index": self.step_index,
            "started": self._started,
            "path_range": self.path_range,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self.header = state["header"]
        self.n_steps = state["n_steps"]
        self.n_paths = state["n_paths"]
        self.step_index = 0
        self._started = False
        self._reader = None
        self.path_range = state.get("path_range")
        if state["started"]:
            self.restore({"step": state["step_index"], "started": True})

    @property
    def done(self) -> bool:
        """True once the last recorded step has been emitted."""
        return self.step_index >= self.n_steps

    def _open(self) -> Any:
        self.close()
        self._reader = EventLogReader(self.path)
        return self._reader

    def _next(self) -> tuple[Any, ...]:
        events = self._reader.read_step()
        if events is None:
            raise EventLogError(
                f"{self.path}: the log ends after {self.step_index} steps, "
                f"its header declares {self.n_steps + 1}"
            )
        if not events or not isinstance(events[-1], MarketEvent):
            raise EventLogError(f"{self.path}: step {self.step_index} does not end with a quote")
        if self.n_paths is not None and events[-1].n_paths != self.n_paths:
            raise EventLogError(
                f"{self.path}: step {self.step_index} carries {events[-1].n_paths} paths, "
                f"the header declares {self.n_paths}"
            )
        if self.path_range is not None and self.n_paths is not None:
            events = _take(events, *self.path_range, self.n_paths)
        _freeze(events)
        return events

    def start(self) -> tuple[Any, ...]:
        """The recorded events of step 0 (announcements, then the first quote)."""
        self._open()
        self.step_index = 0
        self._started = True
        events = self._next()
        if self.done:
            self._finish()
        return events

    def step(self) -> tuple[Any, ...]:
        """The recorded events of the next step.

        Raises:
            RuntimeError: The log has no steps left (or :meth:`start` was not called).
            market.eventlog.EventLogError: The log is corrupt or truncated.
        """
        if not self._started:
            raise RuntimeError("call start() first")
        if self.done:
            raise RuntimeError("the recorded market has no steps left")
        self.step_index += 1
        events = self._next()
        if self.done:
            self._finish()
        return events

    def _finish(self) -> None:
        """Read the trailer: the whole file's counts and checksum must match."""
        if self._reader.read_step() is not None:
            raise EventLogError(
                f"{self.path}: the log holds more steps than its header's {self.n_steps + 1}"
            )
        self.close()

    def steps(self) -> Iterator[tuple[Any, ...]]:
        """Every recorded step's events, from the first quote on (a fresh pass)."""
        yield self.start()
        while not self.done:
            yield self.step()

    def close(self) -> None:
        """Close the log file (reopened by :meth:`start` / :meth:`restore`)."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def snapshot(self) -> dict[str, Any]:
        """The position: the last step emitted."""
        return {"step": self.step_index, "started": self._started}

    def restore(self, state: dict[str, Any]) -> None:
        """Go back (or forward) to just after step ``state["step"]`` was emitted.

        The log is reopened and the frames before it are read again (checksums
        verified, nothing decoded).
        """
        self.close()
        self.step_index = int(state["step"])
        self._started = bool(state.get("started", True))
        if not self._started:
            return
        reader = self._open()
        for _ in range(self.step_index + 1):
            if not reader.skip_step():
                raise EventLogError(f"{self.path}: the log ends before step {self.step_index}")
        if self.done:
            self._finish()
