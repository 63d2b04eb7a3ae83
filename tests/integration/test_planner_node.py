"""Planner node over real rclpy with a tiny random world model and a fake robot/perception node.

The fake robot teleports to every commanded pose and, while "alive", publishes ee_state and a fresh embedding at
20 Hz; it also serves encode_image and publishes camera images. Checks: goals are accepted, commands are bounded,
feedback arrives every step, stale data stops the run holding the pose, cancel and invalid goals end cleanly.
"""

import threading
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from geometry_msgs.msg import PoseStamped  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402
from rclpy.callback_groups import ReentrantCallbackGroup  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Float64  # noqa: E402

from jepa_core.geometry import pose_to_state  # noqa: E402
from jepa_msgs.action import PlanToGoal  # noqa: E402
from jepa_msgs.msg import Embedding, EndEffectorState, PlannedAction  # noqa: E402
from jepa_msgs.srv import CaptureGoal, EncodeImage, RenderGoal  # noqa: E402
from jepa_planner.planner_node import PlannerNode  # noqa: E402

pytestmark = pytest.mark.ros
N, D, GRID = 16, 192, 4
TIMEOUT = 15.0


class FakeRobot(Node):
    """Robot + perception stand-in: follows target_pose instantly, publishes state/embeddings, encodes goals."""

    def __init__(self, context) -> None:
        super().__init__("fake_robot", context=context)
        group = ReentrantCallbackGroup()
        self.alive = True
        self.pose = PoseStamped().pose
        self.pose.position.x, self.pose.position.y, self.pose.position.z = 0.5, 0.0, 0.4
        self.pose.orientation.x, self.pose.orientation.w = 1.0, 0.0
        self.gripper = 0.0
        self.targets: list[PoseStamped] = []
        self.published_pose = None  # last pose sent on ee_state
        self.published_poses = []
        self.encode_calls = 0
        self.grippers: list[float] = []
        self.plans: list[PlannedAction] = []
        self.rng = np.random.default_rng(0)
        self.ee_pub = self.create_publisher(EndEffectorState, "ee_state", 1)
        self.embedding_pub = self.create_publisher(Embedding, "embedding", 1)
        self.image_pub = self.create_publisher(Image, "camera/image_raw", 1)
        self.create_subscription(PoseStamped, "target_pose", self.on_target, 10, callback_group=group)
        self.create_subscription(Float64, "gripper_command", lambda m: self.grippers.append(m.data), 10)
        self.create_subscription(PlannedAction, "planned_action", self.plans.append, 10)
        self.create_service(EncodeImage, "encode_image", self.encode, callback_group=group)
        self.create_service(RenderGoal, "render_goal", self.render, callback_group=group)
        self.goal_pose_pub = self.create_publisher(PoseStamped, "/goal_pose", 1)
        self.create_timer(0.05, self.publish_observation, callback_group=group)

    def embedding(self, stamp) -> Embedding:
        data = self.rng.standard_normal((N, D)).astype(np.float32)
        msg = Embedding(frames=1, height=GRID, width=GRID, dim=D, normalized=False, model="fake")
        msg.header.stamp = stamp
        msg.data = data.ravel().tolist()
        return msg

    def on_target(self, msg: PoseStamped) -> None:
        self.targets.append(msg)
        self.pose = msg.pose

    def encode(self, request, response):
        self.encode_calls += 1
        response.success = True
        response.embedding = self.embedding(request.image.header.stamp)
        return response

    def render(self, request, response):
        response.success = True
        response.image = Image(
            height=8, width=8, encoding="rgb8", step=24, data=bytes([int(request.gripper * 9)] * 192)
        )
        return response

    def publish_observation(self) -> None:
        if not self.alive:
            return
        stamp = self.get_clock().now().to_msg()
        state = EndEffectorState(pose=self.pose, gripper=self.gripper)
        state.header.stamp, state.header.frame_id = stamp, "panda_link0"
        self.ee_pub.publish(state)
        self.published_pose = self.pose
        self.published_poses.append(self.pose)
        self.embedding_pub.publish(self.embedding(stamp))
        image = Image(height=8, width=8, encoding="rgb8", step=24, data=bytes(range(192)))
        image.header.stamp = stamp
        self.image_pub.publish(image)


