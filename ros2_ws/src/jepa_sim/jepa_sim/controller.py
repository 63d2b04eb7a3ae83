"""Cartesian flange controller: a min-jerk reference tracked by damped-least-squares differential IK at physics rate.

Each physics step the reference pose moves along a minimum-jerk path from the pose at the start of the control
period to the target (finishing after `move_fraction` of the period). One DLS step per physics step updates the
commanded joint vector q_cmd kinematically (with a null-space pull towards the home posture and joint limits); the
arm's position servos follow q_cmd with velocity feed-forward, and gravity is compensated in the model, so the
flange settles on the target within the period like a stiff impedance controller on the real arm.
Orientations are MuJoCo quaternions (w, x, y, z) here: the loop runs ~125 times per step, SciPy is too slow for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np


@dataclass(frozen=True)
class ControllerConfig:
    """Gains and limits of the differential-IK controller."""

    damping: float = 0.05  # DLS damping lambda (m, rad): larger = smoother near singularities, less accurate
    nullspace_gain: float = 2.0  # 1/s, pull of the redundant joint towards the home posture
    max_joint_speed: float = 2.0  # rad/s, per-joint limit on the commanded joint velocity
    move_fraction: float = 0.7  # share of the control period used to move; the rest lets the arm settle
    joint_limit_margin: float = 0.02  # rad kept away from each joint limit
    servo_stiffness: tuple[float, ...] = (4500.0, 4500.0, 4500.0, 4500.0, 2000.0, 2000.0, 2000.0)  # Nm/rad
    servo_damping_ratio: float = 1.0  # joint servo damping relative to critical at the home posture


def min_jerk(tau: float) -> float:
    """Minimum-jerk progress s(tau) in [0, 1] for normalised time tau in [0, 1]."""
    tau = min(max(tau, 0.0), 1.0)
    return tau**3 * (10.0 - 15.0 * tau + 6.0 * tau**2)


class FlangeKinematics:
    """Forward kinematics and the 6x7 flange Jacobian of the arm on a private MjData (the simulation is untouched)."""

    def __init__(self, model: mujoco.MjModel, arm_qpos_ids: np.ndarray, arm_dof_ids: np.ndarray, site_id: int):
        self.model = model
        self.data = mujoco.MjData(model)
        self.arm_qpos_ids = arm_qpos_ids
        self.arm_dof_ids = arm_dof_ids
        self.site_id = site_id
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))
        self._jac = np.empty((6, len(arm_dof_ids)))

    def forward(self, q_arm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flange position [3] and quaternion (w, x, y, z) [4] in the base (= world) frame for arm joints q_arm [7]."""
        self.data.qpos[self.arm_qpos_ids] = q_arm
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)
        quat = np.empty(4)
        mujoco.mju_mat2Quat(quat, self.data.site_xmat[self.site_id])
        return self.data.site_xpos[self.site_id].copy(), quat

    def jacobian(self) -> np.ndarray:
        """[6, 7] linear+angular flange Jacobian at the last `forward` configuration (one array, overwritten by the next
        call: the IK loop runs at physics rate)."""
        mujoco.mj_jacSite(self.model, self.data, self._jacp, self._jacr, self.site_id)
        np.take(self._jacp, self.arm_dof_ids, axis=1, out=self._jac[:3])
        np.take(self._jacr, self.arm_dof_ids, axis=1, out=self._jac[3:])
        return self._jac


