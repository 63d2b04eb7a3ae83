"""Converts one recorded episode bag (rosbag2, MCAP or sqlite3) into a raw DROID episode folder.

Rows are laid on a 15 Hz grid over the span where camera and robot state both exist; each row takes the camera image
nearest to its grid time (row time := that image's header stamp) and the robot state / joint state nearest to that
stamp. The action of row t is the last target_pose / gripper_command received before the image of row t+1 (the
command in effect while the arm moved from row t to t+1), or the observed state before any command. Message
definitions come from the bag itself. rosbags checks each MCAP chunk's CRC as it reads it; when reading fails, a scan
of the bag (chunk CRCs, truncation; SQLite page checks) says in words what is wrong and where (topics, time range),
and the bag is refused with how to keep its intact part.
Output is written to a temporary folder `.tmp-<pid>-<id>-<bag>` (the pid tells a later run whether its writer is
dead), fsynced, then renamed: never a partial episode.

Cameras: `left_mp4_path` is the first image topic; `right_mp4_path` the second exterior one when recorded, else the
same video as the left (so the official loader, which draws left or right at random, loads every episode);
`ConversionConfig.wrist_topic` names the image topic of a wrist camera, written as DROID's `wrist_mp4_path` /
`wrist_cam_serial` instead of an exterior camera (`extN_mp4_path`). Camera extrinsics
([xyz, extrinsic Euler xyz] of the camera's frame in the robot base frame, per row) come from
ConversionConfig.camera_extrinsics when given, else from a recorded /tf_static (the image frame_id's pose in the
ee_state frame_id, through the static tree), else zeros with `extrinsics_known: false`; `extrinsics_source` says which.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rosbags.highlevel import AnyReader

from jepa_core import geometry
from jepa_core.data import droid_format as fmt
from jepa_core.data.bags import fsync_path, verify_bag
from jepa_core.data.static_transforms import StaticTransforms
from jepa_core.data.typestore import stack_typestore
from jepa_core.data.video import VideoEncoding, write_mp4


class BagConversionError(RuntimeError):
    """A bag cannot be converted; the message names the bag and the reason."""


@dataclass(frozen=True)
class ConversionConfig:
    """Topic names and alignment tolerances of the bag -> DROID conversion."""

    image_topics: tuple[str, ...] = ("/camera/image_raw",)  # first one defines the rows
    ee_state_topic: str = "/ee_state"
    joint_states_topic: str = "/joint_states"
    target_pose_topic: str = "/target_pose"
    gripper_command_topic: str = "/gripper_command"
    task_status_topic: str = "/task_status"  # optional: task name and success go into the metadata
    camera_info_topic: str = "/camera/camera_info"  # optional: intrinsics go into the metadata
    tf_static_topic: str = "/tf_static"  # optional: camera extrinsics (camera frame_id in the ee_state frame)
    row_hz: float = fmt.ROW_HZ
    max_image_offset_s: float = 1.0 / fmt.ROW_HZ  # grid time -> nearest image
    max_state_offset_s: float = 0.05  # image stamp -> nearest robot / joint state
    camera_serials: tuple[str, ...] = ()  # default: each camera's header frame_id, sanitised
    wrist_topic: str = ""  # the image topic (of image_topics, not the first) of the wrist camera; "" = none
    camera_extrinsics: tuple[tuple[float, ...], ...] = ()  # per image topic: [x, y, z, roll, pitch, yaw] in base frame
    video: VideoEncoding = field(default_factory=VideoEncoding)

    def __post_init__(self) -> None:
        if self.wrist_topic and self.wrist_topic not in self.image_topics[1:]:
            raise ValueError(
                f"wrist_topic {self.wrist_topic!r}: expected one of the image topics after the first "
                f"(which defines the rows), got image_topics {self.image_topics}"
            )
        if self.camera_extrinsics and (
            len(self.camera_extrinsics) != len(self.image_topics) or any(len(e) != 6 for e in self.camera_extrinsics)
        ):
            raise ValueError(
                f"camera_extrinsics: expected one [x, y, z, roll, pitch, yaw] per image topic "
                f"({len(self.image_topics)}), got {self.camera_extrinsics}"
            )

    @property
    def required_topics(self) -> tuple[str, ...]:
        """Topics without which a bag is rejected."""
        return (
            *self.image_topics,
            self.ee_state_topic,
            self.joint_states_topic,
            self.target_pose_topic,
            self.gripper_command_topic,
        )


@dataclass
class _Stream:
    """Messages of one topic collected in the first pass: stamps (header or receive time) and values."""

    stamps: list[int] = field(default_factory=list)  # ns
    log_times: list[int] = field(default_factory=list)  # ns, bag receive time
    values: list = field(default_factory=list)


_ARM_JOINT = re.compile(r"joint_?([1-7])$")
_RGB_CHANNELS = {"rgb8": (3, [0, 1, 2]), "bgr8": (3, [2, 1, 0]), "rgba8": (4, [0, 1, 2]), "bgra8": (4, [2, 1, 0])}


def _stamp_ns(header) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def image_to_rgb(msg) -> np.ndarray:
    """sensor_msgs/Image (rgb8, bgr8, rgba8, bgra8, mono8) -> uint8 [H, W, 3], honouring row padding (step)."""
    if msg.encoding == "mono8":
        channels, order = 1, [0, 0, 0]
    elif msg.encoding in _RGB_CHANNELS:
        channels, order = _RGB_CHANNELS[msg.encoding]
    else:
        raise ValueError(f"image encoding {msg.encoding!r} not supported (rgb8, bgr8, rgba8, bgra8, mono8)")
    data = np.asarray(msg.data, dtype=np.uint8)
    if msg.step < msg.width * channels or data.size < msg.step * msg.height:
        raise ValueError(f"image {msg.width}x{msg.height} {msg.encoding}: step {msg.step}, {data.size} bytes")
    rows = data[: msg.step * msg.height].reshape(msg.height, msg.step)[:, : msg.width * channels]
    pixels = rows.reshape(msg.height, msg.width, channels)
    return np.ascontiguousarray(pixels if msg.encoding == "rgb8" else pixels[:, :, order])  # rgb8: no copy


def arm_joint_order(names: list[str], bag: Path) -> np.ndarray:
    """Indices of joints 1..7 in a JointState's name list (names ending in joint1..joint7, or exactly 7 names)."""
    by_number = {int(m.group(1)): i for i, name in enumerate(names) if (m := _ARM_JOINT.search(name))}
    if sorted(by_number) == list(range(1, 8)):
        return np.array([by_number[k] for k in range(1, 8)])
    if len(names) == 7:
        return np.arange(7)
    raise BagConversionError(f"{bag}: joint_states names {names}: cannot identify the 7 arm joints")


