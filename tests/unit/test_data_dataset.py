"""DROID clip dataset: official stride rule, states/actions per clip, frame alignment, real-DROID-style episodes."""

import json
import shutil
from dataclasses import replace

import h5py
import numpy as np
import pytest
import torch

from jepa_core import geometry
from jepa_core.data import droid_format as fmt
from jepa_core.data.bag_to_droid import convert_bag
from jepa_core.data.droid_dataset import ClipConfig, DroidClipDataset, clip_stride
from jepa_core.data.synthetic import CODE_BLOCK, SyntheticEpisode, frame_code, write_synthetic_bag
from jepa_core.data.video import VideoEncoding, write_mp4

SPEC = SyntheticEpisode(seconds=3.0)


@pytest.fixture(scope="module")
def droid_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("dataset")
    for name in ("a", "b"):
        write_synthetic_bag(root / "bags" / name, SPEC)
        convert_bag(root / "bags" / name, root / "droid")
    return root / "droid"


def _codes(frames):
    """Frame code block value per frame of uint8 [N, H, W, 3]."""
    block = frames[:, 2 : CODE_BLOCK - 2, 2 : CODE_BLOCK - 2]
    return block.reshape(len(frames), -1).float().mean(dim=1).numpy()


def test_stride_follows_the_official_ceil_rule():
    assert clip_stride(15, 4) == 4  # ceil(3.75)
    assert clip_stride(60, 4) == 15
    assert clip_stride(15, 15) == 1 and clip_stride(15, 30) == 1
    with pytest.raises(ValueError, match="fps must be positive"):
        clip_stride(0, 4)


def test_enumerated_clips_states_actions_and_frames(droid_root):
    dataset = DroidClipDataset(droid_root, ClipConfig(frames_per_clip=4, random_start=False, start_step=3))
    rows_per_episode = 45  # 15 Hz grid over [0, 89/30 s]
    span = 4 * 4
    assert len(dataset) == 2 * len(range(0, rows_per_episode - span, 3))  # official: start rows - span never drawn
    item = dataset[3]
    assert item["frames"].shape == (4, 64, 64, 3) and item["frames"].dtype == torch.uint8
    assert item["states"].shape == (4, 7) and item["actions"].shape == (3, 7)
    assert item["states"].dtype == torch.float32
    np.testing.assert_array_equal(item["rows"].numpy(), 9 + 4 * np.arange(4))

    with h5py.File(droid_root / "a" / fmt.TRAJECTORY_FILE) as h5:
        position, gripper = h5[fmt.CARTESIAN_POSITION][()], h5[fmt.GRIPPER_POSITION][()]
        camera_stamps = h5[fmt.camera_timestamp_key("front_camera")][()]
    states_f64 = np.concatenate([position, gripper[:, None]], 1)[item["rows"].numpy()]
    expected_actions = geometry.poses_to_diffs(states_f64).astype(np.float32)  # f64 diffs, then cast
    np.testing.assert_array_equal(item["actions"].numpy(), expected_actions)
    np.testing.assert_array_equal(item["states"].numpy(), states_f64.astype(np.float32))
    camera_index = np.round((camera_stamps[item["rows"].numpy()] - SPEC.start_ns) * SPEC.camera_hz / 1e9)
    np.testing.assert_allclose(_codes(item["frames"]), [frame_code(int(k)) for k in camera_index], atol=3)


def test_random_clips_and_cache_give_the_same_frames(droid_root, tmp_path):
    plain = DroidClipDataset(droid_root, ClipConfig(frames_per_clip=8))
    assert len(plain) == 2
    torch.manual_seed(0)
    first = plain[0]
    torch.manual_seed(0)
    cached = DroidClipDataset(droid_root, ClipConfig(frames_per_clip=8, frame_cache_dir=tmp_path / "cache"))[0]
    np.testing.assert_array_equal(first["rows"], cached["rows"])
    assert torch.equal(first["frames"], cached["frames"])
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    starts = set()
    for _ in range(30):
        starts.add(int(plain[1]["rows"][0]))
    assert len(starts) > 3 and max(starts) < 45 - 32


def test_transform_is_applied_to_uint8_frames(droid_root):
    dataset = DroidClipDataset(droid_root, ClipConfig(frames_per_clip=2), transform=lambda f: f.shape)
    assert dataset[0]["frames"] == (2, 64, 64, 3)


def test_short_episodes_are_skipped_and_none_left_is_an_error(droid_root):
    dataset = DroidClipDataset(droid_root / "a", ClipConfig(frames_per_clip=11))  # span 44 <= 45 rows
    assert len(dataset.episodes) == 1
    with pytest.raises(ValueError, match="shorter than one clip"):
        DroidClipDataset(droid_root / "a", ClipConfig(frames_per_clip=12))
    with pytest.raises(ValueError, match="no DROID episodes"):
        DroidClipDataset(droid_root / "a" / "recordings")


