"""SIGINT and SIGTERM as a request to stop, for long-running processes (the node console scripts); no ROS.

Python's default SIGINT handler raises KeyboardInterrupt wherever the main thread happens to be, often inside the
cleanup that follows the first signal, and the default SIGTERM action kills the process mid-cleanup. Under
StopSignals a signal is only recorded (`requested`), and the process's own loop stops at its next check; inside
`interrupting()` (start-up: nothing to clean up yet) it raises StopRequested instead, so start-up is abandoned at once.
A repeated signal within `grace_s` of the first is ignored, so a bounded cleanup runs to its end; one after that
ends the process at once with status 128 + signal (a supervisor's escalation, e.g. launch's SIGTERM after SIGINT),
except once `tearing_down()` says the process only destroys its nodes and exits: Python handles a signal only when
the main thread is back from C, and destroying rclpy entities held it 1 s per service when the peers stopped at the
same moment (a launch file's Ctrl-C), so a repeat sent 50 ms after the first was handled 2-4 s late, as an
"escalation" of a process that was exiting anyway (exit 130).
`exit_after_stop` ends a process whose cleanup is done without the interpreter's slow module teardown.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
GRACE_S = 2.0  # how long a cleanup after the first signal may take before a repeated signal ends the process


class StopRequested(BaseException):
    """A stop signal inside `StopSignals.interrupting()`; a BaseException, so `except Exception` does not swallow it."""


class StopSignals:
    """Context manager (main thread only): while active, SIGINT/SIGTERM record themselves in `received`. On exit the
    previous handlers come back, or, once a stop was requested, the grace logic stays installed until the process
    ends (a late Ctrl-C must not print a traceback; an escalation after `grace_s` must still work).

    An Exception that leaves the block after a stop was requested is swallowed: it is a consequence of the stop
    (e.g. a node still being built when it was interrupted), not a failure to report; so is StopRequested.
    """

    def __init__(self, grace_s: float = GRACE_S) -> None:
        self.grace_s = grace_s
        self.received: list[signal.Signals] = []
        self._first_at: float | None = None
        self._interrupting = False
        self._tearing_down = False
        self._previous: dict[signal.Signals, object] = {}

    @property
    def requested(self) -> bool:
        """True once SIGINT or SIGTERM arrived."""
        return bool(self.received)

    def _record(self, signum: int, _frame: FrameType | None) -> None:
        now = time.monotonic()
        if self._first_at is None:
            self._first_at = now
        elif now - self._first_at > self.grace_s and not self._tearing_down:
            os.write(2, f"stop: cleanup not done {self.grace_s:g} s after the first signal; exiting now\n".encode())
            os._exit(128 + signum)
        self.received.append(signal.Signals(signum))
        if self._interrupting:
            self._interrupting = False
            raise StopRequested(signal.Signals(signum).name)

    def tearing_down(self) -> None:
        """From now on the process only destroys its nodes and exits: repeated signals no longer escalate."""
        self._tearing_down = True

    @contextmanager
    def interrupting(self) -> Iterator[None]:
        """While inside (start-up), a stop signal, or one that already arrived, raises StopRequested here."""
        if self.requested:
            raise StopRequested(self.received[0].name)
        self._interrupting = True
        try:
            yield
        finally:
            self._interrupting = False

    def __enter__(self) -> StopSignals:
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._record)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> bool:
        if not self.requested:
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)
        return exc_type is not None and (
            issubclass(exc_type, StopRequested) or (self.requested and issubclass(exc_type, Exception))
        )


def exit_after_stop() -> None:
    """End the process with status 0 once its cleanup after a stop is done: the atexit handlers run and the streams
    are flushed as on a normal exit, but the interpreter's module teardown is skipped (with torch loaded it took
    1-7 s on a busy 2-core machine, past the 2 s a stopped process is given)."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