class DifferentialIK:
    """One damped-least-squares step of the commanded joints towards a flange pose, with posture and limits."""

    def __init__(self, kinematics: FlangeKinematics, config: ControllerConfig, q_home: np.ndarray):
        self.kinematics = kinematics
        self.config = config
        self.q_home = q_home
        ranges = kinematics.model.jnt_range[kinematics.model.dof_jntid[kinematics.arm_dof_ids]]
        self.q_low = ranges[:, 0] + config.joint_limit_margin
        self.q_high = ranges[:, 1] - config.joint_limit_margin
        self._damping_6 = config.damping**2 * np.eye(6)  # built once: the loop runs at physics rate
        self._identity_7 = np.eye(7)

    def pose_error(self, q: np.ndarray, position: np.ndarray, quat: np.ndarray) -> np.ndarray:
        """[6] error (m, rotation vector rad) from the flange at q to the pose (position, quat wxyz), base frame."""
        current_position, current_quat = self.kinematics.forward(q)
        return np.concatenate([position - current_position, rotation_vector_between(current_quat, quat)])

    def step(self, q: np.ndarray, position: np.ndarray, quat: np.ndarray, dt: float) -> np.ndarray:
        """New joint vector after one DLS step from q towards the pose, speed-limited to max_joint_speed * dt."""
        return self._dls_step(q, position, quat, self.config.max_joint_speed * dt, self.config.nullspace_gain * dt)

    def solve(self, q_seed: np.ndarray, position: np.ndarray, quat: np.ndarray, iterations: int = 300) -> np.ndarray:
        """Joint vector reaching the pose in the posture the tracking controller settles in.

        DLS steps from q_seed first with the controller's null-space pull towards the home posture (so a goal image
        shows the elbow where the arm will put it), then without it until the pose error is < 1e-6 (the damped
        null-space projection leaks a few mm of the pull into the pose).
        """
        q = q_seed.copy()
        for _ in range(iterations):
            q_next = self._dls_step(q, position, quat, max_step=0.2, posture_step=0.2)
            settled = np.abs(q_next - q).max() < 1e-6
            q = q_next
            if settled:
                break
        for _ in range(iterations):
            if np.linalg.norm(self.pose_error(q, position, quat)) < 1e-6:
                break
            q = self._dls_step(q, position, quat, max_step=0.2, posture_step=0.0)
        return q

    def _dls_step(self, q: np.ndarray, position, quat, max_step: float, posture_step: float) -> np.ndarray:
        error = self.pose_error(q, position, quat)  # [6]
        jac = self.kinematics.jacobian()  # [6, 7]
        jac_pinv = jac.T @ np.linalg.inv(jac @ jac.T + self._damping_6)  # [7, 6]
        nullspace = self._identity_7 - jac_pinv @ jac
        dq = jac_pinv @ error + nullspace @ (posture_step * (self.q_home - q))
        step = np.minimum(np.maximum(dq, -max_step), max_step)  # np.clip's values, without its overhead
        return np.minimum(np.maximum(q + step, self.q_low), self.q_high)


def rotation_vector_between(quat_from: np.ndarray, quat_to: np.ndarray) -> np.ndarray:
    """[3] world-frame rotation vector r with R(quat_to) = exp(r) R(quat_from) (shortest path); quats (w, x, y, z)."""
    inverse = np.empty(4)
    mujoco.mju_negQuat(inverse, quat_from)
    relative = np.empty(4)
    mujoco.mju_mulQuat(relative, quat_to, inverse)
    if relative[0] < 0.0:
        relative = -relative
    rotvec = np.empty(3)
    mujoco.mju_quat2Vel(rotvec, relative, 1.0)
    return rotvec


class CartesianTrajectory:
    """Minimum-jerk interpolation of the flange pose (position, quat wxyz) from a start to a target pose."""

    def __init__(self, start_position, start_quat, target_position, target_quat, duration: float):
        self.start_position = np.asarray(start_position, float)
        self.delta_position = np.asarray(target_position, float) - self.start_position
        self.start_quat = np.asarray(start_quat, float)
        rotvec = rotation_vector_between(self.start_quat, np.asarray(target_quat, float))  # world frame
        self.angle = float(np.linalg.norm(rotvec))
        self.axis = rotvec / self.angle if self.angle > 1e-12 else np.array([1.0, 0.0, 0.0])
        self.duration = duration

    def at(self, elapsed: float) -> tuple[np.ndarray, np.ndarray]:
        """Reference position [3] and quaternion (w, x, y, z) [4] `elapsed` seconds after the start."""
        s = min_jerk(elapsed / self.duration) if self.duration > 0 else 1.0
        turn = np.empty(4)
        mujoco.mju_axisAngle2Quat(turn, self.axis, s * self.angle)
        quat = np.empty(4)
        mujoco.mju_mulQuat(quat, turn, self.start_quat)
        return self.start_position + s * self.delta_position, quat