def _real_droid_style_episode(root, rows=80):
    """A folder laid out like a DROID download: absolute mp4 path, no row_hz, container says 60 fps."""
    episode = root / "Lab+abc+2023-07-07"
    (episode / fmt.MP4_DIR).mkdir(parents=True)
    frames = [np.full((32, 32, 3), (8 * i) % 256, np.uint8) for i in range(rows)]
    write_mp4(episode / fmt.MP4_DIR / "23897859.mp4", frames, VideoEncoding(fps=60))
    metadata = {"left_mp4_path": f"/data/droid/{episode.name}/recordings/MP4/23897859.mp4", "uuid": "x"}
    (episode / "metadata_Lab+abc+2023-07-07.json").write_text(json.dumps(metadata))
    states = np.zeros((rows, 6))
    states[:, 0] = np.arange(rows) * 0.01
    fmt.write_trajectory(
        episode / fmt.TRAJECTORY_FILE,
        {
            fmt.CARTESIAN_POSITION: states,
            fmt.GRIPPER_POSITION: np.zeros(rows),
            fmt.extrinsics_key("23897859"): np.ones((rows, 6)),
        },
    )
    return episode


def test_real_droid_layout_rows_versus_container_fps(tmp_path):
    episode = _real_droid_style_episode(tmp_path)
    physical = DroidClipDataset(episode, ClipConfig(frames_per_clip=4, random_start=False))
    np.testing.assert_array_equal(physical[0]["rows"].numpy(), [0, 4, 8, 12])  # 15 Hz rows: stride 4
    legacy = DroidClipDataset(episode, ClipConfig(frames_per_clip=4, random_start=False, source_fps="container"))
    item = legacy[0]
    np.testing.assert_array_equal(item["rows"].numpy(), [0, 15, 30, 45])  # official: ceil(60 / 4)
    np.testing.assert_allclose(item["actions"][:, 0].numpy(), 0.15, atol=1e-6)
    np.testing.assert_allclose(_codes(item["frames"]), [0, 120, 240, (45 * 8) % 256], atol=3)
    assert torch.equal(item["extrinsics"], torch.ones(4, 6))


def test_bad_h5_is_rejected_with_its_path(droid_root, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(droid_root / "a", broken)
    (broken / fmt.TRAJECTORY_FILE).write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"broken/trajectory.h5: cannot read"):
        DroidClipDataset(broken)


def _one_episode(root, rows):
    """A minimal episode of `rows` rows at 15 Hz whose x position (and extrinsics x) is the row index."""
    episode = root / f"rows{rows}"
    if episode.exists():
        return episode
    (episode / fmt.MP4_DIR).mkdir(parents=True)
    write_mp4(episode / fmt.MP4_DIR / "cam.mp4", [np.zeros((16, 16, 3), np.uint8)] * rows)
    (episode / "metadata_x.json").write_text(json.dumps({"left_mp4_path": "recordings/MP4/cam.mp4", "row_hz": 15}))
    position = np.zeros((rows, 6))
    position[:, 0] = np.arange(rows)
    fmt.write_trajectory(
        episode / fmt.TRAJECTORY_FILE,
        {fmt.CARTESIAN_POSITION: position, fmt.GRIPPER_POSITION: np.zeros(rows), fmt.extrinsics_key("cam"): position},
    )
    return episode


def test_official_sampler_one_clip_episode_and_last_start(tmp_path):
    # official: nframes = fpc * ceil(fps_source / fps); start = randint(rows - nframes) if rows > nframes else 0
    config = ClipConfig(frames_per_clip=2, target_fps=7.5, random_start=False, start_step=1)  # stride 2, span 4
    exact = DroidClipDataset(_one_episode(tmp_path, 4), config)
    assert [int(exact[i]["rows"][0]) for i in range(len(exact))] == [0]  # exactly one clip long: start 0
    longer = DroidClipDataset(_one_episode(tmp_path, 7), config)
    assert [int(longer[i]["rows"][0]) for i in range(len(longer))] == [0, 1, 2]  # 3 = rows - span never drawn
    inclusive = DroidClipDataset(_one_episode(tmp_path, 7), replace(config, last_start="inclusive"))
    assert [int(inclusive[i]["rows"][0]) for i in range(len(inclusive))] == [0, 1, 2, 3]
    drawn = DroidClipDataset(_one_episode(tmp_path, 7), replace(config, random_start=True))
    assert {int(drawn[0]["rows"][0]) for _ in range(60)} == {0, 1, 2}
    one_clip = DroidClipDataset(_one_episode(tmp_path, 4), replace(config, random_start=True))
    assert {int(one_clip[0]["rows"][0]) for _ in range(5)} == {0}
    with pytest.raises(ValueError, match="shorter than one clip"):
        DroidClipDataset(_one_episode(tmp_path, 3), config)  # the official loader rejects rows < nframes


def test_frameskip_thins_states_not_frames(tmp_path):
    config = ClipConfig(frames_per_clip=8, target_fps=15, random_start=False, frameskip=2)
    item = DroidClipDataset(_one_episode(tmp_path, 10), config)[0]
    assert item["frames"].shape[0] == 8 and item["rows"].tolist() == list(range(8))
    assert item["states"][:, 0].tolist() == [0, 2, 4, 6] and item["extrinsics"][:, 0].tolist() == [0, 2, 4, 6]
    np.testing.assert_allclose(item["actions"][:, 0].numpy(), [2, 2, 2])
