"""SIGINT and SIGTERM as a request to stop, for long-running processes (the node console scripts); no ROS.

Python's default SIGINT handler raises KeyboardInterrupt wherever the main thread happens to be, often inside the
cleanup that follows the first signal, and once rclpy restores the default SIGTERM action a second SIGTERM kills the
process mid-cleanup. Installed before `rclpy.init`, these handlers are the ones rclpy's own handler chains to: rclpy
shuts its context down (which ends the spin), the signal is recorded here, and repeated signals are recorded and
otherwise ignored, so cleanup always runs to its end and the process exits 0 without a traceback. After a stop they
stay ignored while the interpreter shuts down (a second Ctrl-C must not kill a process that is already exiting).
`run_until_stopped` is the whole life of such a process (the nodes' console scripts: start rclpy, build the node,
spin, destroy, shut down), written once.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import TypeVar

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
Service = TypeVar("Service")


class StopSignals:
    """Context manager (main thread only): while active, SIGINT/SIGTERM only record themselves in `received`; on exit
    the previous handlers come back, or, once a stop was requested, both signals are ignored from then on.

    An Exception that leaves the block after a stop was requested is swallowed: it is a consequence of the stop
    (e.g. a node still being built when its context was shut down), not a failure to report.
    """

    def __init__(self) -> None:
        self.received: list[signal.Signals] = []
        self._previous: dict[signal.Signals, object] = {}

    @property
    def requested(self) -> bool:
        """True once SIGINT or SIGTERM arrived."""
        return bool(self.received)

    def _record(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signal.Signals(signum))

    def __enter__(self) -> StopSignals:
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._record)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> bool:
        for signum, handler in self._previous.items():
            signal.signal(signum, signal.SIG_IGN if self.requested else handler)
        return self.requested and exc_type is not None and issubclass(exc_type, Exception)


def run_until_stopped(
    *,
    start: Callable[[], object],
    build: Callable[[], Service],
    run: Callable[[Service], object],
    close: Callable[[Service], object],
    finish: Callable[[], object],
    stopped_by: tuple[type[BaseException], ...] = (),
) -> None:
    """Under StopSignals: start() (e.g. rclpy.init), build() the service, run() it until it returns or raises one of
    `stopped_by` (e.g. rclpy's ExternalShutdownException after a signal), then close() it and finish() (e.g.
    rclpy.try_shutdown), also when building or running fails. A failure after a stop signal ends quietly."""
    with StopSignals():
        start()
        try:
            service = build()
            try:
                run(service)
            except stopped_by:
                pass
            finally:
                close(service)
        finally:
            finish()
