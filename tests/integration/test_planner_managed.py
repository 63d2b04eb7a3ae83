"""Planner node as a ROS 2 driver (issue 24): managed lifecycle, live parameters, /diagnostics. Reuses the fake
robot/perception and the tiny planner of test_planner_node."""

import pytest

pytest.importorskip("rclpy")
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rclpy.parameter import Parameter

from jepa_msgs.action import PlanToGoal
from tests.integration.test_planner_node import (  # noqa: F401 (make_system is a fixture)
    goal_image,
    make_system,
    run_goal,
    send,
    wait_for,
)

pytestmark = pytest.mark.ros
RESULT = PlanToGoal.Result


def change_state(robot, transition: int) -> bool:
    """Drive the planner's lifecycle through its change_state service, as `ros2 lifecycle set` does."""
    client = robot.create_client(ChangeState, "planner_node/change_state")
    assert client.wait_for_service(timeout_sec=30)
    future = client.call_async(ChangeState.Request(transition=Transition(id=transition)))
    wait_for(future.done)
    return future.result().success


def test_a_supervisor_drives_the_lifecycle(make_system):  # noqa: F811
    planner, robot, client = make_system(autostart=False)
    assert planner.state_label == "unconfigured" and planner.world_model is None  # nothing loaded yet
    refused = run_goal(client, PlanToGoal.Goal(goal_image=goal_image(), max_steps=2))
    assert refused.outcome == RESULT.OUTCOME_INACTIVE and "unconfigured" in refused.reason
    assert change_state(robot, Transition.TRANSITION_CONFIGURE) and planner.state_label == "inactive"
    assert run_goal(client, PlanToGoal.Goal(goal_image=goal_image())).outcome == RESULT.OUTCOME_INACTIVE
    assert change_state(robot, Transition.TRANSITION_ACTIVATE)
    assert run_goal(client, PlanToGoal.Goal(goal_image=goal_image(), max_steps=2)).outcome == RESULT.OUTCOME_MAX_STEPS

    feedback = []
    _, result_future = send(client, PlanToGoal.Goal(goal_image=goal_image(), max_steps=1000), feedback)
    wait_for(lambda: len(feedback) >= 2)
    targets_before = len(robot.targets)
    assert change_state(robot, Transition.TRANSITION_DEACTIVATE)  # mid-goal: ends it, holding the arm
    wait_for(result_future.done)
    result = result_future.result().result
    assert result.outcome == RESULT.OUTCOME_INACTIVE and "deactivated" in result.reason
    wait_for(lambda: len(robot.targets) > targets_before)  # the hold went out before the publishers stopped
    hold = robot.targets[-1]
    robot.alive = True
    assert run_goal(client, PlanToGoal.Goal(goal_image=goal_image())).outcome == RESULT.OUTCOME_INACTIVE
    assert robot.targets[-1] is hold  # nothing commanded while inactive
    assert change_state(robot, Transition.TRANSITION_CLEANUP) and planner.world_model is None
    assert change_state(robot, Transition.TRANSITION_CONFIGURE) and planner.world_model is not None


def test_a_broken_configuration_fails_configure_with_the_reason(make_system):  # noqa: F811
    planner, robot, _ = make_system(autostart=False, predictor_preset="no_such_preset")
    assert not change_state(robot, Transition.TRANSITION_CONFIGURE)
    assert planner.state_label == "unconfigured" and "no_such_preset" in planner.last_error


def test_live_parameters_apply_from_the_next_goal_and_bad_values_are_refused(system):
    planner, robot, client = system
    run_goal(client, PlanToGoal.Goal(goal_image=goal_image(), max_steps=1))
    assert robot.plans[-1].samples == 16
    results = planner.set_parameters([Parameter("cem.samples", value=8), Parameter("max_steps", value=2)])
    assert all(r.successful for r in results)
    result = run_goal(client, PlanToGoal.Goal(goal_image=goal_image()))
    assert result.steps == 2 and robot.plans[-1].samples == 8  # max_steps and the CEM size both took effect
    bad = planner.set_parameters([Parameter("cem.samples", value=0)])[0]
    assert not bad.successful and "samples" in bad.reason
    assert planner.get_parameter("cem.samples").value == 8
    read_only = planner.set_parameters([Parameter("device", value="cuda")])[0]
    assert not read_only.successful and "read-only" in read_only.reason


def test_diagnostics_report_state_goal_and_planning_time(system):
    _, robot, client = system
    reports = []
    robot.create_subscription(DiagnosticArray, "/diagnostics", reports.append, 10)
    run_goal(client, PlanToGoal.Goal(goal_image=goal_image(), max_steps=2))

    def planner_status():
        statuses = [s for r in reports for s in r.status if s.name == "/planner_node"]
        return statuses[-1] if statuses else None

    # a report published while the goal ran has its planning time but no outcome yet: wait for one from after it
    wait_for(lambda: planner_status() is not None and keys(planner_status())["last_outcome"].startswith("MAX_STEPS"))
    status = planner_status()
    values = keys(status)
    assert values["lifecycle_state"] == "active" and "planning_time_s_p95" in values
    assert status.level == DiagnosticStatus.OK, status.message
    robot.alive = False  # observations stop: the report turns WARN naming their age
    wait_for(lambda: planner_status().level == DiagnosticStatus.WARN and "age" in planner_status().message)


@pytest.fixture
def system(make_system):  # noqa: F811
    return make_system()


def keys(status) -> dict:
    return {kv.key: kv.value for kv in status.values}
