"""Planner node: the `plan_to_goal` action server driving the arm to a goal image with CEM MPC on the world model.

Each control step pairs the latest embedding with the latest ee_state (`observations`: both newer than the previous
command, finite, in base_frame, plausible, not stamped in the future, from the goal's encoder), scores the frame
against the goal (success rule) and against the world model's prediction for the previous action (surprise,
published on `surprise`), plans with `jepa_core.planning.mpc.MPCController`, checks the command (finite, workspace,
step limits), publishes target_pose, gripper_command, planned_action and markers, sends feedback, then waits for the
next observation. Any stop other than success holds a pose the planner would plan from (else the last command).
Goals (an image, a library name, a sub-goal sequence, an RViz pose) are prepared by `goal_intake`.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from dataclasses import replace

from geometry_msgs.msg import Pose, PoseStamped
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSProfile
from std_msgs.msg import Float64, Header
from visualization_msgs.msg import MarkerArray

from jepa_core.planning.mpc import MPCController, MPCStep
from jepa_core.planning.pose_prior import describe_prior
from jepa_core.planning.subgoals import Advance, SubGoalController
from jepa_core.planning.world_model import PlanningInterrupted
from jepa_msgs.action import PlanToGoal
from jepa_msgs.msg import Embedding, EndEffectorState, PlannedAction, Surprise
from jepa_planner.control import WAIT, GoalRun, Outcome, Stop
from jepa_planner.goal_intake import GoalError, GoalIntake, GoalInterruptError, GoalPlan
from jepa_planner.markers import plan_markers
from jepa_planner.messages import goal_result, planned_action_msg
from jepa_planner.observations import Observations
from jepa_planner.safety import command_violation, non_finite_reason
from jepa_planner.settings import PARAMETERS, PlannerSettings
from jepa_ros_common.parameters import declare_table
from jepa_ros_common.poses import pose_from_state
from jepa_ros_common.process import run_node

LATEST_ONLY = QoSProfile(depth=1)
WAIT_POLL_S = 0.02  # how often a waiting control loop re-checks cancel and timeouts


class PlannerNode(Node):
    """Action server `plan_to_goal`; publishes commands, plans, markers and surprise; goals via `GoalIntake`."""

    def __init__(self, **kwargs) -> None:
        """Declare parameters, load the world model and create every ROS interface."""
        super().__init__("planner_node", **kwargs)
        self.settings = PlannerSettings.from_values(declare_table(self, PARAMETERS))
        values = self.settings.values
        self.world_model = self.settings.build_world_model()
        self.controller = MPCController(self.world_model, self.settings.mpc)
        self.observations = Observations(values["base_frame"], self.settings.motion)
        self._run_lock = threading.Lock()
        self._active_goal: object | None = None
        self._last_command: tuple[Pose, float] | None = None  # last finite target pose and gripper command
        self._subgoals: SubGoalController | None = None  # the running goal's sequence (one entry for a single goal)
        group = ReentrantCallbackGroup()
        self.intake = GoalIntake(self, self.settings, self.world_model, self.observations, self._execute, group)
        self.create_subscription(Embedding, values["embedding_topic"], self.observations.on_embedding, LATEST_ONLY,
                                 callback_group=group)  # fmt: skip
        self.create_subscription(EndEffectorState, values["ee_state_topic"], self._on_ee_state, LATEST_ONLY,
                                 callback_group=group)  # fmt: skip
        self._target_pub = self.create_publisher(PoseStamped, values["target_pose_topic"], 10)
        self._gripper_pub = self.create_publisher(Float64, values["gripper_command_topic"], 10)
        self._plan_pub = self.create_publisher(PlannedAction, values["planned_action_topic"], 10)
        self._markers_pub = self.create_publisher(MarkerArray, values["markers_topic"], 10)
        self._surprise_pub = self.create_publisher(Surprise, values["surprise_topic"], 10)
        self._action_server = ActionServer(
            self, PlanToGoal, "plan_to_goal", execute_callback=self._execute,
            goal_callback=lambda _: GoalResponse.ACCEPT, cancel_callback=lambda _: CancelResponse.ACCEPT,
            callback_group=group,
        )  # fmt: skip
        self.get_logger().info(
            f"planner ready: goal encoder '{values['goal_encoder']}', device {values['device']}, "
            f"CEM {self.settings.mpc.cem.samples}x{self.settings.mpc.cem.iterations}, "
            f"K={self.settings.mpc.context_steps}, goal-position prior "
            f"{describe_prior(self.world_model.goal_prior, values['pose_prior_weight'])}"
        )

    def _now(self) -> float:
        """Node clock time, s (simulation time when use_sim_time is set)."""
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_ee_state(self, msg: EndEffectorState) -> None:
        """Keep the latest ee_state (or why it is refused: a running goal stops on it)."""
        problem = self.observations.on_ee_state(msg)
        if problem:
            self.get_logger().warning(f"refusing ee_state: {problem}", throttle_duration_sec=5.0)

    # ---- one goal ------------------------------------------------------------------------------------------------
    def _execute(self, goal_handle) -> PlanToGoal.Result:
        """Run one goal (an action goal, or a goal_intake.LocalGoal) to its end (a newer goal preempts it); returns the
        result and sets the terminal state."""
        token = object()
        self._active_goal = token
        start_wall = time.perf_counter()
        with self._run_lock:
            self._subgoals = None
            run, stop = self._run(goal_handle, token)
            sequence = None if self._subgoals is None else self._subgoals.sequence
        result = goal_result(stop, run, sequence, time.perf_counter() - start_wall)
        if stop.outcome == Outcome.SUCCEEDED:
            goal_handle.succeed()
        elif stop.outcome == Outcome.CANCELED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()
        # One call site per severity: rclpy refuses a logging call site whose severity changes between calls.
        if result.success:
            self.get_logger().info(f"goal finished: {stop.outcome.name}: {result.reason}")
        else:
            self.get_logger().warning(f"goal finished: {stop.outcome.name}: {result.reason}")
        return result

    def _interruption(self, goal_handle, token: object, run: GoalRun) -> Stop | None:
        """Cancel, preemption by a newer goal, timeout or step limit of the goal `token`, else None."""
        preempted = self._active_goal is not token
        stop = run.interruption(self._now(), goal_handle.is_cancel_requested or preempted)
        if stop is not None and preempted and not goal_handle.is_cancel_requested:
            stop = Stop(Outcome.CANCELED, "preempted by a newer goal; holding the current pose")
        return stop

    def _run(self, goal_handle, token: object) -> tuple[GoalRun | None, Stop]:
        """The control loop of one goal; every non-success stop holds a pose."""
        goal = goal_handle.request
        try:
            limits = self.settings.goal_limits(goal.max_steps, goal.timeout, goal.energy_threshold)
        except ValueError as error:
            return None, Stop(Outcome.INVALID_GOAL, str(error))
        # with sub-goals the sequence judges success (the last one's threshold), not the run
        run = GoalRun(replace(limits, energy_threshold=0.0) if goal.subgoals else limits, self._now())
        interrupted = lambda: self._interruption(goal_handle, token, run)  # noqa: E731
        try:
            plan = self.intake.sequence(goal, limits.energy_threshold, interrupted)
            self._subgoals = SubGoalController(self.controller, plan.representations, plan.subgoals)
        except GoalInterruptError as interruption:
            return run, interruption.stop
        except (GoalError, ValueError) as error:
            return run, Stop(Outcome.INVALID_GOAL, str(error))
        except Exception as error:  # a fault of the node itself: the client still gets a result naming it
            return run, self._fault(error, "preparing the goal")
        while True:
            self.observations.arrived.clear()
            stop = interrupted()
            if stop is None:
                try:
                    stop = self._control_step(goal_handle, run, plan, interrupted)
                except Exception as error:  # a fault of the node itself: report it and hold like any other stop
                    stop = self._fault(error, f"control step {run.steps}")
            if stop is WAIT:
                self.observations.arrived.wait(WAIT_POLL_S)
                continue
            if stop is not None:
                break
        if stop.outcome != Outcome.SUCCEEDED:
            self._hold()
        return run, stop

    def _fault(self, error: Exception, doing: str) -> Stop:
        """INTERNAL_ERROR for an exception no check anticipated (a bug, not a bad goal or observation), logged with its
        traceback: otherwise it would leave the execute callback, and rclpy answers an empty result (outcome 0 =
        SUCCEEDED) without anyone holding the arm."""
        self.get_logger().error(f"unexpected error while {doing}:\n{traceback.format_exc()}")
        reason = f"unexpected {type(error).__name__} while {doing}: {error}; holding the pose"
        return Stop(Outcome.INTERNAL_ERROR, reason)

    def _control_step(self, goal_handle, run: GoalRun, plan: GoalPlan, interrupted) -> Stop | str | None:
        """Plan and command one step when a new paired observation is there; WAIT, a Stop, or None (step done).

        Planning polls `interrupted` before every predictor call, so a cancel, preemption or timeout ends it early.
        """
        observed = self.observations.pair(self._now(), run, plan.model, self.world_model)
        if not isinstance(observed, tuple):
            return observed
        msg, rep, state = observed
        observation = Header(stamp=msg.header.stamp, frame_id=self.settings.values["base_frame"])
        observed_energy, update = self._subgoals.observe(rep)  # may move on to the next sub-goal
        surprise = self.controller.surprise(rep)
        if surprise is not None:
            self._surprise_pub.publish(Surprise(header=observation, step=run.steps - 1, surprise=surprise,
                                                stop_threshold=run.limits.surprise_stop_threshold))  # fmt: skip
        stop = run.check_observation(observed_energy, surprise)  # surprise first: a misbehaving world is no success
        if stop is None and update.advance is Advance.REACHED:  # the sequence's own success (its last threshold)
            stop = Stop(Outcome.SUCCEEDED, f"{update.reason} after {run.steps} steps")
        if stop is not None:
            return stop
        active = self._subgoals.sequence.index
        try:
            decision = self._subgoals.plan(rep, state, lambda: interrupted() is not None)
        except PlanningInterrupted:
            stop = interrupted()
            return Stop(stop.outcome, f"{stop.reason} (while planning step {run.steps})")
        except (ValueError, RuntimeError) as error:
            return Stop(Outcome.INTERNAL_ERROR, f"planning failed: {error}")
        stop = self._command_check(run, state, decision)
        if stop is not None:
            return stop
        command_time = self._now()  # before publishing: the next observation may be stamped right after the target
        self._publish_step(run.steps, decision, observation, plan.positions[active])
        run.record_step(decision.energy, command_time)
        update = self._subgoals.record_step()  # only a commanded step counts against the sub-goal's budget
        feedback = PlanToGoal.Feedback(
            step=run.steps - 1, energy=decision.energy, best_energy=run.best_energy,
            action=decision.action.tolist(), target_pose=pose_from_state(decision.target_state.numpy()),
            planning_time=decision.planning_time, observed_energy=observed_energy,
            surprise=math.nan if surprise is None else surprise,
            subgoal_index=active, subgoal_name=self._subgoals.sequence.subgoals[active].name,
        )  # fmt: skip
        goal_handle.publish_feedback(feedback)
        if update.advance is Advance.EXHAUSTED:
            return Stop(Outcome.MAX_STEPS, f"{update.reason} without reaching its energy threshold")
        return None

    def _command_check(self, run: GoalRun, state, decision: MPCStep) -> Stop | None:
        """After planning, before commanding: a finite plan, a robot state still fresh and plausible, a safe step."""
        reason = non_finite_reason(energy=decision.energy, target=decision.target_state.numpy())
        if reason:
            return Stop(Outcome.INTERNAL_ERROR, reason)
        _, latest = self.observations.latest()  # the robot may have gone silent (or wrong) while the plan was computed
        if latest.problem:
            return Stop(Outcome.INVALID_OBSERVATION, f"{latest.problem}; holding the last finite pose")
        stop = run.check_state_before_command(self._now(), latest.stamp)
        if stop is not None:
            return stop
        violation = command_violation(state, decision.target_state.numpy(), self.settings.safety)
        return None if violation is None else Stop(Outcome.SAFETY_LIMIT, violation)

    # ---- commands ------------------------------------------------------------------------------------------------
    def _publish_step(self, step: int, decision: MPCStep, observation: Header, goal_position) -> None:
        """Publish target pose, gripper command, the planned action and RViz markers of one step."""
        target = decision.target_state.numpy()
        self._command(pose_from_state(target), float(target[6]))
        samples = self.settings.mpc.cem.samples
        self._plan_pub.publish(planned_action_msg(observation, step, decision, samples))
        path = decision.predicted_states.numpy()
        now = self.get_clock().now().to_msg()
        self._markers_pub.publish(plan_markers(observation.frame_id, now, path, decision.energy, goal_position))

    def _command(self, pose: Pose, gripper: float) -> None:
        """Publish a finite flange target (base frame) and gripper command, gripper first (a lockstep simulator steps
        on the target), and remember it as the pose to hold when the measured one is unusable."""
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.settings.values["base_frame"])
        self._gripper_pub.publish(Float64(data=gripper))
        self._target_pub.publish(PoseStamped(header=header, pose=pose))
        self._last_command = (pose, gripper)

    def _hold(self) -> None:
        """Command a pose to hold: the measured one when the planner would plan from it (fresh, plausible), else the
        last commanded one; nothing (and a warning) when there is neither. The gripper keeps its last command: the
        measured closure of fingers stopped by an object is below it, and commanding it would drop what they hold."""
        limits = self.settings.goal_limits(0, 0.0, 0.0)
        measured, problem = self.observations.pose_to_hold(self._now(), limits.stale_timeout_s,
                                                           limits.future_tolerance_s)  # fmt: skip
        if measured is not None:
            gripper = float(measured.state[6]) if self._last_command is None else self._last_command[1]
            self._command(measured.pose, gripper)
        elif self._last_command is not None:
            self._command(*self._last_command)
        else:
            self.get_logger().warning(f"nothing commanded to hold the arm: {problem} and no earlier command")


def main(args=None) -> None:
    """Console script `planner_node`: spin on 4 threads (goal execution, observations and services at once) until
    SIGINT/SIGTERM, let the running goal end with its hold and result (on_stop_requested), exit 0."""
    run_node(PlannerNode, args, threads=4)
