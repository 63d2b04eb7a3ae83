"""Planner node over real rclpy with goal sequences (PlanToGoal.subgoals): budgets, early switches by energy
threshold, success on the last sub-goal, library names, feedback and result naming the active sub-goal.

Reuses the fake robot/perception and the tiny random-weight planner of test_planner_node.
"""

import pytest

pytest.importorskip("rclpy")
from jepa_msgs.action import PlanToGoal
from jepa_msgs.msg import SubGoal
from tests.integration.test_planner_node import (  # noqa: F401 (make_system is a fixture)
    capture_goal,
    goal_image,
    make_system,
    run_goal,
)

pytestmark = pytest.mark.ros
RESULT = PlanToGoal.Result


@pytest.fixture
def system(make_system):  # noqa: F811
    return make_system()


def test_budgets_switch_subgoals_and_feedback_names_the_active_one(system):
    _, robot, client = system
    subgoals = [SubGoal(name="grasp", image=goal_image(), steps=2), SubGoal(name="carry", image=goal_image(), steps=1),
                SubGoal(name="place", image=goal_image())]  # fmt: skip
    feedback = []
    result = run_goal(client, PlanToGoal.Goal(subgoals=subgoals, max_steps=5), feedback)
    assert [(f.subgoal_index, f.subgoal_name) for f in feedback] == [
        (0, "grasp"), (0, "grasp"), (1, "carry"), (2, "place"), (2, "place")
    ]  # fmt: skip
    assert result.outcome == RESULT.OUTCOME_MAX_STEPS and result.steps == 5
    assert (result.subgoal_index, result.subgoal_name) == (2, "place")
    assert list(result.subgoals_reached) == [False, False, False]
    assert robot.encode_calls == 3  # each sub-goal image encoded once, before the first step


def test_thresholds_switch_early_and_the_last_one_succeeds(system):
    """A huge threshold is met by any frame: the first observation leaves sub-goal 0, sub-goal 1 runs its budget,
    the next observation meets the last one's threshold (the goal's energy_threshold, as its own is 0)."""
    _, _, client = system
    subgoals = [SubGoal(image=goal_image(), steps=5, energy_threshold=1e9), SubGoal(image=goal_image(), steps=2),
                SubGoal(image=goal_image())]  # fmt: skip
    feedback = []
    result = run_goal(client, PlanToGoal.Goal(subgoals=subgoals, energy_threshold=1e9, max_steps=20), feedback)
    assert result.outcome == RESULT.OUTCOME_SUCCEEDED and result.success, result.reason
    assert [f.subgoal_index for f in feedback] == [1, 1] and result.steps == 2
    assert [f.subgoal_name for f in feedback] == ["subgoal_1", "subgoal_1"]
    assert (result.subgoal_index, list(result.subgoals_reached)) == (2, [True, False, True])
    assert "sub-goal 2 (subgoal_2)" in result.reason


def test_last_subgoal_budget_ends_the_sequence(system):
    _, _, client = system
    subgoals = [SubGoal(image=goal_image(), steps=1), SubGoal(image=goal_image(), steps=1, energy_threshold=1e-12)]
    result = run_goal(client, PlanToGoal.Goal(subgoals=subgoals, max_steps=50))
    assert result.outcome == RESULT.OUTCOME_MAX_STEPS and result.steps == 2
    assert "step budget of 1 used" in result.reason and result.subgoal_index == 1


def test_library_names_in_a_sequence_and_invalid_sequences(system):
    planner, robot, client = system
    assert capture_goal(planner, robot, "home").success
    named = [SubGoal(goal_name="home", steps=1), SubGoal(image=goal_image())]
    feedback = []
    result = run_goal(client, PlanToGoal.Goal(subgoals=named, max_steps=2), feedback)
    assert result.outcome == RESULT.OUTCOME_MAX_STEPS and [f.subgoal_name for f in feedback] == ["home", "subgoal_1"]
    unknown = [SubGoal(goal_name="home", steps=1), SubGoal(name="away", goal_name="nowhere")]
    result = run_goal(client, PlanToGoal.Goal(subgoals=unknown))
    assert result.outcome == RESULT.OUTCOME_INVALID_GOAL and "sub-goal 1 (away)" in result.reason
    no_budget = [SubGoal(image=goal_image()), SubGoal(image=goal_image())]  # only the last may have no budget
    result = run_goal(client, PlanToGoal.Goal(subgoals=no_budget))
    assert result.outcome == RESULT.OUTCOME_INVALID_GOAL and "steps must be >= 1" in result.reason
    assert result.steps == 0


