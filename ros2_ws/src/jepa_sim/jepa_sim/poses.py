"""Flange pose helpers for the simulator (numpy/SciPy): DROID state vectors, quaternions (x, y, z, w), actions.

State vector (DESIGN.md section 4): [x, y, z, extrinsic Euler 'xyz' (rad), gripper in [0, 1]] of the flange in the
base frame. An action [dxyz, d_euler_xyz, dgripper] moves a state to xyz + d, R(d_euler) R, clip(gripper + dg).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

STATE_DIM = 7


def _vector(values, size: int, name: str) -> np.ndarray:
    """`values` as a float64 vector of `size`, or a ValueError naming the argument."""
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (size,) or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be {size} finite numbers, got shape {array.shape}: {array}")
    return array


def state_from_pose(position, quat_xyzw, gripper: float) -> np.ndarray:
    """[x, y, z, euler_xyz, gripper] from a position and an (x, y, z, w) quaternion."""
    quat = _vector(quat_xyzw, 4, "quat_xyzw")
    if abs(np.linalg.norm(quat) - 1.0) > 1e-3:
        raise ValueError(f"quat_xyzw must be a unit quaternion, got norm {np.linalg.norm(quat):.6f}")
    euler = Rotation.from_quat(quat).as_euler("xyz")
    return np.concatenate([_vector(position, 3, "position"), euler, [float(gripper)]])


def rotation_of_state(state) -> Rotation:
    """Orientation of a state vector as a SciPy Rotation."""
    return Rotation.from_euler("xyz", _vector(state, STATE_DIM, "state")[3:6])


def quat_xyzw_of_state(state) -> np.ndarray:
    """Orientation of a state vector as an (x, y, z, w) quaternion."""
    return rotation_of_state(state).as_quat()


def apply_action(state, action) -> np.ndarray:
    """Next state of a DROID-style action: xyz + d, R(d_euler) R, gripper + dg clipped to [0, 1]."""
    state = _vector(state, STATE_DIM, "state")
    action = _vector(action, STATE_DIM, "action")
    rotation = Rotation.from_euler("xyz", action[3:6]) * Rotation.from_euler("xyz", state[3:6])
    gripper = np.clip(state[6] + action[6], 0.0, 1.0)
    return np.concatenate([state[:3] + action[:3], rotation.as_euler("xyz"), [gripper]])
