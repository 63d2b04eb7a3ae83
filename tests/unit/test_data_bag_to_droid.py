"""bag -> DROID conversion: layout, row alignment, action semantics, atomicity and clean rejection of bad bags."""

import json
import os
import subprocess

import h5py
import numpy as np
import pytest

from jepa_core import geometry
from jepa_core.data import droid_format as fmt
from jepa_core.data.bag_to_droid import (
    BagConversionError,
    ConversionConfig,
    clean_stale_temporaries,
    convert_bag,
    image_to_rgb,
    nearest,
)
from jepa_core.data.droid_validate import validate_episode
from jepa_core.data.synthetic import (
    CODE_BLOCK,
    SyntheticEpisode,
    frame_code,
    synthetic_state,
    write_synthetic_bag,
)
from jepa_core.data.topics import WRIST_CAMERA_IMAGE
from jepa_core.data.video import decode_all
from training.bag_to_droid import main as cli_main

SPEC = SyntheticEpisode(seconds=2.5)


@pytest.fixture(scope="module")
def bags(tmp_path_factory):
    root = tmp_path_factory.mktemp("bags")
    write_synthetic_bag(root / "ep_mcap", SPEC, storage="mcap")
    write_synthetic_bag(root / "ep_sqlite", SPEC, storage="sqlite3")
    return root


@pytest.fixture(scope="module")
def episode(bags, tmp_path_factory):
    return convert_bag(bags / "ep_mcap", tmp_path_factory.mktemp("droid"))


def _read(episode, key):
    with h5py.File(episode / fmt.TRAJECTORY_FILE) as h5:
        return h5[key][()]


def test_layout_matches_the_contract(episode):
    assert validate_episode(episode, decode=True) == []
    (metadata_file,) = episode.glob("metadata_*.json")
    metadata = json.loads(metadata_file.read_text())
    assert metadata_file.name == f"metadata_{metadata['uuid']}.json"
    assert metadata["left_mp4_path"] == "recordings/MP4/front_camera.mp4"
    assert metadata["row_hz"] == 15.0 and metadata["mp4_fps"] == 15
    assert metadata["current_task"] == "reach" and metadata["seed"] == 7
    assert metadata["repeated_frames"] == 0
    rows = metadata["trajectory_length"]
    assert rows == 38  # 15 Hz grid over the camera/state overlap [0, 74/30 s]: 37 periods + 1
    assert _read(episode, fmt.CARTESIAN_POSITION).dtype == np.float64
    assert _read(episode, fmt.JOINT_POSITIONS).shape == (rows, 7)
    np.testing.assert_array_equal(_read(episode, fmt.extrinsics_key("front_camera")), np.zeros((rows, 6)))


def test_rows_are_15hz_and_video_frame_i_is_row_i(episode):
    grid = _read(episode, fmt.CONTROL_STEP_START_NS)
    np.testing.assert_allclose(np.diff(grid), 1e9 / 15, atol=1)
    camera_stamps = _read(episode, fmt.camera_timestamp_key("front_camera"))
    assert np.abs(camera_stamps - grid).max() <= 0.5e9 / SPEC.camera_hz  # the nearest image of each grid time
    camera_index = np.round((camera_stamps - SPEC.start_ns) * SPEC.camera_hz / 1e9).astype(int)
    frames = decode_all(episode / "recordings/MP4/front_camera.mp4")  # [T, H, W, 3]
    codes = frames[:, 2 : CODE_BLOCK - 2, 2 : CODE_BLOCK - 2].reshape(len(frames), -1).mean(axis=1)
    np.testing.assert_allclose(codes, [frame_code(k) for k in camera_index], atol=3)


