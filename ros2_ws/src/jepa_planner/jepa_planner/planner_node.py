"""Planner node: the `plan_to_goal` action server driving the arm to a goal image with CEM MPC on the world model.

Each control step pairs the latest embedding with the latest ee_state (both newer than the previous command, finite,
in base_frame, not stamped in the future), scores the frame against the goal (success rule) and against the world
model's prediction for the previous action (surprise, published on `surprise`), plans with
`jepa_core.planning.mpc.MPCController`, checks the command (finite, workspace, step limits), publishes target_pose,
gripper_command, planned_action and markers, sends feedback, then waits for the next observation. Any stop other than
success holds a finite pose (the measured one, else the last commanded one). Goals: an image, a named goal of the
library (`capture_goal`), or an RViz `/goal_pose` rendered into an image by the simulator's `render_goal` service;
or a sequence of images/names (`subgoals`, run by `jepa_core.planning.subgoals`: each for its step budget or until an
observed frame is within its energy threshold; the last one's threshold is success), as V-JEPA 2 does pick-and-place
with grasp, carry and place images.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import rclpy
from geometry_msgs.msg import Pose, PoseStamped
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.action import ActionClient, ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Float64, Header
from visualization_msgs.msg import MarkerArray

from jepa_core.planning.mpc import MPCController, MPCStep
from jepa_core.planning.pose_prior import describe_prior
from jepa_core.planning.subgoals import Advance, SubGoal, SubGoalController
from jepa_core.planning.world_model import PlanningInterrupted
from jepa_core.stop_signals import run_until_stopped
from jepa_msgs.action import PlanToGoal
from jepa_msgs.msg import Embedding, EndEffectorState, PlannedAction, Surprise
from jepa_msgs.msg import SubGoal as SubGoalMsg
from jepa_msgs.srv import CaptureGoal, EncodeImage, RenderGoal
from jepa_perception.image_conversion import ImageConversionError, array_to_image_msg, image_msg_to_rgb8
from jepa_planner.control import READY, WAIT, GoalRun, Outcome, Stop
from jepa_planner.goals import GoalLibrary, GoalLibraryError
from jepa_planner.markers import plan_markers
from jepa_planner.messages import (
    embedding_to_tensor,
    planned_action_msg,
    pose_from_state,
    stamp_seconds,
    state_from_ee_state,
)
from jepa_planner.safety import command_violation, decoded_goal_violation, non_finite_reason
from jepa_planner.settings import PARAMETERS, PlannerSettings

LATEST_ONLY = QoSProfile(depth=1)
WAIT_POLL_S = 0.02  # how often a waiting control loop (or goal encoding) re-checks cancel and timeouts
MAX_REASON_CHARS = 500  # result reasons longer than this are cut (with a note): they end up in logs and UIs


class GoalError(ValueError):
    """A goal that cannot be turned into a goal representation (reported as OUTCOME_INVALID_GOAL)."""


# jepa_msgs/SubGoal gripper field -> the gripper a sub-goal commands (None: the CEM plans it)
SUBGOAL_GRIPPERS = {SubGoalMsg.GRIPPER_PLANNED: None, SubGoalMsg.GRIPPER_OPEN: 0.0, SubGoalMsg.GRIPPER_CLOSED: 1.0}


class GoalInterruptError(Exception):
    """Cancel, preemption or timeout while the goal was still being prepared; carries the Stop to report."""

    def __init__(self, stop: Stop) -> None:
        super().__init__(stop.reason)
        self.stop = stop


@dataclass
class Stamped:
    """A received message value with its header stamp (s, node clock) and, when it cannot be used, why."""

    value: object  # None when refused
    stamp: float
    problem: str = ""


def short_reason(reason: str) -> str:
    """`reason` cut to MAX_REASON_CHARS, saying how much was cut."""
    if len(reason) <= MAX_REASON_CHARS:
        return reason
    return f"{reason[:MAX_REASON_CHARS]}... ({len(reason) - MAX_REASON_CHARS} more characters)"


class PlannerNode(Node):
    """Action server `plan_to_goal`, service `capture_goal`, RViz goal subscriber; publishes commands and plans."""

    def __init__(self, **kwargs) -> None:
        """Declare parameters, load the world model and create every ROS interface."""
        super().__init__("planner_node", **kwargs)
        for param in PARAMETERS:
            self.declare_parameter(param.name, param.default, ParameterDescriptor(description=param.description))
        self.settings = PlannerSettings.from_values({p.name: self.get_parameter(p.name).value for p in PARAMETERS})
        values = self.settings.values
        self.world_model = self.settings.build_world_model()
        self.controller = MPCController(self.world_model, self.settings.mpc)
        self.library = GoalLibrary(values["goal_library_dir"])
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._observed = threading.Event()
        self._embedding: Stamped | None = None
        self._ee_state: Stamped | None = None  # value: (state [7], EndEffectorState)
        self._image: Image | None = None
        self._active_goal: object | None = None
        self._last_command: tuple[Pose, float] | None = None  # last finite target pose and gripper command
        self._subgoals: SubGoalController | None = None  # the running goal's sequence (one entry for a single goal)
        group = ReentrantCallbackGroup()
        self.create_subscription(Embedding, values["embedding_topic"], self._on_embedding, LATEST_ONLY,
                                 callback_group=group)  # fmt: skip
        self.create_subscription(EndEffectorState, values["ee_state_topic"], self._on_ee_state, LATEST_ONLY,
                                 callback_group=group)  # fmt: skip
        self.create_subscription(Image, values["image_topic"], self._on_image, qos_profile_sensor_data,
                                 callback_group=group)  # fmt: skip
        self.create_subscription(PoseStamped, values["goal_pose_topic"], self._on_goal_pose, 1, callback_group=group)
        self._target_pub = self.create_publisher(PoseStamped, values["target_pose_topic"], 10)
        self._gripper_pub = self.create_publisher(Float64, values["gripper_command_topic"], 10)
        self._plan_pub = self.create_publisher(PlannedAction, values["planned_action_topic"], 10)
        self._markers_pub = self.create_publisher(MarkerArray, values["markers_topic"], 10)
        self._surprise_pub = self.create_publisher(Surprise, values["surprise_topic"], 10)
        self._encode_client = self.create_client(EncodeImage, values["encode_service"], callback_group=group)
        self._render_client = self.create_client(RenderGoal, values["render_goal_service"], callback_group=group)
        self.create_service(CaptureGoal, "capture_goal", self._capture_goal, callback_group=group)
        self._action_server = ActionServer(
            self, PlanToGoal, "plan_to_goal", execute_callback=self._execute,
            goal_callback=lambda _: GoalResponse.ACCEPT, cancel_callback=lambda _: CancelResponse.ACCEPT,
            callback_group=group,
        )  # fmt: skip
        self._self_client = ActionClient(self, PlanToGoal, "plan_to_goal", callback_group=group)
        self.get_logger().info(
            f"planner ready: goal encoder '{values['goal_encoder']}', device {values['device']}, "
            f"CEM {self.settings.mpc.cem.samples}x{self.settings.mpc.cem.iterations}, "
            f"K={self.settings.mpc.context_steps}, goal-position prior "
            f"{describe_prior(self.world_model.goal_prior, values['pose_prior_weight'])}"
        )

    # ---- inputs -------------------------------------------------------------------------------------------------
    def _now(self) -> float:
        """Node clock time, s (simulation time when use_sim_time is set)."""
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_embedding(self, msg: Embedding) -> None:
        """Keep the latest embedding and wake a waiting control loop."""
        with self._lock:
            self._embedding = Stamped(msg, stamp_seconds(msg.header.stamp))
        self._observed.set()

    def _on_ee_state(self, msg: EndEffectorState) -> None:
        """Keep the latest end-effector state (a state vector, or why it is refused) and wake a waiting control loop.

        A refused message replaces the previous one, so a running goal stops on it instead of planning on old data.
        """
        base = self.settings.values["base_frame"]
        value, problem = None, ""
        if msg.header.frame_id != base:
            problem = f"ee_state in frame '{msg.header.frame_id}', expected base_frame '{base}'"
        else:
            try:
                value = (state_from_ee_state(msg), msg)
            except ValueError as error:
                problem = str(error)
        if problem:
            self.get_logger().warning(f"refusing ee_state: {problem}", throttle_duration_sec=5.0)
        with self._lock:
            self._ee_state = Stamped(value, stamp_seconds(msg.header.stamp), problem)
        self._observed.set()

    def _measured_state(self) -> np.ndarray | None:
        """The latest usable measured state [7], or None."""
        with self._lock:
            ee_state = self._ee_state
        return None if ee_state is None or ee_state.problem else ee_state.value[0]

    def _on_image(self, msg: Image) -> None:
        """Keep the latest camera image for capture_goal (converted only when captured)."""
        self._image = msg

    # ---- goals ---------------------------------------------------------------------------------------------------
    def _capture_goal(self, request: CaptureGoal.Request, response: CaptureGoal.Response) -> CaptureGoal.Response:
        """Store the latest camera frame (and the flange position, when known) as a named goal."""
        image = self._image
        name = request.name or f"goal_{int(time.time())}"
        if image is None:
            response.success, response.message = False, f"no image received on {self.settings.values['image_topic']}"
            return response
        state = self._measured_state()
        extra = {} if state is None else {"state": state.tolist()}
        try:
            path = self.library.save(name, image_msg_to_rgb8(image), overwrite=request.overwrite, **extra)
        except (GoalLibraryError, ImageConversionError) as error:
            response.success, response.message = False, str(error)
            return response
        response.success, response.name, response.path = True, name, str(path)
        return response

    def _on_goal_pose(self, msg: PoseStamped) -> None:
        """RViz goal pose -> image rendered by the simulator -> library goal -> a plan_to_goal goal sent to itself."""
        if not self._render_client.service_is_ready():
            self.get_logger().warning(
                f"ignoring {self.settings.values['goal_pose_topic']}: no {self.settings.values['render_goal_service']} "
                "service (RViz goals need a simulator that renders goal images)"
            )
            return
        base = self.settings.values["base_frame"]
        if msg.header.frame_id and msg.header.frame_id != base:
            self.get_logger().warning(f"ignoring goal pose in frame '{msg.header.frame_id}': expected '{base}'")
            return
        state = self._measured_state()
        gripper = 0.0 if state is None else float(state[6])
        future = self._render_client.call_async(RenderGoal.Request(pose=msg.pose, gripper=gripper))
        future.add_done_callback(lambda done: self._on_goal_rendered(done.result(), msg))

    def _on_goal_rendered(self, response: RenderGoal.Response | None, goal: PoseStamped) -> None:
        """Store the rendered goal and start planning to it."""
        if response is None or not response.success:
            reason = "no response" if response is None else response.message
            self.get_logger().error(f"render_goal failed for the RViz goal: {reason}")
            return
        name = self.settings.values["rviz_goal_name"]
        position = goal.pose.position
        try:
            rgb = image_msg_to_rgb8(response.image)
            self.library.save(name, rgb, overwrite=True, position=[position.x, position.y, position.z], source="rviz")
        except (GoalLibraryError, ImageConversionError) as error:
            self.get_logger().error(f"cannot store the RViz goal: {error}")
            return
        self._self_client.send_goal_async(PlanToGoal.Goal(goal_name=name))

    def _encode_goal_image(self, image: Image, rgb: np.ndarray | None, interrupted: Callable[[], Stop | None]):
        """Goal representation [N, D] from the perception node's encode_image service or the local encoder.

        While waiting for the service, `interrupted` is polled every WAIT_POLL_S; a Stop it returns (cancel,
        preemption, timeout) raises GoalInterruptError.
        """
        values = self.settings.values
        if values["goal_encoder"] == "local":
            try:
                rgb = image_msg_to_rgb8(image) if rgb is None else rgb
            except ImageConversionError as error:
                raise GoalError(f"goal image: {error}") from None
            return self.world_model.encode_images(rgb[None])[0]
        timeout, service = values["encode_timeout_s"], values["encode_service"]
        if not self._poll(self._encode_client.service_is_ready, timeout, interrupted, "waiting for " + service):
            raise GoalError(f"service {service} not available within {timeout} s")
        done = threading.Event()
        future = self._encode_client.call_async(EncodeImage.Request(image=image))
        future.add_done_callback(lambda _: done.set())
        if not self._poll(done.is_set, timeout, interrupted, "encoding the goal image"):
            future.cancel()
            raise GoalError(f"{service} did not answer within {timeout} s")
        response = future.result()
        if not response.success:
            raise GoalError(f"{values['encode_service']} failed: {response.message}")
        try:
            return embedding_to_tensor(
                response.embedding, self.world_model.tokens_per_frame, self.world_model.embed_dim
            )
        except ValueError as error:
            raise GoalError(str(error)) from None

    @staticmethod
    def _poll(ready: Callable[[], bool], timeout: float, interrupted: Callable[[], Stop | None], doing: str) -> bool:
        """Wait until `ready()` (True) or `timeout` s (False), checking `interrupted` every WAIT_POLL_S."""
        deadline = time.monotonic() + timeout
        while not ready():
            stop = interrupted()
            if stop is not None:
                raise GoalInterruptError(Stop(stop.outcome, f"{stop.reason} (while {doing})"))
            if time.monotonic() > deadline:
                return False
            time.sleep(WAIT_POLL_S)
        return True

    def _goal_representation(self, goal_name: str, goal_image: Image, interrupted: Callable[[], Stop | None]):
        """Goal representation [N, D] and, when known, the goal flange position [3] (for markers): the library's, else
        the goal-position prior's decoded one (refused when outside the workspace box)."""
        known = None
        if goal_name:
            try:
                rgb, metadata = self.library.load(goal_name)
            except GoalLibraryError as error:
                raise GoalError(str(error)) from None
            position = metadata.get("position", metadata.get("state", [None] * 3)[:3])
            known = None if position[0] is None else np.asarray(position, dtype=np.float64)
            rep = self._encode_goal_image(array_to_image_msg(rgb, "rgb8"), rgb, interrupted)
        elif goal_image.width == 0 or goal_image.height == 0:
            raise GoalError("goal has neither goal_name nor a goal_image")
        else:
            rep = self._encode_goal_image(goal_image, None, interrupted)
        reason = non_finite_reason(goal_embedding=rep.cpu().numpy())  # a broken encoder: no energy can be planned
        if reason:
            raise GoalError(f"{reason} (check the goal image and the encoder)")
        prior = self.world_model.goal_prior
        if prior is not None:
            decoded = prior.goal_position(rep.to(self.world_model.device)).double().cpu().numpy()
            problem = decoded_goal_violation(decoded, self.settings.safety)
            if problem is not None:
                raise GoalError(problem)
            known = decoded if known is None else known
        return rep, known

    def _goal_sequence(self, goal: PlanToGoal.Goal, threshold: float, interrupted: Callable[[], Stop | None]):
        """The goal as a sequence: representations [N, D], flange positions (or None) and SubGoals. A goal without
        `subgoals` is one entry (goal_name or goal_image); with them, the last one's energy threshold defaults to
        `threshold` (the goal's, else the node's)."""
        if not goal.subgoals:
            rep, position = self._goal_representation(goal.goal_name, goal.goal_image, interrupted)
            return [rep], [position], [SubGoal(goal.goal_name or "goal")]
        reps, positions, subgoals = [], [], []
        for index, entry in enumerate(goal.subgoals):
            name = entry.name or entry.goal_name or f"subgoal_{index}"
            try:
                rep, position = self._goal_representation(entry.goal_name, entry.image, interrupted)
            except GoalError as error:
                raise GoalError(f"sub-goal {index} ({name}): {error}") from None
            if entry.gripper not in SUBGOAL_GRIPPERS:
                raise GoalError(
                    f"sub-goal {index} ({name}): gripper {entry.gripper} is not one of GRIPPER_PLANNED (0), "
                    "GRIPPER_OPEN (1), GRIPPER_CLOSED (2)"
                )
            reps.append(rep)
            positions.append(position)
            subgoals.append(SubGoal(name, entry.steps, entry.energy_threshold, SUBGOAL_GRIPPERS[entry.gripper]))
        if subgoals[-1].energy_threshold <= 0:
            subgoals[-1] = replace(subgoals[-1], energy_threshold=threshold)
        return reps, positions, subgoals

    # ---- control loop --------------------------------------------------------------------------------------------
    def _execute(self, goal_handle) -> PlanToGoal.Result:
        """Run one goal to its end (a newer goal preempts it); returns the result and sets the terminal state."""
        token = object()
        self._active_goal = token
        start_wall = time.perf_counter()
        with self._run_lock:
            self._subgoals = None
            run, stop = self._run(goal_handle, token)
            sequence = None if self._subgoals is None else self._subgoals.sequence
        result = PlanToGoal.Result(
            success=stop.outcome == Outcome.SUCCEEDED, outcome=int(stop.outcome), reason=short_reason(stop.reason),
            steps=0 if run is None else run.steps, elapsed=time.perf_counter() - start_wall,
            initial_energy=float("nan") if run is None else run.initial_energy,
            final_energy=float("nan") if run is None else run.final_energy,
        )  # fmt: skip
        if sequence is not None:
            result.subgoal_index, result.subgoal_name = sequence.index, sequence.active.name
            # success means the active (last) sub-goal's threshold was met, whether the sequence or the goal saw it
            result.subgoals_reached = [
                r or (result.success and i == sequence.index) for i, r in enumerate(sequence.reached)
            ]
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
        """The control loop of one goal; every non-success stop holds a finite pose."""
        goal = goal_handle.request
        try:
            limits = self.settings.goal_limits(goal.max_steps, goal.timeout, goal.energy_threshold)
        except ValueError as error:
            return None, Stop(Outcome.INVALID_GOAL, str(error))
        # with sub-goals the sequence judges success (the last one's threshold), not the run
        run = GoalRun(replace(limits, energy_threshold=0.0) if goal.subgoals else limits, self._now())
        interrupted = lambda: self._interruption(goal_handle, token, run)  # noqa: E731
        try:
            reps, goal_positions, subgoals = self._goal_sequence(goal, limits.energy_threshold, interrupted)
            self._subgoals = SubGoalController(self.controller, reps, subgoals)
        except GoalInterruptError as interruption:
            return run, interruption.stop
        except (GoalError, ValueError) as error:
            return run, Stop(Outcome.INVALID_GOAL, str(error))
        except Exception as error:  # a fault of the node itself: the client still gets a result naming it
            return run, self._fault(error, "preparing the goal")
        while True:
            self._observed.clear()
            stop = interrupted()
            if stop is None:
                try:
                    stop = self._control_step(goal_handle, run, goal_positions, interrupted)
                except Exception as error:  # a fault of the node itself: report it and hold like any other stop
                    stop = self._fault(error, f"control step {run.steps}")
            if stop is WAIT:
                self._observed.wait(WAIT_POLL_S)
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

    def _control_step(
        self, goal_handle, run: GoalRun, goal_positions: list, interrupted: Callable[[], Stop | None]
    ) -> Stop | str | None:
        """Plan and command one step when a new paired observation is there; WAIT, a Stop, or None (step done).

        Planning polls `interrupted` before every predictor call, so a cancel, preemption or timeout ends it early.
        """
        with self._lock:
            embedding, ee_state = self._embedding, self._ee_state
        status = run.observation_status(
            self._now(), None if embedding is None else embedding.stamp, None if ee_state is None else ee_state.stamp
        )
        if status != READY:
            return status
        if ee_state.problem:
            return Stop(Outcome.INVALID_OBSERVATION, f"{ee_state.problem}; holding the last finite pose")
        state = ee_state.value[0]
        try:
            rep = embedding_to_tensor(embedding.value, self.world_model.tokens_per_frame, self.world_model.embed_dim)
        except ValueError as error:
            return Stop(Outcome.INVALID_OBSERVATION, str(error))
        reason = non_finite_reason(embedding=rep.numpy())
        if reason:
            return Stop(Outcome.INVALID_OBSERVATION, f"{reason}; holding the pose")
        observation = Header(stamp=embedding.value.header.stamp, frame_id=self.settings.values["base_frame"])
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
            decision, update = self._subgoals.step(rep, state, lambda: interrupted() is not None)
        except PlanningInterrupted:
            stop = interrupted()
            return Stop(stop.outcome, f"{stop.reason} (while planning step {run.steps})")
        except (ValueError, RuntimeError) as error:
            return Stop(Outcome.INTERNAL_ERROR, f"planning failed: {error}")
        reason = non_finite_reason(energy=decision.energy, target=decision.target_state.numpy())
        if reason:
            return Stop(Outcome.INTERNAL_ERROR, reason)
        with self._lock:
            latest = self._ee_state  # the robot may have gone silent (or wrong) while the plan was computed
        if latest.problem:
            return Stop(Outcome.INVALID_OBSERVATION, f"{latest.problem}; holding the last finite pose")
        stop = run.check_state_before_command(self._now(), latest.stamp)
        if stop is not None:
            return stop
        violation = command_violation(state, decision.target_state.numpy(), self.settings.safety)
        if violation:
            return Stop(Outcome.SAFETY_LIMIT, violation)
        command_time = self._now()  # before publishing: the next observation may be stamped right after the target
        self._publish_step(run.steps, decision, observation, goal_positions[active])
        run.record_step(decision.energy, command_time)
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
        """Command a finite pose to hold: the latest measured one when usable, else the last commanded one; nothing
        (and a warning) when there is neither. The gripper keeps its last command: the measured closure of fingers
        stopped by an object is below it, and commanding that would open them and drop what they hold."""
        with self._lock:
            ee_state = self._ee_state
        if ee_state is not None and not ee_state.problem:
            state, msg = ee_state.value
            gripper = float(state[6]) if self._last_command is None else self._last_command[1]
            self._command(msg.pose, gripper)
        elif self._last_command is not None:
            self._command(*self._last_command)
        else:
            problem = "no ee_state received" if ee_state is None else ee_state.problem
            self.get_logger().warning(f"nothing commanded to hold the arm: {problem} and no earlier command")


def main(args=None) -> None:
    """Console script `planner_node`: spin on a multi-threaded executor until SIGINT/SIGTERM (once or twice), then
    clean up quietly and exit 0."""
    run_until_stopped(
        start=lambda: rclpy.init(args=args), build=PlannerNode, run=_spin_multi_threaded,
        close=PlannerNode.destroy_node, finish=rclpy.try_shutdown, stopped_by=(ExternalShutdownException,),
    )  # fmt: skip


def _spin_multi_threaded(node: PlannerNode) -> None:
    """Spin on 4 threads (goal execution, observations and services at once) until the context is shut down."""
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(node)
    try:
        executor.spin()
    finally:
        executor.shutdown()
