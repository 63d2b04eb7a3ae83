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

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.qos import QoSProfile
from std_msgs.msg import Header

from jepa_core.planning.mpc import MPCController
from jepa_core.planning.pose_prior import describe_prior
from jepa_core.planning.subgoals import Advance, SubGoalController
from jepa_core.planning.world_model import PlanningInterrupted
from jepa_msgs.action import PlanToGoal
from jepa_msgs.msg import Embedding, EndEffectorState
from jepa_planner.commands import Commander
from jepa_planner.control import WAIT, GoalRun, Outcome, Stop
from jepa_planner.goal_intake import GoalError, GoalIntake, GoalInterruptError, GoalPlan
from jepa_planner.messages import goal_result
from jepa_planner.observations import Observations
from jepa_planner.settings import PARAMETERS, PlannerSettings
from jepa_planner.status import PlannerStatus
from jepa_ros_common.diagnostics import DiagnosticsPublisher
from jepa_ros_common.lifecycle import ManagedNode, destroy_entities
from jepa_ros_common.parameters import declare_table
from jepa_ros_common.poses import pose_from_state
from jepa_ros_common.process import in_thread, run_node

LATEST_ONLY = QoSProfile(depth=1)
WAIT_POLL_S = 0.02  # how often a waiting control loop re-checks cancel and timeouts
STOP_WAIT_S = 5.0  # deactivate waits this long for the running goal to end with its hold


