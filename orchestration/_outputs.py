"""Outputs that appear whole or not at all.

A run's folder (``summary.json``, the Parquet tables, the PNGs,
``report.html``) is written into a temporary sibling, ``.<name>.tmp-<pid>``,
and renamed into place when everything is written (:class:`OutputFolder`).
An interrupted or failed run leaves nothing (signals become exceptions:
:mod:`orchestration._signals`); a temporary left by a run that was killed
outright (SIGKILL, power loss) is removed by the next run writing into the
same parent folder once its process is gone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import os
import re
import shutil
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from market._logwriter import fsync_dir
from orchestration._signals import deferred_signals

#: Marker file inside a temporary folder: who owns it (pid and host).
MARKER = ".gammaray-partial"
#: Errors of a write that ran out of room: exit status 1, not bad input.
WRITE_ERRNOS = frozenset(
    e for e in (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", None)) if e is not None
)

_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?:tmp|old)-(?P<pid>\d+)$")
_RENAME_EXCHANGE = 2


class OutputRefused(ValueError):
    """The output folder cannot be used (exit status 2, checked before the run)."""


class WriteFailed(RuntimeError):
    """Writing the outputs ran out of room (disk full, file-size limit): exit status 1."""


def is_write_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is a write that ran out of room (ENOSPC, EFBIG, EDQUOT)."""
    return isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS


def _host() -> str:
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(parent: Path) -> list[Path]:
    """Remove the temporary folders of runs that died in ``parent``.

    Only folders named ``.<name>.tmp-<pid>`` or ``.<name>.old-<pid>`` whose
    marker file says they belong to that pid on this host, and whose process
    is gone, are removed.

    Returns:
        The folders removed.
    """
    removed: list[Path] = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP_NAME.match(entry.name)
        if m is None or entry.is_symlink() or not entry.is_dir():
            continue
        try:
            owner = json.loads((entry / MARKER).read_text())
        except (OSError, ValueError):
            continue
        pid = int(m["pid"])
        if not isinstance(owner, dict) or owner.get("pid") != pid or owner.get("host") != _host():
            continue
        if not pid_alive(pid):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _write_marker(folder: Path) -> None:
    (folder / MARKER).write_text(json.dumps({"pid": os.getpid(), "host": _host()}))


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


class OutputFolder:
    """A run folder written into a temporary sibling and renamed into place.

    On entry (before the run) the target is checked and the temporary
    ``.<name>.tmp-<pid>`` is created next to it, which proves the place is
    writable; stale temporaries of dead runs in the same parent are
    removed. Write everything into :attr:`path`. A clean exit renames it
    onto the target; an exception (or a signal) removes it, and any parent
    folders it created. Usable once.

    Args:
        target: The run folder to create.
        force: Replace a non-empty target; its old contents go only once
            the new folder is complete (an atomic exchange where the system
            has one).
        flag: The option naming the folder, for messages.

    Raises:
        OutputRefused: The target is a file, a non-empty folder without
            ``force``, the working folder or one of its parents, or cannot
            be created.
    """

    def __init__(self, target: Path, force: bool = False, flag: str = "--out") -> None:
        self.target = Path(target)
        self.force = force
        self.flag = flag
        self.path = self.target.parent / f".{self.target.name}.tmp-{os.getpid()}"
        self.committed = False
        self._created: list[Path] = []

    def _refuse(self, why: str) -> OutputRefused:
        return OutputRefused(f"{self.flag} {str(self.target)!r}: {why}")

    def check(self) -> None:
        """Refuse a target that cannot receive the run (nothing is created)."""
        t = self.target
        if t.name in ("", ".", ".."):
            raise self._refuse("give a folder name")
        if t.is_symlink():
            raise self._refuse("is a symbolic link; give the folder it points to")
        if t.exists() and not t.is_dir():
            raise self._refuse("exists and is not a folder")
        if t.is_dir():
            resolved = t.resolve()
            if resolved == Path.cwd().resolve() or resolved in Path.cwd().resolve().parents:
                raise self._refuse("is the working folder or holds it; choose another")
            try:
                empty = not any(t.iterdir())
            except OSError as exc:
                raise self._refuse(f"cannot be read ({exc.strerror})") from None
            if not empty and not self.force:
                raise self._refuse(
                    f"is not empty (it holds {_describe(t)}); choose a new folder "
                    "or pass --force to replace it"
                )

    def __enter__(self) -> OutputFolder:
        self.check()
        parent = self.target.parent
        missing = [p for p in (parent, *parent.parents) if not p.exists()]
        try:
            for p in reversed(missing):
                self._created.append(p)
                p.mkdir()
            remove_stale_temporaries(parent)
            self.path.mkdir()
            _write_marker(self.path)
        except OSError as exc:
            self._cleanup()
            where = exc.filename or parent
            raise self._refuse(
                f"cannot create a folder at {str(where)!r} ({exc.strerror})"
            ) from None
        except BaseException:
            self._cleanup()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            try:
                with deferred_signals():
                    self.commit()
                return
            except OSError as err:
                exc = err
        with deferred_signals():
            self._cleanup()
        if exc is not None and is_write_failure(exc):
            why = getattr(exc, "strerror", None) or str(exc)
            where = getattr(exc, "filename", None) or self.target
            raise WriteFailed(f"cannot write {where}: {why}; nothing was written") from None
        if exc_type is None and exc is not None:
            raise exc

    def commit(self) -> None:
        """Move the finished folder onto the target (called by a clean exit).

        The marker file goes last, from the target: a process killed in
        between leaves a complete run with a stray marker, never a
        half-deleted folder.
        """
        if self.committed:
            return
        fsync_dir(self.path)
        t = self.target
        if t.is_dir() and any(t.iterdir()):
            if not self.force:
                raise self._refuse(
                    "was filled by another process during this run; this run was discarded"
                )
            old = t.parent / f".{t.name}.old-{os.getpid()}"
            if _exchange(self.path, t):
                old = self.path  # the exchange left the old contents here
            else:
                os.rename(t, old)
                try:
                    os.rename(self.path, t)
                except BaseException:
                    os.rename(old, t)
                    raise
        else:
            old = None
            os.replace(self.path, t)  # onto nothing or an empty folder
        # The new run is in place: what follows is tidying, best effort.
        self.committed = True
        if old is not None:
            with _quiet():
                _write_marker(old)
            shutil.rmtree(old, ignore_errors=True)
        with _quiet():
            (t / MARKER).unlink()
        fsync_dir(t.parent)

    def _cleanup(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        for p in reversed(self._created):
            try:
                p.rmdir()
            except FileNotFoundError:
                continue
            except OSError:
                break
        self._created.clear()


@contextmanager
def _quiet() -> Iterator[None]:
    try:
        yield
    except OSError:
        pass


def _describe(folder: Path) -> str:
    """A few words on what a folder holds (a run of which scenario, or how many entries)."""
    summary = folder / "summary.json"
    if summary.is_file():
        try:
            if summary.stat().st_size > 1 << 20:
                raise ValueError("too large to be a summary")
            name = json.loads(summary.read_text(encoding="utf-8")).get("scenario")
        except (OSError, ValueError, AttributeError):
            name = None
        if isinstance(name, str):
            return f"a run of {name[:60]!r}"
        return "a run"
    n = sum(1 for _ in folder.iterdir())
    return f"{n} entr{'y' if n == 1 else 'ies'}"
