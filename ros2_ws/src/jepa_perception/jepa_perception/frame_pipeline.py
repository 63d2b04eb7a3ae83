"""ROS-free plumbing of the encoder node: a latest-only frame slot and thread-safe counters with a latency window.

Kept apart from the node so the keep-only-the-latest and counting rules are unit-tested without rclpy.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

Item = TypeVar("Item")


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


class PipelineStats:
    """Thread-safe frame counters and a window of recent latencies (ms) for p50/p95."""

    def __init__(self, latency_window: int = 200) -> None:
        self._lock = threading.Lock()
        self._latencies_ms: deque[float] = deque(maxlen=latency_window)
        self._received = self._encoded = self._dropped = self._invalid = 0
        self._last_error = ""

    def received(self) -> None:
        """One image arrived."""
        with self._lock:
            self._received += 1

    def dropped(self) -> None:
        """One valid frame was overwritten by a newer one before it was encoded."""
        with self._lock:
            self._dropped += 1

    def invalid(self, reason: str) -> None:
        """One frame was rejected for `reason`."""
        with self._lock:
            self._invalid += 1
            self._last_error = reason

    def encoded(self, latency_ms: float) -> None:
        """One embedding was published `latency_ms` after its image arrived."""
        with self._lock:
            self._encoded += 1
            self._latencies_ms.append(latency_ms)

    def snapshot(self) -> StatusSnapshot:
        """Consistent copy of the counters; latencies are NaN until the first frame is encoded."""
        with self._lock:
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
            )
