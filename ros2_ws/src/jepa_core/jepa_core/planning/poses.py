"""Batched torch end-effector pose integration for planning (the twin of `jepa_core.geometry`, no host round trips).

States are [x, y, z, roll, pitch, yaw, gripper] with extrinsic 'xyz' Euler angles; actions are
[dxyz, euler_xyz(R_next R_now^T), dgripper]. Rotation math runs in `rotation_dtype` (float64 by default, as the
official code does through SciPy) on the tensors' own device and is cast back, so float32 results match the official
planner's poses.
"""

from __future__ import annotations

import torch

STATE_DIM = 7


def _check_last_dim(name: str, tensor: torch.Tensor, size: int) -> None:
    """Raise a ValueError naming the argument when its last dimension is not `size`."""
    if tensor.dim() == 0 or tensor.shape[-1] != size:
        raise ValueError(f"{name}: expected shape [..., {size}], got {tuple(tensor.shape)}")


def euler_xyz_to_matrix(euler: torch.Tensor) -> torch.Tensor:
    """Extrinsic 'xyz' Euler angles [..., 3] -> rotation matrices [..., 3, 3] = Rz(yaw) Ry(pitch) Rx(roll)."""
    _check_last_dim("euler", euler, 3)
    euler = euler.contiguous()  # strided float64 trig is orders of magnitude slower on CPU
    cos, sin = torch.cos(euler), torch.sin(euler)  # [..., 3]
    cx, cy, cz = cos.unbind(-1)
    sx, sy, sz = sin.unbind(-1)
    rows = (
        (cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx),
        (sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx),
        (-sy, cy * sx, cy * cx),
    )
    return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)  # [..., 3, 3]


def matrix_to_euler_xyz(matrix: torch.Tensor) -> torch.Tensor:
    """Rotation matrices [..., 3, 3] -> extrinsic 'xyz' Euler angles [..., 3] (roll, yaw in (-pi, pi], |pitch| <= pi/2).

    Pitch uses atan2 with the column norm (well conditioned near +-pi/2, unlike asin).
    """
    if matrix.dim() < 2 or matrix.shape[-2:] != (3, 3):
        raise ValueError(f"matrix: expected shape [..., 3, 3], got {tuple(matrix.shape)}")
    roll = torch.atan2(matrix[..., 2, 1], matrix[..., 2, 2])
    pitch = torch.atan2(-matrix[..., 2, 0], torch.hypot(matrix[..., 0, 0], matrix[..., 1, 0]))
    yaw = torch.atan2(matrix[..., 1, 0], matrix[..., 0, 0])
    return torch.stack([roll, pitch, yaw], dim=-1)  # [..., 3]


def integrate_poses(
    states: torch.Tensor, actions: torch.Tensor, rotation_dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """Apply actions [..., 7] to states [..., 7]: xyz + d, R(d_euler) R, gripper + dg clipped to [0, 1].

    xyz and gripper are added in the states' dtype; the rotation is composed in `rotation_dtype` and cast back.
    """
    _check_last_dim("states", states, STATE_DIM)
    _check_last_dim("actions", actions, STATE_DIM)
    actions = actions.to(states.dtype)
    new_xyz = states[..., :3] + actions[..., :3]  # [..., 3]
    rot_now = euler_xyz_to_matrix(states[..., 3:6].to(rotation_dtype))  # [..., 3, 3]
    rot_delta = euler_xyz_to_matrix(actions[..., 3:6].to(rotation_dtype))  # [..., 3, 3]
    new_euler = matrix_to_euler_xyz(rot_delta @ rot_now).to(states.dtype)  # [..., 3]
    new_gripper = (states[..., 6:] + actions[..., 6:]).clamp(0.0, 1.0)  # [..., 1]
    return torch.cat([new_xyz, new_euler, new_gripper], dim=-1)


def rollout_poses(
    state: torch.Tensor, actions: torch.Tensor, rotation_dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """Integrate action sequences [B, H, 7] from states [B, 7] (or [7]) -> poses [B, H + 1, 7], start pose first."""
    _check_last_dim("actions", actions, STATE_DIM)
    if actions.dim() != 3:
        raise ValueError(f"actions: expected shape [B, H, {STATE_DIM}], got {tuple(actions.shape)}")
    poses = [state.expand(actions.shape[0], STATE_DIM)]
    for step in range(actions.shape[1]):
        poses.append(integrate_poses(poses[-1], actions[:, step], rotation_dtype))
    return torch.stack(poses, dim=1)  # [B, H + 1, 7]


def pose_differences(states: torch.Tensor, rotation_dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """States [..., T, 7] -> actions [..., T-1, 7]: [x_{t+1} - x_t, euler(R_{t+1} R_t^T), g_{t+1} - g_t].

    The DROID `poses_to_diffs` convention: the actions the robot actually executed between observed states.
    """
    _check_last_dim("states", states, STATE_DIM)
    if states.dim() < 2 or states.shape[-2] < 2:
        raise ValueError(f"states: expected shape [..., T>=2, {STATE_DIM}], got {tuple(states.shape)}")
    rot = euler_xyz_to_matrix(states[..., 3:6].to(rotation_dtype))  # [..., T, 3, 3]
    rot_diff = rot[..., 1:, :, :] @ rot[..., :-1, :, :].transpose(-1, -2)  # [..., T-1, 3, 3]
    xyz_diff = states[..., 1:, :3] - states[..., :-1, :3]  # [..., T-1, 3]
    gripper_diff = states[..., 1:, 6:] - states[..., :-1, 6:]  # [..., T-1, 1]
    return torch.cat([xyz_diff, matrix_to_euler_xyz(rot_diff).to(states.dtype), gripper_diff], dim=-1)
