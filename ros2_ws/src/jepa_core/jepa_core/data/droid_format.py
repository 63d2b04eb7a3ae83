"""The raw DROID episode layout (DESIGN.md section 4): file names, trajectory.h5 keys, metadata, and readers.

An episode folder holds exactly one `metadata_<uuid>.json`, `trajectory.h5` and `recordings/MP4/<serial>.mp4` per
camera; row i of every trajectory dataset is video frame i, rows at 15 Hz. The readers accept real DROID downloads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

ROW_HZ = 15.0  # DROID control / row rate
TRAJECTORY_FILE = "trajectory.h5"
MP4_DIR = "recordings/MP4"
METADATA_GLOB = "metadata_*.json"
LEFT_MP4_KEY = "left_mp4_path"
RIGHT_MP4_KEY = "right_mp4_path"  # the official loader's default views are left and right
WRIST_MP4_KEY = "wrist_mp4_path"  # DROID's wrist camera (with `wrist_cam_serial`)
VIEW_CAMERA_KEYS = {"exterior": LEFT_MP4_KEY, "wrist": WRIST_MP4_KEY}  # jepa_core.views names -> metadata keys
TMP_PREFIX = ".tmp-"  # converters write episodes into folders named so, then rename them
ROW_HZ_KEY = "row_hz"  # our metadata: rate of the trajectory rows (real DROID episodes do not say; 15 Hz)

CARTESIAN_POSITION = "observation/robot_state/cartesian_position"  # (T, 6) f64: xyz, extrinsic Euler xyz
GRIPPER_POSITION = "observation/robot_state/gripper_position"  # (T,) f64 in [0, 1], 1 = closed
JOINT_POSITIONS = "observation/robot_state/joint_positions"  # (T, 7)
JOINT_VELOCITIES = "observation/robot_state/joint_velocities"  # (T, 7)
CAMERA_EXTRINSICS = "observation/camera_extrinsics"  # group of <serial>_left (T, 6)
ACTION_CARTESIAN_POSITION = "action/cartesian_position"  # (T, 6): commanded absolute pose in effect at row t
ACTION_GRIPPER_POSITION = "action/gripper_position"  # (T,): commanded gripper closure
ROBOT_TIMESTAMP_NS = "observation/timestamp/robot_state/robot_timestamp_nanos"  # (T,) int64, state header stamps
CONTROL_STEP_START_NS = "observation/timestamp/control/step_start"  # (T,) int64, row time (ns)
CAMERA_TIMESTAMPS = "observation/timestamp/cameras"  # group of <serial>_estimated_capture (T,) int64 ns

REQUIRED_DATASETS: dict[str, tuple[int, ...]] = {  # key -> trailing shape after T
    CARTESIAN_POSITION: (6,),
    GRIPPER_POSITION: (),
    JOINT_POSITIONS: (7,),
    ACTION_CARTESIAN_POSITION: (6,),
    ACTION_GRIPPER_POSITION: (),
}


def mp4_relative_path(serial: str) -> str:
    """Path of a camera's video inside an episode folder."""
    return f"{MP4_DIR}/{serial}.mp4"


def extrinsics_key(serial: str) -> str:
    """trajectory.h5 key of a camera's (left) extrinsics."""
    return f"{CAMERA_EXTRINSICS}/{serial}_left"


def camera_timestamp_key(serial: str) -> str:
    """trajectory.h5 key of a camera's per-row capture stamps (ns)."""
    return f"{CAMERA_TIMESTAMPS}/{serial}_estimated_capture"


def camera_metadata(exterior_serials: list[str], wrist_serial: str | None = None) -> dict[str, object]:
    """DROID's camera entries: `extN_cam_serial`/`extN_mp4_path` per exterior camera, `left_mp4_path` (the first) and
    `right_mp4_path` (the second, else the first again), `wrist_cam_serial`/`wrist_mp4_path`, `camera_serials`."""
    if not exterior_serials:
        raise ValueError("camera_metadata: expected at least one exterior camera")
    metadata: dict[str, object] = {
        LEFT_MP4_KEY: mp4_relative_path(exterior_serials[0]),
        RIGHT_MP4_KEY: mp4_relative_path(exterior_serials[min(1, len(exterior_serials) - 1)]),
        "right_mp4_source": (
            "second camera" if len(exterior_serials) > 1 else "same camera as left (one camera recorded)"
        ),
        "camera_serials": [*exterior_serials, *([wrist_serial] if wrist_serial else [])],
    }
    for i, serial in enumerate(exterior_serials):
        metadata[f"ext{i + 1}_cam_serial"] = serial
        metadata[f"ext{i + 1}_mp4_path"] = mp4_relative_path(serial)
    if wrist_serial:
        metadata["wrist_cam_serial"] = wrist_serial
        metadata[WRIST_MP4_KEY] = mp4_relative_path(wrist_serial)
    return metadata


