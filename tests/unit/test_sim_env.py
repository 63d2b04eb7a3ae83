"""FrankaSimEnv: deterministic resets, scripted task success, exact state preservation when rendering, clipping."""

import mujoco
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from jepa_core.geometry import compute_new_pose
from jepa_sim.env import FrankaSimEnv, SimConfig
from jepa_sim.scripted import ScriptedPolicy

FULL_STATE = mujoco.mjtState.mjSTATE_INTEGRATION  # qpos, qvel, act, ctrl, time, warm start, applied forces, ...


def full_state(env: FrankaSimEnv) -> np.ndarray:
    """Every integration-relevant number of the simulation state, as one vector."""
    state = np.empty(mujoco.mj_stateSize(env.model, FULL_STATE))
    mujoco.mj_getState(env.model, env.data, state, FULL_STATE)
    return state


@pytest.fixture(scope="module")
def env():
    """One blind (no rendering) environment at 4 Hz, shared by the fast tests."""
    environment = FrankaSimEnv(SimConfig(render_observations=False))
    yield environment
    environment.close()


@pytest.fixture(scope="module")
def camera_env():
    """A rendering environment with a non-square image to check sizes are honoured."""
    environment = FrankaSimEnv(SimConfig(render_size=(96, 64)))
    yield environment
    environment.close()


def run_policy(env: FrankaSimEnv, task: str, seed: int, max_steps: int = 60):
    obs = env.reset(task, seed)
    policy = ScriptedPolicy(env.episode, env.config.control_period)
    steps = 0
    while not policy.done and steps < max_steps:
        target = policy.act(obs)
        assert np.linalg.norm(target[:3] - obs.ee_state[:3]) <= 0.075 + 1e-9
        obs = env.step(target)
        steps += 1
    return obs, env.task_status()


def test_reset_is_deterministic_for_a_seed(env, camera_env):
    first = env.reset("pick_place", seed=7)
    state = full_state(env)
    env.step(first.ee_state + np.array([0.05, 0.0, -0.05, 0.0, 0.0, 0.0, 0.0]))
    env.reset("reach", seed=3)
    second = env.reset("pick_place", seed=7)
    np.testing.assert_array_equal(full_state(env), state)
    np.testing.assert_array_equal(first.ee_state, second.ee_state)
    assert env.reset("pick_place", seed=8).object_positions["cube"][0] != first.object_positions["cube"][0]
    image_a = camera_env.reset("grasp", seed=1).image
    goal_a = camera_env.goal_image()
    camera_env.reset("grasp", seed=2)
    np.testing.assert_array_equal(camera_env.reset("grasp", seed=1).image, image_a)
    np.testing.assert_array_equal(camera_env.goal_image(), goal_a)


def test_scripted_reach_succeeds_on_20_random_goals(env):
    distances = []
    for seed in range(20):
        _, status = run_policy(env, "reach", seed)
        distances.append(status.distance)
        assert status.success, f"seed {seed}: flange ended {status.distance:.3f} m from the goal"
    assert max(distances) < 0.04


@pytest.mark.parametrize("task", ["grasp", "pick_place"])
def test_scripted_object_tasks_succeed(env, task):
    before = env.reset(task, seed=4).object_positions["cube"]
    obs, status = run_policy(env, task, seed=4)
    assert status.success, f"{task}: cube ended {status.distance:.3f} m from its goal"
    moved = np.linalg.norm(obs.object_positions["cube"] - before)
    assert moved > 0.05, "the cube must actually have been moved"


def test_render_at_pose_and_goal_image_leave_the_state_bit_identical(camera_env):
    camera_env.reset("grasp", seed=5)
    camera_env.step(camera_env.ee_state() + np.array([0.03, 0.02, -0.04, 0.0, 0.0, 0.1, 0.5]))  # moving, in contact
    before = full_state(camera_env)
    flange_before = camera_env.data.site_xpos.copy()
    target = camera_env.episode.goal_state
    image, error = camera_env.render_at_pose(target, object_positions={"cup": np.array([0.5, 0.1, 0.2])})
    goal = camera_env.goal_image()
    np.testing.assert_array_equal(full_state(camera_env), before)
    np.testing.assert_array_equal(camera_env.data.site_xpos, flange_before)
    assert error < 1e-3
    assert image.shape == goal.shape == (64, 96, 3) and image.dtype == np.uint8
    assert not np.array_equal(image, camera_env.render()), "the arm should be drawn at the requested pose"
    # the trajectory after rendering equals one without any rendering
    after_render = camera_env.step(target)
    camera_env.reset("grasp", seed=5)
    camera_env.step(camera_env.ee_state() + np.array([0.03, 0.02, -0.04, 0.0, 0.0, 0.1, 0.5]))
    np.testing.assert_array_equal(camera_env.step(target).ee_state, after_render.ee_state)


