"""Play data: PlayPolicy manipulates (grasps, lifts, carries, releases, fails sometimes) within the planner's step
bound, at 4 Hz and 15 Hz; sim_episodes records the manipulation mix per row and in the episode metadata."""

import json

import h5py
import numpy as np
import pytest

from jepa_core.data import droid_format as fmt
from jepa_core.transforms import planning_transform_batch
from jepa_sim.env import FrankaSimEnv, SimConfig
from jepa_sim.scene import CAMERAS, OBJECTS
from jepa_sim.scripted import PlayPolicy, in_hand, lifted
from training import sim_episodes


@pytest.fixture(scope="module")
def env():
    environment = FrankaSimEnv(SimConfig(render_observations=False))
    yield environment
    environment.close()


def play(env: FrankaSimEnv, seed: int, steps: int, period: float = 0.25):
    """Run PlayPolicy with observed object positions; returns targets [steps, 7] and per-step (held, lifted) flags."""
    obs = env.reset("reach", seed)
    policy = PlayPolicy(obs.ee_state, obs.object_positions, period, np.random.default_rng(seed))
    targets, flags = [], []
    for _ in range(steps):
        target = policy.act(obs.ee_state, obs.object_positions)
        steps_xyz = target[:3] - obs.ee_state[:3]
        targets.append(np.concatenate([steps_xyz, target[3:]]))
        obs = env.step(target)
        flange = obs.ee_state[:3]
        flags.append(
            (
                any(in_hand(p, OBJECTS[n], flange) for n, p in obs.object_positions.items()),
                any(lifted(p, OBJECTS[n]) for n, p in obs.object_positions.items()),
            )
        )
    return np.stack(targets), np.asarray(flags), policy


def test_play_grasps_lifts_and_releases_within_the_step_bound(env):
    held_rows, segments, releases = 0, set(), 0
    for seed in range(3):
        targets, flags, policy = play(env, 100 + seed, 60)
        assert np.abs(targets[:, :3]).max() <= 0.075 + 1e-9  # the planner's per-axis bound
        assert np.all(targets[:, 3:6] == targets[0, 3:6])  # orientation fixed
        assert set(np.unique(targets[:, 6])) == {0.0, 1.0}  # opens and closes
        held_rows += flags[:, 0].sum()
        releases += int(np.any(flags[:-1, 0] & ~flags[1:, 0]))  # held, then not: placed or dropped
        segments |= set(policy.segments)
    assert held_rows >= 15  # objects really get picked up
    assert releases >= 1
    assert segments >= {"manipulate", "wander"}


def test_play_step_bound_scales_with_the_period():
    env = FrankaSimEnv(SimConfig(render_observations=False, control_period=1 / 15))
    try:
        targets, _, _ = play(env, 7, 45, period=1 / 15)
    finally:
        env.close()
    assert np.abs(targets[:, :3]).max() <= 0.3 / 15 + 1e-9
    assert np.abs(targets[:, :3]).max() > 0.01


def test_play_keeps_a_belief_without_observed_objects(env):
    obs = env.reset("reach", 3)
    policy = PlayPolicy(obs.ee_state, obs.object_positions, 0.25, np.random.default_rng(0))
    for _ in range(40):
        obs = env.step(policy.act(obs.ee_state))  # no object positions: start positions + own releases
    assert set(policy.objects) == set(OBJECTS)


def test_invalid_period_is_rejected():
    with pytest.raises(ValueError, match="period"):
        PlayPolicy(np.zeros(7), {}, 0.0, np.random.default_rng(0))


def test_sim_episodes_record_the_mix(tmp_path):
    argv = ["--out", str(tmp_path), "--episodes", "1", "--steps", "30", "--render-size", "32", "--first-seed", "5"]
    assert sim_episodes.main(argv) == 0
    (metadata_path,) = tmp_path.glob("*/metadata_*.json")
    fractions = json.loads(metadata_path.read_text())["mix_fractions"]
    assert set(fractions) == set(sim_episodes.MIX_KEYS)
    assert all(0.0 <= v <= 1.0 for v in fractions.values())
    assert sim_episodes.mix_summary(tmp_path) == pytest.approx(fractions)


def test_sim_episodes_serve_the_official_default_views_and_clean_dead_temporaries(tmp_path):
    """Episodes carry right_mp4_path (the official DROID class loads left and right views by default), are published
    through the converter's fsync-and-rename, and a killed run's half-written episode is removed by the next run."""
    out = tmp_path / "my.tmp-data"  # a `.tmp-` in the output path is not a temporary folder
    dead = out / ".tmp-999999999-deadbeef-sim_reach_0000001"  # pid that cannot exist
    (dead / "recordings").mkdir(parents=True)
    argv = ["--out", str(out), "--episodes", "1", "--steps", "4", "--render-size", "32", "--policy", "waypoints"]
    assert sim_episodes.main(argv) == 0
    assert not dead.exists()
    (episode,) = [p for p in out.iterdir() if not p.name.startswith(".")]
    (metadata_path,) = episode.glob("metadata_*.json")
    metadata = json.loads(metadata_path.read_text())
    for view in ("left_mp4_path", "right_mp4_path"):
        assert (episode / metadata[view]).is_file()


def test_sim_episodes_use_the_named_camera(tmp_path):
    """--camera workspace renders from the workspace camera: its pose is in the trajectory and its name in the
    metadata (evaluation must use the camera the model was trained with)."""
    argv = ["--out", str(tmp_path), "--episodes", "1", "--steps", "2", "--render-size", "32", "--camera", "workspace"]
    assert sim_episodes.main(argv) == 0
    (episode,) = tmp_path.iterdir()
    (metadata_path,) = episode.glob("metadata_*.json")
    assert json.loads(metadata_path.read_text())["sim_camera"] == "workspace"
    with h5py.File(episode / fmt.TRAJECTORY_FILE) as trajectory:
        extrinsics = trajectory[fmt.extrinsics_key(sim_episodes.serial_of("exterior"))][:]
    poses = {}
    for name in ("workspace", "exterior"):
        env = FrankaSimEnv(SimConfig(camera=CAMERAS[name], render_observations=False))
        env.reset("reach", 0)  # camera poses are those of the simulated state
        poses[name] = env.camera_extrinsics()
        env.close()
    np.testing.assert_allclose(extrinsics, np.tile(poses["workspace"], (3, 1)))
    assert np.abs(poses["workspace"] - poses["exterior"]).max() > 0.1


def _finger_pixels(camera: str, seeds: range) -> int:
    """64 px pixels that change by more than 10 levels when only the fingers close (grasp approach vs grasp image)."""
    env = FrankaSimEnv(SimConfig(camera=CAMERAS[camera]))
    changed = 0
    for seed in seeds:
        env.reset("grasp", seed)
        approach, grasp = (
            planning_transform_batch(env.subgoal_image(i)[None], size=64)
            for i in map(env.episode.subgoal_index, ("approach", "grasp"))
        )
        changed += int(((approach - grasp).abs().amax(1) > 10 / 255 / 0.225).sum())  # ~10 levels in normalised units
    env.close()
    return changed


def test_front_camera_sees_the_fingers_close_across_the_image():
    """The exterior camera sees the finger gap nearly along its line of sight; the front camera faces it."""
    front, exterior = _finger_pixels("front", range(3)), _finger_pixels("exterior", range(3))
    assert front >= 1.5 * exterior, (front, exterior)
