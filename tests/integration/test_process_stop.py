"""jepa_ros_common.process.serve: a stop signal ends the spin although nothing wakes the executor and the context
stays valid (rclpy's own handling relies on a wake-up that can come too early), and the nodes stop while they can
still publish: on_stop_requested() once, spinning while stop_pending(), then return."""

from __future__ import annotations

import os
import signal
import time

import pytest

pytestmark = pytest.mark.ros

rclpy = pytest.importorskip("rclpy")
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from jepa_core.stop_signals import StopSignals  # noqa: E402
from jepa_ros_common.process import StopTiming, serve  # noqa: E402


@pytest.fixture(autouse=True)
def restore_handlers():
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in before.items():
        signal.signal(signum, handler)


class SignalledNode(Node):
    """Sends this process SIGTERM from its first timer callback; on the stop it publishes a last message from a
    callback that only a spinning executor runs, and is pending until then."""

    def __init__(self, context) -> None:
        super().__init__("signalled", context=context)
        self.events: list[str] = []
        self._publisher = self.create_publisher(String, "last_word", 1)
        self._signal_timer = self.create_timer(0.01, self._signal)

    def _signal(self) -> None:
        self._signal_timer.cancel()
        os.kill(os.getpid(), signal.SIGTERM)

    def on_stop_requested(self) -> None:
        self.events.append(f"stop requested, context ok: {self.context.ok()}")
        self._last_timer = self.create_timer(0.05, self._last_word)

    def _last_word(self) -> None:
        self._last_timer.cancel()
        self._publisher.publish(String(data="holding"))
        self.events.append("published")

    def stop_pending(self) -> bool:
        return "published" not in self.events


@pytest.mark.parametrize("executor_type", [SingleThreadedExecutor, MultiThreadedExecutor])
def test_a_signal_ends_the_spin_and_the_node_stops_while_its_context_is_valid(ros_context, executor_type):
    node = SignalledNode(ros_context)
    executor = executor_type(context=ros_context)
    executor.add_node(node)
    try:
        with StopSignals() as stop:
            started = time.monotonic()
            serve(executor, [node], stop, StopTiming(poll_s=0.05, drain_s=1.0, settle_s=0.0))
            took = time.monotonic() - started
        assert stop.received == [signal.SIGTERM]
        assert node.events == ["stop requested, context ok: True", "published"]
        assert ros_context.ok() and took < 1.0
    finally:
        executor.shutdown()
        node.destroy_node()


def test_the_drain_is_bounded_when_a_node_never_finishes_stopping(ros_context):
    node = SignalledNode(ros_context)
    node.stop_pending = lambda: True
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    try:
        with StopSignals() as stop:
            started = time.monotonic()
            serve(executor, [node], stop, StopTiming(poll_s=0.05, drain_s=0.3, settle_s=0.0))
            took = time.monotonic() - started
        assert 0.3 <= took < 0.8
    finally:
        executor.shutdown()
        node.destroy_node()
