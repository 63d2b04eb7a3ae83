"""Conversions between planner messages and numpy/torch values (no rclpy): states, poses, embeddings, plans."""

from __future__ import annotations

import numpy as np
import torch
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Pose, Quaternion
from std_msgs.msg import Header

from jepa_core.geometry import pose_to_state, state_to_pose
from jepa_core.models.representations import normalize_reps
from jepa_core.planning.mpc import MPCStep
from jepa_msgs.msg import Embedding, EndEffectorState, PlannedAction
from jepa_perception.embedding_msgs import embedding_msg_to_tokens
from jepa_planner.safety import non_finite_reason


def stamp_seconds(stamp: Time) -> float:
    """A message stamp in seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def state_from_ee_state(msg: EndEffectorState) -> np.ndarray:
    """EndEffectorState -> state [x, y, z, roll, pitch, yaw, gripper] (float64, extrinsic 'xyz' Euler)."""
    position = msg.pose.position
    orientation = msg.pose.orientation
    xyz = np.array([position.x, position.y, position.z])
    quaternion = np.array([orientation.x, orientation.y, orientation.z, orientation.w])
    reason = non_finite_reason(**{"ee_state.pose.position": xyz, "ee_state.gripper": msg.gripper})
    if reason:
        raise ValueError(reason)
    if not np.isfinite(quaternion).all() or abs(np.linalg.norm(quaternion) - 1.0) > 1e-3:
        raise ValueError(f"ee_state.pose.orientation: expected a unit quaternion (x, y, z, w), got {quaternion}")
    return pose_to_state(xyz, quaternion, msg.gripper)


def pose_from_state(state: np.ndarray) -> Pose:
    """State [7] -> geometry_msgs/Pose (quaternion x, y, z, w)."""
    position, quaternion, _ = state_to_pose(np.asarray(state, dtype=np.float64))
    x, y, z = (float(v) for v in position)
    qx, qy, qz, qw = (float(v) for v in quaternion)
    return Pose(position=Point(x=x, y=y, z=z), orientation=Quaternion(x=qx, y=qy, z=qz, w=qw))


def embedding_to_tensor(msg: Embedding, tokens_per_frame: int, dim: int) -> torch.Tensor:
    """Embedding of one frame -> normalised representation [N, D] (the AC layer_norm is applied if not yet done)."""
    if msg.frames != 1 or msg.height * msg.width != tokens_per_frame or msg.dim != dim:
        raise ValueError(
            f"embedding: expected frames=1, height*width={tokens_per_frame}, dim={dim} for this predictor, got "
            f"frames={msg.frames}, height={msg.height}, width={msg.width}, dim={msg.dim} (model {msg.model!r})"
        )
    reps = embedding_msg_to_tokens(msg)  # [N, D]; rejects a data length that does not fit the grid
    return reps if msg.normalized else normalize_reps(reps)


def planned_action_msg(header: Header, step: int, decision: MPCStep, samples: int) -> PlannedAction:
    """PlannedAction of one control step (header: stamp of the observation, frame of the base)."""
    target = decision.target_state.numpy()
    return PlannedAction(
        header=header,
        step=step,
        state=decision.state.tolist(),
        action=decision.action.tolist(),
        plan=decision.plan.flatten().tolist(),
        target_pose=pose_from_state(target),
        target_gripper=float(target[6]),
        predicted_path=[pose_from_state(s) for s in decision.predicted_states[1:].numpy()],
        energy=decision.energy,
        iterations=decision.iterations,
        samples=samples,
        planning_time=decision.planning_time,
    )
