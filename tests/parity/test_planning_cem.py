"""CEM + world model parity with the official planner on cem_io.pt: fixed draws -> candidates, energies, plan."""

import pytest
import torch

from jepa_core.checkpoints import load_ac_predictor, load_encoder
from jepa_core.planning.cem import CEMConfig, CEMPlanner
from jepa_core.planning.world_model import WorldModel

FIXTURE_CEM = CEMConfig(
    samples=16,
    top_k=4,
    iterations=2,
    horizon=2,
    max_translation=0.075,
    momentum_mean=0.15,
    momentum_std=0.75,
    momentum_mean_gripper=0.15,
    momentum_std_gripper=0.15,
    evaluate_plan=False,
)


@pytest.fixture(scope="module")
def cem_io(parity_dir):
    return torch.load(parity_dir / "cem_io.pt", map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def world_model(parity_dir):
    checkpoint = parity_dir / "ac_checkpoint.pt"
    encoder = load_encoder(checkpoint, preset="parity_tiny", key="encoder")
    return WorldModel(load_ac_predictor(checkpoint, preset="parity_tiny"), encoder)


def test_cem_update_reproduces_official_candidates_and_plan(cem_io):
    """Energies replayed from the fixture: checks sampling, clipping, elite selection and the momentum update."""
    seen = []

    def replay_energies(candidates):  # [S, H, 7] -> [S, H]
        energies = cem_io["energies"][len(seen)]  # [S]
        seen.append(candidates)
        return torch.stack([torch.zeros_like(energies), energies], dim=1)

    result = CEMPlanner(FIXTURE_CEM).plan(replay_energies, unit_draws=cem_io["unit_draws"])
    assert len(seen) == 2
    for iteration, candidates in enumerate(seen):
        assert (candidates - cem_io["candidates"][iteration]).abs().max().item() <= 1e-6
    assert (result.actions - cem_io["action"]).abs().max().item() <= 1e-6
    assert result.iterations == 2 and result.stop_reason == "iterations"


def test_encoded_frames_match_official_reps(cem_io, world_model):
    frames = torch.stack([cem_io["current_frame"], cem_io["goal_frame"]]).permute(0, 3, 1, 2)  # [2, 3, H, W]
    reps = world_model.encode(frames)
    assert (reps[:1] - cem_io["z_current"]).abs().max().item() <= 5e-5
    assert (reps[1:] - cem_io["z_goal"]).abs().max().item() <= 5e-5


def test_rollout_matches_official_predictions_poses_and_energies(cem_io, world_model):
    context = world_model.make_context(cem_io["z_current"], cem_io["pose"][0])
    predictions, poses = world_model.rollout(context, cem_io["candidates"][0])
    assert (predictions - cem_io["pred_reps_iter0"]).abs().max().item() <= 5e-5
    assert (poses - cem_io["pose_traj"][0]).abs().max().item() <= 1e-6
    energies = world_model.step_energies(predictions, cem_io["z_goal"][0])[:, -1]
    assert (energies - cem_io["energies"][0]).abs().max().item() <= 2e-6


def test_world_model_cem_reproduces_official_plan(cem_io, world_model):
    context = world_model.make_context(cem_io["z_current"], cem_io["pose"][0])
    energy_fn = world_model.energy_fn(context, cem_io["z_goal"][0])
    seen = []

    def recording(candidates):
        energies = energy_fn(candidates)
        seen.append((candidates, energies[:, -1]))
        return energies

    result = CEMPlanner(FIXTURE_CEM).plan(recording, unit_draws=cem_io["unit_draws"])
    for iteration, (candidates, energies) in enumerate(seen):
        assert (candidates - cem_io["candidates"][iteration]).abs().max().item() <= 1e-6
        assert (energies - cem_io["energies"][iteration]).abs().max().item() <= 2e-6
    assert (result.actions - cem_io["action"]).abs().max().item() <= 1e-6
