"""The event log: every run can write its market's events, and replay them later.

File layout (all integers little-endian)::

    prefix   8 bytes  b"GMRAYLOG"   magic
             2 bytes  u16           format version (FORMAT_VERSION)
    frames   1 byte   kind          H (header), S (one step's events), T (trailer)
             4 bytes  u32           payload length, bytes
             4 bytes  u32           crc32 of kind + length + payload
             N bytes  payload       msgpack

The header frame comes first: a msgpack map with the format name and
version, the scenario (its JSON form; classes as dotted paths; a replay
table inlined), seed, path count, step count, step length, the gammaray
version and the schema (field names of every event type). Then one ``S``
frame per step: a msgpack array of the step's events, each encoded by
:func:`market.events.encode` (arrays as the explicit ndarray ext type:
dtype, shape, raw bytes; no pickle). The ``T`` trailer closes the file: the
step and event counts, counts by event type and the sha256 of every byte
before the trailer.

Writing streams frame by frame to a temporary file in the destination
folder (``.<name>.<pid>@<host>.*.tmp``); :meth:`RecordWriter.close` writes
the trailer, fsyncs and renames, so the final path holds a complete log or
nothing. An exception (a signal, once the CLI turns it into one) deletes the
temporary; one left by a writer that was killed outright is deleted by the
next writer in that folder once its process is gone. Reading streams frame by
frame too (constant memory): each frame's length is checked against the
limit and against what the file still holds before anything is read, its
crc32 before it is decoded, and the trailer at the end. Every problem is a
:class:`RecordError` with one line: not an event log, a wrong format
version, a truncated file, a flipped byte, an absurd declared size, a
corrupt event.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import os
import re
import secrets
import socket
import struct
import weakref
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, cast

import msgpack

from market.events import EVENT_TYPES, InstrumentQuote, decode, encode
from market.surface import SurfaceState

#: First bytes of every event log.
MAGIC = b"GMRAYLOG"
#: Version of the file layout this module writes and reads.
FORMAT_VERSION = 1
#: Format name stored in the header.
FORMAT_NAME = "gammaray-event-log"
#: Suggested file suffix.
SUFFIX = ".grlog"
#: Largest frame payload accepted (one step's events), bytes.
MAX_FRAME_BYTES = 1 << 31
#: Largest header or trailer payload accepted, bytes.
MAX_META_BYTES = 64 << 20

_PREFIX = struct.Struct("<8sH")
_FRAME = struct.Struct("<cII")
HEADER, STEP, TRAILER = b"H", b"S", b"T"
_KINDS = {HEADER: "header", STEP: "step", TRAILER: "trailer"}


class RecordError(ValueError):
    """An event log that cannot be written or read; the message is one line."""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def event_schema() -> dict[str, list[str]]:
    """Field names of every event type (and nested type), as the header records them."""
    types = [*EVENT_TYPES.values(), SurfaceState, InstrumentQuote]
    return {cls.__name__: [f.name for f in dataclasses.fields(cls)] for cls in types}


def gammaray_version() -> str:
    """The installed gammaray distribution's version (``"unknown"`` if not installed)."""
    try:
        return importlib.metadata.version("gammaray")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


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
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "gammaray_version": gammaray_version(),
        "scenario": None if scenario is None else scenario_json(scenario),
        "scenario_name": None if scenario is None else scenario.name,
        "seed": None if scenario is None else scenario.seed,
        "n_paths": None if scenario is None else scenario.n_paths,
        "n_steps": None if scenario is None else scenario.n_steps,
        "dt": None if scenario is None else scenario.dt,
        "year_days": None if scenario is None else scenario.year_days,
        "schema": event_schema(),
        "meta": dict(meta or {}),
    }


