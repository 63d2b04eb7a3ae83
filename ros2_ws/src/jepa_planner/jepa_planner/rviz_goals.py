"""Goals from RViz and what RViz shows of them: the goal library as latched markers, the active goal image, and the
running goal's per-step monitor text (observed energy and surprise) next to the flange.

In simulation (the `render_goal` service is up) a `/goal_pose` is rendered into a goal image as before. Otherwise (a
robot) a `/goal_pose` (2D Goal Pose) or `/clicked_point` (Publish Point) selects the library goal captured nearest to
it within `rviz_goal_tolerance` m, else it is refused with a log line naming the nearest goal and its distance. 2D
Goal Pose lies on the fixed frame's ground plane, so it is compared horizontally (x, y); a clicked point, which RViz
puts on a surface (e.g. a goal's marker), in 3-D. Goals clicked less than `rviz_sequence_window_s` apart become one
sub-goal sequence (each with its captured gripper and the budget `rviz_subgoal_steps`, the last one without a
budget) that starts when the window closes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from geometry_msgs.msg import PointStamped, PoseStamped
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from sensor_msgs.msg import Image
from visualization_msgs.msg import MarkerArray

from jepa_msgs.action import PlanToGoal
from jepa_msgs.msg import SubGoal as SubGoalMsg
from jepa_msgs.srv import RenderGoal
from jepa_planner.goals import GoalLibrary, GoalLibraryError, GoalRecord, nearest_goal
from jepa_planner.library_markers import StepText, library_markers, step_text
from jepa_planner.observations import Observations
from jepa_planner.settings import PlannerSettings
from jepa_ros_common.images import ImageConversionError, image_msg_to_rgb8

if TYPE_CHECKING:
    from jepa_planner.goal_intake import GoalPlan

LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
HORIZONTAL, SPATIAL = slice(0, 2), slice(0, 3)  # axes a clicked position is compared over
CLICKS = 10  # queue depth of the click topics: quick clicks of a sequence are all kept
CLOSED_FROM = 0.5  # a goal captured with the gripper closed at least this much is a GRIPPER_CLOSED sub-goal


class LocalGoal:
    """A goal the node runs for itself (from RViz): the action goal handle's interface, with nobody to tell."""

    def __init__(self, request: PlanToGoal.Goal) -> None:
        self.request = request
        self.is_cancel_requested = False

    def publish_feedback(self, _feedback: PlanToGoal.Feedback) -> None:
        """Nobody listens (its steps are on planned_action and the markers)."""

    def succeed(self) -> None:
        """Nobody to tell (the node logs the result)."""

    canceled = abort = succeed


def clicked_subgoal(record: GoalRecord, steps: int) -> SubGoalMsg:
    """The sub-goal of a clicked library goal: its captured gripper (planned when unknown) and a step budget."""
    if record.state is None:
        gripper = SubGoalMsg.GRIPPER_PLANNED
    else:
        gripper = SubGoalMsg.GRIPPER_CLOSED if record.state[6] >= CLOSED_FROM else SubGoalMsg.GRIPPER_OPEN
    return SubGoalMsg(name=record.name, goal_name=record.name, steps=steps, gripper=gripper)