def sanitise_serial(frame_id: str, fallback: str) -> str:
    """A camera serial usable as a file name (no dots or slashes): the frame_id, else `fallback`."""
    serial = re.sub(r"[^A-Za-z0-9_-]+", "_", frame_id).strip("_")
    return serial or fallback


def nearest(sorted_stamps: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Index of the nearest stamp for each target (stamps sorted ascending)."""
    right = np.clip(np.searchsorted(sorted_stamps, targets), 1, len(sorted_stamps) - 1)
    left = right - 1
    choose_left = np.abs(targets - sorted_stamps[left]) <= np.abs(sorted_stamps[right] - targets)
    return np.where(choose_left, left, right) if len(sorted_stamps) > 1 else np.zeros_like(targets)


def latest_before(sorted_times: np.ndarray, limits: np.ndarray) -> np.ndarray:
    """Index of the last time <= each limit, -1 when none."""
    return np.searchsorted(sorted_times, limits, side="right") - 1


class _EpisodeBuilder:
    """First pass over a bag: collects stamps and small messages, then lays out rows and trajectory datasets."""

    def __init__(self, bag: Path, reader: AnyReader, config: ConversionConfig) -> None:
        self.bag, self.reader, self.config = bag, reader, config
        self.connections = {c.topic: c for c in reader.connections}
        missing = [t for t in config.required_topics if t not in self.connections]
        if missing:
            raise BagConversionError(f"{bag}: missing topics {missing}; bag has {sorted(self.connections)}")
        self.streams: dict[str, _Stream] = {}
        self.frame_ids: dict[str, str] = {}
        self.transforms = StaticTransforms()

    def collect(self) -> None:
        """Read every message once; images are only parsed for their header (zero-copy)."""
        wanted = [
            c
            for t, c in self.connections.items()
            if t
            in (
                *self.config.required_topics,
                self.config.task_status_topic,
                self.config.camera_info_topic,
                self.config.tf_static_topic,
            )
        ]
        for connection, log_time, raw in self.reader.messages(connections=wanted):
            msg = self.reader.deserialize(raw, connection.msgtype)
            if connection.topic == self.config.tf_static_topic:
                for tf in msg.transforms:
                    t, q = tf.transform.translation, tf.transform.rotation
                    self.transforms.add(tf.header.frame_id, tf.child_frame_id, (t.x, t.y, t.z), (q.x, q.y, q.z, q.w))
                continue
            stream = self.streams.setdefault(connection.topic, _Stream())
            stamp = _stamp_ns(msg.header) if hasattr(msg, "header") else log_time
            if connection.topic in self.config.image_topics:
                self.frame_ids.setdefault(connection.topic, msg.header.frame_id)
                value = (msg.height, msg.width)
            elif connection.topic == self.config.ee_state_topic:
                self.frame_ids.setdefault(connection.topic, msg.header.frame_id)  # the robot base frame
                p, q = msg.pose.position, msg.pose.orientation
                value = (p.x, p.y, p.z, q.x, q.y, q.z, q.w, msg.gripper)
            elif connection.topic == self.config.joint_states_topic:
                value = (list(msg.name), np.array(msg.position, dtype=np.float64), np.array(msg.velocity))
            elif connection.topic == self.config.target_pose_topic:
                p, q = msg.pose.position, msg.pose.orientation
                value = (p.x, p.y, p.z, q.x, q.y, q.z, q.w)
            elif connection.topic == self.config.gripper_command_topic:
                value = float(msg.data)
            elif connection.topic == self.config.camera_info_topic:
                value = {"width": int(msg.width), "height": int(msg.height), "k": [float(v) for v in msg.k]}
            else:  # task status
                value = {"task": msg.task, "seed": int(msg.seed), "success": bool(msg.success)}
            stream.stamps.append(stamp)
            stream.log_times.append(log_time)
            stream.values.append(value)
        for topic in self.config.required_topics:
            if not self.streams.get(topic):
                raise BagConversionError(f"{self.bag}: topic {topic} has no messages")

    def _sorted(self, topic: str) -> tuple[np.ndarray, np.ndarray]:
        """(stamps ascending, order) of a topic; raises when every header stamp is zero."""
        stamps = np.asarray(self.streams[topic].stamps, dtype=np.int64)
        if not stamps.any():
            raise BagConversionError(f"{self.bag}: topic {topic}: header stamps are all zero, cannot align")
        order = np.argsort(stamps, kind="stable")
        return stamps[order], order

    def _match(self, topic: str, row_stamps: np.ndarray, tolerance_s: float) -> np.ndarray:
        """Original message index nearest in stamp to each row; raises on a gap larger than the tolerance."""
        stamps, order = self._sorted(topic)
        idx = nearest(stamps, row_stamps)
        offsets = np.abs(stamps[idx] - row_stamps) / 1e9
        if (bad := np.flatnonzero(offsets > tolerance_s)).size:
            first = bad[0]
            raise BagConversionError(
                f"{self.bag}: topic {topic}: no message within {tolerance_s:.3f} s of row {first} "
                f"(t={row_stamps[first] / 1e9:.3f} s, nearest {offsets[first]:.3f} s away; {bad.size} rows affected)"
            )
        return order[idx]

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: the primary camera's message index, its stamp (ns) and the row_hz grid time (ns)."""
        primary = self.config.image_topics[0]
        spans = [self._sorted(t)[0] for t in (primary, self.config.ee_state_topic, self.config.joint_states_topic)]
        start, end = max(s[0] for s in spans), min(s[-1] for s in spans)
        period_ns = 1e9 / self.config.row_hz
        grid = start + np.round(np.arange(int((end - start) // period_ns) + 1) * period_ns).astype(np.int64)
        if grid.size < 2:
            raise BagConversionError(f"{self.bag}: camera and robot state overlap for {(end - start) / 1e9:.3f} s")
        image_index = self._match(primary, grid, self.config.max_image_offset_s)
        return image_index, np.asarray(self.streams[primary].stamps, dtype=np.int64)[image_index], grid

    def _commands(self, topic: str, row_log_times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row: the last command received before the next row's image, and whether one exists."""
        stream = self.streams[topic]
        order = np.argsort(np.asarray(stream.log_times), kind="stable")
        times = np.asarray(stream.log_times, dtype=np.int64)[order]
        period_ns = int(1e9 / self.config.row_hz)
        limits = np.append(row_log_times[1:], row_log_times[-1] + period_ns)  # [T]
        latest = latest_before(times, limits)
        values = np.asarray(stream.values, dtype=np.float64)[order]
        return values[np.maximum(latest, 0)], latest >= 0

    def datasets(self, image_index: np.ndarray, row_stamps: np.ndarray, grid: np.ndarray, serials: list[str]):
        """All trajectory.h5 datasets of the episode (T rows each): states at the rows' image stamps."""
        tol = self.config.max_state_offset_s
        ee = np.asarray(self.streams[self.config.ee_state_topic].values, dtype=np.float64)
        ee_index = self._match(self.config.ee_state_topic, row_stamps, tol)
        states = geometry.pose_to_state(ee[ee_index, :3], ee[ee_index, 3:7], ee[ee_index, 7])  # [T, 7]
        joint_stream = self.streams[self.config.joint_states_topic]
        joint_index = self._match(self.config.joint_states_topic, row_stamps, tol)
        names = joint_stream.values[joint_index[0]][0]
        order = arm_joint_order(names, self.bag)
        joints = np.stack([joint_stream.values[i][1][order] for i in joint_index])  # [T, 7]

        row_log_times = np.asarray(self.streams[self.config.image_topics[0]].log_times, dtype=np.int64)[image_index]
        target, has_target = self._commands(self.config.target_pose_topic, row_log_times)
        target_euler = geometry.quat_to_euler(target[:, 3:7])  # [T, 3]
        action_pose = np.where(has_target[:, None], np.concatenate([target[:, :3], target_euler], 1), states[:, :6])
        gripper, has_gripper = self._commands(self.config.gripper_command_topic, row_log_times)
        action_gripper = np.where(has_gripper, np.clip(gripper, 0.0, 1.0), states[:, 6])

        datasets = {
            fmt.CARTESIAN_POSITION: states[:, :6],
            fmt.GRIPPER_POSITION: states[:, 6],
            fmt.JOINT_POSITIONS: joints,
            fmt.ACTION_CARTESIAN_POSITION: action_pose,
            fmt.ACTION_GRIPPER_POSITION: action_gripper,
            fmt.ROBOT_TIMESTAMP_NS: np.asarray(self.streams[self.config.ee_state_topic].stamps)[ee_index],
            fmt.CONTROL_STEP_START_NS: grid,
        }
        velocities = [joint_stream.values[i][2] for i in joint_index]
        if all(v.size == len(names) for v in velocities):
            datasets[fmt.JOINT_VELOCITIES] = np.stack([v[order] for v in velocities]).astype(np.float64)
        for serial, (extrinsics, _) in zip(serials, self.extrinsics(), strict=True):
            datasets[fmt.extrinsics_key(serial)] = np.tile(extrinsics, (len(row_stamps), 1))  # [T, 6]
        return datasets

    def extrinsics(self) -> list[tuple[np.ndarray, str]]:
        """Per camera: [6] pose in the base frame and where it came from (parameter, tf_static, or unknown: zeros)."""
        base = self.frame_ids.get(self.config.ee_state_topic, "")
        found = []
        for i, topic in enumerate(self.config.image_topics):
            if self.config.camera_extrinsics:
                found.append((np.asarray(self.config.camera_extrinsics[i], np.float64), "parameter"))
            elif (pose := self.transforms.pose(self.frame_ids.get(topic, ""), base)) is not None and base:
                found.append((pose, f"{self.config.tf_static_topic} ({base} -> {self.frame_ids[topic]})"))
            else:
                found.append((np.zeros(6), "unknown"))
        return found

    def camera_indices(self, row_stamps: np.ndarray, primary_index: np.ndarray) -> list[np.ndarray]:
        """Per camera topic, the message index used by each row (the primary camera's are the rows)."""
        others = [self._match(t, row_stamps, self.config.max_image_offset_s) for t in self.config.image_topics[1:]]
        return [primary_index, *others]

    def last_value(self, topic: str):
        """Most recent value of an optional topic, None when absent."""
        stream = self.streams.get(topic)
        return stream.values[-1] if stream and stream.values else None


def _rows_of_frames(bag: Path, reader: AnyReader, connection, row_messages: np.ndarray) -> Iterator[np.ndarray]:
    """Decode a camera topic once, yielding the RGB frame of each row in row order (a frame may serve several)."""
    pending: dict[int, np.ndarray] = {}
    needed_until = {int(m): r for r, m in enumerate(row_messages)}  # message index -> last row needing it
    next_row = 0
    for position, (_, _, raw) in enumerate(reader.messages(connections=[connection])):
        if position in needed_until:
            msg = reader.deserialize(raw, connection.msgtype)
            try:
                pending[position] = image_to_rgb(msg)
            except ValueError as error:
                raise BagConversionError(
                    f"{bag}: {connection.topic}: image {position} stamped {_stamp_ns(msg.header)} ns: {error}"
                ) from error
        while next_row < len(row_messages) and int(row_messages[next_row]) in pending:
            message = int(row_messages[next_row])
            yield pending[message]
            if needed_until[message] == next_row:
                del pending[message]
            next_row += 1
    if next_row != len(row_messages):
        raise BagConversionError(f"{bag}: {connection.topic}: image {row_messages[next_row]} vanished on a second read")


def _write_episode(bag: Path, reader: AnyReader, config: ConversionConfig, folder: Path) -> None:
    """Lay out rows from an open bag and write videos, trajectory.h5 and metadata into `folder`."""
    builder = _EpisodeBuilder(bag, reader, config)
    builder.collect()
    image_index, row_stamps, grid = builder.rows()
    serials = list(config.camera_serials) or [
        sanitise_serial(builder.frame_ids.get(t, ""), f"camera{i}") for i, t in enumerate(config.image_topics)
    ]
    if len(set(serials)) != len(serials) or len(serials) != len(config.image_topics):
        raise BagConversionError(f"{bag}: camera serials {serials} must be unique, one per image topic")
    datasets = builder.datasets(image_index, row_stamps, grid, serials)
    (folder / fmt.MP4_DIR).mkdir(parents=True)
    per_camera = builder.camera_indices(row_stamps, image_index)
    for topic, serial, messages in zip(config.image_topics, serials, per_camera, strict=True):
        frames = _rows_of_frames(bag, reader, builder.connections[topic], messages)  # read while encoding
        written = write_mp4(folder / fmt.mp4_relative_path(serial), frames, config.video)
        if written != len(row_stamps):
            raise BagConversionError(f"{bag}: {topic}: wrote {written} frames for {len(row_stamps)} rows")
        datasets[fmt.camera_timestamp_key(serial)] = np.asarray(builder.streams[topic].stamps, np.int64)[messages]
    fmt.write_trajectory(folder / fmt.TRAJECTORY_FILE, datasets)
    metadata = _metadata(bag, reader.start_time, builder, config, serials, len(row_stamps))
    metadata["repeated_frames"] = int(np.sum(np.diff(image_index) == 0))  # rows reusing the previous image (gaps)
    (folder / f"metadata_{metadata['uuid']}.json").write_text(json.dumps(metadata, indent=2))


def convert_bag(bag: Path, output_root: Path, config: ConversionConfig | None = None, force: bool = False):
    """Convert one episode bag into `<output_root>/<bag name>/`; returns that folder, or None if it existed."""
    bag, output_root, config = Path(bag), Path(output_root), config or ConversionConfig()
    final = output_root / bag.name
    if final.exists() and not force:
        return None
    if not (bag / "metadata.yaml").is_file():
        hint = " (a crashed recording? python -m training.bag_repair)" if any(bag.glob("*.mcap")) else ""
        raise BagConversionError(f"{bag}: not a rosbag2 folder (no metadata.yaml){hint}")
    try:
        reader = AnyReader([bag], default_typestore=stack_typestore())
        reader.open()
    except Exception as error:  # rosbags raises several error types for damaged files
        raise _explained(bag, f"unreadable bag ({type(error).__name__}: {error})") from error
    output_root.mkdir(parents=True, exist_ok=True)
    tmp = output_root / temporary_name(bag.name)
    try:
        _write_episode(bag, reader, config, tmp)
        publish_folder(tmp, final)
        return final
    except BagConversionError:
        raise
    except Exception as error:  # damaged chunk (rosbags checks each CRC it reads), codec failure, ...
        raise _explained(bag, f"conversion failed ({type(error).__name__}: {error})") from error
    finally:
        reader.close()
        shutil.rmtree(tmp, ignore_errors=True)  # gone already after a successful rename


def _metadata(bag: Path, start_ns: int, builder: _EpisodeBuilder, config: ConversionConfig, serials, rows) -> dict:
    """The episode's metadata JSON: DROID keys plus how the rows and videos were made."""
    episode_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"jepa-ros:{bag.name}:{start_ns}"))
    sources = [source for _, source in builder.extrinsics()]
    status = builder.last_value(config.task_status_topic) or {}
    metadata = {
        "uuid": episode_uuid,
        "episode": bag.name,
        "source_bag": str(bag.resolve()),
        "trajectory_length": rows,
        "hdf5_path": fmt.TRAJECTORY_FILE,
        fmt.ROW_HZ_KEY: config.row_hz,
        "mp4_fps": config.video.fps,  # container rate == row rate: playback time is real time
        "mp4_codec": config.video.codec,
        "timestamp_unit": "ns",
        "extrinsics_known": all(source != "unknown" for source in sources),
        "extrinsics_source": dict(zip(serials, sources, strict=True)),
        "action_semantics": "last command received before the next row's image; observed state before any",
        "current_task": status.get("task", ""),
        "success": status.get("success"),
        "seed": status.get("seed"),
        "camera_info": builder.last_value(config.camera_info_topic),
    }
    by_topic = dict(zip(config.image_topics, serials, strict=True))
    exterior = [serial for topic, serial in by_topic.items() if topic != config.wrist_topic]
    metadata |= fmt.camera_metadata(exterior, by_topic.get(config.wrist_topic))
    metadata["camera_serials"] = serials  # in image-topic order
    return metadata


def _explained(bag: Path, fallback: str) -> BagConversionError:
    """The bag's defects in words when a scan finds any (damaged chunk with its topics and time range, truncation),
    else `fallback`: called when reading failed, so intact bags are read only once."""
    if problems := verify_bag(bag):
        return BagConversionError(
            "; ".join(problems) + " -- refused (python -m training.bag_repair writes a bag of the intact chunks)"
        )
    return BagConversionError(f"{bag}: {fallback}")


def temporary_name(name: str) -> str:
    """A temporary folder name owned by this process: `.tmp-<pid>-<random>-<name>`."""
    return f"{fmt.TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}-{name}"


def _owner_alive(name: str) -> bool:
    """Whether the process that made a temporary folder still runs (names without a pid are from older runs)."""
    pid = name[len(fmt.TMP_PREFIX) :].split("-", 1)[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def clean_stale_temporaries(output_root: Path) -> list[Path]:
    """Remove temporary folders left in `output_root` by conversions whose process is dead; returns them."""
    output_root = Path(output_root)
    if not output_root.is_dir():
        return []
    stale = [p for p in output_root.iterdir() if fmt.is_temporary(p.name) and not _owner_alive(p.name)]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


def publish_folder(tmp: Path, final: Path) -> None:
    """Move a finished episode folder into place atomically: every file and folder is fsynced first, an existing
    episode is replaced only after the new one is complete, and the rename itself is fsynced."""
    for path in sorted(tmp.rglob("*"), reverse=True):  # files, then their folders: all on disk before the rename
        fsync_path(path)
    fsync_path(tmp)
    if final.exists():
        trash = final.with_name(temporary_name(f"old-{final.name}"))
        final.rename(trash)
        tmp.rename(final)
        fsync_path(final.parent)
        shutil.rmtree(trash)
    else:
        tmp.rename(final)
        fsync_path(final.parent)
