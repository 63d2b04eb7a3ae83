"""The DROID validator reports every violation of the layout contract, and the CLI exits non-zero on any."""

import json
import shutil

import h5py
import numpy as np
import pytest

from jepa_core.data import droid_format as fmt
from jepa_core.data.bag_to_droid import convert_bag
from jepa_core.data.droid_validate import validate_episode
from jepa_core.data.synthetic import SyntheticEpisode, write_synthetic_bag
from training.validate_droid import main as cli_main


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("validate")
    write_synthetic_bag(root / "bag", SyntheticEpisode(seconds=1.5))
    return convert_bag(root / "bag", root / "droid")


@pytest.fixture
def episode(pristine, tmp_path):
    copy = tmp_path / "episode"
    shutil.copytree(pristine, copy)
    return copy


def _edit_h5(episode, edit):
    with h5py.File(episode / fmt.TRAJECTORY_FILE, "a") as h5:
        edit(h5)


def _replace(h5, key, value):
    del h5[key]
    h5.create_dataset(key, data=value)


def test_pristine_episode_is_valid(pristine):
    assert validate_episode(pristine, decode=True) == []


def test_metadata_problems_are_reported(episode):
    (metadata_file,) = episode.glob("metadata_*.json")
    metadata = json.loads(metadata_file.read_text())
    metadata.pop("left_mp4_path")
    metadata["ext1_mp4_path"] = "elsewhere/front_camera.avi"
    metadata["trajectory_length"] = 3
    metadata_file.write_text(json.dumps(metadata))
    violations = "\n".join(validate_episode(episode))
    assert "missing 'left_mp4_path'" in violations
    assert "'ext1_mp4_path': expected a path into recordings/MP4/" in violations
    assert "trajectory_length: expected 23 (rows), got 3" in violations
    (episode / "metadata_second.json").write_text("{}")
    assert any("expected exactly one metadata_*.json" in v for v in validate_episode(episode))


def test_every_trajectory_violation_is_listed(episode):
    def corrupt(h5):
        _replace(h5, fmt.GRIPPER_POSITION, np.full(23, 1.5))
        _replace(h5, fmt.JOINT_POSITIONS, np.zeros((23, 6)))
        _replace(h5, fmt.ACTION_CARTESIAN_POSITION, np.full((23, 6), np.nan))
        del h5[fmt.extrinsics_key("front_camera")]
        h5.create_dataset("observation/extra", data=np.zeros(5))

    _edit_h5(episode, corrupt)
    violations = "\n".join(validate_episode(episode))
    assert "gripper_position: expected values in [0, 1], got [1.5, 1.5]" in violations
    assert "joint_positions: expected shape (23, 7), got (23, 6)" in violations
    assert "action/cartesian_position: contains NaN or inf" in violations
    assert "missing dataset observation/camera_extrinsics/front_camera_left" in violations
    assert "observation/extra: expected 23 rows, got shape (5,)" in violations


def test_video_with_a_frame_per_row_missing_is_reported(episode):
    def drop_last_row(h5):
        for key in [*fmt.REQUIRED_DATASETS, fmt.extrinsics_key("front_camera")]:
            _replace(h5, key, h5[key][:-1])

    _edit_h5(episode, drop_last_row)
    (metadata_file,) = episode.glob("metadata_*.json")
    metadata_file.write_text(json.dumps({**json.loads(metadata_file.read_text()), "trajectory_length": 22}))
    violations = validate_episode(episode, decode=True)
    assert any("front_camera.mp4: expected 22 frames (one per row), got 23" in v for v in violations)


def test_bad_h5_and_missing_video_are_reported(episode):
    (episode / fmt.TRAJECTORY_FILE).write_bytes(b"not an hdf5 file")
    (episode / "recordings/MP4/front_camera.mp4").unlink()
    violations = "\n".join(validate_episode(episode))
    assert "trajectory.h5: unreadable HDF5 file" in violations
    assert "recordings/MP4/front_camera.mp4: missing" in violations


def test_cli_exit_status(pristine, episode, capsys):
    assert cli_main([str(pristine)]) == 0
    (episode / "recordings/MP4/front_camera.mp4").write_bytes(b"garbage")
    assert cli_main([str(pristine), str(episode)]) == 1
    out = capsys.readouterr().out
    assert "unreadable video" in out and "1/2 episodes valid" in out


def test_cli_verifies_bag_checksums(pristine, tmp_path, capsys):
    bag = tmp_path / "bag"
    shutil.copytree(pristine.parent.parent / "bag", bag)
    assert cli_main([str(bag)]) == 0
    assert "1/1 bags intact" in capsys.readouterr().out
    mcap = bag / "bag.mcap"
    data = bytearray(mcap.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = np.random.default_rng(2).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    mcap.write_bytes(data)
    assert cli_main([str(bag), str(pristine)]) == 1
    output = capsys.readouterr().out
    assert "fails its CRC check" in output and "0/1 bags intact" in output and "1/1 episodes valid" in output


def test_cli_verifies_a_crashed_recording_as_a_bag(pristine, tmp_path, capsys):
    """A recorder's .partial/<episode> (an MCAP file, no metadata.yaml) is a bag to repair, not a broken episode."""
    crashed = tmp_path / ".partial" / "bag"
    crashed.mkdir(parents=True)
    data = (pristine.parent.parent / "bag" / "bag.mcap").read_bytes()
    (crashed / "bag.mcap").write_bytes(data[: len(data) * 2 // 3])  # what a kill leaves: no footer, no metadata.yaml
    assert cli_main([str(crashed)]) == 1
    output = capsys.readouterr().out
    assert "truncated: no MCAP footer" in output and f"python -m training.bag_repair {crashed}" in output
    assert "0/1 bags intact" in output and "episodes valid" not in output


def test_cli_verifies_the_bags_under_a_recording_folder(pristine, tmp_path, capsys):
    """`validate_droid bags/` (as `bag_to_droid bags/`) checks every bag in it, not the folder as one DROID episode."""
    for name in ("ep1", "ep2"):
        shutil.copytree(pristine.parent.parent / "bag", tmp_path / "bags" / name)
    assert cli_main([str(tmp_path / "bags")]) == 0
    output = capsys.readouterr().out
    assert "2/2 bags intact" in output and "episodes valid" not in output