BASE_OVERRIDES = {
    "allow_random_weights": True,
    "predictor_preset": "parity_tiny",
    "cem.samples": 16,
    "cem.top_k": 4,
    "cem.iterations": 2,
    "seed": 0,
    "stale_timeout_s": 2.0,  # generous: a loaded CI machine can starve the fake robot's 20 Hz timer for ~0.7 s
    "max_steps": 4,
}


@pytest.fixture
def make_system(ros_context, tmp_path):
    """Factory: planner (with parameter overrides) + fake robot spinning on one executor; torn down after the test."""
    executors = []

    def make(**overrides):
        values = BASE_OVERRIDES | {"goal_library_dir": str(tmp_path / "goals")} | overrides
        parameters = [Parameter(name, value=value) for name, value in values.items()]
        planner = PlannerNode(context=ros_context, parameter_overrides=parameters)
        robot = FakeRobot(ros_context)
        executor = MultiThreadedExecutor(num_threads=4, context=ros_context)
        executor.add_node(planner)
        executor.add_node(robot)
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()
        executors.append((executor, spinner, planner, robot))
        client = ActionClient(robot, PlanToGoal, "plan_to_goal")
        assert client.wait_for_server(timeout_sec=TIMEOUT)
        return planner, robot, client

    yield make
    for executor, spinner, planner, robot in executors:
        wait_for(lambda planner=planner: not planner._run_lock.locked())  # let a running goal finish its hold
        executor.shutdown()
        spinner.join(timeout=5)
        planner.destroy_node()
        robot.destroy_node()


@pytest.fixture
def system(make_system):
    return make_system()