def test_targets_outside_the_workspace_are_clipped_and_reported(env):
    obs = env.reset("reach", seed=0)
    assert not obs.target_clipped
    far = obs.ee_state.copy()
    far[:3] = [2.0, 0.0, -1.0]
    for _ in range(6):
        obs = env.step(far)
    assert obs.target_clipped
    expected = np.clip(far[:3], env.config.workspace_min, env.config.workspace_max)
    assert np.linalg.norm(obs.ee_state[:3] - expected) < 0.01
    assert not env.step(obs.ee_state).target_clipped


def test_step_tracks_a_droid_action_including_rotation_and_gripper(env):
    obs = env.reset("reach", seed=2)
    action = np.array([0.04, -0.03, 0.02, 0.0, 0.0, 0.2, 1.0])
    expected = compute_new_pose(obs.ee_state, action)
    for _ in range(3):  # the gripper needs a few periods to close fully
        obs = env.step(expected)
    np.testing.assert_allclose(obs.ee_state[:3], expected[:3], atol=2e-3)
    error = Rotation.from_euler("xyz", obs.ee_state[3:6]) * Rotation.from_euler("xyz", expected[3:6]).inv()
    assert error.magnitude() < 0.01
    assert obs.ee_state[6] > 0.95
    one_step = env.reset("reach", seed=2)
    after = env.step_action(action)
    np.testing.assert_allclose(after.ee_state[:3], one_step.ee_state[:3] + action[:3], atol=3e-3)


def test_observation_contents_and_camera(camera_env):
    obs = camera_env.reset("reach", seed=0)
    assert obs.image.shape == (64, 96, 3) and obs.image.dtype == np.uint8
    assert obs.image.std() > 10, "the image should show a scene, not a flat colour"
    assert obs.joint_positions.shape == (7,) and obs.finger_positions.shape == (2,)
    assert set(obs.object_positions) == {"cube", "cup"}
    assert obs.time == 0.0
    fx, fy, cx, cy = camera_env.camera_intrinsics()
    assert fx == fy and cx == 47.5 and cy == 31.5
    assert fy == pytest.approx(32.0 / np.tan(np.deg2rad(camera_env.config.camera.fovy_deg) / 2))
    obs = camera_env.step(obs.ee_state)
    assert obs.time == pytest.approx(camera_env.config.control_period)
    extrinsics = camera_env.camera_extrinsics()
    camera = camera_env.config.camera
    np.testing.assert_allclose(extrinsics[:3], camera.position, atol=1e-9)
    optical_z = Rotation.from_euler("xyz", extrinsics[3:]).apply([0.0, 0.0, 1.0])
    towards = np.subtract(camera.lookat, camera.position)
    np.testing.assert_allclose(optical_z, towards / np.linalg.norm(towards), atol=1e-6)
    optical_y = Rotation.from_euler("xyz", extrinsics[3:]).apply([0.0, 1.0, 0.0])
    assert optical_y[2] < 0, "image rows go downwards"


def test_home_posture_matches_franka_description(env):
    # franka "ready" joints put the flange at (0.307, 0, 0.59) pointing down (DROID-style Euler ~ (pi, 0, -pi/4)).
    np.testing.assert_allclose(env.home_state[:3], [0.307, 0.0, 0.590], atol=3e-3)
    np.testing.assert_allclose(np.abs(env.home_state[3]), np.pi, atol=3e-3)
    np.testing.assert_allclose(env.home_state[4:6], [0.0, -np.pi / 4], atol=3e-3)


def test_control_period_of_one_fifteenth_second_stays_on_the_time_grid():
    env = FrankaSimEnv(SimConfig(control_period=1 / 15, render_observations=False))
    obs = env.reset("reach", seed=0)
    for _ in range(15):
        obs = env.step(obs.ee_state)
    assert obs.time == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(
    ("field", "value"),
    [("task", "fly"), ("task_object", "ball"), ("render_size", (4, 64)), ("control_period", 0.0)],
)
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        FrankaSimEnv(SimConfig(**{field: value}))


def test_bad_target_and_unknown_task_raise(env):
    env.reset("reach", seed=0)
    with pytest.raises(ValueError, match="target_state"):
        env.step(np.zeros(6))
    with pytest.raises(ValueError, match="unknown task"):
        env.reset("fly", seed=0)
