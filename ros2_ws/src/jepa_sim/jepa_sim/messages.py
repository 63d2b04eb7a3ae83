"""ROS messages only the simulator publishes, built from env values (shared conversions: jepa_ros_common)."""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Point
from sensor_msgs.msg import CameraInfo, JointState
from std_msgs.msg import Header

from jepa_msgs.msg import EndEffectorState, TaskStatus
from jepa_ros_common.poses import pose_from_state
from jepa_sim.env import Observation
from jepa_sim.env import TaskStatus as EnvTaskStatus

JOINT_NAMES = (*(f"panda_joint{i}" for i in range(1, 8)), "panda_finger_joint1", "panda_finger_joint2")


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


def point_msg(point: np.ndarray | None) -> Point:
    """geometry_msgs/Point of a [3] vector (all zeros for None)."""
    x, y, z = (0.0, 0.0, 0.0) if point is None else (float(v) for v in point)
    return Point(x=x, y=y, z=z)


def ee_state_msg(obs: Observation, header: Header) -> EndEffectorState:
    """jepa_msgs/EndEffectorState of an observation (flange pose in the base frame, gripper 0..1)."""
    return EndEffectorState(header=header, pose=pose_from_state(obs.ee_state), gripper=float(obs.ee_state[6]))


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
