"""Batched torch pose integration against the official compute_new_pose / poses_to_diffs outputs (pose_io.pt)."""

import numpy as np
import pytest
import torch

from jepa_core import geometry
from jepa_core.planning import poses


@pytest.fixture(scope="module")
def pose_io(parity_dir):
    return torch.load(parity_dir / "pose_io.pt", map_location="cpu", weights_only=True)


@pytest.mark.parametrize(("suffix", "tol"), [("f32", 1e-6), ("f64", 1e-12)])
def test_integrate_poses_matches_official(pose_io, suffix, tol):
    out = poses.integrate_poses(pose_io[f"pose_in_{suffix}"], pose_io[f"pose_action_{suffix}"])
    expected = pose_io[f"pose_out_{suffix}"]
    assert out.dtype == expected.dtype
    assert (out - expected).abs().max().item() <= tol


def test_pose_differences_matches_official_poses_to_diffs(pose_io):
    out = poses.pose_differences(pose_io["diffs_states_f64"])
    assert (out - pose_io["diffs_actions_f64"]).abs().max().item() <= 1e-12


def test_rollout_poses_equals_repeated_reference_integration():
    generator = torch.Generator().manual_seed(0)
    state = torch.tensor([0.5, 0.0, 0.3, 3.1, -0.2, 1.0, 0.4])
    actions = torch.randn(5, 3, 7, generator=generator) * 0.2  # [B, H, 7]
    traj = poses.rollout_poses(state, actions)  # [B, H + 1, 7]
    assert traj.shape == (5, 4, 7)
    expected = np.broadcast_to(state.numpy(), (5, 7))
    for step in range(3):
        expected = geometry.compute_new_pose(expected, actions[:, step].numpy())
        assert np.abs(traj[:, step + 1].numpy() - expected).max() <= 1e-6


def test_matrix_round_trip_and_bad_shapes():
    euler = torch.tensor([[0.3, -1.2, 2.9], [-3.1, 0.4, -0.2]], dtype=torch.float64)
    assert torch.allclose(poses.matrix_to_euler_xyz(poses.euler_xyz_to_matrix(euler)), euler, atol=1e-12)
    with pytest.raises(ValueError, match="states"):
        poses.integrate_poses(torch.zeros(3, 6), torch.zeros(3, 7))
    with pytest.raises(ValueError, match="T>=2"):
        poses.pose_differences(torch.zeros(1, 7))
