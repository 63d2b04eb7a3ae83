"""Simulated collection through the real path (sim node -> recorder -> bag -> DROID) yields usable training clips."""

import numpy as np
import pytest

pytestmark = pytest.mark.ros

pytest.importorskip("rclpy")
pytest.importorskip("mujoco")

from jepa_core.data.droid_dataset import ClipConfig, DroidClipDataset  # noqa: E402
from jepa_core.data.droid_format import load_trajectory, read_metadata  # noqa: E402
from training.collect_sim import CollectionConfig, ExplorationPolicy, collect  # noqa: E402

VIEWS = ("exterior", "wrist")


def test_exploration_policy_is_smooth_and_bounded():
    start = np.array([0.45, 0.0, 0.4, np.pi, 0.0, 0.0, 0.0])
    policy = ExplorationPolicy(start, period=1 / 15, seed=3)
    targets = np.stack([policy.act() for _ in range(600)])  # [600, 7]
    steps = np.linalg.norm(np.diff(targets[:, :3], axis=0), axis=1)
    assert steps.max() <= 0.25 / 15 + 1e-9
    assert np.all(targets[:, :3] >= np.array(policy.config.box_min) - 1e-9)
    assert set(np.unique(targets[:, 6])) == {0.0, 1.0}  # the gripper both opens and closes
    assert np.ptp(targets[:, 0]) > 0.15  # it really explores


def test_collect_one_short_episode(tmp_path):
    config = CollectionConfig(output=tmp_path, episodes=1, seconds=2.4, render_size=64, workers=1)
    (episode,) = collect(config)
    trajectory = load_trajectory(episode)
    assert len(trajectory.states) == 37  # reset observation + 36 steps at 15 Hz
    states = trajectory.states
    assert np.all(np.linalg.norm(np.diff(states[:, :3], axis=0), axis=1) < 0.05)  # physical, no jumps
    dataset = DroidClipDataset(episode, ClipConfig(frames_per_clip=8, random_start=False))
    clip = dataset[0]
    assert clip["frames"].shape == (8, 64, 64, 3) and clip["frames"].float().std() > 5
    assert clip["actions"].abs().max() > 0.005  # the arm moved between clip frames
    assert collect(config) == [episode]  # a second run keeps the recorded bag and re-converts it


def test_collect_records_the_wrist_camera_as_droids_wrist_view(tmp_path):
    config = CollectionConfig(output=tmp_path, episodes=1, seconds=0.8, render_size=32, workers=1, views=VIEWS)
    (episode,) = collect(config)
    metadata = read_metadata(episode)
    assert metadata["wrist_mp4_path"] != metadata["left_mp4_path"] == metadata["ext1_mp4_path"]
    dataset = DroidClipDataset(episode, ClipConfig(frames_per_clip=4, target_fps=15.0, random_start=False, views=VIEWS))
    assert dataset[0]["frames"].shape == (4, 32, 64, 3)