def view_videos(episode: Path, views: tuple[str, ...]) -> list[Path]:
    """The MP4 of each named view (VIEW_CAMERA_KEYS) of an episode, in order; ValueError naming a missing camera."""
    episode = Path(episode)
    metadata = read_metadata(episode)
    unknown = [view for view in views if view not in VIEW_CAMERA_KEYS]
    if unknown:
        raise ValueError(f"views {unknown}: expected names out of {tuple(VIEW_CAMERA_KEYS)}")
    return [episode / MP4_DIR / camera_mp4_name(metadata, VIEW_CAMERA_KEYS[view], episode) for view in views]


def find_metadata(episode: Path) -> Path:
    """The episode's single metadata_*.json; raises when there is none or more than one."""
    found = sorted(Path(episode).glob(METADATA_GLOB))
    if len(found) != 1:
        raise ValueError(f"{episode}: expected exactly one {METADATA_GLOB}, found {[p.name for p in found]}")
    return found[0]


def read_metadata(episode: Path) -> dict:
    """The parsed metadata JSON object of an episode."""
    path = find_metadata(episode)
    try:
        metadata = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(metadata, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(metadata).__name__}")
    return metadata


def camera_mp4_name(metadata: dict, camera_key: str, episode: Path) -> str:
    """File name `<serial>.mp4` that a metadata `*_mp4_path` entry points to inside recordings/MP4/."""
    value = metadata.get(camera_key)
    if not isinstance(value, str) or f"{MP4_DIR}/" not in value or not value.endswith(".mp4"):
        raise ValueError(f"{episode}: metadata {camera_key!r}: expected a path into {MP4_DIR}/, got {value!r}")
    return value.split(f"{MP4_DIR}/")[-1]


@dataclass(frozen=True)
class EpisodeTrajectory:
    """What a training clip needs from one episode: states, extrinsics, video path and row rate."""

    path: Path
    states: np.ndarray  # [T, 7] f64: cartesian_position + gripper_position
    extrinsics: np.ndarray  # [T, 6] f64 of the chosen camera
    video: Path
    row_hz: float


def load_trajectory(episode: Path, camera_key: str = LEFT_MP4_KEY) -> EpisodeTrajectory:
    """Read states and the camera's extrinsics of an episode (ours or a real DROID download)."""
    episode = Path(episode)
    metadata = read_metadata(episode)
    mp4_name = camera_mp4_name(metadata, camera_key, episode)
    serial = mp4_name.rsplit(".", 1)[0]
    trajectory = episode / TRAJECTORY_FILE
    try:
        with h5py.File(trajectory, "r") as h5:
            position = np.asarray(h5[CARTESIAN_POSITION], dtype=np.float64)  # [T, 6]
            gripper = np.asarray(h5[GRIPPER_POSITION], dtype=np.float64).reshape(-1, 1)  # [T, 1]
            extrinsics = np.asarray(h5[extrinsics_key(serial)], dtype=np.float64)  # [T, 6]
    except KeyError as error:
        raise ValueError(f"{trajectory}: missing dataset ({error})") from error
    except OSError as error:
        raise ValueError(f"{trajectory}: unreadable HDF5 file ({error})") from error
    if position.ndim != 2 or position.shape[1] != 6 or len(gripper) != len(position):
        raise ValueError(
            f"{trajectory}: expected {CARTESIAN_POSITION} (T, 6) and {GRIPPER_POSITION} (T,), "
            f"got {position.shape} and {gripper.shape[:1]}"
        )
    row_hz = float(metadata.get(ROW_HZ_KEY, ROW_HZ))
    states = np.concatenate([position, gripper], axis=1)  # [T, 7]
    return EpisodeTrajectory(episode, states, extrinsics, episode / MP4_DIR / mp4_name, row_hz)


def write_trajectory(path: Path, datasets: dict[str, np.ndarray]) -> None:
    """Write datasets keyed by their h5 path (e.g. 'observation/robot_state/cartesian_position')."""
    with h5py.File(path, "w") as h5:
        for key, array in datasets.items():
            h5.create_dataset(key, data=array)


def is_temporary(name: str) -> bool:
    """Whether a folder name is a converter's temporary folder (judged by the folder's own name only)."""
    return name.startswith(TMP_PREFIX)


def find_episodes(roots: list[Path]) -> list[Path]:
    """Episode folders (those holding trajectory.h5) under each root, or listed one per line in a .txt/.csv file."""
    episodes: list[Path] = []
    for root in map(Path, roots):
        if root.is_file():
            lines = [line.split()[0] for line in root.read_text().splitlines() if line.strip()]
            episodes.extend(Path(line) for line in lines)
        elif (root / TRAJECTORY_FILE).is_file():
            episodes.append(root)
        elif root.is_dir():
            found = root.rglob(TRAJECTORY_FILE)
            episodes.extend(sorted(p.parent for p in found if not any(map(is_temporary, p.relative_to(root).parts))))
        else:
            raise FileNotFoundError(f"episode root {root} does not exist")
    return episodes
