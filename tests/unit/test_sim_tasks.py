"""Task sampling: deterministic per seed, goals inside their boxes, objects apart, success distances."""

import numpy as np
import pytest

from jepa_sim.scene import FINGER_OPEN_M, OBJECTS
from jepa_sim.tasks import TASKS, TaskConfig, sample_episode

HOME = np.array([0.307, 0.0, 0.59, np.pi, 0.0, -np.pi / 4, 0.0])
CONFIG = TaskConfig()


@pytest.mark.parametrize("task", TASKS)
def test_episodes_are_a_function_of_the_seed(task):
    a, b = sample_episode(task, 11, "cube", HOME, CONFIG), sample_episode(task, 11, "cube", HOME, CONFIG)
    np.testing.assert_array_equal(a.goal_state, b.goal_state)
    np.testing.assert_array_equal(a.start_state, b.start_state)
    for name in OBJECTS:
        np.testing.assert_array_equal(a.object_positions[name], b.object_positions[name])
    c = sample_episode(task, 12, "cube", HOME, CONFIG)
    assert not np.array_equal(a.object_positions["cube"], c.object_positions["cube"])


def test_reach_goals_lie_in_the_goal_box_and_keep_the_home_orientation():
    for seed in range(50):
        episode = sample_episode("reach", seed, "cube", HOME, CONFIG)
        assert np.all(episode.goal_state[:3] >= CONFIG.reach_goal_min)
        assert np.all(episode.goal_state[:3] <= CONFIG.reach_goal_max)
        np.testing.assert_array_equal(episode.goal_state[3:6], HOME[3:6])
        assert episode.tolerance == 0.04 and episode.object_goal is None
        assert np.all(np.abs(episode.start_state[:3] - HOME[:3]) <= CONFIG.start_jitter)


def test_objects_start_apart_and_pick_place_goals_are_away_from_the_start():
    for seed in range(50):
        episode = sample_episode("pick_place", seed, "cube", HOME, CONFIG)
        cube, cup = episode.object_positions["cube"], episode.object_positions["cup"]
        assert np.linalg.norm(cube[:2] - cup[:2]) >= CONFIG.min_object_separation
        assert np.linalg.norm(episode.object_goal[:2] - cube[:2]) >= CONFIG.min_object_separation
        assert episode.object_goal[2] == OBJECTS["cube"].half_height  # resting on the table
        np.testing.assert_array_equal(episode.goal_object_positions["cube"], episode.object_goal)
        assert episode.goal_finger_opening == FINGER_OPEN_M  # released in the goal image


def test_grasp_goal_lifts_the_object_and_holds_it_in_the_goal_image():
    episode = sample_episode("grasp", 3, "cup", HOME, CONFIG)
    start = episode.object_positions["cup"]
    np.testing.assert_allclose(episode.object_goal, start + np.array([0.0, 0.0, CONFIG.lift_height]))
    np.testing.assert_allclose(
        episode.goal_state[:3], episode.object_goal + np.array([0, 0, OBJECTS["cup"].grasp_flange_height])
    )
    assert episode.goal_finger_opening == OBJECTS["cup"].held_finger_opening


def test_distance_uses_the_flange_for_reach_and_the_object_otherwise():
    reach = sample_episode("reach", 0, "cube", HOME, CONFIG)
    assert reach.distance(reach.goal_state[:3] + np.array([0.03, 0.0, 0.0]), {}) == pytest.approx(0.03)
    grasp = sample_episode("grasp", 0, "cube", HOME, CONFIG)
    objects = {"cube": grasp.object_goal + np.array([0.0, 0.0, -0.02]), "cup": np.zeros(3)}
    assert grasp.distance(np.zeros(3), objects) == pytest.approx(0.02)


def test_unknown_task_or_object_is_rejected():
    with pytest.raises(ValueError, match="unknown task 'push'"):
        sample_episode("push", 0, "cube", HOME, CONFIG)
    with pytest.raises(ValueError, match="unknown task object 'ball'"):
        sample_episode("grasp", 0, "ball", HOME, CONFIG)
