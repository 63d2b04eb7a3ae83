"""Planner node over real rclpy: robot state that is fresh but wrong, or old, never becomes a command or a hold
(issue 23 items 1-3 and 8). Reuses the fake robot/perception and the tiny planner of test_planner_node."""

import copy
import math

import numpy as np
import pytest

pytest.importorskip("rclpy")
from sensor_msgs.msg import Image

from jepa_msgs.action import PlanToGoal
from jepa_msgs.msg import SubGoal
from tests.integration.test_planner_node import (  # noqa: F401 (make_system is a fixture)
    goal_image,
    make_system,
    run_goal,
    send,
    wait_for,
)

pytestmark = pytest.mark.ros
RESULT = PlanToGoal.Result
GLITCH = (0.5, 0.0, 0.0)  # m: inside the workspace box from the fake robot's start, fresh stamps


@pytest.fixture
def system(make_system):  # noqa: F811
    return make_system()


def xyz(pose) -> np.ndarray:
    return np.array([pose.position.x, pose.position.y, pose.position.z])


def farthest_command(robot, truth: list[np.ndarray]) -> float:
    """Largest distance between a commanded target and the true arm position it was sent from (the fake robot
    teleports to each target, so the true position before target i is target i-1, else the start)."""
    return max(float(np.linalg.norm(xyz(t.pose) - p)) for t, p in zip(robot.targets, truth, strict=True))


def true_positions(start: np.ndarray, robot) -> list[np.ndarray]:
    return [start] + [xyz(t.pose) for t in robot.targets[:-1]]


@pytest.mark.parametrize("pattern", ["every_other", "single"])
def test_a_fresh_but_wrong_ee_state_ends_the_goal_and_is_never_commanded(system, pattern):
    """Item 1: with every other ee_state 0.5 m off the planner sent targets ~0.5 m from the arm and held the glitched
    pose; a single glitch gave one such target."""
    _, robot, client = system
    start = xyz(robot.pose)
    feedback = []
    _, result_future = send(client, PlanToGoal.Goal(goal_image=goal_image(), max_steps=1000), feedback)
    wait_for(lambda: len(feedback) >= 2)
    first_glitch = robot.ee_count + 1
    robot.ee_glitch = {
        "every_other": lambda n: GLITCH if n >= first_glitch and (n - first_glitch) % 2 == 0 else None,
        "single": lambda n: GLITCH if n == first_glitch else None,
    }[pattern]
    wait_for(result_future.done)
    result = result_future.result().result
    assert result.outcome == RESULT.OUTCOME_INVALID_OBSERVATION, result.reason
    assert "implausible ee_state" in result.reason and "previous pose" in result.reason
    assert farthest_command(robot, true_positions(start, robot)) <= 0.135 + 1e-6  # max_translation_step
    hold = xyz(robot.targets[-1].pose)
    assert np.linalg.norm(hold - xyz(robot.targets[-2].pose)) < 1e-9  # the last command, not the glitched pose


def test_a_glitch_at_the_start_is_waited_out_not_planned_from(make_system):  # noqa: F811
    """Before the first command an implausible ee_state (a reset's jump, a glitch) is waited out; while ee_state
    stays implausible the goal ends without any command."""
    _, robot, client = make_system(observation_timeout_s=1.0)
    robot.ee_glitch = lambda n: GLITCH if n % 2 else None
    wait_for(lambda: robot.ee_count > 4)
    result = run_goal(client, PlanToGoal.Goal(goal_image=goal_image(), max_steps=3))
    assert result.outcome == RESULT.OUTCOME_INVALID_OBSERVATION and result.steps == 0
    assert "implausible" in result.reason and robot.targets == []  # nothing to hold: no command was ever sent


@pytest.mark.parametrize("earlier_command", [False, True])
def test_the_hold_never_uses_a_stale_pose(make_system, earlier_command):  # noqa: F811
    """Item 2: ee_state silent 3 s while the arm moved 0.3 m, then a goal: the hold commanded the 4 s old pose,
    0.3 m from the arm. Now it holds the last command, else commands nothing (silent 1.5 s here, the timeouts 1 s)."""
    _, robot, client = make_system(stale_timeout_s=1.0, observation_timeout_s=1.0)
    if earlier_command:
        assert run_goal(client, PlanToGoal.Goal(goal_image=goal_image(), max_steps=1)).steps == 1
    last_command = robot.targets[-1].pose if robot.targets else None
    wait_for(lambda: robot.ee_pub.get_subscription_count() > 0)
    measured = copy.deepcopy(robot.pose)  # (robot.pose may be the last target message itself)
    measured.position.x += 0.05  # the arm settled 5 cm from its last command
    robot.pose = measured
    published = robot.ee_count
    wait_for(lambda: robot.ee_count >= published + 5)  # the planner has measured it
    commands_before = len(robot.targets)
    robot.ee_alive = False
    silent_from = robot.get_clock().now().nanoseconds * 1e-9
    wait_for(lambda: robot.get_clock().now().nanoseconds * 1e-9 - silent_from > 1.5)  # > stale_timeout_s
    moved = copy.deepcopy(measured)
    moved.position.x -= 0.3
    robot.pose = moved  # the arm moved (e.g. by hand) while its state was not published
    result = run_goal(client, PlanToGoal.Goal(goal_image=goal_image(), max_steps=3))
    assert result.outcome == RESULT.OUTCOME_STALE_OBSERVATION and result.steps == 0
    if earlier_command:
        assert len(robot.targets) == commands_before + 1
        assert robot.targets[-1].pose == last_command != measured  # the last command, not the old measured pose
    else:
        assert len(robot.targets) == commands_before == 0  # nothing usable to hold: nothing commanded


def test_embeddings_of_another_encoder_are_refused(system):
    """Item 3: Embedding.model was never compared; a switch to another encoder with the same grid was planned with."""
    _, robot, client = system
    feedback = []
    _, result_future = send(client, PlanToGoal.Goal(goal_image=goal_image(), max_steps=1000), feedback)
    wait_for(lambda: len(feedback) >= 2)
    robot.model = "other.pt[encoder]"
    wait_for(result_future.done)
    result = result_future.result().result
    assert result.outcome == RESULT.OUTCOME_INVALID_OBSERVATION
    assert "'other.pt[encoder]'" in result.reason and "'fake'" in result.reason


def test_a_refused_first_plan_names_the_first_subgoal(make_system):  # noqa: F811
    """Item 8: the sequence advanced before the safety checks, so a refused first plan named sub-goal 1."""
    _, _, client = make_system(max_translation_step=1e-6)  # every planned step is refused
    subgoals = [SubGoal(name="approach", image=goal_image(), steps=1), SubGoal(name="grasp", image=goal_image())]
    result = run_goal(client, PlanToGoal.Goal(subgoals=subgoals, max_steps=5))
    assert result.outcome == RESULT.OUTCOME_SAFETY_LIMIT and result.steps == 0
    assert (result.subgoal_index, result.subgoal_name) == (0, "approach")


def test_a_huge_goal_image_is_refused_before_it_is_forwarded(system):
    """Item 8: a 10000 x 10000 px goal image was forwarded whole to encode_image (planner at 1.5 GB)."""
    _, robot, client = system
    huge = Image(height=10000, width=10000, encoding="rgb8", step=30000)  # the size fields alone are refused
    result = run_goal(client, PlanToGoal.Goal(goal_image=huge))
    assert result.outcome == RESULT.OUTCOME_INVALID_GOAL and "10000x10000" in result.reason
    assert robot.encode_calls == 0 and not math.isnan(result.elapsed)
