"""RViz goals on a robot-shaped setup (no render_goal service): goals captured at three poses are latched as library
markers and listed by list_goals; a /goal_pose near one plans to it (its goal image latched, it highlighted, the step
text next to the flange), one far from all is refused with a log line naming the nearest; clicks within the sequence
window run as one sub-goal sequence with the captured grippers; remove_goal updates the markers.

Reuses the fake robot/perception and the tiny random-weight planner of test_planner_node.
"""

import numpy as np
import pytest

pytest.importorskip("rclpy")
from geometry_msgs.msg import PointStamped, PoseStamped
from rclpy.qos import DurabilityPolicy, QoSProfile
from sensor_msgs.msg import Image
from visualization_msgs.msg import Marker, MarkerArray

from jepa_msgs.srv import ListGoals, RemoveGoal
from jepa_planner.library_markers import ACTIVE, GOALS_NS, LABELS_NS, STEP_NS
from tests.integration.test_planner_node import (  # noqa: F401 (make_system is a fixture)
    TIMEOUT,
    capture_goal,
    make_system,
    wait_for,
)

pytestmark = pytest.mark.ros
ROBOT = {"render_goal_service": "no_render_goal"}  # nobody serves it: the planner is on a robot
LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
POSES = {"left": (0.45, -0.2, 0.3), "centre": (0.6, 0.0, 0.45), "right": (0.45, 0.2, 0.3)}


class Watcher:
    """What RViz would receive from the planner, and the RViz tools' publishers, on the fake robot's node."""

    def __init__(self, robot, planner, stderr_log) -> None:
        self.goal_markers: list[MarkerArray] = []
        self.plan_markers: list[MarkerArray] = []
        self.goal_images: list[Image] = []
        self._stderr_log = stderr_log
        stderr_log.start()
        robot.create_subscription(MarkerArray, "planner_node/goal_markers", self.goal_markers.append, LATCHED)
        robot.create_subscription(MarkerArray, "planner_node/markers", self.plan_markers.append, 10)
        robot.create_subscription(Image, "planner_node/goal_image", self.goal_images.append, LATCHED)
        self.clicked_pub = robot.create_publisher(PointStamped, "clicked_point", 10)
        self.robot, self.planner = robot, planner

    def labels(self, index: int = -1) -> dict[str, Marker]:
        """Library markers (the latest, else goal_markers[index]): label text -> sphere."""
        if not self.goal_markers:
            return {}
        markers = self.goal_markers[index].markers
        spheres = {m.id: m for m in markers if m.ns == GOALS_NS}
        return {m.text: spheres[m.id] for m in markers if m.ns == LABELS_NS}

    def step_text(self, index: int = -1) -> str:
        markers = self.goal_markers[index].markers if self.goal_markers else []
        return next((m.text for m in markers if m.ns == STEP_NS), "")

    def first_step(self, words: str) -> int | None:
        """Index of the first goal_markers message whose step text holds `words`."""
        return next((i for i in range(len(self.goal_markers)) if words in self.step_text(i)), None)

    def goal_pose(self, x: float, y: float) -> None:
        """RViz's 2D Goal Pose: on the ground plane (z = 0) of the fixed frame."""
        msg = PoseStamped()
        msg.header.frame_id = "panda_link0"
        msg.pose.position.x, msg.pose.position.y, msg.pose.orientation.w = x, y, 1.0
        self.wait_until_heard("/goal_pose")
        self.robot.goal_pose_pub.publish(msg)

    @property
    def logs(self) -> list[str]:
        """The messages of the log lines so far (read from stderr: /rosout in one process drops lines of a node whose
        name an earlier test's node had)."""
        return [line.split("]: ", 1)[-1] for line in self._stderr_log.lines()]

    def wait_until_heard(self, topic: str) -> None:
        """Until the planner has discovered the tool's publisher: a click sent before is lost (and a subscription
        count on our side may still include the previous test's planner)."""
        wait_for(lambda: self.planner.count_publishers(topic) > 0)

    def click(self, xyz) -> None:
        msg = PointStamped()
        msg.header.frame_id = "panda_link0"
        msg.point.x, msg.point.y, msg.point.z = xyz
        self.wait_until_heard("/clicked_point")
        self.clicked_pub.publish(msg)


def pixels(name: str) -> bytes:
    return bytes([10 + 40 * list(POSES).index(name)] * 192)


def capture_at(planner, robot, name: str, gripper: float = 0.0) -> None:
    """Move the fake arm to POSES[name], show the camera a frame of its own, capture it."""
    robot.pose.position.x, robot.pose.position.y, robot.pose.position.z = POSES[name]
    robot.gripper, robot.image_data = gripper, pixels(name)

    def arrived() -> bool:
        state, image = planner.observations.measured_state(), planner.intake._image
        if state is None or image is None:
            return False
        return np.allclose(state[:3], POSES[name]) and bytes(image.data) == pixels(name)

    wait_for(arrived)  # the jump is refused once as implausible, the next ee_state is accepted
    assert capture_goal(planner, robot, name).success


def call(robot, srv_type, name: str, request):
    client = robot.create_client(srv_type, name)
    assert client.wait_for_service(timeout_sec=TIMEOUT)
    future = client.call_async(request)
    wait_for(future.done)
    return future.result()


def xyz(pose) -> tuple[float, float, float]:
    return pose.position.x, pose.position.y, pose.position.z