def test_states_are_those_at_the_row_stamps(episode):
    row_seconds = (_read(episode, fmt.camera_timestamp_key("front_camera")) - SPEC.start_ns) / 1e9
    expected = synthetic_state(row_seconds)  # [T, 7]
    position = _read(episode, fmt.CARTESIAN_POSITION)
    half_state_period = 0.5 / SPEC.state_hz
    np.testing.assert_allclose(position[:, :3], expected[:, :3], atol=0.15 * half_state_period * 2)
    rotation_error = geometry.euler_to_matrix(position[:, 3:]) - geometry.euler_to_matrix(expected[:, 3:6])
    assert np.abs(rotation_error).max() < 0.01  # roll crosses +-pi: compare rotations, not raw angles
    assert np.abs(position[:, 3]).max() > 3.1  # the wrap is really in the data


def test_action_is_the_last_command_before_the_next_row(episode):
    action = _read(episode, fmt.ACTION_CARTESIAN_POSITION)
    state = _read(episode, fmt.CARTESIAN_POSITION)
    camera_stamps = _read(episode, fmt.camera_timestamp_key("front_camera"))
    period = 1e9 / SPEC.command_hz
    next_image = np.append(camera_stamps[1:], camera_stamps[-1] + 1e9 / 15)
    command_index = np.floor((next_image - SPEC.start_ns) / period).astype(int)  # receive time = stamp in the bag
    command_index = np.minimum(command_index, int(SPEC.seconds * SPEC.command_hz) - 1)  # the last one holds
    commanded = synthetic_state(command_index * period / 1e9 + 0.2)
    np.testing.assert_allclose(action[:, :3], commanded[:, :3], atol=1e-9)
    np.testing.assert_allclose(_read(episode, fmt.ACTION_GRIPPER_POSITION), commanded[:, 6], atol=1e-9)
    assert not np.allclose(action, state)


def test_sqlite3_bags_convert_to_the_same_episode(bags, episode, tmp_path):
    other = convert_bag(bags / "ep_sqlite", tmp_path)
    assert validate_episode(other) == []
    for key in (fmt.CARTESIAN_POSITION, fmt.ACTION_CARTESIAN_POSITION, fmt.JOINT_POSITIONS):
        np.testing.assert_array_equal(_read(other, key), _read(episode, key))


def test_existing_episode_is_skipped_unless_forced(bags, tmp_path):
    first = convert_bag(bags / "ep_mcap", tmp_path)
    marker = first / "marker"
    marker.write_text("old")
    assert convert_bag(bags / "ep_mcap", tmp_path) is None
    assert marker.exists()
    assert convert_bag(bags / "ep_mcap", tmp_path, force=True) == first
    assert not marker.exists() and validate_episode(first) == []
    assert [p.name for p in tmp_path.iterdir()] == ["ep_mcap"]  # no temporary folders left


