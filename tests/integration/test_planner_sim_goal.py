"""The README's goal flow on the simulator with the bundled model, one process (sim, perception, planner):
`capture_goal` stores the camera frame as `shelf`, `plan_to_goal {goal_name: shelf}` drives the arm back to it and
ends SUCCEEDED by the default success rule (energy_threshold in launch/config/planner.yaml), not MAX_STEPS.
"""

import copy
import threading
import time
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from geometry_msgs.msg import PoseStamped  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402
from rclpy.node import Node  # noqa: E402

from jepa_bringup.bringup import DEMO_NODES, DEMO_PARAMS_FILES, Composition, NodeSpec  # noqa: E402
from jepa_msgs.action import PlanToGoal  # noqa: E402
from jepa_msgs.msg import EndEffectorState  # noqa: E402
from jepa_msgs.srv import CaptureGoal  # noqa: E402

pytestmark = pytest.mark.ros
REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 60.0


def wait_for(predicate, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_readme_goal_flow_succeeds_with_the_bundled_model(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # demo.yaml names models/sim_manip.pt relative to the repository root
    planner = {"goal_library_dir": str(tmp_path / "goals"), "max_steps": 15}
    specs = [NodeSpec(s.factory, s.name, planner if s.name == "planner_node" else {}) for s in DEMO_NODES]
    with Composition(specs, [REPO / path for path in DEMO_PARAMS_FILES]) as composition:
        client = Node("readme_user", context=composition.context)
        composition.add_node(client)
        states: list[EndEffectorState] = []
        client.create_subscription(EndEffectorState, "ee_state", states.append, 10)
        target_pub = client.create_publisher(PoseStamped, "target_pose", 10)
        capture = client.create_client(CaptureGoal, "planner_node/capture_goal")
        action = ActionClient(client, PlanToGoal, "plan_to_goal")
        finished = threading.Event()
        spinner = threading.Thread(target=composition.spin_until, args=(finished.is_set,), daemon=True)
        spinner.start()
        try:
            readme_flow(composition, states, target_pub, capture, action)
        finally:
            finished.set()
            spinner.join(timeout=10)


def readme_flow(composition, states, target_pub, capture, action) -> None:
    """Capture a goal where the arm is (reached at step 0), move the arm away, plan back to it."""
    assert capture.wait_for_service(timeout_sec=TIMEOUT) and action.wait_for_server(timeout_sec=TIMEOUT)
    wait_for(lambda: states and composition.nodes["planner_node"].intake._image is not None)

    def send_goal() -> PlanToGoal.Result:
        future = action.send_goal_async(PlanToGoal.Goal(goal_name="shelf"))
        wait_for(future.done)
        result_future = future.result().get_result_async()
        wait_for(result_future.done)
        return result_future.result().result

    # ros2 service call /planner_node/capture_goal jepa_msgs/srv/CaptureGoal "{name: shelf}"
    response = capture.call_async(CaptureGoal.Request(name="shelf"))
    wait_for(response.done)
    assert response.result().success, response.result().message
    at_goal = send_goal()  # the arm is where the goal was captured
    assert at_goal.outcome == PlanToGoal.Result.OUTCOME_SUCCEEDED and at_goal.steps == 0, at_goal.reason

    def position() -> np.ndarray:
        p = states[-1].pose.position
        return np.array([p.x, p.y, p.z])

    start = position()
    away = PoseStamped(pose=copy.deepcopy(states[-1].pose))
    away.header.frame_id = "panda_link0"
    away.pose.position.x, away.pose.position.y = start[0] + 0.06, start[1] - 0.06
    target_pub.publish(away)  # the lockstep simulator moves there in one control period
    wait_for(lambda: np.linalg.norm(position() - start) > 0.05)
    moved_at = states[-1].header.stamp.sec + 1e-9 * states[-1].header.stamp.nanosec
    planner_node = composition.nodes["planner_node"]
    wait_for(lambda: planner_node.observations.latest()[0].stamp >= moved_at)  # the frame after the move is encoded
    back = send_goal()
    assert back.outcome == PlanToGoal.Result.OUTCOME_SUCCEEDED and back.steps >= 1, back.reason
    assert np.linalg.norm(position() - start) < 0.05
