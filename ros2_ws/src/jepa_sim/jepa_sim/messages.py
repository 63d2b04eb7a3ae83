"""ROS messages of the simulator built from env values (numpy in, messages out; no node logic)."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Pose, Quaternion
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Header

from jepa_core import geometry
from jepa_msgs.msg import EndEffectorState, TaskStatus
from jepa_sim.env import Observation
from jepa_sim.env import TaskStatus as EnvTaskStatus

JOINT_NAMES = (*(f"panda_joint{i}" for i in range(1, 8)), "panda_finger_joint1", "panda_finger_joint2")


def time_msg(seconds: float) -> Time:
    """builtin_interfaces/Time of a non-negative time in seconds."""
    nanoseconds = round(seconds * 1e9)
    return Time(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)


def image_msg(image: np.ndarray, header: Header) -> Image:
    """sensor_msgs/Image rgb8 of an [H, W, 3] uint8 array."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image: expected [H, W, 3] uint8, got {image.shape} {image.dtype}")
    height, width, _ = image.shape
    return Image(
        header=header,
        height=height,
        width=width,
        encoding="rgb8",
        is_bigendian=0,
        step=3 * width,
        data=np.ascontiguousarray(image).tobytes(),
    )


def camera_info_msg(width: int, height: int, intrinsics: tuple[float, float, float, float], header: Header):
    """sensor_msgs/CameraInfo of an undistorted pinhole camera (fx, fy, cx, cy in pixels)."""
    fx, fy, cx, cy = intrinsics
    return CameraInfo(
        header=header,
        width=width,
        height=height,
        distortion_model="plumb_bob",
        d=[0.0] * 5,
        k=[fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0],
        r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        p=[fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0],
    )


def pose_msg(state: np.ndarray) -> Pose:
    """geometry_msgs/Pose of a state vector's position and orientation (quaternion x, y, z, w)."""
    position, quat, _ = geometry.state_to_pose(np.asarray(state, dtype=np.float64))
    x, y, z = (float(v) for v in position)
    qx, qy, qz, qw = (float(v) for v in quat)
    return Pose(position=Point(x=x, y=y, z=z), orientation=Quaternion(x=qx, y=qy, z=qz, w=qw))


def state_of_pose(pose: Pose, gripper: float, what: str) -> np.ndarray:
    """State [7] of a geometry_msgs/Pose and a gripper value; a ValueError names `what` on a bad quaternion."""
    quat = np.array([pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w])
    position = np.array([pose.position.x, pose.position.y, pose.position.z])
    if not (np.all(np.isfinite(quat)) and np.all(np.isfinite(position))):
        raise ValueError(f"{what}: pose contains NaN or inf")
    if abs(np.linalg.norm(quat) - 1.0) > 1e-3:
        raise ValueError(f"{what}: orientation must be a unit quaternion (x, y, z, w), got norm {np.linalg.norm(quat)}")
    return geometry.pose_to_state(position, quat / np.linalg.norm(quat), float(gripper))


def point_msg(point: np.ndarray | None) -> Point:
    """geometry_msgs/Point of a [3] vector (all zeros for None)."""
    x, y, z = (0.0, 0.0, 0.0) if point is None else (float(v) for v in point)
    return Point(x=x, y=y, z=z)


def ee_state_msg(obs: Observation, header: Header) -> EndEffectorState:
    """jepa_msgs/EndEffectorState of an observation (flange pose in the base frame, gripper 0..1)."""
    return EndEffectorState(header=header, pose=pose_msg(obs.ee_state), gripper=float(obs.ee_state[6]))


def joint_state_msg(obs: Observation, header: Header) -> JointState:
    """sensor_msgs/JointState: 7 arm joints (rad, franka_description zeros) and 2 finger joints (m)."""
    positions = np.concatenate([obs.joint_positions, obs.finger_positions])
    return JointState(header=header, name=list(JOINT_NAMES), position=[float(v) for v in positions])


def task_status_msg(status: EnvTaskStatus, header: Header) -> TaskStatus:
    """jepa_msgs/TaskStatus of the env's task status."""
    return TaskStatus(
        header=header,
        task=status.task,
        seed=int(status.seed),
        success=bool(status.success),
        distance=float(status.distance),
        tolerance=float(status.tolerance),
        goal=point_msg(status.goal_point),
    )