def test_missing_topic_is_named_and_leaves_nothing(tmp_path):
    write_synthetic_bag(tmp_path / "no_joints", SPEC, omit=("joint_states",))
    with pytest.raises(BagConversionError, match=r"no_joints: missing topics \['/joint_states'\]"):
        convert_bag(tmp_path / "no_joints", tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_truncated_bag_is_rejected_cleanly(bags, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "metadata.yaml").write_bytes((bags / "ep_mcap" / "metadata.yaml").read_bytes())
    data = (bags / "ep_mcap" / "ep_mcap.mcap").read_bytes()
    (broken / "ep_mcap.mcap").write_bytes(data[: len(data) // 3])
    with pytest.raises(BagConversionError, match=r"broken: ep_mcap.mcap: truncated: no MCAP footer"):
        convert_bag(broken, tmp_path / "out")
    assert not any((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True


def test_not_a_bag_and_gap_in_camera_are_rejected(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BagConversionError, match="not a rosbag2 folder"):
        convert_bag(tmp_path / "empty", tmp_path / "out")
    write_synthetic_bag(tmp_path / "slow_camera", SyntheticEpisode(seconds=2.0, camera_hz=5.0))
    with pytest.raises(BagConversionError, match=r"topic /camera/image_raw: no message within"):
        convert_bag(tmp_path / "slow_camera", tmp_path / "out", ConversionConfig(max_image_offset_s=0.05))


def test_cli_converts_a_batch_and_reports_failures(bags, tmp_path, capsys):
    write_synthetic_bag(tmp_path / "in" / "bad", SPEC, omit=("ee_state",))
    write_synthetic_bag(tmp_path / "in" / "good", SPEC)
    status = cli_main([str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--workers", "1"])
    captured = capsys.readouterr()
    assert status == 1
    assert "FAILED" in captured.err and "bad: missing topics ['/ee_state']" in captured.err
    assert "converted 1, skipped 0" in captured.out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good"]


def test_cli_without_a_bag_says_so_and_points_at_crashed_recordings(tmp_path, capsys):
    """Only a crashed recording under .partial/: a message naming it and bag_repair, not a traceback."""
    (tmp_path / "bags" / ".partial" / "ep").mkdir(parents=True)
    (tmp_path / "bags" / ".partial" / "ep" / "ep.mcap").write_bytes(b"")
    assert cli_main([str(tmp_path / "bags"), "-o", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "no rosbag2 folders (metadata.yaml) found" in error and "1 crashed recording" in error
    assert "python -m training.bag_repair" in error and not (tmp_path / "out").exists()


def test_image_conversion_honours_encoding_and_padding():
    class Msg:
        height, width, step, encoding = 2, 3, 12, "bgr8"
        data = np.arange(24, dtype=np.uint8)

    rgb = image_to_rgb(Msg)
    assert rgb.shape == (2, 3, 3)
    np.testing.assert_array_equal(rgb[1, 0], [14, 13, 12])  # row 1 starts at byte 12, channels reversed
    Msg.encoding = "yuv422"
    with pytest.raises(ValueError, match="yuv422"):
        image_to_rgb(Msg)


def test_nearest_picks_the_closest_stamp():
    stamps = np.array([0, 10, 20, 30])
    np.testing.assert_array_equal(nearest(stamps, np.array([-5, 4, 6, 26, 99])), [0, 0, 1, 3, 3])


def test_slow_camera_rows_reuse_frames_and_say_so(tmp_path):
    write_synthetic_bag(tmp_path / "cam10hz", SyntheticEpisode(seconds=2.0, camera_hz=10.0))
    episode = convert_bag(tmp_path / "cam10hz", tmp_path / "out")
    (metadata_file,) = episode.glob("metadata_*.json")
    metadata = json.loads(metadata_file.read_text())
    assert metadata["trajectory_length"] == 29 and metadata["repeated_frames"] > 0
    assert validate_episode(episode) == []


def test_injected_random_bytes_fail_loudly_naming_bag_topic_and_time(bags, tmp_path):
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "metadata.yaml").write_bytes((bags / "ep_mcap" / "metadata.yaml").read_bytes())
    data = bytearray((bags / "ep_mcap" / "ep_mcap.mcap").read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    (damaged / "ep_mcap.mcap").write_bytes(data)
    with pytest.raises(BagConversionError) as error:
        convert_bag(damaged, tmp_path / "out")
    message = str(error.value)
    assert "damaged: ep_mcap.mcap: chunk at byte" in message and "fails its CRC check" in message
    assert "/camera/image_raw" in message and "s after the first message" in message
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_tmp_in_the_output_path_hides_nothing(bags, tmp_path):
    root = tmp_path / "my.tmp-data" / "droid"
    episode = convert_bag(bags / "ep_mcap", root)
    (root / ".tmp-123-abc-half").mkdir()
    (root / ".tmp-123-abc-half" / fmt.TRAJECTORY_FILE).write_bytes(b"")
    assert fmt.find_episodes([root]) == [episode]


def test_stale_temporaries_of_dead_runs_are_removed(tmp_path):
    child = subprocess.Popen(["true"])
    child.wait()
    dead_pid = child.pid  # reaped: no process has this pid (until the kernel reuses it)
    stale = tmp_path / f".tmp-{dead_pid}-0000-ep"
    old_style = tmp_path / ".tmp-ep-1234abcd"
    live = tmp_path / f".tmp-{os.getpid()}-0000-ep"
    for folder in (stale, old_style, live, tmp_path / "episode"):
        folder.mkdir()
    assert sorted(clean_stale_temporaries(tmp_path)) == sorted([stale, old_style])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "episode"])


def test_bad_image_names_topic_and_stamp(tmp_path):
    write_synthetic_bag(tmp_path / "yuv", SyntheticEpisode(seconds=1.0, image_encoding="yuv422"))
    with pytest.raises(BagConversionError, match=r"yuv: /camera/image_raw: image 0 stamped 1700000000000000000 ns"):
        convert_bag(tmp_path / "yuv", tmp_path / "out")


def test_official_default_views_and_given_extrinsics(bags, tmp_path):
    extrinsics = (0.5, -0.1, 0.6, -2.0, 0.1, 1.5)
    episode = convert_bag(bags / "ep_mcap", tmp_path, ConversionConfig(camera_extrinsics=(extrinsics,)))
    metadata = fmt.read_metadata(episode)
    assert metadata["right_mp4_path"] == metadata["left_mp4_path"] and metadata["extrinsics_known"] is True
    for view in ("left_mp4_path", "right_mp4_path"):  # the official DROIDVideoDataset's default camera_views
        serial = metadata[view].split("recordings/MP4/")[-1].split(".")[0]
        assert (episode / metadata[view]).is_file()
        np.testing.assert_array_equal(_read(episode, f"observation/camera_extrinsics/{serial}_left")[-1], extrinsics)
    with pytest.raises(ValueError, match="camera_extrinsics: expected one"):
        ConversionConfig(camera_extrinsics=((1.0, 2.0),))
    assert (
        cli_main(
            [
                str(bags / "ep_mcap"),
                "-o",
                str(tmp_path / "cli"),
                "--workers",
                "0",
                "--camera-extrinsics",
                ",".join(map(str, extrinsics)),
            ]
        )
        == 0
    )
    np.testing.assert_array_equal(
        _read(tmp_path / "cli" / "ep_mcap", fmt.extrinsics_key("front_camera"))[0], extrinsics
    )


def test_extrinsics_from_a_recorded_tf_static(tmp_path):
    pose = (0.9, -0.3, 0.7, -2.2, 0.05, 1.4)
    write_synthetic_bag(tmp_path / "tf", SyntheticEpisode(seconds=1.0, camera_pose=pose))
    episode = convert_bag(tmp_path / "tf", tmp_path / "out")
    metadata = fmt.read_metadata(episode)
    assert metadata["extrinsics_known"] is True
    assert metadata["extrinsics_source"] == {"front_camera": "/tf_static (panda_link0 -> front_camera)"}
    np.testing.assert_allclose(_read(episode, fmt.extrinsics_key("front_camera"))[0], pose, atol=1e-9)


def test_a_wrist_camera_is_written_as_droids_wrist_view(tmp_path):
    write_synthetic_bag(tmp_path / "two_cameras", SyntheticEpisode(seconds=1.0, wrist_frame_id="wrist_camera"))
    topics = ("/camera/image_raw", f"/{WRIST_CAMERA_IMAGE.name}")
    config = ConversionConfig(image_topics=topics, wrist_topic=topics[1])
    episode = convert_bag(tmp_path / "two_cameras", tmp_path / "droid", config)
    metadata = fmt.read_metadata(episode)
    assert metadata["wrist_cam_serial"] == "wrist_camera" and metadata["ext1_cam_serial"] == "front_camera"
    assert "ext2_mp4_path" not in metadata and metadata["right_mp4_path"] == metadata["left_mp4_path"]
    assert validate_episode(episode, decode=True) == []
    exterior, wrist = fmt.view_videos(episode, ("exterior", "wrist"))
    assert wrist == episode / metadata["wrist_mp4_path"] and exterior == episode / metadata["left_mp4_path"]
    assert np.abs(decode_all(wrist).astype(int) + decode_all(exterior).astype(int) - 255).mean() < 8  # inverted
    with pytest.raises(ValueError, match="wrist_topic"):
        ConversionConfig(image_topics=topics, wrist_topic=topics[0])
