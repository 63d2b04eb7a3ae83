"""Float64 numpy/SciPy reference for end-effector poses, states and actions (the DROID / V-JEPA 2 conventions).

States are [x, y, z, roll, pitch, yaw, gripper] with extrinsic lower-case 'xyz' Euler angles (SciPy) in radians and
gripper closure in [0, 1]. Actions are [dxyz, euler_xyz(R_next R_now^T), dgripper]. Quaternions are (x, y, z, w).
The batched torch twin used inside CEM lives in `jepa_core.planning.poses` and is tested against this module.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

EULER_SEQ = "xyz"  # extrinsic x-y-z, as SciPy lower-case: the convention of DROID and the official V-JEPA 2 code
STATE_DIM = 7


def _check_last_dim(name: str, array: np.ndarray, size: int) -> None:
    """Raise a ValueError naming the argument when its last dimension is not `size`."""
    if array.ndim == 0 or array.shape[-1] != size:
        raise ValueError(f"{name}: expected shape [..., {size}], got {tuple(array.shape)}")


def _rotations(vectors: np.ndarray, kind: str) -> Rotation:
    """SciPy rotations (in float64) from [..., 3] Euler angles or [..., 4] quaternions, flattened to a batch."""
    if kind == "euler":
        return Rotation.from_euler(EULER_SEQ, np.asarray(vectors, dtype=np.float64).reshape(-1, 3), degrees=False)
    return Rotation.from_quat(np.asarray(vectors, dtype=np.float64).reshape(-1, 4))


def quat_to_euler(quat_xyzw: np.ndarray) -> np.ndarray:
    """Quaternions [..., 4] (x, y, z, w) -> extrinsic 'xyz' Euler angles [..., 3] (float64, radians)."""
    quat_xyzw = np.asarray(quat_xyzw)
    _check_last_dim("quat_xyzw", quat_xyzw, 4)
    return _rotations(quat_xyzw, "quat").as_euler(EULER_SEQ, degrees=False).reshape(*quat_xyzw.shape[:-1], 3)


def euler_to_quat(euler_xyz: np.ndarray) -> np.ndarray:
    """Extrinsic 'xyz' Euler angles [..., 3] -> quaternions [..., 4] (x, y, z, w; float64, w >= 0)."""
    euler_xyz = np.asarray(euler_xyz)
    _check_last_dim("euler_xyz", euler_xyz, 3)
    quat = _rotations(euler_xyz, "euler").as_quat(canonical=True)
    return quat.reshape(*euler_xyz.shape[:-1], 4)


def euler_to_matrix(euler_xyz: np.ndarray) -> np.ndarray:
    """Extrinsic 'xyz' Euler angles [..., 3] -> rotation matrices [..., 3, 3] (float64)."""
    euler_xyz = np.asarray(euler_xyz)
    _check_last_dim("euler_xyz", euler_xyz, 3)
    return _rotations(euler_xyz, "euler").as_matrix().reshape(*euler_xyz.shape[:-1], 3, 3)


def matrix_to_euler(matrix: np.ndarray) -> np.ndarray:
    """Rotation matrices [..., 3, 3] -> extrinsic 'xyz' Euler angles [..., 3] (float64)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim < 2 or matrix.shape[-2:] != (3, 3):
        raise ValueError(f"matrix: expected shape [..., 3, 3], got {tuple(matrix.shape)}")
    euler = Rotation.from_matrix(matrix.reshape(-1, 3, 3)).as_euler(EULER_SEQ, degrees=False)
    return euler.reshape(*matrix.shape[:-2], 3)


def quat_to_matrix(quat_xyzw: np.ndarray) -> np.ndarray:
    """Quaternions [..., 4] (x, y, z, w) -> rotation matrices [..., 3, 3] (float64)."""
    quat_xyzw = np.asarray(quat_xyzw)
    _check_last_dim("quat_xyzw", quat_xyzw, 4)
    return _rotations(quat_xyzw, "quat").as_matrix().reshape(*quat_xyzw.shape[:-1], 3, 3)


def pose_to_state(position: np.ndarray, quat_xyzw: np.ndarray, gripper: np.ndarray | float) -> np.ndarray:
    """Position [..., 3], quaternion [..., 4] (x, y, z, w) and gripper [...] -> states [..., 7] (float64)."""
    position = np.asarray(position, dtype=np.float64)
    _check_last_dim("position", position, 3)
    gripper = np.asarray(gripper, dtype=np.float64)
    euler = quat_to_euler(quat_xyzw)
    if euler.shape != position.shape:
        raise ValueError(f"quat_xyzw: batch shape {euler.shape[:-1]} does not match position {position.shape[:-1]}")
    gripper = np.broadcast_to(gripper, position.shape[:-1])[..., None]
    return np.concatenate([position, euler, gripper], axis=-1)


def state_to_pose(state: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """States [..., 7] -> (position [..., 3], quaternion [..., 4] x,y,z,w, gripper [...]), all float64."""
    state = np.asarray(state, dtype=np.float64)
    _check_last_dim("state", state, STATE_DIM)
    return state[..., :3].copy(), euler_to_quat(state[..., 3:6]), state[..., 6].copy()


def compute_new_pose(pose: np.ndarray, action: np.ndarray) -> np.ndarray:
    """Apply actions [..., 7] to states [..., 7]: xyz + d, R(d_euler) R, gripper + dg clipped to [0, 1].

    Angles are computed in float64 by SciPy and cast back to the input dtype; xyz and gripper are added in the input
    dtype (the official planning utility's numerics, so float32 results match it exactly).
    """
    pose, action = np.asarray(pose), np.asarray(action)
    _check_last_dim("pose", pose, STATE_DIM)
    _check_last_dim("action", action, STATE_DIM)
    if pose.shape != action.shape:
        raise ValueError(f"action: expected the pose's shape {pose.shape}, got {action.shape}")
    dtype = np.result_type(pose, action)
    new_xyz = pose[..., :3] + action[..., :3]  # [..., 3] in the input dtype
    rot_now = euler_to_matrix(pose[..., 3:6])  # [..., 3, 3] float64
    rot_delta = euler_to_matrix(action[..., 3:6])  # [..., 3, 3] float64
    new_euler = matrix_to_euler(rot_delta @ rot_now).astype(dtype)  # [..., 3]
    new_gripper = np.clip(pose[..., 6:] + action[..., 6:], 0, 1)  # [..., 1]
    return np.concatenate([new_xyz, new_euler, new_gripper], axis=-1).astype(dtype, copy=False)


def poses_to_diffs(states: np.ndarray) -> np.ndarray:
    """States [T, 7] of one trajectory -> actions [T-1, 7]: [x_{t+1} - x_t, euler(R_{t+1} R_t^T), g_{t+1} - g_t].

    The rotation difference is taken between matrices, so it stays small where the raw Euler angles wrap at +-pi.
    """
    states = np.asarray(states)
    if states.ndim != 2 or states.shape[1] != STATE_DIM or states.shape[0] < 2:
        raise ValueError(f"states: expected shape [T>=2, {STATE_DIM}], got {tuple(states.shape)}")
    rot = euler_to_matrix(states[:, 3:6])  # [T, 3, 3] float64
    rot_diff = rot[1:] @ np.swapaxes(rot[:-1], -1, -2)  # [T-1, 3, 3]
    xyz_diff = states[1:, :3] - states[:-1, :3]  # [T-1, 3]
    gripper_diff = states[1:, 6:] - states[:-1, 6:]  # [T-1, 1]
    return np.concatenate([xyz_diff, matrix_to_euler(rot_diff), gripper_diff], axis=1)
