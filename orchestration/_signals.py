"""Signals that clean up: termination signals become exceptions while a command runs.

:class:`SignalGuard` (installed by the command line) turns SIGTERM and
SIGHUP into :class:`Interrupted` and SIGINT into :class:`KeyboardInterrupt`,
so ``finally`` blocks and context managers clean up, and ignores SIGXFSZ, so
that a write over the file-size limit raises ``OSError(EFBIG)`` instead of
killing the process. :func:`deferrable` / :func:`deferred_signals` hold a
signal back while a commit renames things into place.

Signal handlers are per process by nature: the installed guards are kept on
the class (:attr:`SignalGuard._active`), nowhere else.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import ClassVar

#: Test-only hook: comma-separated named points at which the CLI pauses
#: (:func:`test_hold`), so a test can signal it at a known moment.
TEST_HOLD_ENV = "GAMMARAY_TEST_HOLD"


class Interrupted(BaseException):
    """The process received SIGTERM or SIGHUP.

    A ``BaseException``, like :class:`KeyboardInterrupt`, so that no
    ``except Exception`` swallows it.

    Attributes:
        signum: The signal number.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def exit_status(self) -> int:
        """``128 + signum``, as a shell reports a process killed by the signal."""
        return 128 + self.signum


class SignalGuard:
    """Turn termination signals into exceptions while a command runs.

    The first signal raises (in the main thread, at the next bytecode); later
    ones are ignored so that the clean-up they triggered runs to the end.
    Inside :func:`deferred_signals` a signal is remembered and raised when
    the block ends. A signal that is ignored when the guard is installed
    (``nohup``) stays ignored. Use it as a context manager around a command;
    outside the main thread it does nothing.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    _active: ClassVar[list[SignalGuard]] = []  # the installed guards, innermost last

    def __init__(self) -> None:
        self.fired: int | None = None
        self.pending: int | None = None
        self.deferring = 0
        self._previous: dict[int, object] = {}

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in self.SIGNALS:
            previous = signal.getsignal(sig)
            if previous is not signal.SIG_IGN:
                self._previous[sig] = previous
        if hasattr(signal, "SIGXFSZ"):
            self._previous[signal.SIGXFSZ] = signal.getsignal(signal.SIGXFSZ)
        self.reclaim()
        SignalGuard._active.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self in SignalGuard._active:
            SignalGuard._active.remove(self)
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]
        self._previous.clear()

    def reclaim(self) -> None:
        """(Re)install the handlers (``ray.init`` installs its own SIGTERM handler)."""
        for sig in self._previous:
            if hasattr(signal, "SIGXFSZ") and sig == signal.SIGXFSZ:
                signal.signal(sig, signal.SIG_IGN)
            else:
                signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.fired is not None:
            return
        if self.deferring:
            self.pending = self.pending or signum
            return
        self.fired = signum
        raise KeyboardInterrupt if signum == signal.SIGINT else Interrupted(signum)

    def release(self) -> None:
        """Raise a signal that arrived while deferred."""
        signum, self.pending = self.pending, None
        if signum is not None and self.fired is None:
            self.fired = signum
            raise KeyboardInterrupt if signum == signal.SIGINT else Interrupted(signum)


def reclaim_signals() -> None:
    """Reinstall the active guard's handlers (call after ``ray.init``)."""
    if SignalGuard._active:
        SignalGuard._active[-1].reclaim()


@contextmanager
def deferrable() -> Iterator[Callable[[], None]]:
    """Yield ``start()``: from that call to the end of the block, signals are held back.

    On a clean exit a signal held back is raised then; on an exception it is
    dropped (the exception already ends the command). Without an installed
    :class:`SignalGuard` nothing is held back.
    """
    guard = SignalGuard._active[-1] if SignalGuard._active else None
    started = False

    def start() -> None:
        nonlocal started
        if guard is not None and not started:
            guard.deferring += 1
            started = True

    try:
        yield start
    finally:
        if started and guard is not None:
            guard.deferring -= 1
    if started and guard is not None and not guard.deferring:
        guard.release()


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold termination signals back for the whole block (see :func:`deferrable`)."""
    with deferrable() as start:
        start()
        yield


def test_hold(point: str) -> None:
    """Test-only: pause at a named point when ``GAMMARAY_TEST_HOLD`` names it.

    Prints ``gammaray-test-hold: <point>`` on stderr, then sleeps
    ``GAMMARAY_TEST_HOLD_S`` seconds (default 60), so a test can send a
    signal at that point. Does nothing when the variable is unset.
    """
    if point in os.environ.get(TEST_HOLD_ENV, "").split(","):
        print(f"gammaray-test-hold: {point}", file=sys.stderr, flush=True)
        time.sleep(float(os.environ.get("GAMMARAY_TEST_HOLD_S", "60")))
