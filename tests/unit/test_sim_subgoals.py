"""Sub-goal scenes of the simulated tasks and the gripper as a Franka hand takes commands (grasp squeezes)."""

import itertools

import numpy as np
import pytest

from jepa_sim.env import FrankaSimEnv, SimConfig
from jepa_sim.scene import FINGER_OPEN_M, OBJECTS
from jepa_sim.tasks import TaskConfig, sample_episode

HOME = np.array([0.307, 0.0, 0.59, np.pi, 0.0, -np.pi / 4, 0.0])
CONFIG = TaskConfig()


def test_each_task_has_its_subgoal_sequence_ending_in_the_goal_scene():
    names = {"reach": ["reach"], "grasp": ["pregrasp", "approach", "grasp", "lift"],
             "pick_place": ["pregrasp", "approach", "grasp", "carry", "place"]}  # fmt: skip
    for task, expected in names.items():
        episode = sample_episode(task, 5, "cube", HOME, CONFIG)
        assert [s.name for s in episode.subgoals] == expected
        assert episode.subgoals[-1].steps == 0 and all(s.steps >= 1 for s in episode.subgoals[:-1])
        np.testing.assert_array_equal(episode.goal_state, episode.subgoals[-1].flange_state)
    grasp = sample_episode("grasp", 5, "cube", HOME, CONFIG)
    assert [s.steps for s in grasp.subgoals[:-1]] == list(CONFIG.grasp_subgoal_steps)


def test_pick_place_subgoals_show_grasp_carry_and_release():
    spec = OBJECTS["cup"]
    episode = sample_episode("pick_place", 9, "cup", HOME, CONFIG)
    pregrasp, approach, grasp, carry, place = episode.subgoals
    start, goal = episode.object_positions["cup"], episode.object_goal
    above = np.array([0.0, 0.0, spec.grasp_flange_height])
    np.testing.assert_allclose(pregrasp.flange_state[:3], start + above + [0.0, 0.0, CONFIG.hover_height])  # above it
    assert pregrasp.finger_opening == FINGER_OPEN_M and pregrasp.flange_state[6] == 0.0
    commands = [s.gripper_command for s in episode.subgoals]
    assert commands == [0.0, 0.0, 1.0, 1.0, 0.0]  # open, open, close on it, keep closed, release
    for subgoal in (approach, grasp):  # at the object's start, fingers open then closed on it
        np.testing.assert_allclose(subgoal.flange_state[:3], start + above)
        np.testing.assert_array_equal(subgoal.object_positions["cup"], start)
    assert approach.finger_opening == FINGER_OPEN_M and approach.flange_state[6] == 0.0
    assert grasp.finger_opening == spec.held_finger_opening
    assert grasp.flange_state[6] == pytest.approx(1.0 - spec.held_finger_opening / FINGER_OPEN_M)
    lifted = goal + np.array([0.0, 0.0, CONFIG.lift_height])  # held above its goal
    np.testing.assert_allclose(carry.object_positions["cup"], lifted)
    np.testing.assert_allclose(carry.flange_state[:3], lifted + above)
    assert carry.flange_state[6] == grasp.flange_state[6]
    np.testing.assert_array_equal(place.object_positions["cup"], goal)  # resting at its goal, released
    assert place.finger_opening == FINGER_OPEN_M and place.flange_state[6] == 0.0
    np.testing.assert_array_equal(place.object_positions["cube"], episode.object_positions["cube"])


def test_subgoal_budgets_must_not_skip_a_subgoal():
    with pytest.raises(ValueError, match="pick_place_subgoal_steps"):
        TaskConfig(pick_place_subgoal_steps=(4, 3, 0, 10))
    with pytest.raises(ValueError, match="grasp_subgoal_steps"):
        TaskConfig(grasp_subgoal_steps=(4,))


@pytest.fixture(scope="module")
def env():
    environment = FrankaSimEnv(SimConfig(render_size=(64, 64)))
    yield environment
    environment.close()


def test_subgoal_images_are_rendered_per_scene_and_the_last_is_the_goal_image(env):
    obs = env.reset("pick_place", 2)
    images = env.subgoal_images()
    assert len(images) == 5 and all(image.shape == (64, 64, 3) for image in images)
    np.testing.assert_array_equal(images[-1], env.goal_image())
    assert all(not np.array_equal(a, b) for a, b in itertools.pairwise(images))
    np.testing.assert_array_equal(env.render(), obs.image)  # rendering sub-goals leaves the scene untouched
    with pytest.raises(IndexError, match="index 5 out of range for 5"):
        env.subgoal_image(5)


def hold_cube(env: FrankaSimEnv, close_command: float, hold_command: float | None) -> float:
    """Close on the cube with `close_command`, then lift it 12 cm commanding `hold_command` (None: the measured
    closure, what the planner commands when its gripper delta is 0): the cube's height."""
    env.reset("grasp", 0)
    grasp = env.episode.subgoals[2].flange_state.copy()
    for _ in range(8):  # straight down onto the cube, fingers open
        obs = env.step(np.concatenate([grasp[:6], [0.0]]))
    obs = env.step(np.concatenate([grasp[:6], [close_command]]))
    target = grasp.copy()
    for _ in range(3):
        target[2] = min(target[2] + 0.05, grasp[2] + 0.12)
        target[6] = obs.ee_state[6] if hold_command is None else hold_command
        obs = env.step(target)
    return float(obs.object_positions["cube"][2])


def test_a_closing_command_grasps_and_keeps_squeezing_while_the_planner_commands_the_measured_closure():
    """The planner commands measured closure + planned delta. After one control period the fingers may not have
    reached the cube yet; a delta of 0 then commands that partial closure and a position servo stops short of the
    cube, which stays on the table. A Franka hand's Grasp closes until contact and keeps squeezing, small command
    changes are ignored. Failed before the sim's gripper took commands as the Franka hand does."""
    env = FrankaSimEnv(SimConfig(render_observations=False))
    try:
        held = 1.0 - OBJECTS["cube"].held_finger_opening / FINGER_OPEN_M
        resting = OBJECTS["cube"].half_height
        assert hold_cube(env, close_command=held, hold_command=None) > resting + 0.08
        assert hold_cube(env, close_command=1.0, hold_command=held) > resting + 0.08
        assert env.step(np.concatenate([env.ee_state()[:6], [0.0]])).ee_state[6] < 0.2  # opening releases
        assert hold_cube(env, close_command=held, hold_command=0.0) < resting + 0.01  # opened: dropped
    finally:
        env.close()


def test_gripper_deadband_is_validated():
    with pytest.raises(ValueError, match="gripper_deadband"):
        SimConfig(gripper_deadband=1.5).validate()


def test_subgoal_index_finds_a_scene_by_name_or_names_the_scenes():
    episode = sample_episode("grasp", 3, "cube", HOME, CONFIG)
    assert episode.subgoals[episode.subgoal_index("approach")].name == "approach"
    with pytest.raises(ValueError, match=r"no sub-goal 'carry'; its sub-goals: \['pregrasp', 'approach'"):
        episode.subgoal_index("carry")
