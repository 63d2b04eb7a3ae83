"""ROS-free parts of the planner node: goal run state machine, safety checks, goal library, RViz markers."""

import math

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from visualization_msgs.msg import Marker

from jepa_planner.control import READY, WAIT, GoalLimits, GoalRun, Outcome, Stop
from jepa_planner.goals import GoalLibrary, GoalLibraryError
from jepa_planner.markers import plan_markers
from jepa_planner.safety import SafetyLimits, command_violation, non_finite_reason

LIMITS = GoalLimits(max_steps=3, timeout_s=10.0, energy_threshold=0.5, stale_timeout_s=1.0)
STATE = np.array([0.5, 0.0, 0.3, 3.1, 0.0, 0.0, 0.0])


def test_run_waits_for_fresh_observations_newer_than_the_command():
    run = GoalRun(LIMITS, start=100.0)
    assert run.observation_status(100.2, None, 100.1) == WAIT
    assert run.observation_status(100.2, 100.15, 100.1) == READY
    run.record_step(0.9, command_time=100.3)
    assert run.observation_status(100.4, 100.15, 100.35) == WAIT  # embedding predates the command
    assert run.observation_status(100.5, 100.45, 100.45) == READY
    stop = run.observation_status(101.4, 100.15, 101.35)  # nothing new for > observation_timeout_s after the command
    assert isinstance(stop, Stop) and stop.outcome == Outcome.STALE_OBSERVATION
    assert "embedding" in stop.reason


def test_run_stops_on_old_state_even_with_new_embedding():
    run = GoalRun(LIMITS, start=0.0)
    assert run.observation_status(0.5, 0.4, 0.0) == READY
    stop = run.observation_status(1.6, 1.55, 0.2)
    assert isinstance(stop, Stop) and stop.outcome == Outcome.STALE_OBSERVATION and "ee_state" in stop.reason


def test_state_must_be_newer_than_the_command_and_stops_within_the_observation_timeout():
    """Issue 13 item 3: a fresh embedding with a frozen ee_state (fresh by age) must not be planned from."""
    limits = GoalLimits(100, 60.0, 0.0, stale_timeout_s=2.0, observation_timeout_s=0.3)
    run = GoalRun(limits, start=0.0)
    assert run.observation_status(0.1, 0.05, 0.05) == READY
    run.record_step(0.5, command_time=0.1)
    assert run.observation_status(0.2, 0.15, 0.05) == WAIT  # ee_state only 0.15 s old, but older than the command
    stop = run.observation_status(0.45, 0.4, 0.05)
    assert isinstance(stop, Stop) and stop.outcome == Outcome.STALE_OBSERVATION
    assert "no ee_state newer than the last command" in stop.reason


def test_future_stamps_stop_the_run():
    """Issue 13 item 4: stamps further ahead than future_tolerance_s are refused, naming the field."""
    run = GoalRun(GoalLimits(10, 60.0, 0.0, 1.0, future_tolerance_s=0.2), start=0.0)
    assert run.observation_status(10.0, 10.15, 10.0) == READY  # within the tolerance
    stop = run.observation_status(10.0, 10.0, 1010.0)
    assert isinstance(stop, Stop) and stop.outcome == Outcome.INVALID_OBSERVATION
    assert "ee_state" in stop.reason and "1000.000 s in the future" in stop.reason


def test_observation_checks_success_and_surprise():
    limits = GoalLimits(10, 60.0, 0.05, 1.0, surprise_stop_threshold=0.3)
    run = GoalRun(limits, start=0.0)
    assert run.check_observation(0.2, None) is None
    assert run.check_observation(0.2, 0.29) is None and run.observed_energy == 0.2
    stop = run.check_observation(0.01, 0.31)  # surprise wins over success
    assert stop.outcome == Outcome.SURPRISE and "0.3100" in stop.reason
    stop = run.check_observation(0.04, 0.1)
    assert stop.outcome == Outcome.SUCCEEDED and "observed energy 0.0400" in stop.reason
    monitor_only = GoalRun(GoalLimits(10, 60.0, 0.0, 1.0), start=0.0)
    assert monitor_only.check_observation(0.0, 99.0) is None  # both rules off


def test_run_interruptions_and_success():
    run = GoalRun(LIMITS, start=0.0)
    assert run.interruption(1.0, cancel_requested=True).outcome == Outcome.CANCELED
    assert run.interruption(10.5, cancel_requested=False).outcome == Outcome.TIMEOUT
    for step in range(3):
        assert run.interruption(1.0 + step, cancel_requested=False) is None
        run.record_step(0.9 - 0.1 * step, command_time=1.0 + step)
    assert run.interruption(5.0, cancel_requested=False).outcome == Outcome.MAX_STEPS
    assert run.initial_energy == pytest.approx(0.9) and run.final_energy == pytest.approx(0.7)
    with pytest.raises(ValueError, match="max_steps=0"):
        GoalLimits(0, 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="observation_timeout_s=0"):
        GoalLimits(1, 1.0, 0.0, 1.0, observation_timeout_s=0.0)