class RecordWriter:
    """Write an event log, one step at a time, finished atomically.

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
        RecordError: The destination folder does not exist or cannot be
            written, or ``path`` is a folder.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        scenario: Any = None,
        meta: dict[str, Any] | None = None,
        header: dict[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        parent = self.path.parent
        if not parent.is_dir():
            raise RecordError(f"cannot write {str(self.path)!r}: folder {str(parent)!r} is missing")
        if self.path.is_dir():
            raise RecordError(f"cannot write {str(self.path)!r}: it is a folder")
        self.header = make_header(scenario, meta) if header is None else dict(header)
        self.steps = 0
        self.events = 0
        self.counts: dict[str, int] = {}
        self.bytes_written = 0
        self._hash = hashlib.sha256()
        _remove_stale_temps(parent)
        self._fh: IO[bytes] | None = None
        fd = -1
        for _ in range(100):
            self._tmp = parent / f"{_temp_prefix(self.path)}{secrets.token_hex(4)}.tmp"
            # Registered before the file exists: a signal at any point after the
            # open still deletes it (at exit, or when the writer is collected).
            self._discard = weakref.finalize(self, self._tmp.unlink, missing_ok=True)
            try:
                fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
                break
            except FileExistsError:
                self._discard.detach()
            except OSError as exc:
                self._discard.detach()
                raise RecordError(f"cannot write {str(self.path)!r}: {exc.strerror}") from None
        else:
            raise RecordError(f"cannot write {str(self.path)!r}: no free temporary name")
        try:
            self._fh = os.fdopen(fd, "wb", buffering=1 << 20)
            self._raw(_PREFIX.pack(MAGIC, FORMAT_VERSION))
            self._frame(HEADER, msgpack.packb(self.header, use_bin_type=True))
        except BaseException:
            self.abort()
            raise

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()
        elif self._fh is not None:
            self.close()

    def _raw(self, data: bytes) -> None:
        assert self._fh is not None
        try:
            self._fh.write(data)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(self.path)) from None
        self._hash.update(data)
        self.bytes_written += len(data)

    def _frame(self, kind: bytes, *pieces: bytes) -> None:
        """Write one frame whose payload is the concatenation of ``pieces`` (not copied)."""
        if self._fh is None:
            raise RecordError(f"{self.path}: the log is already closed")
        length = sum(len(p) for p in pieces)
        if length > MAX_FRAME_BYTES:
            raise RecordError(
                f"{self.path}: a {_KINDS[kind]} of {length:,} bytes is over the "
                f"{MAX_FRAME_BYTES:,}-byte frame limit"
            )
        head = struct.pack("<cI", kind, length)
        crc = zlib.crc32(head)
        for p in pieces:
            crc = zlib.crc32(p, crc)
        self._raw(head + struct.pack("<I", crc))
        for p in pieces:
            self._raw(p)

    def write(self, events: tuple[Any, ...]) -> None:
        """Append one step's events (the market's ``start()`` / ``step()`` result).

        The frame's payload is a msgpack array of msgpack ``bin`` values, each
        one event as :func:`market.events.encode` gives it.

        Args:
            events: The step's events, in order.

        Raises:
            RecordError: The log is closed, or the step is over the frame limit.
            TypeError: An event holds a value the codec cannot encode.
        """
        pieces = [_array_header(len(events))]
        for e in events:
            data = encode(e)
            pieces += (_bin_header(len(data)), data)
        self._frame(STEP, *pieces)
        self.steps += 1
        self.events += len(events)
        for e in events:
            name = type(e).__name__
            self.counts[name] = self.counts.get(name, 0) + 1

    __call__ = write

    def close(self) -> dict[str, Any]:
        """Write the trailer, fsync and move the log to its final path.

        Returns:
            The trailer: ``steps``, ``events``, ``counts`` by type, ``sha256``
            (of every byte before the trailer) and ``bytes`` (file size).
        """
        if self._fh is None:
            raise RecordError(f"{self.path}: the log is already closed")
        trailer = {
            "steps": self.steps,
            "events": self.events,
            "counts": dict(self.counts),
            "sha256": self._hash.hexdigest(),
        }
        try:
            self._frame(TRAILER, msgpack.packb(trailer, use_bin_type=True))
            try:
                self._fh.flush()
                os.fsync(self._fh.fileno())
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, str(self.path)) from None
            self._fh.close()
            self._fh = None
            os.replace(self._tmp, self.path)
            self._discard.detach()
        except BaseException:
            self.abort()
            raise
        _fsync_dir(self.path.parent)
        return {**trailer, "bytes": self.bytes_written}

    def abort(self) -> None:
        """Discard the log: close and delete the temporary file."""
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError:
                pass  # e.g. the buffered rest did not fit either: the file goes anyway
            finally:
                self._fh = None
        self._discard()  # deletes the temporary (once)


_TEMP_RE = re.compile(r"^\..+\.(?P<pid>\d+)@(?P<host>[A-Za-z0-9-]*)\.[0-9a-f]+\.tmp$")


def _host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40]


def _temp_prefix(path: Path) -> str:
    """``.<name>.<pid>@<host>.``: the temporary log names its writer."""
    return f".{path.name}.{os.getpid()}@{_host_tag()}."


def _remove_stale_temps(folder: Path) -> None:
    """Delete the temporary logs of writers that died (SIGKILL) in ``folder``.

    Only files named by :func:`_temp_prefix` for this host, whose process is
    gone, and which are empty or start with :data:`MAGIC`, are removed.
    """
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    host = _host_tag()
    for entry in entries:
        m = _TEMP_RE.match(entry.name)
        if m is None or m["host"] != host or not entry.is_file(follow_symlinks=False):
            continue
        try:
            os.kill(int(m["pid"]), 0)
            continue  # its writer is alive
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError):
            continue
        try:
            with open(entry.path, "rb") as fh:
                if fh.read(len(MAGIC)) in (b"", MAGIC):
                    os.unlink(entry.path)
        except OSError:
            pass


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _array_header(n: int) -> bytes:
    """msgpack array header for ``n`` items."""
    if n < 16:
        return bytes((0x90 | n,))
    if n < 1 << 16:
        return b"\xdc" + struct.pack(">H", n)
    return b"\xdd" + struct.pack(">I", n)


def _bin_header(n: int) -> bytes:
    """msgpack ``bin`` header for ``n`` bytes."""
    if n < 1 << 8:
        return bytes((0xC4, n))
    if n < 1 << 16:
        return b"\xc5" + struct.pack(">H", n)
    return b"\xc6" + struct.pack(">I", n)


_ARRAY = {0xDC: ">H", 0xDD: ">I"}
_BIN = {0xC4: ">B", 0xC5: ">H", 0xC6: ">I"}


def _array_len(payload: bytes) -> tuple[int, int] | None:
    """Item count and header size of the msgpack array a payload starts with."""
    if not payload:
        return None
    b = payload[0]
    if 0x90 <= b <= 0x9F:
        return b & 0x0F, 1
    fmt = _ARRAY.get(b)
    size = 1 + struct.calcsize(fmt) if fmt else 0
    if fmt is None or len(payload) < size:
        return None
    return int(struct.unpack_from(fmt, payload, 1)[0]), size


def split_step(payload: bytes) -> list[memoryview] | None:
    """The encoded events of a step frame, as views into it (None: malformed).

    The payload must be exactly a msgpack array of ``bin`` values.
    """
    head = _array_len(payload)
    if head is None:
        return None
    n, pos = head
    view = memoryview(payload)
    out = []
    end = len(payload)
    for _ in range(n):
        if pos >= end:
            return None
        fmt = _BIN.get(payload[pos])
        if fmt is None:
            return None
        size = struct.calcsize(fmt)
        if pos + 1 + size > end:
            return None
        length = int(struct.unpack_from(fmt, payload, pos + 1)[0])
        pos += 1 + size
        if pos + length > end:
            return None
        out.append(view[pos : pos + length])
        pos += length
    return out if pos == end else None


class RecordReader:
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
        RecordError: One line: not an event log, a wrong format version, a
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
            raise RecordError(f"event log {str(self.path)!r} does not exist") from None
        except IsADirectoryError:
            raise RecordError(f"event log {str(self.path)!r} is a folder") from None
        except OSError as exc:
            raise RecordError(f"cannot open {str(self.path)!r}: {_one_line(exc)}") from None
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

    def __enter__(self) -> RecordReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _err(self, what: str) -> RecordError:
        return RecordError(f"{self.path}: {what}")

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
        prefix = self._fh.read(_PREFIX.size)
        if len(prefix) < _PREFIX.size or not prefix.startswith(MAGIC):
            if MAGIC.startswith(prefix) and prefix:
                raise self._err("truncated: the file ends inside its first bytes")
            raise self._err("not a gammaray event log (no GMRAYLOG magic at the start)")
        self._pos = len(prefix)
        self._hash.update(prefix)
        _, version = _PREFIX.unpack(prefix)
        if version != FORMAT_VERSION:
            raise self._err(
                f"format version {version} is not supported (this gammaray reads version "
                f"{FORMAT_VERSION})"
            )
        kind, payload = self._frame(MAX_META_BYTES)
        if kind != HEADER:
            raise self._err(f"the first frame is a {_KINDS.get(kind, repr(kind))}, not the header")
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
        try:
            return msgpack.unpackb(payload, raw=False, strict_map_key=True)
        except Exception as exc:
            raise self._err(f"corrupt {what}: {_one_line(exc)}") from None

    def _frame(self, limit: int) -> tuple[bytes, bytes]:
        """Read, check and hash the next frame; its kind and payload."""
        start = self._pos
        head = self._read(_FRAME.size, "a frame header")
        kind, length, crc = _FRAME.unpack(head)
        if kind not in _KINDS:
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
            raise self._err(f"checksum mismatch in the {_KINDS[kind]} frame at byte {start}")
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
            RecordError: Truncated, corrupt, or an event that does not decode.
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
                    f"step {self.steps_read}, event {i}: {_one_line(exc)}{note}"
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
        head = _array_len(payload)
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
    with RecordReader(path) as reader:
        return reader.header
