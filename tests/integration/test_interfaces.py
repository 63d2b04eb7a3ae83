"""Round-trips every jepa_msgs interface over real rclpy: messages by pub/sub, services, and the action."""

import re
import time
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from action_msgs.msg import GoalStatus  # noqa: E402
from geometry_msgs.msg import Point, Pose  # noqa: E402
from rclpy.action import ActionClient, ActionServer, CancelResponse, GoalResponse  # noqa: E402
from rclpy.callback_groups import ReentrantCallbackGroup  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from jepa_msgs.action import PlanToGoal  # noqa: E402
from jepa_msgs.msg import (  # noqa: E402
    Embedding,
    EndEffectorState,
    PerceptionStatus,
    PlannedAction,
    TaskStatus,
)
from jepa_msgs.srv import CaptureGoal, EncodeImage, RenderGoal, ResetSim  # noqa: E402
from tests.ros_spin import spinning  # noqa: E402

pytestmark = pytest.mark.ros
TIMEOUT = 10.0


def _pose(x: float) -> Pose:
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = x, -0.1, 0.4
    pose.orientation.x, pose.orientation.w = 1.0, 0.0
    return pose


def _image(value: int = 7) -> Image:
    img = Image(height=2, width=3, encoding="rgb8", step=9)
    img.data = bytes([value]) * 18
    img.header.frame_id = "camera"
    return img


def sample_messages():
    """One filled instance of every custom message type."""
    emb = Embedding(frames=1, height=2, width=2, dim=3, normalized=True, model="tiny")
    emb.header.frame_id = "camera"
    emb.header.stamp.sec = 12
    emb.data = np.arange(12, dtype=np.float32).tolist()
    ee = EndEffectorState(pose=_pose(0.5), gripper=0.25)
    ee.header.frame_id = "panda_link0"
    planned = PlannedAction(step=3, energy=0.42, iterations=10, samples=800, planning_time=0.1, target_gripper=1.0)
    planned.state = [0.5, 0.0, 0.4, 3.1, 0.0, 0.0, 0.0]
    planned.action = [0.01, 0.0, -0.02, 0.0, 0.0, 0.0, 0.5]
    planned.plan = [0.01, 0.0, -0.02, 0.0, 0.0, 0.0, 0.5]
    planned.target_pose = _pose(0.51)
    planned.predicted_path = [_pose(0.51), _pose(0.52)]
    status = PerceptionStatus(backend="torch", device="cpu", model="tiny", frames_received=10, frames_encoded=8)
    status.frames_dropped, status.frames_invalid, status.latency_ms_p95, status.last_error = 1, 1, 12.5, "bad step"
    task = TaskStatus(
        task="reach", seed=4, success=True, distance=0.03, tolerance=0.04, goal=Point(x=0.5, y=0.1, z=0.3)
    )
    return [emb, ee, planned, status, task]


def test_every_interface_file_is_generated_and_none_twins_a_standard_one():
    """jepa_msgs builds exactly the .msg/.srv/.action files it holds; the player's pause/resume/step are std_srvs
    Triggers, not a package-own ReplayControl."""
    package = Path(__file__).resolve().parents[2] / "ros2_ws" / "src" / "jepa_msgs"
    files = {str(path.relative_to(package)) for kind in ("msg", "srv", "action") for path in (package / kind).iterdir()}
    listed = set(
        re.findall(r'"((?:msg|srv|action)/\w+\.(?:msg|srv|action))"', (package / "CMakeLists.txt").read_text())
    )
    assert listed == files
    assert "srv/ReplayControl.srv" not in files


def test_messages_serialize_round_trip():
    for msg in sample_messages():
        assert deserialize_message(serialize_message(msg), type(msg)) == msg


class _Server(Node):
    """Serves every jepa_msgs service and the PlanToGoal action with scripted behaviour."""

    def __init__(self, context):
        super().__init__("interface_server", context=context)
        group = ReentrantCallbackGroup()
        # private names, as the nodes serve them (encoder_node/encode_image, planner_node/capture_goal, sim_node/...)
        self.create_service(EncodeImage, "~/encode_image", self._encode, callback_group=group)
        self.create_service(CaptureGoal, "~/capture_goal", self._capture, callback_group=group)
        self.create_service(RenderGoal, "~/render_goal", self._render, callback_group=group)
        self.create_service(ResetSim, "~/reset", self._reset, callback_group=group)
        self._action = ActionServer(
            self,
            PlanToGoal,
            "plan_to_goal",
            execute_callback=self._execute,
            goal_callback=lambda goal: GoalResponse.ACCEPT,
            cancel_callback=lambda handle: CancelResponse.ACCEPT,
            callback_group=group,
        )

    def _encode(self, request, response):
        response.success = request.image.encoding == "rgb8"
        response.embedding.header = request.image.header
        response.embedding.data = [float(b) for b in request.image.data[:4]]
        return response

    def _capture(self, request, response):
        response.success, response.name, response.path = True, request.name or "goal_1", f"/tmp/{request.name}.png"
        return response

    def _render(self, request, response):
        response.success, response.image = True, _image(int(request.gripper * 100))
        response.position_error = request.pose.position.x
        return response

    def _reset(self, request, response):
        response.success, response.goal_image = True, _image(request.seed)
        response.goal_pose, response.object_goal = _pose(0.6), Point(x=float(request.seed))
        response.message = request.task
        return response

    def _execute(self, handle):
        mode = handle.request.goal_name
        result = PlanToGoal.Result()
        for step in range(100):
            if handle.is_cancel_requested:
                handle.canceled()
                result.outcome, result.reason, result.steps = PlanToGoal.Result.OUTCOME_CANCELED, "canceled", step
                return result
            feedback = PlanToGoal.Feedback(step=step, energy=1.0 / (step + 1), planning_time=0.01)
            feedback.target_pose = _pose(0.5)
            handle.publish_feedback(feedback)
            if mode == "succeed" and step == 2:
                handle.succeed()
                result.success, result.outcome, result.steps = True, PlanToGoal.Result.OUTCOME_SUCCEEDED, step + 1
                result.final_energy = feedback.energy
                return result
            if mode == "abort" and step == 1:
                handle.abort()
                result.outcome, result.reason = PlanToGoal.Result.OUTCOME_STALE_OBSERVATION, "stale ee_state"
                return result
            time.sleep(0.02)
        handle.abort()
        return result