def test_outcomes_equal_the_action_constants():
    from jepa_msgs.action import PlanToGoal

    for outcome in Outcome:
        assert getattr(PlanToGoal.Result, f"OUTCOME_{outcome.name}") == outcome.value


def test_safety_checks():
    limits = SafetyLimits()
    ok = STATE + np.array([0.05, -0.05, 0.05, 0, 0, 0, 0.5])
    assert command_violation(STATE, ok, limits) is None
    outside = STATE.copy()
    outside[2] = -0.01
    assert "workspace" in command_violation(STATE, outside, limits)
    far = STATE + np.array([0.1, 0.1, 0.0, 0, 0, 0, 0])
    assert "translation" in command_violation(STATE, far, limits)
    turned = STATE.copy()
    turned[3] = -3.0  # 3.1 -> -3.0 wraps: only 0.18 rad, allowed
    assert command_violation(STATE, turned, limits) is None
    turned[5] = 0.5
    assert "rotation" in command_violation(STATE, turned, limits)
    assert non_finite_reason(energy=1.0, action=np.array([0.0, math.nan])) == (
        "non-finite action: 1 of 2 values, first at index 1"
    )
    huge = np.full((256, 1408), math.nan)  # issue 13 item 7: a ViT-g embedding must not be printed whole
    assert len(non_finite_reason(embedding=huge)) < 80
    assert non_finite_reason(energy=1.0) is None
    with pytest.raises(ValueError, match="workspace"):
        SafetyLimits(workspace_min=(1, 0, 0), workspace_max=(0, 1, 1))


def test_goal_library_round_trip(tmp_path):
    library = GoalLibrary(tmp_path / "goals")
    image = np.random.default_rng(0).integers(0, 256, (12, 20, 3), dtype=np.uint8)
    path = library.save("cup_left", image, state=STATE.tolist())
    assert path.is_file() and library.names() == ["cup_left"]
    loaded, metadata = library.load("cup_left")
    assert np.array_equal(loaded, image) and metadata["state"] == STATE.tolist() and metadata["width"] == 20
    with pytest.raises(GoalLibraryError, match="already exists"):
        library.save("cup_left", image)
    library.save("cup_left", image[::-1].copy(), overwrite=True)
    with pytest.raises(GoalLibraryError, match="unknown goal 'nope'"):
        library.load("nope")
    with pytest.raises(GoalLibraryError, match="goal name"):
        library.save("../escape", image)


def test_plan_markers():
    states = np.array([[0.5, 0.0, 0.3, 0, 0, 0, 0], [0.55, 0.0, 0.3, 0, 0, 0, 0]])
    markers = plan_markers("panda_link0", Time(sec=3), states, 0.1234, goal_position=np.array([0.6, 0.1, 0.2]))
    kinds = {m.type: m for m in markers.markers}
    assert [p.x for p in kinds[Marker.LINE_STRIP].points] == [0.5, 0.55]
    assert kinds[Marker.TEXT_VIEW_FACING].text == "energy 0.1234"
    assert kinds[Marker.SPHERE].pose.position.y == pytest.approx(0.1)
    assert all(m.header.frame_id == "panda_link0" for m in markers.markers)
    no_goal = plan_markers("base", Time(), states, 1.0)
    assert [m.action for m in no_goal.markers if m.type == Marker.SPHERE] == [Marker.DELETE]


def test_state_before_command_must_still_be_fresh():
    run = GoalRun(GoalLimits(10, 60.0, 0.0, stale_timeout_s=1.0), start=0.0)
    assert run.check_state_before_command(now=5.0, state_stamp=4.5) is None
    stop = run.check_state_before_command(now=5.0, state_stamp=3.5)
    assert stop.outcome == Outcome.STALE_OBSERVATION and "ee_state is 1.50 s old after planning step 0" in stop.reason


@pytest.mark.parametrize(
    "field", ["energy_threshold", "surprise_stop_threshold", "stale_timeout_s", "observation_timeout_s",
              "future_tolerance_s"],
)  # fmt: skip
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_limits_are_refused_not_silently_off(field, value):
    """A NaN threshold compared False everywhere: success (or the surprise stop) was silently off; an infinite
    stale_timeout_s/observation_timeout_s/future_tolerance_s switched the freshness checks off."""
    limits = dict(max_steps=3, timeout_s=10.0, energy_threshold=0.5, stale_timeout_s=1.0) | {field: value}
    with pytest.raises(ValueError, match=f"{field}={value}"):
        GoalLimits(**limits)


@pytest.mark.parametrize(
    "field, value, named",
    [("max_translation_step", math.nan, "max_translation_step"),
     ("max_rotation_step", math.inf, "max_translation_step/max_rotation_step"),
     ("workspace_min", (math.nan, -0.6, 0.0), "workspace_min/max"),
     ("workspace_max", (0.9, math.inf, 0.9), "workspace_min/max")],
)  # fmt: skip
def test_non_finite_safety_limits_are_refused(field, value, named):
    """NaN compared False: a NaN step limit or box corner switched that check off (any command passed)."""
    with pytest.raises(ValueError, match=f"SafetyLimits.{named}.*finite"):
        SafetyLimits(**{field: value})
