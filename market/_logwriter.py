"""The event-log writer: frames streamed to a temporary file, finished atomically.

The temporary lives in the destination folder, named ``.<name>.<pid>@<host>.<hex>.tmp``.
An exception (a signal, once the CLI turns it into one) deletes it; one left by a writer
that was killed outright is deleted by the next writer in that folder once its process
is gone.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
import struct
import weakref
import zlib
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import msgpack

from market._logframes import (
    FORMAT_VERSION,
    HEADER,
    KINDS,
    MAGIC,
    MAX_FRAME_BYTES,
    PREFIX,
    STEP,
    TRAILER,
    EventLogError,
    array_header,
    base_header,
    bin_header,
)
from market.events import encode


class EventLogWriter:
    """Write an event log, one step at a time, finished atomically.

    Use it as a context manager: on a clean exit the log is finished
    (:meth:`close`); on an exception it is discarded (:meth:`abort`) and
    nothing is left at ``path``. :meth:`write` (or the writer itself: it is
    callable) is the ``record`` callback of
    :func:`~orchestration.engine.run_protocol` and the runtimes.

    Args:
        path: Destination file (its folder must exist).
        header: The header map (:func:`base_header`, or another log's
            :attr:`EventLogReader.header`, to copy or filter a log).

    Raises:
        EventLogError: The destination folder does not exist or cannot be
            written, or ``path`` is a folder.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        header: dict[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        parent = self.path.parent
        if not parent.is_dir():
            raise EventLogError(
                f"cannot write {str(self.path)!r}: folder {str(parent)!r} is missing"
            )
        if self.path.is_dir():
            raise EventLogError(f"cannot write {str(self.path)!r}: it is a folder")
        self.header = base_header() if header is None else dict(header)
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
                raise EventLogError(f"cannot write {str(self.path)!r}: {exc.strerror}") from None
        else:
            raise EventLogError(f"cannot write {str(self.path)!r}: no free temporary name")
        try:
            self._fh = os.fdopen(fd, "wb", buffering=1 << 20)
            self._raw(PREFIX.pack(MAGIC, FORMAT_VERSION))
            self._frame(HEADER, msgpack.packb(self.header, use_bin_type=True))
        except BaseException:
            self.abort()
            raise

    def __enter__(self) -> EventLogWriter:
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
            raise EventLogError(f"{self.path}: the log is already closed")
        length = sum(len(p) for p in pieces)
        if length > MAX_FRAME_BYTES:
            raise EventLogError(
                f"{self.path}: a {KINDS[kind]} of {length:,} bytes is over the "
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
            EventLogError: The log is closed, or the step is over the frame limit.
            TypeError: An event holds a value the codec cannot encode.
        """
        pieces = [array_header(len(events))]
        for e in events:
            data = encode(e)
            pieces += (bin_header(len(data)), data)
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
            raise EventLogError(f"{self.path}: the log is already closed")
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
        fsync_dir(self.path.parent)
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


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename in it) to disk; best effort."""
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