def test_a_single_goal_reports_subgoal_zero(system):
    _, _, client = system
    feedback = []
    result = run_goal(client, PlanToGoal.Goal(goal_image=goal_image(), max_steps=2), feedback)
    assert result.outcome == RESULT.OUTCOME_MAX_STEPS and list(result.subgoals_reached) == [False]
    assert (result.subgoal_index, result.subgoal_name) == (0, "goal")
    assert [(f.subgoal_index, f.subgoal_name) for f in feedback] == [(0, "goal")] * 2
    result = run_goal(client, PlanToGoal.Goal(goal_image=goal_image(), energy_threshold=1e9, max_steps=2))
    assert result.success and list(result.subgoals_reached) == [True], result.reason  # its threshold was met


def test_surprise_stops_the_sequence_before_its_last_threshold_counts(make_system):  # noqa: F811
    """A surprise above surprise_stop_threshold wins over success, for a sequence as for one goal: the last
    sub-goal's threshold (met by any frame) was checked first and the goal SUCCEEDED on a misbehaving world."""
    _, _, client = make_system(surprise_stop_threshold=0.5)
    subgoals = [SubGoal(image=goal_image(), steps=1), SubGoal(image=goal_image(), energy_threshold=1e9)]
    result = run_goal(client, PlanToGoal.Goal(subgoals=subgoals, max_steps=10))
    assert result.outcome == RESULT.OUTCOME_SURPRISE and not result.success, result.reason
    assert result.steps == 1 and "surprise_stop_threshold 0.5" in result.reason


def test_subgoal_grippers_are_commanded_and_an_unknown_value_is_refused(system):
    """GRIPPER_OPEN / GRIPPER_CLOSED sub-goals publish that gripper command on every step they are active (the arm is
    still planned); GRIPPER_PLANNED leaves it to the CEM; an unknown value is an invalid goal naming the sub-goal."""
    _, robot, client = system
    subgoals = [SubGoal(name="open", image=goal_image(), steps=2, gripper=SubGoal.GRIPPER_OPEN),
                SubGoal(name="close", image=goal_image(), steps=2, gripper=SubGoal.GRIPPER_CLOSED),
                SubGoal(name="planned", image=goal_image())]  # fmt: skip
    robot.grippers.clear()
    result = run_goal(client, PlanToGoal.Goal(subgoals=subgoals, max_steps=4))
    assert result.outcome == RESULT.OUTCOME_MAX_STEPS and result.steps == 4, result.reason
    assert robot.grippers[:4] == [0.0, 0.0, 1.0, 1.0]  # the four steps' commands (then the hold)
    bad = [SubGoal(name="odd", image=goal_image(), steps=1, gripper=7), SubGoal(image=goal_image())]
    result = run_goal(client, PlanToGoal.Goal(subgoals=bad))
    assert result.outcome == RESULT.OUTCOME_INVALID_GOAL and result.steps == 0
    assert "sub-goal 0 (odd): gripper 7 is not one of GRIPPER_PLANNED (0)" in result.reason


def test_the_hold_keeps_the_commanded_gripper_so_a_held_object_stays_held(system):
    """Found by the grasp demo: after a goal ended (success, cancel, max steps) the hold commanded the *measured*
    gripper closure, which is below the command while the fingers are stopped by an object: the fingers opened to it
    and the lifted cube fell back onto the table. The hold keeps the measured pose and the last gripper command."""
    _, robot, client = system
    robot.gripper = 0.55  # the fingers closed on an object: measured closure below the 1.0 commanded
    subgoals = [SubGoal(name="hold_cube", image=goal_image(), steps=3, gripper=SubGoal.GRIPPER_CLOSED),
                SubGoal(name="lift", image=goal_image(), gripper=SubGoal.GRIPPER_CLOSED)]  # fmt: skip
    robot.grippers.clear()
    result = run_goal(client, PlanToGoal.Goal(subgoals=subgoals, max_steps=2))
    assert result.outcome == RESULT.OUTCOME_MAX_STEPS, result.reason
    assert robot.grippers == pytest.approx([1.0, 1.0, 1.0])  # two steps, then the hold: still closed
    assert robot.targets[-1].pose in robot.published_poses  # the hold is a measured pose
