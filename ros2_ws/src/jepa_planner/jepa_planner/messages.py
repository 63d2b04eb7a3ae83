"""The planner's own messages: PlannedAction of one control step, PlanToGoal results (shared conversions:
jepa_ros_common)."""

from __future__ import annotations

import math

from std_msgs.msg import Header

from jepa_core.planning.mpc import MPCStep
from jepa_core.planning.subgoals import SubGoalSequence
from jepa_msgs.action import PlanToGoal
from jepa_msgs.msg import PlannedAction
from jepa_planner.control import GoalRun, Outcome, Stop
from jepa_ros_common.poses import pose_from_state

MAX_REASON_CHARS = 500  # result reasons longer than this are cut (with a note): they end up in logs and UIs


def short_reason(reason: str) -> str:
    """`reason` cut to MAX_REASON_CHARS, saying how much was cut."""
    if len(reason) <= MAX_REASON_CHARS:
        return reason
    return f"{reason[:MAX_REASON_CHARS]}... ({len(reason) - MAX_REASON_CHARS} more characters)"


def goal_result(stop: Stop, run: GoalRun | None, sequence: SubGoalSequence | None, elapsed: float) -> PlanToGoal.Result:
    """The result of a goal that ended with `stop` after `elapsed` s (`run` None: refused before it started)."""
    result = PlanToGoal.Result(
        success=stop.outcome == Outcome.SUCCEEDED, outcome=int(stop.outcome), reason=short_reason(stop.reason),
        steps=0 if run is None else run.steps, elapsed=elapsed,
        initial_energy=math.nan if run is None else run.initial_energy,
        final_energy=math.nan if run is None else run.final_energy,
    )  # fmt: skip
    if sequence is not None:
        active = sequence.index
        result.subgoal_index, result.subgoal_name = active, sequence.active.name
        # success means the active (last) sub-goal's threshold was met, whether the sequence or the goal saw it
        result.subgoals_reached = [r or (result.success and i == active) for i, r in enumerate(sequence.reached)]
    return result


def planned_action_msg(header: Header, step: int, decision: MPCStep, samples: int) -> PlannedAction:
    """PlannedAction of one control step (header: stamp of the observation, frame of the base)."""
    target = decision.target_state.numpy()
    return PlannedAction(
        header=header,
        step=step,
        state=decision.state.tolist(),
        action=decision.action.tolist(),
        plan=decision.plan.flatten().tolist(),
        target_pose=pose_from_state(target),
        target_gripper=float(target[6]),
        predicted_path=[pose_from_state(s) for s in decision.predicted_states[1:].numpy()],
        energy=decision.energy,
        iterations=decision.iterations,
        samples=samples,
        planning_time=decision.planning_time,
    )
