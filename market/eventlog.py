"""The event log: every run can write its market's events, and replay them later.

File layout (all integers little-endian)::

    prefix   8 bytes  b"GMRAYLOG"   magic
             2 bytes  u16           format version (FORMAT_VERSION)
    frames   1 byte   kind          H (header), S (one step's events), T (trailer)
             4 bytes  u32           payload length, bytes
             4 bytes  u32           crc32 of kind + length + payload
             N bytes  payload       msgpack

The header frame comes first: a msgpack map with the format name and
version, the gammaray version, the schema (field names of every event type),
free-form ``meta`` and whatever facts the writer adds (``gammaray run`` adds
the scenario as JSON data, its seed, path count, step count and step
length: see :func:`orchestration.recorder.make_header`). Then one ``S``
frame per step: a msgpack array of the step's events, each encoded by
:func:`market.events.encode` (arrays as the explicit ndarray ext type:
dtype, shape, raw bytes; no pickle). The ``T`` trailer closes the file: the
step and event counts, counts by event type and the sha256 of every byte
before the trailer.

Writing streams frame by frame to a temporary file in the destination
folder; :meth:`EventLogWriter.close` writes the trailer, fsyncs and renames,
so the final path holds a complete log or nothing. Reading streams frame by
frame too (constant memory): each frame's length is checked against the
limit and against what the file still holds before anything is read, its
crc32 before it is decoded, and the trailer at the end. Every problem is a
:class:`EventLogError` with one line: not an event log, a wrong format
version, a truncated file, a flipped byte, an absurd declared size, a
corrupt event, an event or header nested too deep.

This module is the format alone, in the market layer, so that
:mod:`market.replay` can read logs and :mod:`orchestration.recorder` write
them without the market importing the orchestration. Nothing read from a
log is ever imported or executed: the header is plain msgpack data, and
nesting is bounded before anything recursive runs on it: events inside
events by :func:`market.events.decode` (:data:`market.events.MAX_NESTING`),
lists inside maps of the header and trailer by :mod:`market._logframes`.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import msgpack

from market._logframes import (
    FORMAT_NAME,
    FORMAT_VERSION,
    FRAME,
    HEADER,
    KINDS,
    MAGIC,
    MAX_FRAME_BYTES,
    MAX_META_BYTES,
    PREFIX,
    STEP,
    SUFFIX,
    TRAILER,
    DepthError,
    EventLogError,
    array_len,
    base_header,
    check_meta,
    event_schema,
    gammaray_version,
    one_line,
    split_step,
)
from market._logwriter import EventLogWriter
from market.events import EVENT_TYPES, decode

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "HEADER",
    "MAGIC",
    "MAX_FRAME_BYTES",
    "MAX_META_BYTES",
    "STEP",
    "SUFFIX",
    "TRAILER",
    "EventLogError",
    "EventLogReader",
    "EventLogWriter",
    "base_header",
    "event_schema",
    "gammaray_version",
    "read_header",
    "split_step",
]


class EventLogReader:
    """Read an event log as a stream of steps, verifying it as it goes.

    Opening reads and checks the prefix and the header only. Iterating
    yields each step's events (a tuple, as the market emitted them), one
    frame in memory at a time; after the last step the trailer is checked
    (step and event counts, the sha256 of the file) and there must be
    nothing after it.

    Args:
        path: The log file.
        max_frame_bytes: Largest step frame accepted, bytes.

    Attributes:
        header: The log's header map.
        schema_changes: Event types whose fields differ between the log's
            schema and this gammaray's (an event of such a type fails to
            decode, with a note saying so).
        trailer: The trailer map, once it has been read and checked.

    Raises:
        EventLogError: One line: not an event log, a wrong format version, a
            truncated or corrupt header.
    """

    def __init__(
        self, path: str | os.PathLike[str], max_frame_bytes: int = MAX_FRAME_BYTES
    ) -> None:
        self.path = Path(path)
        self.max_frame_bytes = max_frame_bytes
        try:
            self._fh: IO[bytes] | None = open(self.path, "rb")
        except FileNotFoundError:
            raise EventLogError(f"event log {str(self.path)!r} does not exist") from None
        except IsADirectoryError:
            raise EventLogError(f"event log {str(self.path)!r} is a folder") from None
        except OSError as exc:
            raise EventLogError(f"cannot open {str(self.path)!r}: {one_line(exc)}") from None
        self.size = os.fstat(self._fh.fileno()).st_size
        self._pos = 0
        self._hash = hashlib.sha256()
        self.steps_read = 0
        self.events_read = 0
        self.trailer: dict[str, Any] | None = None
        self.schema_changes: list[str] = []
        try:
            self.header = self._read_header()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> EventLogReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _err(self, what: str) -> EventLogError:
        return EventLogError(f"{self.path}: {what}")

    def _read(self, n: int, what: str) -> bytes:
        assert self._fh is not None
        data = self._fh.read(n)
        if len(data) != n:
            raise self._err(
                f"truncated: {what} at byte {self._pos} needs {n} bytes, got {len(data)}"
            )
        self._pos += n
        return data

    def _read_header(self) -> dict[str, Any]:
        assert self._fh is not None
        prefix = self._fh.read(PREFIX.size)
        if len(prefix) < PREFIX.size or not prefix.startswith(MAGIC):
            if MAGIC.startswith(prefix) and prefix:
                raise self._err("truncated: the file ends inside its first bytes")
            raise self._err("not a gammaray event log (no GMRAYLOG magic at the start)")
        self._pos = len(prefix)
        self._hash.update(prefix)
        _, version = PREFIX.unpack(prefix)
        if version != FORMAT_VERSION:
            raise self._err(
                f"format version {version} is not supported (this gammaray reads version "
                f"{FORMAT_VERSION})"
            )
        kind, payload = self._frame(MAX_META_BYTES)
        if kind != HEADER:
            raise self._err(f"the first frame is a {KINDS.get(kind, repr(kind))}, not the header")
        header = self._unpack(payload, "header")
        if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
            raise self._err("the header frame is not a gammaray event-log header")
        if header.get("format_version") != version:
            raise self._err(
                f"the header declares format version {header.get('format_version')!r}, "
                f"the file starts with {version}"
            )
        schema = header.get("schema")
        if not isinstance(schema, dict):
            raise self._err("the header has no event schema")
        # Types whose fields changed since the log was written. A log is refused
        # only when it holds such an event (most logs hold market events only).
        current = event_schema()
        self.schema_changes = sorted(
            name
            for name, fields in schema.items()
            if name in current and isinstance(fields, list) and fields != current[name]
        )
        return header

    def _unpack(self, payload: bytes, what: str) -> Any:
        """A header or trailer: plain data, bounded in depth (checked before use)."""
        try:
            obj = msgpack.unpackb(payload, raw=False, strict_map_key=True)
            check_meta(obj)
        except DepthError as exc:
            raise self._err(f"{what} refused: {exc}") from None
        except Exception as exc:
            raise self._err(f"corrupt {what}: {one_line(exc)}") from None
        return obj

    def _frame(self, limit: int) -> tuple[bytes, bytes]:
        """Read, check and hash the next frame; its kind and payload."""
        start = self._pos
        head = self._read(FRAME.size, "a frame header")
        kind, length, crc = FRAME.unpack(head)
        if kind not in KINDS:
            raise self._err(f"corrupt frame at byte {start}: unknown frame kind {kind!r}")
        if length > limit:
            raise self._err(
                f"frame at byte {start} declares {length:,} bytes, over the {limit:,}-byte limit"
            )
        left = self.size - self._pos
        if length > left:
            raise self._err(
                f"truncated: frame at byte {start} declares {length:,} bytes, "
                f"the file holds {left:,} more"
            )
        payload = self._read(length, "a frame")
        if zlib.crc32(payload, zlib.crc32(head[:5])) != crc:
            raise self._err(f"checksum mismatch in the {KINDS[kind]} frame at byte {start}")
        if kind != TRAILER:
            self._hash.update(head)
            self._hash.update(payload)
        return kind, payload

    def _next_step_payload(self) -> bytes | None:
        """The next step frame's payload; None after checking the trailer."""
        if self.trailer is not None:
            return None
        if self._fh is None:
            raise self._err("the log is closed")
        if self._pos >= self.size:
            raise self._err(
                f"truncated: the file ends after {self.steps_read} steps without its trailer"
            )
        kind, payload = self._frame(self.max_frame_bytes)
        if kind == STEP:
            return payload
        if kind == HEADER:
            raise self._err(f"a second header frame after {self.steps_read} steps")
        self._check_trailer(self._unpack(payload, "trailer"))
        return None

    def _check_trailer(self, trailer: Any) -> None:
        assert self._fh is not None
        if not isinstance(trailer, dict):
            raise self._err("corrupt trailer")
        if trailer.get("steps") != self.steps_read:
            raise self._err(
                f"the trailer counts {trailer.get('steps')} steps, the file holds {self.steps_read}"
            )
        if trailer.get("events") != self.events_read:
            raise self._err(
                f"the trailer counts {trailer.get('events')} events, "
                f"the file holds {self.events_read}"
            )
        if trailer.get("sha256") != self._hash.hexdigest():
            raise self._err("sha256 mismatch: the file differs from what was written")
        if self._fh.read(1):
            raise self._err(f"unexpected bytes after the trailer at byte {self._pos}")
        self.trailer = trailer

    def read_step(self) -> tuple[Any, ...] | None:
        """The next step's events, decoded; None after the (checked) trailer.

        Raises:
            EventLogError: Truncated, corrupt, or an event that does not decode.
        """
        payload = self._next_step_payload()
        if payload is None:
            return None
        raw = split_step(payload)
        if raw is None:
            raise self._err(f"step {self.steps_read} is not a list of encoded events")
        events = []
        for i, data in enumerate(raw):
            try:
                event = decode(cast(bytes, data))  # a view: msgpack reads any buffer
            except Exception as exc:
                note = ""
                if self.schema_changes:
                    note = (
                        f" (the log was written by gammaray {self.header.get('gammaray_version')}"
                        f", whose {', '.join(self.schema_changes)} had other fields)"
                    )
                raise self._err(
                    f"step {self.steps_read}, event {i}: {one_line(exc)}{note}"
                ) from None
            if type(event).__name__ not in EVENT_TYPES or not isinstance(
                event, EVENT_TYPES[type(event).__name__]
            ):
                raise self._err(f"step {self.steps_read}, event {i} is not an event")
            events.append(event)
        self.steps_read += 1
        self.events_read += len(events)
        return tuple(events)

    def skip_step(self) -> bool:
        """Read past the next step without decoding it (checksums still verified).

        Returns:
            True if a step was skipped, False at the (checked) trailer.
        """
        payload = self._next_step_payload()
        if payload is None:
            return False
        head = array_len(payload)
        if head is None:
            raise self._err(f"step {self.steps_read} is not a list of encoded events")
        self.steps_read += 1
        self.events_read += head[0]
        return True

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        while (events := self.read_step()) is not None:
            yield events

    def verify(self) -> dict[str, Any]:
        """Read every remaining frame without decoding; check the trailer.

        Returns:
            The trailer (``steps``, ``events``, ``counts``, ``sha256``).
        """
        while self.skip_step():
            pass
        assert self.trailer is not None
        return self.trailer

    def counts(self) -> dict[str, int]:
        """Events by type over the remaining steps, every event decoded and checked.

        Returns:
            Event type name to its count (on a fresh reader: the whole log).
        """
        out: dict[str, int] = {}
        whole = self.steps_read == 0
        for events in self:
            for e in events:
                name = type(e).__name__
                out[name] = out.get(name, 0) + 1
        assert self.trailer is not None
        recorded = self.trailer.get("counts")
        if whole and recorded != out:
            raise self._err(f"the trailer's counts {recorded} differ from the events {out}")
        return out


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The header of an event log (the file's prefix and header frame checked)."""
    with EventLogReader(path) as reader:
        return reader.header
