"""Spin an rclpy executor on a background thread for the length of a with-block, then stop and join it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from rclpy.executors import Executor


@contextlib.contextmanager
def spinning(executor: Executor, timeout_s: float = 5.0) -> Iterator[threading.Thread]:
    """`executor.spin()` on a daemon thread inside the block; after it, shut the executor down and join the thread, so
    no spin outlives the test (one still looping when ros_context destroys the context raises in its thread)."""
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        executor.shutdown(timeout_sec=timeout_s)
        thread.join(timeout_s)
