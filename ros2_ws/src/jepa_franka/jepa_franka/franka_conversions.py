"""ROS-free math of the Franka adapter: flange <-> TCP poses, safe equilibrium steps, gripper width <-> closure.

Kept apart from `franka_adapter` so every conversion is testable without rclpy. Poses are (position [3] in m,
quaternion [4] x, y, z, w) in the robot's base frame; all arithmetic is float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np
from scipy.spatial.transform import Rotation

# Franka Hand: libfranka's default flange-to-end-effector transform F_T_EE is 0.1034 m along the flange z axis and
# -45 degrees about z (the hand is mounted rotated). Other end effectors: set the adapter's tcp_offset_* parameters.
FRANKA_HAND_TCP_XYZ = (0.0, 0.0, 0.1034)
FRANKA_HAND_TCP_RPY = (0.0, 0.0, -math.pi / 4)
# Franka Hand maximum opening between the fingers, m.
FRANKA_HAND_MAX_WIDTH = 0.08


@dataclass(frozen=True)
class Pose:
    """A rigid transform: position [3] (m) and unit quaternion [4] (x, y, z, w)."""

    position: np.ndarray  # [3]
    quaternion: np.ndarray  # [4] x, y, z, w

    @property
    def rotation(self) -> Rotation:
        """The orientation as a SciPy rotation."""
        return Rotation.from_quat(self.quaternion)

    def compose(self, other: Pose) -> Pose:
        """self * other: `other` expressed in self's frame, mapped to self's parent frame."""
        rotation = self.rotation
        return Pose(self.position + rotation.apply(other.position), (rotation * other.rotation).as_quat())

    def inverse(self) -> Pose:
        """The inverse transform."""
        inverse_rotation = self.rotation.inv()
        return Pose(-inverse_rotation.apply(self.position), inverse_rotation.as_quat())


def checked_pose(position, quaternion, what: str) -> Pose:
    """Validate a pose from a message: finite values and a non-degenerate quaternion (normalised); raise otherwise."""
    position = np.asarray(position, dtype=np.float64).reshape(3)
    quaternion = np.asarray(quaternion, dtype=np.float64).reshape(4)
    if not (np.all(np.isfinite(position)) and np.all(np.isfinite(quaternion))):
        raise ValueError(f"{what}: expected finite position and orientation, got {position} / {quaternion}")
    norm = float(np.linalg.norm(quaternion))
    if abs(norm - 1.0) > 0.1:
        raise ValueError(f"{what}: expected a unit quaternion (x, y, z, w), got norm {norm:.3f} ({quaternion})")
    return Pose(position, quaternion / norm)


def tcp_offset(xyz, rpy) -> Pose:
    """Flange-to-TCP transform from a translation (m) and extrinsic 'xyz' Euler angles (rad), in the flange frame."""
    xyz = np.asarray(xyz, dtype=np.float64)
    rpy = np.asarray(rpy, dtype=np.float64)
    if xyz.shape != (3,) or rpy.shape != (3,) or not (np.all(np.isfinite(xyz)) and np.all(np.isfinite(rpy))):
        raise ValueError(f"tcp offset: expected 3 finite values each for xyz and rpy, got xyz={xyz}, rpy={rpy}")
    return Pose(xyz, Rotation.from_euler("xyz", rpy).as_quat())


def franka_topic(namespace: str, name: str) -> str:
    """Absolute name of a franka_ros2 topic/action: `name` under `namespace` ('' = root); absolute names kept."""
    if name.startswith("/"):
        return name
    parts = [part for part in (namespace.strip("/"), name.strip("/")) if part]
    return "/" + "/".join(parts)


def flange_from_tcp(tcp: Pose, offset: Pose) -> Pose:
    """Flange pose from the TCP pose: T_flange = T_tcp * offset^-1."""
    return tcp.compose(offset.inverse())


def tcp_from_flange(flange: Pose, offset: Pose) -> Pose:
    """TCP pose from the flange pose: T_tcp = T_flange * offset."""
    return flange.compose(offset)


def translation_distance(a: Pose, b: Pose) -> float:
    """Euclidean distance between two positions, m."""
    return float(np.linalg.norm(b.position - a.position))


def rotation_distance(a: Pose, b: Pose) -> float:
    """Angle of the rotation taking a's orientation to b's, rad in [0, pi]."""
    return float((b.rotation * a.rotation.inv()).magnitude())


def within_step(current: Pose, target: Pose, max_translation: float, max_rotation: float) -> bool:
    """True when `target` is reachable from `current` in one step of the given limits."""
    return (
        translation_distance(current, target) <= max_translation and rotation_distance(current, target) <= max_rotation
    )


def limit_step(current: Pose, target: Pose, max_translation: float, max_rotation: float) -> Pose:
    """Move from `current` towards `target` by at most max_translation (m) and max_rotation (rad, on the geodesic)."""
    delta = target.position - current.position
    distance = float(np.linalg.norm(delta))
    position = (
        target.position if distance <= max_translation else current.position + delta * (max_translation / distance)
    )
    relative = target.rotation * current.rotation.inv()  # rotation taking current to target, base frame
    angle = float(relative.magnitude())
    if angle <= max_rotation:
        return Pose(position, target.quaternion)
    partial = Rotation.from_rotvec(relative.as_rotvec() * (max_rotation / angle))
    return Pose(position, (partial * current.rotation).as_quat())


def gripper_closure_from_fingers(finger_positions, max_width: float) -> float:
    """Gripper closure in [0, 1] (1 = closed) from the two finger joint positions (m each; their sum is the width)."""
    positions = np.asarray(finger_positions, dtype=np.float64)
    if positions.shape != (2,) or not np.all(np.isfinite(positions)):
        raise ValueError(f"gripper joint states: expected 2 finite finger positions, got {finger_positions}")
    return float(np.clip(1.0 - positions.sum() / max_width, 0.0, 1.0))


def gripper_width_from_closure(closure: float, max_width: float) -> float:
    """Finger opening (m) for a closure command in [0, 1]: width = (1 - closure) * max_width (closure clipped)."""
    if not math.isfinite(closure):
        raise ValueError(f"gripper command: expected a finite closure in [0, 1], got {closure}")
    return (1.0 - min(max(closure, 0.0), 1.0)) * max_width


class GripperMotion(Enum):
    """Which franka_gripper action carries a width command."""

    MOVE = "move"  # open (or reposition) without expecting contact
    GRASP = "grasp"  # close with force; succeeds when it stops on an object within the epsilons


@dataclass(frozen=True)
class GripperGoal:
    """One franka_gripper goal: the action to use and the target finger opening (m)."""

    motion: GripperMotion
    width: float


def plan_gripper_goal(
    closure: float, current_width: float | None, last_width: float | None, max_width: float, deadband: float
) -> GripperGoal | None:
    """Gripper goal for a closure command, or None when it is within `deadband` (fraction of max_width) of the last one.

    Closing (target narrower than the measured width) uses Grasp so contact with an object counts as success; opening
    uses Move. Without a measured width the command is treated as closing when closure >= 0.5.
    """
    width = gripper_width_from_closure(closure, max_width)
    if last_width is not None and abs(width - last_width) < deadband * max_width:
        return None
    closing = width < current_width if current_width is not None else closure >= 0.5
    return GripperGoal(GripperMotion.GRASP if closing else GripperMotion.MOVE, width)
