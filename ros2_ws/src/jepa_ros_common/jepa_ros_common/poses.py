"""geometry_msgs/Pose and jepa_msgs/EndEffectorState <-> numpy poses and states [x, y, z, roll, pitch, yaw, gripper].

Quaternions are (x, y, z, w) as in the messages; states use extrinsic 'xyz' Euler angles (jepa_core.geometry).
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Point, Pose, Quaternion

from jepa_core.geometry import pose_to_state, state_to_pose
from jepa_msgs.msg import EndEffectorState

QUATERNION_NORM_TOLERANCE = 1e-3  # how far from 1 the norm of a message quaternion may be


def pose_msg(position: np.ndarray, quaternion: np.ndarray) -> Pose:
    """geometry_msgs/Pose of a position [3] and a quaternion [4] (x, y, z, w)."""
    x, y, z = (float(v) for v in position)
    qx, qy, qz, qw = (float(v) for v in quaternion)
    return Pose(position=Point(x=x, y=y, z=z), orientation=Quaternion(x=qx, y=qy, z=qz, w=qw))


def position_quaternion(pose: Pose) -> tuple[np.ndarray, np.ndarray]:
    """Position [3] and quaternion [4] (x, y, z, w) of a geometry_msgs/Pose, float64, unchecked."""
    p, q = pose.position, pose.orientation
    return np.array([p.x, p.y, p.z]), np.array([q.x, q.y, q.z, q.w])


def pose_from_state(state: np.ndarray) -> Pose:
    """geometry_msgs/Pose of a state [7]'s position and orientation."""
    position, quaternion, _ = state_to_pose(np.asarray(state, dtype=np.float64))
    return pose_msg(position, quaternion)


def state_from_pose(pose: Pose, gripper: float, what: str) -> np.ndarray:
    """State [7] of a pose and a gripper value; a ValueError naming `what` refuses NaN/inf or a non-unit quaternion."""
    position, quaternion = position_quaternion(pose)
    if not (np.isfinite(position).all() and np.isfinite(quaternion).all() and np.isfinite(gripper)):
        raise ValueError(
            f"{what}: non-finite position {position.tolist()}, orientation {quaternion.tolist()} or gripper {gripper}"
        )
    norm = float(np.linalg.norm(quaternion))
    if abs(norm - 1.0) > QUATERNION_NORM_TOLERANCE:
        raise ValueError(f"{what}: orientation must be a unit quaternion (x, y, z, w), got norm {norm:.6g}")
    return pose_to_state(position, quaternion, float(gripper))


def state_from_ee_state(msg: EndEffectorState) -> np.ndarray:
    """State [7] of an EndEffectorState (flange pose and gripper 0..1); ValueError as state_from_pose."""
    return state_from_pose(msg.pose, msg.gripper, "ee_state")
