"""What the planner sends: target pose and gripper command (what the robot obeys), the planned action, RViz markers
and the surprise, on lifecycle publishers (silent unless the node is active); the checks before a command, the last
command and the hold."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from geometry_msgs.msg import Pose, PoseStamped
from std_msgs.msg import Float64, Header
from visualization_msgs.msg import MarkerArray

from jepa_core.planning.mpc import MPCStep
from jepa_msgs.msg import PlannedAction, Surprise
from jepa_planner.control import GoalRun, Outcome, Stop
from jepa_planner.markers import plan_markers
from jepa_planner.messages import planned_action_msg
from jepa_planner.observations import Observations
from jepa_planner.safety import command_violation, non_finite_reason
from jepa_planner.settings import PlannerSettings
from jepa_ros_common.lifecycle import ManagedNode
from jepa_ros_common.poses import pose_from_state


class Commander:
    """Creates the planner's output publishers on `node` and publishes one control step, the surprise, or a hold."""

    def __init__(self, node: ManagedNode, settings: Callable[[], PlannerSettings], observations: Observations) -> None:
        """`settings()` gives the node's current settings (live parameters)."""
        self.node, self._settings, self.observations = node, settings, observations
        values = settings().values
        pub = node.create_lifecycle_publisher
        self._target_pub = pub(PoseStamped, values["target_pose_topic"], 10)
        self._gripper_pub = pub(Float64, values["gripper_command_topic"], 10)
        self._plan_pub = pub(PlannedAction, values["planned_action_topic"], 10)
        self._markers_pub = pub(MarkerArray, values["markers_topic"], 10)
        self._surprise_pub = pub(Surprise, values["surprise_topic"], 10)
        self.entities = [self._target_pub, self._gripper_pub, self._plan_pub, self._markers_pub, self._surprise_pub]
        self.last_command: tuple[Pose, float] | None = None  # last finite target pose and gripper command

    def refusal(self, run: GoalRun, state: np.ndarray, decision: MPCStep, now: float) -> Stop | None:
        """Why the planned step may not be commanded, else None: after planning, the plan must be finite, the robot's
        state still fresh and plausible (it may have gone silent or wrong while the plan was computed) and the step
        within the safety limits from `state` [7]."""
        reason = non_finite_reason(energy=decision.energy, target=decision.target_state.numpy())
        if reason:
            return Stop(Outcome.INTERNAL_ERROR, reason)
        _, latest = self.observations.latest()
        if latest.problem:
            return Stop(Outcome.INVALID_OBSERVATION, f"{latest.problem}; holding the last finite pose")
        stop = run.check_state_before_command(now, latest.stamp)
        if stop is not None:
            return stop
        violation = command_violation(state, decision.target_state.numpy(), self._settings().safety)
        return None if violation is None else Stop(Outcome.SAFETY_LIMIT, violation)

    def step(self, step: int, decision: MPCStep, observation: Header, goal_position) -> None:
        """Publish target pose, gripper command, the planned action and RViz markers of one step."""
        target = decision.target_state.numpy()
        self._command(pose_from_state(target), float(target[6]))
        samples = self._settings().mpc.cem.samples
        self._plan_pub.publish(planned_action_msg(observation, step, decision, samples))
        path = decision.predicted_states.numpy()
        now = self.node.get_clock().now().to_msg()
        self._markers_pub.publish(plan_markers(observation.frame_id, now, path, decision.energy, goal_position))

    def surprise(self, observation: Header, step: int, surprise: float, threshold: float) -> None:
        """Publish the surprise of the action executed at `step`."""
        self._surprise_pub.publish(Surprise(header=observation, step=step, surprise=surprise, stop_threshold=threshold))

    def _command(self, pose: Pose, gripper: float) -> None:
        """Publish a finite flange target (base frame) and gripper command, gripper first (a lockstep simulator steps
        on the target), and remember it as the pose to hold when the measured one is unusable."""
        header = Header(stamp=self.node.get_clock().now().to_msg(), frame_id=self._settings().values["base_frame"])
        self._gripper_pub.publish(Float64(data=gripper))
        self._target_pub.publish(PoseStamped(header=header, pose=pose))
        self.last_command = (pose, gripper)

    def hold(self, now: float) -> None:
        """Command a pose to hold: the measured one when the planner would plan from it (fresh, plausible), else the
        last commanded one; nothing (and a warning) when there is neither. The gripper keeps its last command: the
        measured closure of fingers stopped by an object is below it, and commanding it would drop what they hold."""
        limits = self._settings().goal_limits(0, 0.0, 0.0)
        measured, problem = self.observations.pose_to_hold(now, limits.stale_timeout_s, limits.future_tolerance_s)
        if measured is not None:
            gripper = float(measured.state[6]) if self.last_command is None else self.last_command[1]
            self._command(measured.pose, gripper)
        elif self.last_command is not None:
            self._command(*self.last_command)
        else:
            self.node.get_logger().warning(f"nothing commanded to hold the arm: {problem} and no earlier command")
