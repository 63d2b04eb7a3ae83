"""Checks a raw DROID episode folder against the layout contract and lists every violation (not just the first)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from jepa_core.data import droid_format as fmt
from jepa_core.data.video import count_decoded_frames, probe_mp4

GRIPPER_SLACK = 1e-6  # tolerance on the [0, 1] gripper range


def _metadata_violations(episode: Path) -> tuple[dict | None, list[str]]:
    """Parse the single metadata JSON; violations if missing, duplicated or malformed."""
    found = sorted(episode.glob(fmt.METADATA_GLOB))
    if len(found) != 1:
        return None, [f"expected exactly one {fmt.METADATA_GLOB}, found {[p.name for p in found]}"]
    try:
        metadata = json.loads(found[0].read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return None, [f"{found[0].name}: not valid JSON ({error})"]
    if not isinstance(metadata, dict):
        return None, [f"{found[0].name}: expected a JSON object, got {type(metadata).__name__}"]
    return metadata, []


def _camera_serials(metadata: dict, episode: Path) -> tuple[dict[str, str], list[str]]:
    """camera key -> serial for each `*_mp4_path` entry of the metadata; left_mp4_path is required."""
    violations, serials = [], {}
    if fmt.LEFT_MP4_KEY not in metadata:
        violations.append(f"metadata: missing {fmt.LEFT_MP4_KEY!r}")
    for key, value in metadata.items():
        if not key.endswith("_mp4_path") or value in (None, ""):
            continue
        try:
            serials[key] = fmt.camera_mp4_name(metadata, key, episode).rsplit(".", 1)[0]
        except ValueError:
            violations.append(f"metadata {key!r}: expected a path into {fmt.MP4_DIR}/<serial>.mp4, got {value!r}")
    return serials, violations


def _trajectory_violations(path: Path, serials: set[str]) -> tuple[int | None, list[str]]:
    """Shapes, dtypes, row counts, finiteness and ranges of trajectory.h5; returns (T, violations)."""
    violations: list[str] = []
    try:
        h5 = h5py.File(path, "r")
    except OSError as error:
        return None, [f"{fmt.TRAJECTORY_FILE}: unreadable HDF5 file ({error})"]
    with h5:
        rows = None
        if fmt.CARTESIAN_POSITION in h5 and isinstance(h5[fmt.CARTESIAN_POSITION], h5py.Dataset):
            rows = h5[fmt.CARTESIAN_POSITION].shape[0]
        required = dict(fmt.REQUIRED_DATASETS)
        required.update({fmt.extrinsics_key(s): (6,) for s in serials})
        for key, trailing in required.items():
            if key not in h5 or not isinstance(h5[key], h5py.Dataset):
                violations.append(f"{fmt.TRAJECTORY_FILE}: missing dataset {key}")
                continue
            data = h5[key]
            if rows is not None and data.shape != (rows, *trailing):
                violations.append(f"{fmt.TRAJECTORY_FILE}: {key}: expected shape {(rows, *trailing)}, got {data.shape}")
            elif not np.issubdtype(data.dtype, np.floating):
                violations.append(f"{fmt.TRAJECTORY_FILE}: {key}: expected a float dtype, got {data.dtype}")
            elif not np.isfinite(data[()]).all():
                violations.append(f"{fmt.TRAJECTORY_FILE}: {key}: contains NaN or inf")
        for key in (fmt.CARTESIAN_POSITION, fmt.GRIPPER_POSITION):
            if key in h5 and isinstance(h5[key], h5py.Dataset) and h5[key].dtype != np.float64:
                violations.append(f"{fmt.TRAJECTORY_FILE}: {key}: expected float64, got {h5[key].dtype}")
        if fmt.GRIPPER_POSITION in h5 and isinstance(h5[fmt.GRIPPER_POSITION], h5py.Dataset):
            gripper = np.asarray(h5[fmt.GRIPPER_POSITION], dtype=np.float64)
            if gripper.size and (gripper.min() < -GRIPPER_SLACK or gripper.max() > 1 + GRIPPER_SLACK):
                violations.append(
                    f"{fmt.TRAJECTORY_FILE}: {fmt.GRIPPER_POSITION}: expected values in [0, 1], "
                    f"got [{gripper.min():.4g}, {gripper.max():.4g}]"
                )
        if rows is not None:
            violations += _row_count_violations(h5, rows)
        if fmt.CONTROL_STEP_START_NS in h5 and np.any(np.diff(np.asarray(h5[fmt.CONTROL_STEP_START_NS])) <= 0):
            violations.append(f"{fmt.TRAJECTORY_FILE}: {fmt.CONTROL_STEP_START_NS}: rows not strictly increasing")
    if rows == 0:
        violations.append(f"{fmt.TRAJECTORY_FILE}: no rows")
    return rows, violations


def _row_count_violations(h5: h5py.File, rows: int) -> list[str]:
    """Every dataset under observation/ and action/ must have T rows."""
    violations: list[str] = []

    def check(name: str, node) -> None:
        if isinstance(node, h5py.Dataset) and (node.ndim == 0 or node.shape[0] != rows):
            violations.append(f"{fmt.TRAJECTORY_FILE}: {name}: expected {rows} rows, got shape {node.shape}")

    for group in ("observation", "action"):
        if group in h5:
            h5[group].visititems(lambda name, node, g=group: check(f"{g}/{name}", node))
    return violations


def _video_violations(episode: Path, serials: set[str], rows: int | None, decode: bool) -> list[str]:
    """Each camera's MP4 exists, opens and has exactly one frame per trajectory row."""
    violations = []
    for serial in sorted(serials):
        path = episode / fmt.mp4_relative_path(serial)
        name = fmt.mp4_relative_path(serial)
        if not path.is_file():
            violations.append(f"{name}: missing")
            continue
        try:
            frames = count_decoded_frames(path) if decode else probe_mp4(path).frames
        except Exception as error:  # PyAV raises many error types for broken files
            violations.append(f"{name}: unreadable video ({type(error).__name__}: {error})")
            continue
        if rows is not None and frames != rows:
            violations.append(f"{name}: expected {rows} frames (one per row), got {frames}")
    return violations


def validate_episode(episode: Path, decode: bool = False) -> list[str]:
    """All contract violations of one episode folder (empty list = valid); `decode` counts frames by decoding."""
    episode = Path(episode)
    if not episode.is_dir():
        return [f"{episode}: not a folder"]
    metadata, violations = _metadata_violations(episode)
    serials: dict[str, str] = {}
    if metadata is not None:
        serials, camera_violations = _camera_serials(metadata, episode)
        violations += camera_violations
    trajectory = episode / fmt.TRAJECTORY_FILE
    rows = None
    if not trajectory.is_file():
        violations.append(f"{fmt.TRAJECTORY_FILE}: missing")
    else:
        rows, trajectory_violations = _trajectory_violations(trajectory, set(serials.values()))
        violations += trajectory_violations
    if metadata is not None and rows is not None and metadata.get("trajectory_length", rows) != rows:
        violations.append(f"metadata trajectory_length: expected {rows} (rows), got {metadata['trajectory_length']}")
    if metadata is not None and not (isinstance(metadata.get(fmt.ROW_HZ_KEY, fmt.ROW_HZ), int | float)):
        violations.append(f"metadata {fmt.ROW_HZ_KEY!r}: expected a number, got {metadata[fmt.ROW_HZ_KEY]!r}")
    violations += _video_violations(episode, set(serials.values()), rows, decode)
    return [f"{episode}: {v}" for v in violations]
