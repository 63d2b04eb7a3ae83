"""The life of a node process: spin until SIGINT/SIGTERM, let the nodes stop while they can still publish, exit 0.

Why not rclpy's own signal handling: on a signal its handler thread first triggers the executors' SIGINT guard
condition and only then shuts the contexts down (rclpy signal_handler.cpp). An executor that wakes in between finds
its context still valid, finds no work and waits again with no timeout; the shutdown that follows wakes nobody
(rcl_shutdown wakes no wait set, and Context.on_shutdown callbacks run only for a shutdown from Python), so the
process sits in `wait_set.wait` forever. A signal before `rclpy.init` installs that handler is never seen by rclpy at
all. And once the context is down, a node can no longer publish its last command (the planner's hold).

So rclpy runs without signal handlers: StopSignals records the signal, no executor wait blocks longer than
`StopTiming.poll_s`, and the spin loop checks the request itself. A signal during start-up abandons it at once.

Node API (all three methods optional): after a stop request, with the context still valid, `node.on_stop_requested()`
is called once from the spinning thread (e.g. the planner interrupts its plan at the next predictor call, publishes
the hold and ends the goal); the executor keeps spinning while `node.stop_pending()` is true (at most
`StopTiming.drain_s`) and `settle_s` longer (the replies those callbacks queued, e.g. an action result); then the
nodes are destroyed, rclpy is shut down and the process ends (jepa_core.stop_signals.exit_after_stop). A node whose
work can end (the bag player at the end of its bags) has `node.finished()`: once it is true, serving ends without a
stop, the nodes are destroyed and `run_node` returns.
"""

from __future__ import annotations

import inspect
import math
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from rclpy.task import Future

from jepa_core.stop_signals import StopSignals, exit_after_stop

T = TypeVar("T")


# A node process hands each observation through several threads (executor, DDS, the sim's MuJoCo worker, the
# encoder's worker, the planner's goal thread); a thread woken while another holds the GIL waits up to Python's switch
# interval (5 ms by default) at every hand-off. 1 ms: in the one-process composition the control period's p95 excess
# over planning fell from 0.12-0.28 s to 0.09-0.10 s (benchmarks/control_period.py, three runs each).
GIL_SWITCH_INTERVAL_S = 0.001


def favour_latency() -> None:
    """Shorten the GIL switch interval of this process (GIL_SWITCH_INTERVAL_S): node processes are latency-bound."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


@dataclass(frozen=True)
class StopTiming:
    """How fast a stop request is noticed and how long the nodes may take to stop (all within StopSignals' grace)."""

    poll_s: float = 0.1  # longest executor wait before the stop request is checked again
    drain_s: float = 1.2  # longest time the nodes' stop_pending() work may take after on_stop_requested()
    settle_s: float = 0.1  # spinning after that, for the replies their last callbacks queued


def in_thread(function: Callable[..., T], *args, executor: Executor) -> Future:
    """Run `function(*args)` on a new thread; the returned rclpy Future (awaitable in a callback coroutine) wakes
    `executor` when it is done, so the awaiting callback resumes at once and no executor thread waits meanwhile."""
    future = Future(executor=executor)
    future.add_done_callback(lambda _: None)  # a done callback is what makes the future wake its executor

    def work() -> None:
        try:
            future.set_result(function(*args))
        except BaseException as error:  # handed to the awaiting callback, which reports it
            future.set_exception(error)

    threading.Thread(target=work, name=getattr(function, "__name__", "in_thread"), daemon=True).start()
    return future


def spin_until(executor: Executor, done: Callable[[], bool], poll_s: float, deadline: float = math.inf) -> None:
    """Spin until done(), the monotonic `deadline` or the shutdown of the executor's context; no wait blocks longer
    than `poll_s`, so a condition nothing wakes the executor for is still seen in time."""
    while executor.context.ok() and not done() and (left := deadline - time.monotonic()) > 0:
        try:
            executor.spin_once(timeout_sec=min(poll_s, left))
        except ExternalShutdownException:  # the context was shut down during the wait
            return


def serve(executor: Executor, nodes: Sequence[Node], stop: StopSignals, timing: StopTiming = StopTiming()) -> None:
    """Spin the executor (the nodes added to it) until a stop is requested, then let the nodes stop, or until a node
    finished its work (module doc). Whatever follows is the teardown: repeated signals no longer escalate
    (StopSignals.tearing_down)."""
    try:
        finished = [node.finished for node in nodes if hasattr(node, "finished")]
        spin_until(executor, lambda: stop.requested or any(f() for f in finished), timing.poll_s)
        if not stop.requested:  # a node finished, or the context was shut down by its owner
            return
        stopping = [node for node in nodes if hasattr(node, "on_stop_requested")]
        for node in stopping:
            node.on_stop_requested()
        pending = [node.stop_pending for node in nodes if hasattr(node, "stop_pending")]
        spin_until(executor, lambda: not any(p() for p in pending), timing.poll_s, time.monotonic() + timing.drain_s)
        if stopping or pending:
            spin_until(executor, lambda: False, timing.poll_s, time.monotonic() + timing.settle_s)
    finally:
        stop.tearing_down()


def run_node(
    factory: Callable[[], Node], args: list[str] | None = None, threads: int = 1, timing: StopTiming = StopTiming()
) -> None:
    """The whole life of a one-node console script: rclpy.init(args), build the node, `serve` it on `threads`
    executor threads (1: SingleThreadedExecutor) until SIGINT/SIGTERM or its finished(), destroy it, shut rclpy down
    and, after a stop, end the process with status 0 (exit_after_stop). The process favours latency (favour_latency)."""
    favour_latency()
    with StopSignals() as stop:
        try:
            with stop.interrupting():  # nothing to stop yet: a signal abandons the start-up
                rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
                node = factory()
            executor = SingleThreadedExecutor() if threads == 1 else MultiThreadedExecutor(num_threads=threads)
            try:
                executor.add_node(node)
                serve(executor, [node], stop, timing)
            finally:
                executor.shutdown()
                node.destroy_node()
        finally:
            _try_shutdown_rclpy()
    if stop.requested:
        exit_after_stop()


def _try_shutdown_rclpy() -> None:
    """rclpy.try_shutdown, leaving signal handlers alone (none were installed): Kilted's would uninstall them unless
    told not to, Jazzy's never does and has no `uninstall_handlers` option."""
    has_option = "uninstall_handlers" in inspect.signature(rclpy.try_shutdown).parameters
    rclpy.try_shutdown(**({"uninstall_handlers": False} if has_option else {}))
