"""ROS-free plumbing of the encoder node: a latest-only frame slot and thread-safe counters with a latency window and
the recent input rate.

Kept apart from the node so the keep-only-the-latest and counting rules are unit-tested without rclpy.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

Item = TypeVar("Item")
RATE_WINDOW_S = 5.0  # the input rate and the recent invalid frames count over this window, s


class LatestSlot(Generic[Item]):
    """Holds at most one pending item: `put` overwrites (never a backlog), `take` waits for one and empties the slot."""

    def __init__(self) -> None:
        self._item: Item | None = None
        self._condition = threading.Condition()
        self._closed = False

    def put(self, item: Item) -> bool:
        """Store `item`; True when it replaced an item nobody took (that one counts as dropped)."""
        with self._condition:
            replaced = self._item is not None
            self._item = item
            self._condition.notify()
            return replaced

    def take(self, timeout: float | None = None) -> Item | None:
        """The pending item (slot emptied), or None after `timeout` seconds or once closed."""
        with self._condition:
            self._condition.wait_for(lambda: self._item is not None or self._closed, timeout=timeout)
            item, self._item = self._item, None
            return item

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Wake every waiter; later `take` calls return what is pending, then None without waiting."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()


@dataclass(frozen=True)
class StatusSnapshot:
    """Counters and latency statistics at one instant (what PerceptionStatus carries)."""

    frames_received: int
    frames_encoded: int
    frames_dropped: int
    frames_invalid: int
    latency_ms_last: float
    latency_ms_p50: float
    latency_ms_p95: float
    last_error: str
    input_rate_hz: float  # images received per second over the last rate window
    invalid_recent: int  # frames rejected within the last rate window


class PipelineStats:
    """Thread-safe frame counters, a window of recent latencies (ms) for p50/p95, and the receipt and rejection times
    of the last `rate_window_s` seconds (input rate, recent invalid frames) on `clock` (s)."""

    def __init__(
        self,
        latency_window: int = 200,
        rate_window_s: float = RATE_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._latencies_ms: deque[float] = deque(maxlen=latency_window)
        self._received = self._encoded = self._dropped = self._invalid = 0
        self._last_error = ""
        self._rate_window_s, self._clock = rate_window_s, clock
        self._receipts: deque[float] = deque()  # clock times within the rate window
        self._rejections: deque[float] = deque()
        self._first_receipt: float | None = None

    def received(self) -> None:
        """One image arrived."""
        with self._lock:
            self._received += 1
            now = self._clock()
            self._receipts.append(now)
            self._first_receipt = now if self._first_receipt is None else self._first_receipt
            self._forget_before(now)

    def dropped(self) -> None:
        """One valid frame was overwritten by a newer one before it was encoded."""
        with self._lock:
            self._dropped += 1

    def invalid(self, reason: str) -> None:
        """One frame was rejected for `reason`."""
        with self._lock:
            self._invalid += 1
            self._last_error = reason
            self._rejections.append(self._clock())

    def encoded(self, latency_ms: float) -> None:
        """One embedding is published `latency_ms` after its image arrived (counted just before it goes out)."""
        with self._lock:
            self._encoded += 1
            self._latencies_ms.append(latency_ms)

    def restart_rate(self) -> None:
        """Measure the input rate afresh from the next image (after a pause in which images were not taken)."""
        with self._lock:
            self._receipts.clear()
            self._first_receipt = None

    def _forget_before(self, now: float) -> None:
        """Drop receipt and rejection times older than the rate window (caller holds the lock)."""
        for times in (self._receipts, self._rejections):
            while times and times[0] <= now - self._rate_window_s:
                times.popleft()

    def _input_rate(self, now: float) -> float:
        """Receipts per second in the rate window, over the part of it since the first image (at least 1 s, so one
        early image is not a burst)."""
        if self._first_receipt is None:
            return 0.0
        return len(self._receipts) / max(1.0, min(self._rate_window_s, now - self._first_receipt))

    def snapshot(self) -> StatusSnapshot:
        """Consistent copy of the counters; latencies are NaN until the first frame is encoded."""
        with self._lock:
            now = self._clock()
            self._forget_before(now)
            window = np.asarray(self._latencies_ms, dtype=np.float64)
            p50, p95 = np.percentile(window, [50, 95]) if window.size else (float("nan"), float("nan"))
            return StatusSnapshot(
                frames_received=self._received,
                frames_encoded=self._encoded,
                frames_dropped=self._dropped,
                frames_invalid=self._invalid,
                latency_ms_last=float(window[-1]) if window.size else float("nan"),
                latency_ms_p50=float(p50),
                latency_ms_p95=float(p95),
                last_error=self._last_error,
                input_rate_hz=self._input_rate(now),
                invalid_recent=len(self._rejections),
            )
