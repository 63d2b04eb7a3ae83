"""Safety checks on each planned command (finite numbers, a workspace box, per-step translation/rotation limits) and
on each measured pose (no jump faster than the robot can move).

ROS-free (numpy/SciPy only). A failed check makes the planner hold the current pose and report the returned reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jepa_core.geometry import euler_to_matrix


@dataclass(frozen=True)
class SafetyLimits:
    """Bounds every commanded flange pose must respect (base frame)."""

    workspace_min: tuple[float, float, float] = (0.15, -0.6, 0.0)  # m
    workspace_max: tuple[float, float, float] = (0.9, 0.6, 0.9)  # m
    max_translation_step: float = 0.135  # |target xyz - current xyz| per control step, m (CEM: 0.075 per axis)
    max_rotation_step: float = 0.35  # rotation angle between current and target orientation per step, rad

    def __post_init__(self) -> None:
        """Reject an empty box or non-positive step limits, naming the field; NaN/inf too (a comparison with NaN is
        False, so such a limit would pass every command)."""
        low, high = np.asarray(self.workspace_min, float), np.asarray(self.workspace_max, float)
        finite = np.all(np.isfinite(low)) and np.all(np.isfinite(high))
        if low.shape != (3,) or high.shape != (3,) or not finite or np.any(low >= high):
            raise ValueError(
                f"SafetyLimits.workspace_min/max: expected 3 finite values each with min < max, got "
                f"{self.workspace_min}, {self.workspace_max}"
            )
        steps = (self.max_translation_step, self.max_rotation_step)
        if not all(0 < step < np.inf for step in steps):
            raise ValueError(
                f"SafetyLimits.max_translation_step/max_rotation_step: expected finite > 0, got "
                f"{self.max_translation_step}, {self.max_rotation_step}"
            )


@dataclass(frozen=True)
class MotionLimits:
    """How far the measured flange may move between two consecutive ee_state messages: speed * dt plus a jump that is
    always allowed (measurement noise, or a lockstep simulator that moves a whole control step between messages)."""

    max_speed: float = 1.7  # m/s (Franka FR3 Cartesian translation limit)
    max_angular_speed: float = 2.5  # rad/s (FR3 Cartesian rotation limit)
    max_jump: float = 0.01  # m
    max_angular_jump: float = 0.05  # rad

    def __post_init__(self) -> None:
        """Reject negative, NaN or infinite limits, naming the field (a NaN limit would let every pose through)."""
        bad = {name: value for name, value in vars(self).items() if not 0 <= value < np.inf}
        if bad:
            raise ValueError(f"MotionLimits: expected finite values >= 0, got {bad}")


def implausible_motion(
    previous: np.ndarray, previous_stamp: float, state: np.ndarray, stamp: float, limits: MotionLimits
) -> str | None:
    """Why the measured state [7] stamped `stamp` cannot follow `previous` [7] stamped `previous_stamp` (the flange
    moved or turned faster than `limits` allow), naming both poses; None when it can."""
    dt = max(stamp - previous_stamp, 0.0)
    distance = float(np.linalg.norm(np.asarray(state[:3]) - np.asarray(previous[:3])))
    angle = rotation_angle(previous[3:6], state[3:6])
    allowed = limits.max_speed * dt + limits.max_jump
    allowed_angle = limits.max_angular_speed * dt + limits.max_angular_jump
    if distance <= allowed and angle <= allowed_angle:
        return None
    return (
        f"implausible ee_state: the flange moved {distance:.3f} m and turned {angle:.3f} rad in {dt:.3f} s, more than "
        f"the robot can ({allowed:.3f} m, {allowed_angle:.3f} rad: max_ee_speed {limits.max_speed} m/s, "
        f"max_ee_angular_speed {limits.max_angular_speed} rad/s, max_ee_jump {limits.max_jump} m, "
        f"max_ee_angular_jump {limits.max_angular_jump} rad); previous pose {np.round(previous[:6], 4).tolist()}, "
        f"this one {np.round(state[:6], 4).tolist()}"
    )


def non_finite_reason(**values: object) -> str | None:
    """Why the first argument holding NaN or inf (arrays or scalars) is unusable, else None.

    The reason names the argument, how many values are non-finite and the first (flat) index; never the values, so it
    stays short for a 16,384-value embedding.
    """
    for name, value in values.items():
        bad = ~np.isfinite(np.asarray(value, dtype=np.float64).ravel())
        if bad.any():
            return f"non-finite {name}: {int(bad.sum())} of {bad.size} values, first at index {int(np.argmax(bad))}"
    return None


def rotation_angle(euler_a: np.ndarray, euler_b: np.ndarray) -> float:
    """Angle (rad) of the rotation between two extrinsic 'xyz' Euler orientations."""
    relative = euler_to_matrix(np.asarray(euler_b)) @ euler_to_matrix(np.asarray(euler_a)).T
    return float(np.arccos(np.clip((np.trace(relative) - 1.0) / 2.0, -1.0, 1.0)))


def decoded_goal_violation(position: np.ndarray, limits: SafetyLimits) -> str | None:
    """Why a goal image's decoded flange position [3] cannot be a goal (it lies outside the workspace box, so the pose
    probe does not read this camera's images), or None."""
    low, high = np.asarray(limits.workspace_min), np.asarray(limits.workspace_max)
    if np.all(np.isfinite(position)) and np.all(position >= low) and np.all(position <= high):
        return None
    return (
        f"the goal image's flange position decoded by the checkpoint's pose_probe, "
        f"{np.round(position, 3).tolist()} m, is outside the workspace box {list(limits.workspace_min)}.."
        f"{list(limits.workspace_max)}: the probe does not read this camera's images (refit it with "
        f"training.fit_pose_probe on recordings of this setup) or set pose_prior_weight 0"
    )


def command_violation(current_state: np.ndarray, target_state: np.ndarray, limits: SafetyLimits) -> str | None:
    """Why commanding `target_state` [7] from `current_state` [7] is unsafe, or None when it is within every limit."""
    current, target = np.asarray(current_state, np.float64), np.asarray(target_state, np.float64)
    position = target[:3]
    low, high = np.asarray(limits.workspace_min), np.asarray(limits.workspace_max)
    if np.any(position < low) or np.any(position > high):
        return (
            f"target position {np.round(position, 4).tolist()} m leaves the workspace box "
            f"{list(limits.workspace_min)}..{list(limits.workspace_max)}"
        )
    translation = float(np.linalg.norm(position - current[:3]))
    if translation > limits.max_translation_step:
        return f"translation step {translation:.4f} m exceeds max_translation_step {limits.max_translation_step} m"
    angle = rotation_angle(current[3:6], target[3:6])
    if angle > limits.max_rotation_step:
        return f"rotation step {angle:.4f} rad exceeds max_rotation_step {limits.max_rotation_step} rad"
    return None