def wait_for(predicate, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def send(client, goal: PlanToGoal.Goal, feedback: list):
    """Send a goal, wait until accepted; returns (goal handle, result future)."""
    future = client.send_goal_async(goal, feedback_callback=lambda msg: feedback.append(msg.feedback))
    wait_for(future.done)
    handle = future.result()
    assert handle.accepted
    return handle, handle.get_result_async()


def goal_image() -> Image:
    return Image(height=8, width=8, encoding="rgb8", step=24, data=bytes(192))


def state_of(pose) -> np.ndarray:
    quat = [pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w]
    return pose_to_state([pose.position.x, pose.position.y, pose.position.z], quat, 0.0)


def test_goal_runs_bounded_steps_with_feedback_each_step(system):
    _, robot, client = system
    feedback = []
    _, result_future = send(client, PlanToGoal.Goal(goal_image=goal_image()), feedback)
    wait_for(result_future.done)
    result = result_future.result().result
    assert result.outcome == PlanToGoal.Result.OUTCOME_MAX_STEPS and not result.success
    assert result.steps == 4 and [f.step for f in feedback] == [0, 1, 2, 3]
    assert robot.encode_calls == 1  # the goal image went through the perception service
    assert np.isfinite(result.initial_energy) and np.isfinite(result.final_energy)
    assert len(robot.targets) == 5 and len(robot.plans) == 4  # 4 steps, then the hold
    previous = np.array([0.5, 0.0, 0.4])
    for target, plan in zip(robot.targets[:4], robot.plans, strict=True):
        position = state_of(target.pose)[:3]
        assert np.abs(position - previous).max() <= 0.075 + 1e-6
        assert np.allclose(position, plan.state[:3] + np.asarray(plan.action[:3]), atol=1e-9)
        assert target.header.frame_id == "panda_link0" and len(plan.plan) == 7
        previous = position
    assert all(0.0 <= g <= 1.0 for g in robot.grippers)
    stamps = [p.header.stamp.sec + 1e-9 * p.header.stamp.nanosec for p in robot.plans]
    commands = [t.header.stamp.sec + 1e-9 * t.header.stamp.nanosec for t in robot.targets[:4]]
    assert all(obs > cmd for obs, cmd in zip(stamps[1:], commands[:-1], strict=True))  # planned from newer frames


def test_stale_observations_stop_and_hold(system):
    _, robot, client = system
    feedback = []
    _, result_future = send(client, PlanToGoal.Goal(goal_image=goal_image(), max_steps=1000), feedback)
    wait_for(lambda: len(feedback) >= 2)
    robot.alive = False
    wait_for(result_future.done)
    result = result_future.result().result
    assert result.outcome == PlanToGoal.Result.OUTCOME_STALE_OBSERVATION
    assert "embedding" in result.reason
    assert len(robot.targets) == result.steps + 1  # the steps' commands, then the hold
    assert robot.targets[-1].pose == robot.published_pose  # holds the last measured pose


def test_cancel_holds_the_pose(system):
    _, robot, client = system
    feedback = []
    handle, result_future = send(client, PlanToGoal.Goal(goal_image=goal_image(), max_steps=1000), feedback)
    wait_for(lambda: len(feedback) >= 2)
    wait_for(handle.cancel_goal_async().done)
    wait_for(result_future.done)
    result = result_future.result().result
    assert result.outcome == PlanToGoal.Result.OUTCOME_CANCELED and not result.success
    assert robot.targets[-1].pose in robot.published_poses  # the hold is a measured pose, not a planned one
    commanded = len(robot.targets)
    time.sleep(0.2)
    assert len(robot.targets) == commanded  # nothing commanded after the cancel


def test_named_goals_from_capture_goal_and_unknown_names(system):
    planner, robot, client = system
    capture = robot.create_client(CaptureGoal, "capture_goal")
    assert capture.wait_for_service(timeout_sec=TIMEOUT)
    wait_for(lambda: planner._image is not None)
    response_future = capture.call_async(CaptureGoal.Request(name="home"))
    wait_for(response_future.done)
    response = response_future.result()
    assert response.success and response.name == "home" and response.path.endswith("home.png")
    feedback = []
    _, result_future = send(client, PlanToGoal.Goal(goal_name="home", max_steps=2), feedback)
    wait_for(result_future.done)
    assert result_future.result().result.outcome == PlanToGoal.Result.OUTCOME_MAX_STEPS
    _, result_future = send(client, PlanToGoal.Goal(goal_name="nowhere"), [])
    wait_for(result_future.done)
    result = result_future.result().result
    assert result.outcome == PlanToGoal.Result.OUTCOME_INVALID_GOAL and "nowhere" in result.reason


def test_rviz_goal_pose_preempts_the_running_goal(system):
    planner, robot, client = system
    feedback = []
    _, first_result = send(client, PlanToGoal.Goal(goal_image=goal_image(), max_steps=1000), feedback)
    wait_for(lambda: len(feedback) >= 1)
    wait_for(lambda: robot.count_subscribers("/goal_pose") > 0)
    goal = PoseStamped()
    goal.header.frame_id = "panda_link0"
    goal.pose.position.x, goal.pose.position.z, goal.pose.orientation.w = 0.55, 0.3, 1.0
    robot.goal_pose_pub.publish(goal)
    wait_for(first_result.done)
    result = first_result.result().result
    assert result.outcome == PlanToGoal.Result.OUTCOME_CANCELED and "preempted" in result.reason
    _, metadata = planner.library.load("rviz_goal")
    assert metadata["position"] == pytest.approx([0.55, 0.0, 0.3]) and metadata["source"] == "rviz"
    steps_before = len(robot.plans)
    wait_for(lambda: len(robot.plans) >= steps_before + 4)  # the RViz goal runs its max_steps


def test_local_goal_encoder(make_system):
    _, robot, client = make_system(goal_encoder="local", encoder_preset="parity_tiny")
    feedback = []
    _, result_future = send(client, PlanToGoal.Goal(goal_image=goal_image(), max_steps=2), feedback)
    wait_for(result_future.done)
    assert result_future.result().result.outcome == PlanToGoal.Result.OUTCOME_MAX_STEPS
    assert len(feedback) == 2 and robot.encode_calls == 0  # encoded by the planner's own encoder