def goal_sphere(markers: MarkerArray):
    """Position of the plan markers' goal sphere (jepa_plan namespace, id 2), None when deleted."""
    goal = next(m for m in markers.markers if m.ns == "jepa_plan" and m.id == 2)
    return None if goal.action == Marker.DELETE else xyz(goal.pose)


def test_goal_pose_selects_the_nearest_library_goal_or_is_refused(make_system, stderr_log):  # noqa: F811
    planner, robot, _ = make_system(**ROBOT, rviz_sequence_window_s=0.0)
    watcher = Watcher(robot, planner, stderr_log)
    for name in POSES:
        capture_at(planner, robot, name)
    wait_for(lambda: set(watcher.labels()) == set(POSES))  # latched: one marker per goal, at its captured pose
    for name, sphere in watcher.labels().items():
        assert xyz(sphere.pose) == pytest.approx(POSES[name]) and sphere.header.frame_id == "panda_link0"
    listed = call(robot, ListGoals, "planner_node/list_goals", ListGoals.Request())
    assert listed.names == sorted(POSES) and all(listed.has_pose) and listed.frame_id == "panda_link0"
    assert [xyz(p) for p in listed.poses] == [pytest.approx(POSES[n]) for n in listed.names]
    assert list(listed.grippers) == [0.0, 0.0, 0.0] and all(t.sec > 1_600_000_000 for t in listed.captured)

    watcher.goal_pose(0.45, 0.45)  # 0.25 m from "right", horizontally
    wait_for(lambda: any("refusing goal_pose" in line for line in watcher.logs))
    refusal = next(line for line in watcher.logs if "refusing goal_pose" in line)
    assert "nearest library goal 'right' is 0.250 m away" in refusal and "rviz_goal_tolerance 0.05" in refusal

    plans_before = len(watcher.plan_markers)
    watcher.goal_pose(0.62, 0.02)  # 2.8 cm from "centre" horizontally (2D Goal Pose has z = 0)
    wait_for(lambda: watcher.goal_images and bytes(watcher.goal_images[-1].data) == pixels("centre"))
    image = watcher.goal_images[-1]
    assert (image.width, image.height, image.encoding) == (8, 8, "rgb8")
    wait_for(lambda: len(watcher.plan_markers) > plans_before)
    assert goal_sphere(watcher.plan_markers[-1]) == pytest.approx(POSES["centre"])  # plans to the selected goal
    wait_for(lambda: watcher.first_step("centre (1/1)") is not None)
    step = watcher.first_step("centre (1/1)")
    assert "observed energy" in watcher.step_text(step) and "surprise" in watcher.step_text(step)
    labels = watcher.labels(step)
    colour = lambda m: (m.color.r, m.color.g, m.color.b, m.color.a)  # noqa: E731
    assert colour(labels["1: centre"]) == pytest.approx(ACTIVE) and colour(labels["left"]) != pytest.approx(ACTIVE)
    wait_for(lambda: not watcher.step_text() and "centre" in watcher.labels())  # the goal ended: nothing active
    assert sum("refusing goal_pose" in line for line in watcher.logs) == 1

    removed = call(robot, RemoveGoal, "planner_node/remove_goal", RemoveGoal.Request(name="left"))
    assert removed.success
    wait_for(lambda: set(watcher.labels()) == {"centre", "right"})
    missing = call(robot, RemoveGoal, "planner_node/remove_goal", RemoveGoal.Request(name="left"))
    assert not missing.success and "unknown goal 'left'" in missing.message


def test_clicks_within_the_window_run_as_one_sequence(make_system, stderr_log):  # noqa: F811
    planner, robot, _ = make_system(**ROBOT, rviz_sequence_window_s=3.0, rviz_subgoal_steps=2, max_steps=4)
    watcher = Watcher(robot, planner, stderr_log)
    capture_at(planner, robot, "left")
    capture_at(planner, robot, "right", gripper=1.0)
    robot.gripper = 0.0  # the fake fingers are open again (they do not follow gripper_command)
    wait_for(lambda: set(watcher.labels()) == {"left", "right"})
    watcher.click(POSES["left"])  # Publish Point on the goal's marker: compared in 3-D
    watcher.click((0.46, 0.21, 0.31))
    wait_for(lambda: set(watcher.labels()) == {"1: left", "2: right"})  # numbered while the window is open
    grippers_before = len(robot.grippers)
    wait_for(lambda: watcher.first_step("right (2/2)") is not None)  # the budget of 2 steps on "left" was used
    assert watcher.first_step("left (1/2)") < watcher.first_step("right (2/2)")
    # ~/goal_image follows the active sub-goal; published before the step's marker, but on another topic, whose
    # message may arrive after it (one Jazzy run under load)
    wait_for(lambda: bytes(watcher.goal_images[-1].data) == pixels("right"))
    assert any(bytes(i.data) == pixels("left") for i in watcher.goal_images)
    wait_for(lambda: len(robot.grippers) >= grippers_before + 3)
    commanded = robot.grippers[grippers_before:]
    assert commanded[:2] == [0.0, 0.0] and commanded[2] == 1.0  # captured open, then captured closed
    sequence_logs = [line for line in watcher.logs if line.startswith("RViz goal:")]
    assert sequence_logs == ["RViz goal: left -> right"]
