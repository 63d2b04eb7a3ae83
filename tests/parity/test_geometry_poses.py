"""Parity of jepa_core.geometry with the official compute_new_pose / poses_to_diffs outputs (pose_io.pt)."""

import numpy as np
import pytest
import torch

from jepa_core import geometry


@pytest.fixture(scope="module")
def pose_io(parity_dir):
    tensors = torch.load(parity_dir / "pose_io.pt", map_location="cpu", weights_only=True)
    return {name: tensor.numpy() for name, tensor in tensors.items()}


@pytest.mark.parametrize(("suffix", "tolerance"), [("f32", 1e-6), ("f64", 1e-12)])
def test_compute_new_pose_matches_official(pose_io, suffix, tolerance):
    pose, action = pose_io[f"pose_in_{suffix}"], pose_io[f"pose_action_{suffix}"]  # [24, 1, 7]
    expected = pose_io[f"pose_out_{suffix}"]
    out = geometry.compute_new_pose(pose, action)
    assert out.dtype == expected.dtype
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=0, atol=tolerance)


def test_compute_new_pose_clips_gripper(pose_io):
    out = geometry.compute_new_pose(np.array([0, 0, 0, 0, 0, 0, 0.9]), np.array([0, 0, 0, 0, 0, 0, 0.5]))
    assert out[6] == 1.0


def test_poses_to_diffs_matches_official(pose_io):
    states, expected = pose_io["diffs_states_f64"], pose_io["diffs_actions_f64"]  # [2, 8, 7], [2, 7, 7]
    for trajectory, expected_actions in zip(states, expected, strict=True):
        actions = geometry.poses_to_diffs(trajectory)
        np.testing.assert_allclose(actions, expected_actions, rtol=0, atol=1e-12)


def test_diffs_integrate_back_to_states(pose_io):
    """compute_new_pose(state_t, diff_t) reproduces state_{t+1} (modulo the Euler wrap)."""
    states = pose_io["diffs_states_f64"][0]  # [8, 7]
    actions = geometry.poses_to_diffs(states)
    rebuilt = geometry.compute_new_pose(states[:-1], actions)
    np.testing.assert_allclose(rebuilt[:, :3], states[1:, :3], atol=1e-12)
    np.testing.assert_allclose(
        geometry.euler_to_matrix(rebuilt[:, 3:6]), geometry.euler_to_matrix(states[1:, 3:6]), atol=1e-12
    )


def test_quaternion_euler_round_trip():
    rng = np.random.default_rng(0)
    limits = np.array([3.0, 1.4, 3.0])  # away from the pitch singularity at +-pi/2
    euler = rng.uniform(-limits, limits, size=(50, 3))
    quat = geometry.euler_to_quat(euler)
    np.testing.assert_allclose(geometry.quat_to_euler(quat), euler, atol=1e-12)
    np.testing.assert_allclose(geometry.quat_to_matrix(quat), geometry.euler_to_matrix(euler), atol=1e-12)
    np.testing.assert_allclose(geometry.matrix_to_euler(geometry.euler_to_matrix(euler)), euler, atol=1e-12)


def test_state_pose_round_trip():
    state = np.array([[0.4, -0.1, 0.3, 3.1, 0.2, -1.0, 0.25], [0.5, 0.0, 0.2, -0.5, -0.3, 2.0, 1.0]])
    position, quat, gripper = geometry.state_to_pose(state)
    assert position.shape == (2, 3) and quat.shape == (2, 4) and gripper.shape == (2,)
    np.testing.assert_allclose(geometry.pose_to_state(position, quat, gripper), state, atol=1e-12)


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match=r"pose: expected shape \[\.\.\., 7\]"):
        geometry.compute_new_pose(np.zeros(6), np.zeros(7))
    with pytest.raises(ValueError, match=r"states: expected shape \[T>=2, 7\]"):
        geometry.poses_to_diffs(np.zeros((1, 7)))