class RvizGoals:
    """Subscribes to the RViz goal topics, publishes the library markers and the goal image."""

    def __init__(
        self,
        node: Node,
        settings: Callable[[], PlannerSettings],
        library: GoalLibrary,
        observations: Observations,
        start_goal: Callable[[LocalGoal], object],
        callback_group,
    ) -> None:
        """`settings()` gives the node's current settings (live parameters); `start_goal` starts a LocalGoal (on a
        thread of the node's). `entities` lists what it created on `node` (destroyed by the node's cleanup)."""
        self.node, self._settings, self.library = node, settings, library
        self.observations, self.start_goal = observations, start_goal
        values = self.values
        self._lock = threading.Lock()
        self._clicked: list[GoalRecord] = []  # goals clicked in the open sequence window
        self._goal: GoalPlan | None = None  # the running goal, as shown
        self._active = 0  # its active sub-goal
        self._step: StepText | None = None
        self._markers_pub = node.create_publisher(MarkerArray, values["goal_markers_topic"], LATCHED)
        self._image_pub = node.create_publisher(Image, values["goal_image_topic"], LATCHED)
        self._render_client = node.create_client(RenderGoal, values["render_goal_service"],
                                                 callback_group=callback_group)  # fmt: skip
        # The window starts the goal (which blocks its thread until the goal ends); clicks are taken one at a time, in
        # order, so a click during a goal still preempts it.
        self._window = node.create_timer(values["rviz_sequence_window_s"], self._start_clicked, callback_group)
        self._window.cancel()  # started by the first click, restarted by each further one
        clicks = MutuallyExclusiveCallbackGroup()
        self.entities = [
            self._markers_pub, self._image_pub, self._render_client, self._window,
            node.create_subscription(PoseStamped, values["goal_pose_topic"], self._on_goal_pose, CLICKS,
                                     callback_group=clicks),
            node.create_subscription(PointStamped, values["clicked_point_topic"], self._on_clicked_point, CLICKS,
                                     callback_group=clicks),
        ]  # fmt: skip
        self.publish_markers()

    @property
    def values(self) -> dict:
        """The node's current parameter values."""
        return self._settings().values

    # ---- what RViz shows -----------------------------------------------------------------------------------------
    def publish_markers(self) -> None:
        """Publish the library markers: goals, the sequence being clicked (else the running one) numbered, the active
        sub-goal highlighted, the running goal's step text."""
        try:
            records = self.library.records()
        except GoalLibraryError as error:
            self.node.get_logger().error(f"goal library markers not published: {error}")
            return
        with self._lock:
            running = [] if self._goal is None else self._goal.names
            active = running[self._active] if running and running[self._active] else None
            sequence = [r.name for r in self._clicked] or running
            step = self._step
        stamp = self.node.get_clock().now().to_msg()
        self._markers_pub.publish(library_markers(self.values["base_frame"], stamp, records, sequence, active, step))

    def show_goal(self, plan: GoalPlan) -> None:
        """A goal starts: publish its first goal image and highlight it."""
        with self._lock:
            self._goal, self._active, self._step = plan, 0, None
        self._image_pub.publish(plan.images[0])
        self.publish_markers()

    def show_step(self, active: int, state: np.ndarray, observed_energy: float, surprise: float | None) -> None:
        """A control step was commanded towards sub-goal `active` from flange state [7]: the monitor text (and the goal
        image when the active sub-goal changed)."""
        with self._lock:
            plan = self._goal
            if plan is None:
                return
            changed, self._active = active != self._active, active
            text = step_text(plan.subgoals[active].name, active, len(plan.subgoals), observed_energy, surprise)
            self._step = StepText(np.asarray(state[:3], dtype=np.float64), text)
        if changed:
            self._image_pub.publish(plan.images[active])
        self.publish_markers()

    def goal_ended(self) -> None:
        """The goal ended: nothing is active any more (the goal image stays latched)."""
        with self._lock:
            self._goal, self._step = None, None
        self.publish_markers()

    # ---- clicks --------------------------------------------------------------------------------------------------
    def _on_goal_pose(self, msg: PoseStamped) -> None:
        """2D Goal Pose: rendered by the simulator when it serves render_goal, else a library goal selection."""
        if not self._in_base_frame(msg.header.frame_id, "goal pose"):
            return
        p = msg.pose.position
        if self._render_client.service_is_ready():
            self._render(msg)
        else:
            self._select(np.array([p.x, p.y, p.z]), HORIZONTAL, self.values["goal_pose_topic"])

    def _on_clicked_point(self, msg: PointStamped) -> None:
        """Publish Point: a library goal selection in 3-D."""
        if self._in_base_frame(msg.header.frame_id, "clicked point"):
            p = msg.point
            self._select(np.array([p.x, p.y, p.z]), SPATIAL, self.values["clicked_point_topic"])

    def _in_base_frame(self, frame_id: str, what: str) -> bool:
        """True for base_frame (or no frame); else a warning (the planner does no TF lookups)."""
        if not frame_id or frame_id == self.values["base_frame"]:
            return True
        self.node.get_logger().warning(f"ignoring {what} in frame '{frame_id}': expected '{self.values['base_frame']}'")
        return False

    def _select(self, point: np.ndarray, axes: slice, topic: str) -> None:
        """Add the library goal nearest `point` to the clicked sequence, or refuse the click saying why."""
        log, tolerance = self.node.get_logger(), self.values["rviz_goal_tolerance"]
        where = "(" + ", ".join(f"{v:.3f}" for v in point[axes]) + ")"
        try:
            found = nearest_goal(self.library.records(), point, axes)
        except GoalLibraryError as error:
            found, reason = None, str(error)
        else:
            reason = "no library goal has a captured pose (capture_goal stores the robot's)"
        if found is not None and found[1] > tolerance:
            reason = f"the nearest library goal '{found[0].name}' is {found[1]:.3f} m away"
        if found is None or found[1] > tolerance:
            log.warning(f"refusing {topic} at {where}: {reason} (rviz_goal_tolerance {tolerance} m)")
            return
        log.info(f"{topic} at {where} selects library goal '{found[0].name}' ({found[1]:.3f} m away)")
        with self._lock:
            self._clicked.append(found[0])
        self._window.reset()
        self.publish_markers()

    def _start_clicked(self) -> None:
        """The sequence window closed: run the clicked goals as one sub-goal sequence."""
        self._window.cancel()
        with self._lock:
            clicked, self._clicked = self._clicked, []
        if not clicked:
            return
        budget = self.values["rviz_subgoal_steps"]
        subgoals = [clicked_subgoal(r, budget if i < len(clicked) - 1 else 0) for i, r in enumerate(clicked)]
        names = " -> ".join(r.name for r in clicked)
        self.node.get_logger().info(f"RViz goal: {names}")
        self.start_goal(LocalGoal(PlanToGoal.Goal(subgoals=subgoals)))

    # ---- simulation: render the clicked pose -----------------------------------------------------------------------
    def _render(self, goal: PoseStamped) -> None:
        """Ask the simulator for the image of `goal` (with the measured gripper)."""
        state = self.observations.measured_state()
        gripper = 0.0 if state is None else float(state[6])
        future = self._render_client.call_async(RenderGoal.Request(pose=goal.pose, gripper=gripper))
        future.add_done_callback(lambda done: self._on_goal_rendered(done.result(), goal))

    def _on_goal_rendered(self, response: RenderGoal.Response | None, goal: PoseStamped) -> None:
        """Store the rendered goal under rviz_goal_name and plan to it."""
        log = self.node.get_logger()
        if response is None or not response.success:
            log.error(
                f"render_goal failed for the RViz goal: {'no response' if response is None else response.message}"
            )
            return
        name = self.values["rviz_goal_name"]
        p = goal.pose.position
        try:
            rgb = image_msg_to_rgb8(response.image, self.values["max_goal_image_pixels"])
            self.library.save(name, rgb, overwrite=True, position=[p.x, p.y, p.z], source="rviz")
        except (GoalLibraryError, ImageConversionError) as error:
            log.error(f"cannot store the RViz goal: {error}")
            return
        self.publish_markers()
        self.start_goal(LocalGoal(PlanToGoal.Goal(goal_name=name)))