class PlannerNode(ManagedNode):
    """Managed node with the action server `plan_to_goal`; configure loads the world model, activate accepts goals,
    deactivate ends the running goal holding the arm, cleanup frees the model. Goals come via `GoalIntake`."""

    def __init__(self, **kwargs) -> None:
        """Declare parameters, create the action server and diagnostics, then autostart (configure, activate)."""
        super().__init__("planner_node", **kwargs)
        self._values = declare_table(self, PARAMETERS, on_change=self._on_parameters)
        self.settings = PlannerSettings.from_values(self._values)
        self._group = ReentrantCallbackGroup()
        self._run_lock = threading.Lock()
        self._active_goal: object | None = None
        self._stop_reason = ""  # set by deactivate or a stop signal: the running goal ends with it
        self._subgoals: SubGoalController | None = None  # the running goal's sequence (one entry for a single goal)
        self._entities: list = []  # what configure created and cleanup destroys
        self.world_model = self.controller = self.intake = self.commands = None
        self.observations = Observations(self.settings.values["base_frame"], self.settings.motion)
        self.status = PlannerStatus()
        self._action_server = ActionServer(
            self, PlanToGoal, "plan_to_goal", execute_callback=self._execute,
            goal_callback=lambda _: GoalResponse.ACCEPT, cancel_callback=lambda _: CancelResponse.ACCEPT,
            callback_group=self._group,
        )  # fmt: skip
        DiagnosticsPublisher(self, self._diagnose, self.settings.values["diagnostics_period_s"])
        self.autostart()

    # ---- lifecycle and parameters --------------------------------------------------------------------------------
    def configure(self) -> None:
        """Validate the settings, load the world model and create the topics and services."""
        values = self._values
        self.settings = PlannerSettings.from_values(values)
        self.world_model = self.settings.build_world_model()
        self.controller = MPCController(self.world_model, self.settings.mpc)
        self.observations = Observations(values["base_frame"], self.settings.motion)
        self.intake = GoalIntake(self, lambda: self.settings, self.world_model, self.observations,
                                 self._start_local_goal, self._group)  # fmt: skip
        self.commands = Commander(self, lambda: self.settings, self.observations)
        self._entities = [
            self.create_subscription(Embedding, values["embedding_topic"], self.observations.on_embedding,
                                     LATEST_ONLY, callback_group=self._group),
            self.create_subscription(EndEffectorState, values["ee_state_topic"], self._on_ee_state, LATEST_ONLY,
                                     callback_group=self._group),
            *self.commands.entities,
        ]  # fmt: skip
        self.get_logger().info(
            f"planner configured: goal encoder '{values['goal_encoder']}', device {values['device']}, "
            f"CEM {self.settings.mpc.cem.samples}x{self.settings.mpc.cem.iterations}, "
            f"K={self.settings.mpc.context_steps}, goal-position prior "
            f"{describe_prior(self.world_model.goal_prior, values['pose_prior_weight'])}"
        )

    def activate(self) -> None:
        self._stop_reason = ""

    def deactivate(self) -> None:
        """End the running goal (it holds the arm while the publishers are still active), then stop commanding."""
        self._stop_reason = "the planner was deactivated"  # checked before every predictor call
        if self._run_lock.acquire(timeout=STOP_WAIT_S):
            self._run_lock.release()
        else:
            self.get_logger().error(f"the running goal did not end within {STOP_WAIT_S} s of deactivate")

    def cleanup(self) -> None:
        """Destroy what configure created and drop the models (memory back to the device)."""
        self.intake.destroy()
        destroy_entities(self, self._entities)
        self._entities, self.world_model, self.controller, self.intake, self.commands = [], None, None, None, None

    def on_stop_requested(self) -> None:
        """SIGINT/SIGTERM (jepa_ros_common.process): the running goal ends with a result and its hold."""
        self._stop_reason = "the planner process is stopping (SIGINT/SIGTERM)"

    def stop_pending(self) -> bool:
        """True while a goal is still ending (the process keeps spinning for its hold and result)."""
        return self._run_lock.locked()

    def _on_parameters(self, changed: dict) -> None:
        """Live parameters: validate the whole set (a ValueError refuses it), then use it from the next step/goal."""
        settings = PlannerSettings.from_values(self._values | changed)
        self._values, self.settings = settings.values, settings
        self.observations.motion = settings.motion

    def _diagnose(self):
        """The /diagnostics report (status.PlannerStatus.report)."""
        values = self.settings.values
        return self.status.report(self.state_label, self.last_error, self.observations.ages(self._now()),
                                  values["stale_timeout_s"], self.settings.diagnostics)  # fmt: skip

    def _now(self) -> float:
        """Node clock time, s (simulation time when use_sim_time is set)."""
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_ee_state(self, msg: EndEffectorState) -> None:
        """Keep the latest ee_state (or why it is refused: a running goal stops on it)."""
        problem = self.observations.on_ee_state(msg)
        if problem:
            self.get_logger().warning(f"refusing ee_state: {problem}", throttle_duration_sec=5.0)

    # ---- one goal ------------------------------------------------------------------------------------------------
    async def _execute(self, goal_handle) -> PlanToGoal.Result:
        """Action server callback: the goal runs on a thread of its own while this coroutine awaits its result, so no
        executor thread is held for a whole goal (in a shared executor that starved the sim's and encoder's callbacks
        and stretched the control period)."""
        return await in_thread(self._run_goal, goal_handle, executor=self.executor)

    def _start_local_goal(self, goal_handle) -> None:
        """Run a goal_intake/rviz_goals LocalGoal (an RViz click) on a thread of its own."""
        threading.Thread(target=self._run_goal, args=(goal_handle,), name="planner_goal", daemon=True).start()

    def _run_goal(self, goal_handle) -> PlanToGoal.Result:
        """Run one goal (an action goal, or a LocalGoal) to its end (a newer goal preempts it); returns the result and
        sets the terminal state."""
        start_wall = time.perf_counter()
        if not self.is_active:
            run, stop, sequence = None, Stop(Outcome.INACTIVE, f"the planner is {self.state_label}, not active: "
                                             "goals are refused until it is activated"), None  # fmt: skip
        else:
            token = object()
            self._active_goal = token
            with self._run_lock:
                self._subgoals = None
                self.status.goal_started(goal_handle.request.goal_name or "goal")
                run, stop = self._run(goal_handle, token)
                sequence = None if self._subgoals is None else self._subgoals.sequence
                self.intake.rviz.goal_ended()
        self.status.goal_ended(stop)
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
        """Deactivation or a stop signal, cancel, preemption by a newer goal, timeout or step limit of the goal
        `token`, else None."""
        if self._stop_reason:
            return Stop(Outcome.INACTIVE, f"{self._stop_reason}; holding the pose")
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
            self.commands.hold(self._now())
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
            self.commands.surprise(observation, run.steps - 1, surprise, run.limits.surprise_stop_threshold)
        stop = run.check_observation(observed_energy, surprise)  # surprise first: a misbehaving world is no success
        if stop is None and update.advance is Advance.REACHED:  # the sequence's own success (its last threshold)
            stop = Stop(Outcome.SUCCEEDED, f"{update.reason} after {run.steps} steps")
        if stop is not None:
            return stop
        active = self._subgoals.sequence.index
        if self.controller.config is not self.settings.mpc:  # live parameters changed since the last step
            self.controller.reconfigure(self.settings.mpc)
        try:
            decision = self._subgoals.plan(rep, state, lambda: interrupted() is not None)
        except PlanningInterrupted:
            stop = interrupted()
            return Stop(stop.outcome, f"{stop.reason} (while planning step {run.steps})")
        except (ValueError, RuntimeError) as error:
            return Stop(Outcome.INTERNAL_ERROR, f"planning failed: {error}")
        stop = self.commands.refusal(run, state, decision, self._now())
        if stop is not None:
            return stop
        self.status.step_planned(decision.planning_time)
        command_time = self._now()  # before publishing: the next observation may be stamped right after the target
        self.commands.step(run.steps, decision, observation, plan.positions[active])
        self.intake.rviz.show_step(active, state, observed_energy, surprise)
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


def main(args=None) -> None:
    """Console script `planner_node`: spin on 4 threads (goal execution, observations and services at once) until
    SIGINT/SIGTERM, let the running goal end with its hold and result (on_stop_requested), exit 0."""
    run_node(PlannerNode, args, threads=4)
