"""A stop signal while the planner plans (issue 23 item 4): the CEM is interrupted at its next predictor call, the
hold is published while the context is still valid, the client gets a result, and the process exits 0 within 2 s
without a traceback. The planner is a real process (its console script); the fake robot and the action client live
in the test process (test_planner_node's FakeRobot)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("rclpy")
from rclpy.action import ActionClient
from rclpy.executors import MultiThreadedExecutor

from jepa_msgs.action import PlanToGoal
from tests.integration.test_node_signals import INSTALL, REPO
from tests.integration.test_planner_node import FakeRobot, goal_image, wait_for
from tests.ros_spin import spinning

pytestmark = pytest.mark.ros
EXIT_BUDGET_S = 2.0
# ~a minute of planning per step (4000 candidates x 600 iterations): the signal always lands inside a plan
PLANNER_PARAMETERS = {"predictor_preset": "parity_tiny", "allow_random_weights": "true", "base_frame": "panda_link0",
                      "cem.samples": "4000", "cem.iterations": "600", "observation_timeout_s": "30.0"}  # fmt: skip


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_during_a_plan_ends_the_goal_with_its_hold_and_exits_0(ros_context, tmp_path, signum):
    namespace = f"stop_{os.getpid()}_{signum}"
    executable = INSTALL / "jepa_planner" / "lib" / "jepa_planner" / "planner_node"
    settings = [word for name, value in PLANNER_PARAMETERS.items() for word in ("-p", f"{name}:={value}")]
    log = tmp_path / "planner.log"
    with log.open("w") as out:
        planner = subprocess.Popen(
            [sys.executable, str(executable), "--ros-args", "-r", f"__ns:=/{namespace}", *settings,
             "-p", f"goal_library_dir:={tmp_path / 'goals'}"],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    robot = FakeRobot(ros_context, namespace=namespace)
    client = ActionClient(robot, PlanToGoal, "plan_to_goal")  # before the spin (rclpy's ActionClient lock)
    executor = MultiThreadedExecutor(num_threads=2, context=ros_context)
    executor.add_node(robot)
    try:
        with spinning(executor):
            assert client.wait_for_server(timeout_sec=60.0), log.read_text()
            # the hold needs a measured pose at the planner and a matched target_pose subscription here
            wait_for(lambda: robot.ee_pub.get_subscription_count() > 0)
            wait_for(lambda: robot.count_publishers(f"/{namespace}/target_pose") > 0)
            published = robot.ee_count
            wait_for(lambda: robot.ee_count >= published + 3)
            send = client.send_goal_async(PlanToGoal.Goal(goal_image=goal_image(), max_steps=5))
            wait_for(send.done)
            result_future = send.result().get_result_async()
            wait_for(lambda: robot.encode_calls == 1)  # the goal is encoded: the minute-long plan of step 0 starts
            signalled = time.monotonic()
            os.killpg(planner.pid, signum)
            wait_for(result_future.done, timeout=10.0)
            planner.wait(timeout=10.0)
            exited = time.monotonic() - signalled
            result = result_future.result().result
            output = log.read_text()
            assert planner.returncode == 0 and "Traceback" not in output, output
            assert exited < EXIT_BUDGET_S, f"exit took {exited:.2f} s"
            assert result.outcome == PlanToGoal.Result.OUTCOME_INACTIVE and "stopping" in result.reason, result.reason
            assert result.steps == 0 and len(robot.targets) == 1  # no planned step went out; the hold did
    finally:
        if planner.poll() is None:
            os.killpg(planner.pid, signal.SIGKILL)
        robot.destroy_node()