@pytest.fixture
def nodes(ros_context):
    server = _Server(ros_context)
    client = Node("interface_client", context=ros_context)
    executor = MultiThreadedExecutor(num_threads=4, context=ros_context)
    executor.add_node(server)
    executor.add_node(client)
    # Before the spin: rclpy's ActionClient registers itself with the node before it sets its lock, so one built
    # while an executor spins can kill that executor's thread (AttributeError '_lock').
    action = ActionClient(client, PlanToGoal, "plan_to_goal")
    with spinning(executor):
        yield server, client, action
    server.destroy_node()
    client.destroy_node()


def _wait(future, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not future.done():
        assert time.monotonic() < deadline, "timed out waiting for a future"
        time.sleep(0.01)
    return future.result()


def test_messages_pub_sub(nodes):
    server, client, _ = nodes
    for sent in sample_messages():
        received = []
        topic = f"rt_{type(sent).__name__.lower()}"
        sub = client.create_subscription(type(sent), topic, received.append, 10)
        pub = server.create_publisher(type(sent), topic, 10)
        deadline = time.monotonic() + TIMEOUT
        while not received:
            assert time.monotonic() < deadline, f"no {type(sent).__name__} received"
            pub.publish(sent)
            time.sleep(0.05)
        assert received[0] == sent
        client.destroy_subscription(sub)
        server.destroy_publisher(pub)


def _call(client_node, srv_type, name, request):
    cli = client_node.create_client(srv_type, name)
    assert cli.wait_for_service(timeout_sec=TIMEOUT), f"service {name} not available"
    response = _wait(cli.call_async(request))
    client_node.destroy_client(cli)
    return response


def test_services(nodes):
    _, client, _ = nodes
    enc = _call(client, EncodeImage, "interface_server/encode_image", EncodeImage.Request(image=_image(3)))
    assert enc.success and enc.embedding.header.frame_id == "camera" and list(enc.embedding.data) == [3.0] * 4
    cap = _call(client, CaptureGoal, "interface_server/capture_goal", CaptureGoal.Request(name="shelf", overwrite=True))
    assert cap.success and cap.name == "shelf" and cap.path.endswith("shelf.png")
    ren = _call(client, RenderGoal, "interface_server/render_goal", RenderGoal.Request(pose=_pose(0.25), gripper=0.5))
    assert ren.success and bytes(ren.image.data) == bytes([50]) * 18 and ren.position_error == 0.25
    res = _call(client, ResetSim, "interface_server/reset", ResetSim.Request(task="reach", seed=9))
    assert res.success and res.message == "reach" and res.object_goal.x == 9.0 and res.goal_pose == _pose(0.6)


def _send_goal(action, goal_name):
    assert action.wait_for_server(timeout_sec=TIMEOUT)
    feedback = []
    goal = PlanToGoal.Goal(goal_name=goal_name, goal_image=_image(), max_steps=10)
    handle = _wait(action.send_goal_async(goal, feedback_callback=lambda msg: feedback.append(msg.feedback)))
    assert handle.accepted
    return action, handle, feedback


def test_action_success_with_feedback(nodes):
    _, _, action = nodes
    _, handle, feedback = _send_goal(action, "succeed")
    wrapped = _wait(handle.get_result_async())
    assert wrapped.status == GoalStatus.STATUS_SUCCEEDED
    assert wrapped.result.success and wrapped.result.outcome == PlanToGoal.Result.OUTCOME_SUCCEEDED
    assert wrapped.result.steps == 3
    deadline = time.monotonic() + 2.0
    while len(feedback) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [f.step for f in feedback] == [0, 1, 2]


def test_action_abort(nodes):
    _, _, action = nodes
    _, handle, _ = _send_goal(action, "abort")
    wrapped = _wait(handle.get_result_async())
    assert wrapped.status == GoalStatus.STATUS_ABORTED
    assert not wrapped.result.success
    assert wrapped.result.outcome == PlanToGoal.Result.OUTCOME_STALE_OBSERVATION
    assert wrapped.result.reason == "stale ee_state"


def test_action_cancel(nodes):
    _, _, action = nodes
    _, handle, feedback = _send_goal(action, "run_until_canceled")
    deadline = time.monotonic() + TIMEOUT
    while not feedback:
        assert time.monotonic() < deadline, "no feedback before cancel"
        time.sleep(0.01)
    cancel = _wait(handle.cancel_goal_async())
    assert len(cancel.goals_canceling) == 1
    wrapped = _wait(handle.get_result_async())
    assert wrapped.status == GoalStatus.STATUS_CANCELED
    assert wrapped.result.outcome == PlanToGoal.Result.OUTCOME_CANCELED
