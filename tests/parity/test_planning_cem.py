"""CEM parity with the official planner on cem_io.pt: fixed draws -> candidates, energies and the returned plan."""

import pytest
import torch

from jepa_core.planning.cem import CEMConfig, CEMPlanner

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


def test_cem_update_reproduces_official_candidates_and_plan(cem_io):
    """Energies replayed from the fixture: checks sampling, clipping, elite selection and the momentum update."""
    seen = []

    def replay_energies(candidates):  # [S, H, 7] -> [S, H]
        iteration = len(seen)
        seen.append(candidates)
        energies = cem_io["energies"][iteration]  # [S]
        return torch.stack([torch.zeros_like(energies), energies], dim=1)

    result = CEMPlanner(FIXTURE_CEM).plan(replay_energies, unit_draws=cem_io["unit_draws"])
    assert len(seen) == 2
    for iteration, candidates in enumerate(seen):
        assert (candidates - cem_io["candidates"][iteration]).abs().max().item() <= 1e-6
    assert (result.actions - cem_io["action"]).abs().max().item() <= 1e-6
    assert result.iterations == 2 and result.stop_reason == "iterations"
