"""jepa_ros_common.process: a node whose work ends (finished()) ends the serving without a stop signal; run_node
favours latency."""

import sys
import threading

import pytest

rclpy = pytest.importorskip("rclpy")

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402

from jepa_core.stop_signals import StopSignals  # noqa: E402
from jepa_ros_common.process import GIL_SWITCH_INTERVAL_S, StopTiming, run_node, serve  # noqa: E402

pytestmark = pytest.mark.ros


class Stop(StopSignals):
    """A stop request that nobody sends (its handlers are never installed); `requested` turns true after `give_up`, so
    a serve that ignores finished() still returns (and the test fails instead of hanging)."""

    def __init__(self) -> None:
        super().__init__()
        self.give_up = threading.Event()
        self.timer = threading.Timer(5.0, self.give_up.set)
        self.timer.daemon = True
        self.timer.start()

    @property
    def requested(self) -> bool:
        return self.give_up.is_set()


class Worker(Node):
    """Finished after its third timer tick; records whether it was asked to stop."""

    def __init__(self, context) -> None:
        super().__init__("worker", context=context)
        self.ticks, self.stop_requested = 0, False
        self.create_timer(0.01, self._tick)

    def _tick(self) -> None:
        self.ticks += 1

    def finished(self) -> bool:
        return self.ticks >= 3

    def on_stop_requested(self) -> None:
        self.stop_requested = True


def test_serving_ends_once_a_node_finished_its_work(ros_context):
    node = Worker(ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    stop = Stop()
    try:
        serve(executor, [node], stop, StopTiming(poll_s=0.01))
    finally:
        stop.timer.cancel()
        executor.shutdown()
        node.destroy_node()
    assert not stop.requested and node.ticks >= 3 and not node.stop_requested


def test_run_node_favours_latency(default_switch_interval):
    """A node process hands each message between threads: it runs with a 1 ms GIL switch interval, not 5 ms."""
    seen = []

    def build() -> Worker:
        seen.append(sys.getswitchinterval())
        return Worker(None)  # the default context, which run_node initialises and shuts down

    run_node(build, args=[])
    assert seen == [pytest.approx(GIL_SWITCH_INTERVAL_S)]
