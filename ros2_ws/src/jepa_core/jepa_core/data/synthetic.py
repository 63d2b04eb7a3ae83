"""Synthetic episodes for tests and benchmarks: a smooth known trajectory and frames that encode their own index.

Frame k (camera message k) has a flat top-left block of value frame_code(k), so a decoded video can be checked row by
row against the camera stamps stored in trajectory.h5. The roll angle crosses +-pi to exercise Euler wrapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer

from jepa_core import geometry
from jepa_core.data import topics
from jepa_core.data.bags import BAG_VERSION, ChunkPolicy, CrcBagWriter
from jepa_core.data.typestore import stack_typestore

CODE_BLOCK = 16  # pixels of the top-left block carrying the frame code
TF, TF_BODY = "geometry_msgs/msg/TransformStamped", "geometry_msgs/msg/Transform"
ARM_JOINTS = [f"panda_joint{i}" for i in range(1, 8)]
FINGER_JOINTS = ["panda_finger_joint1", "panda_finger_joint2"]


@dataclass(frozen=True)
class SyntheticEpisode:
    """Rates, duration and image size of a synthetic episode."""

    seconds: float = 3.0
    camera_hz: float = 30.0
    state_hz: float = 50.0
    command_hz: float = 5.0
    height: int = 64
    width: int = 64
    start_ns: int = 1_700_000_000_000_000_000
    camera_frame_id: str = "front_camera"
    image_encoding: str = "rgb8"  # written into the Image header (the pixels stay rgb8): other values test rejection
    camera_pose: tuple[float, ...] | None = None  # [xyz, euler xyz] in panda_link0: written on /tf_static when set
    wrist_frame_id: str = ""  # set: the same frames (colours inverted) also on the wrist camera topic, this frame_id


def frame_code(index: int) -> int:
    """Value of the code block in camera frame `index` (multiples of 8, robust to lossy compression)."""
    return (index * 8) % 256


def synthetic_state(t: np.ndarray) -> np.ndarray:
    """Ground-truth states [..., 7] at times t (s): smooth xyz, roll crossing +-pi, gripper closing then opening."""
    t = np.asarray(t, dtype=np.float64)
    xyz = np.stack([0.45 + 0.1 * np.sin(0.8 * t), 0.1 * np.cos(0.6 * t), 0.3 + 0.05 * np.sin(1.3 * t)], -1)
    roll = np.angle(np.exp(1j * (np.pi - 0.3 + 0.25 * t)))  # wraps from +pi to -pi around t = 1.2 s
    euler = np.stack([roll, 0.1 * np.sin(t), 0.3 * np.cos(0.5 * t)], -1)
    gripper = np.clip(np.sin(0.9 * t) + 0.2, 0.0, 1.0)[..., None]
    return np.concatenate([xyz, euler, gripper], -1)


def synthetic_frame(index: int, height: int, width: int) -> np.ndarray:
    """uint8 RGB [H, W, 3]: a moving gradient plus the code block of frame `index`."""
    y, x = np.mgrid[0:height, 0:width]
    frame = np.stack([(x * 4 + index * 3) % 256, (y * 4) % 256, ((x + y) * 2 + index) % 256], -1).astype(np.uint8)
    frame[:CODE_BLOCK, :CODE_BLOCK] = frame_code(index)
    return frame


def _stamp(store, t_ns: int, frame_id: str):
    """A std_msgs/Header at t_ns."""
    time_cls, header_cls = store.types["builtin_interfaces/msg/Time"], store.types["std_msgs/msg/Header"]
    return header_cls(stamp=time_cls(sec=t_ns // 1_000_000_000, nanosec=t_ns % 1_000_000_000), frame_id=frame_id)


def write_synthetic_bag(
    path: Path, spec: SyntheticEpisode = SyntheticEpisode(), storage: str = "mcap", omit: tuple[str, ...] = ()
) -> None:
    """Write an episode bag with the stack's topics (minus the relative names in `omit`), receive time = stamp;
    MCAP bags are written like the recorder's (checksummed chunks)."""
    store = stack_typestore()
    t = store.types
    events: list[tuple[int, str, object]] = []  # (t_ns, topic name, message)

    def at(hz: float) -> np.ndarray:
        return spec.start_ns + np.round(np.arange(int(spec.seconds * hz)) * 1e9 / hz).astype(np.int64)

    def pose(state: np.ndarray):
        position = t["geometry_msgs/msg/Point"](x=state[0], y=state[1], z=state[2])
        return t["geometry_msgs/msg/Pose"](
            position, t["geometry_msgs/msg/Quaternion"](*geometry.euler_to_quat(state[3:6]))
        )

    def seconds_of(ns: int) -> float:
        return (ns - spec.start_ns) / 1e9

    for k, ns in enumerate(at(spec.camera_hz)):
        frame = synthetic_frame(k, spec.height, spec.width)
        header = _stamp(store, int(ns), spec.camera_frame_id)
        image = t["sensor_msgs/msg/Image"](
            header, spec.height, spec.width, spec.image_encoding, 0, spec.width * 3, frame.ravel()
        )
        events.append((int(ns), topics.CAMERA_IMAGE.name, image))
        if spec.wrist_frame_id:
            wrist = t["sensor_msgs/msg/Image"](
                _stamp(store, int(ns), spec.wrist_frame_id), spec.height, spec.width, spec.image_encoding, 0,
                spec.width * 3, (255 - frame).ravel(),
            )  # fmt: skip
            events.append((int(ns), topics.WRIST_CAMERA_IMAGE.name, wrist))
    for ns in at(spec.state_hz):
        state = synthetic_state(seconds_of(ns))
        header = _stamp(store, int(ns), "panda_link0")
        events.append(
            (int(ns), topics.EE_STATE.name, t["jepa_msgs/msg/EndEffectorState"](header, pose(state), state[6]))
        )
        positions = np.concatenate([np.sin(seconds_of(ns) + np.arange(7)), [0.02, 0.02]])
        joint = t["sensor_msgs/msg/JointState"](
            header, [*ARM_JOINTS, *FINGER_JOINTS], positions, np.zeros(9), np.zeros(0)
        )
        events.append((int(ns), topics.JOINT_STATES.name, joint))
    for ns in at(spec.command_hz):
        target = synthetic_state(seconds_of(ns) + 0.2)
        stamped = t["geometry_msgs/msg/PoseStamped"](_stamp(store, int(ns), "panda_link0"), pose(target))
        events.append((int(ns), topics.TARGET_POSE.name, stamped))
        events.append((int(ns), topics.GRIPPER_COMMAND.name, t["std_msgs/msg/Float64"](float(target[6]))))
        status = t["jepa_msgs/msg/TaskStatus"](
            _stamp(store, int(ns), "panda_link0"), "reach", 7, False, 0.1, 0.02, t["geometry_msgs/msg/Point"](0, 0, 0)
        )
        events.append((int(ns), topics.TASK_STATUS.name, status))
    events.sort(key=lambda event: event[0])

    unused = () if spec.wrist_frame_id else (topics.WRIST_CAMERA_IMAGE.name,)  # no wrist camera, no wrist topic
    wanted = [topic for topic in topics.RECORDED_TOPICS if topic.name not in (*omit, *unused)]
    if spec.camera_pose is not None:  # base -> mount (translation) -> camera (rotation): a two-link static tree
        pose = np.asarray(spec.camera_pose, np.float64)
        vector, quat, transform = t["geometry_msgs/msg/Vector3"], t["geometry_msgs/msg/Quaternion"], t[TF]
        mount = transform(
            _stamp(store, spec.start_ns, "panda_link0"), "camera_mount", t[TF_BODY](vector(*pose[:3]), quat(0, 0, 0, 1))
        )
        camera = transform(
            _stamp(store, spec.start_ns, "camera_mount"),
            spec.camera_frame_id,
            t[TF_BODY](vector(0, 0, 0), quat(*geometry.euler_to_quat(pose[3:]))),
        )
        events.insert(0, (spec.start_ns, "tf_static", t["tf2_msgs/msg/TFMessage"]([mount, camera])))
        wanted.append(topics.RecordedTopic("tf_static", "tf2_msgs/msg/TFMessage"))
    plugin = StoragePlugin[storage.upper()]
    writer = CrcBagWriter(path, ChunkPolicy(fsync=False)) if plugin == StoragePlugin.MCAP else None
    with writer or Writer(path, version=BAG_VERSION, storage_plugin=plugin) as writer:
        connections = {tp.name: writer.add_connection(f"/{tp.name}", tp.msgtype, typestore=store) for tp in wanted}
        for ns, name, msg in events:
            if name in connections:
                writer.write(connections[name], ns, store.serialize_cdr(msg, msg.__msgtype__))
