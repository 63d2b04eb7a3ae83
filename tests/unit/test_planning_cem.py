"""CEM on analytic energies: finds known minima, respects every bound, warm start, early stopping, budget, seeds."""

import time

import pytest
import torch

from jepa_core.planning.cem import CEMConfig, CEMPlanner

TARGET = torch.tensor([0.03, -0.02, 0.05, 0.0, 0.0, 0.0, 0.5])
WEIGHTS = torch.tensor([400.0, 400.0, 400.0, 0.0, 0.0, 0.0, 1.0])


def quadratic(target: torch.Tensor):
    """Energy sum_i w_i (a_i - target_i)^2 per horizon step: candidates [S, H, 7] -> [S, H]."""
    return lambda candidates: ((candidates - target) ** 2 * WEIGHTS).sum(dim=-1)


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_finds_minimum_inside_bounds():
    result = CEMPlanner().plan(quadratic(TARGET), generator=seeded())
    assert result.actions.shape == (1, 7)
    assert torch.allclose(result.actions[0, :3], TARGET[:3], atol=4e-3)
    assert abs(result.actions[0, 6].item() - 0.5) < 0.1
    assert result.iterations == 10 and result.stop_reason == "iterations"
    assert result.energy.item() <= quadratic(TARGET)(torch.zeros(1, 1, 7))[0, 0].item() * 0.02
    assert result.best_energy.item() <= result.elite_energy.item()


def test_every_bound_is_respected_and_minimum_outside_is_clipped():
    far = torch.tensor([0.3, -0.3, 0.0, 1.0, 1.0, 1.0, 3.0])
    seen = []

    def recording(candidates):
        seen.append(candidates.clone())
        return quadratic(far)(candidates)

    config = CEMConfig(horizon=2, energy_reduction="sum")
    result = CEMPlanner(config).plan(recording, generator=seeded())
    for candidates in seen:
        assert candidates[..., :3].abs().max().item() <= config.max_translation + 1e-7
        assert candidates[..., 3:6].abs().max().item() == 0.0
        assert candidates[..., 6].abs().max().item() <= config.max_gripper_delta + 1e-7
    assert torch.allclose(result.actions[:, 0], torch.full((2,), 0.075), atol=2e-3)
    assert torch.allclose(result.actions[:, 1], torch.full((2,), -0.075), atol=2e-3)
    assert result.actions[:, 3:6].abs().max().item() == 0.0
    assert result.actions[:, 6].max().item() <= 0.75


def test_rotation_sampling_is_bounded_when_enabled():
    target = torch.tensor([0.0, 0.0, 0.0, 0.05, -0.5, 0.0, 0.0])
    weights = torch.ones(7)
    config = CEMConfig(max_rotation=0.1)
    result = CEMPlanner(config).plan(lambda c: ((c - target) ** 2 * weights).sum(-1), generator=seeded())
    assert abs(result.actions[0, 3].item() - 0.05) < 0.01
    assert abs(result.actions[0, 4].item() + 0.1) < 0.005


def test_small_gripper_deltas_are_zeroed():
    target = TARGET.clone()
    target[6] = 0.1
    result = CEMPlanner().plan(quadratic(target), generator=seeded())
    assert result.actions[0, 6].item() == 0.0
    assert abs(result.mean[0, 6].item() - 0.1) < 0.1


def test_summed_energy_weighs_every_step():
    """Step 0 wants +x, step 1 wants -x; with a final-step energy step 0 is unconstrained."""

    def per_step(candidates):  # [S, 2, 7] -> [S, 2]
        return torch.stack([(candidates[:, 0, 0] - 0.05) ** 2, (candidates[:, 1, 0] + 0.05) ** 2], dim=1)

    summed = CEMPlanner(CEMConfig(horizon=2, energy_reduction="sum")).plan(per_step, generator=seeded())
    assert abs(summed.actions[0, 0].item() - 0.05) < 5e-3
    assert abs(summed.actions[1, 0].item() + 0.05) < 5e-3
    final = CEMPlanner(CEMConfig(horizon=2)).plan(per_step, generator=seeded())
    assert abs(final.actions[1, 0].item() + 0.05) < 5e-3
    assert abs(final.actions[0, 0].item() - 0.05) > 5e-3


def test_seed_reproduces_the_plan():
    planner = CEMPlanner()
    first = planner.plan(quadratic(TARGET), generator=seeded(3))
    again = planner.plan(quadratic(TARGET), generator=seeded(3))
    other = planner.plan(quadratic(TARGET), generator=seeded(4))
    assert torch.equal(first.actions, again.actions)
    assert not torch.equal(first.actions, other.actions)


def test_warm_start_converges_in_fewer_iterations():
    config = CEMConfig(iterations=30, std_tolerance=0.3, min_iterations=2)
    planner = CEMPlanner(config)
    cold = [planner.plan(quadratic(TARGET), generator=seeded(s)) for s in range(5)]
    warm = [planner.plan(quadratic(TARGET), warm_start=c, generator=seeded(10 + s)) for s, c in enumerate(cold)]
    assert all(r.stop_reason == "std" for r in cold + warm)
    assert max(r.iterations for r in warm) < min(r.iterations for r in cold)
    for result in warm:
        assert torch.allclose(result.actions[0, :3], TARGET[:3], atol=6e-3)


def test_warm_start_shifts_the_previous_plan():
    planner = CEMPlanner(CEMConfig(horizon=3))
    previous = planner.plan(quadratic(TARGET), generator=seeded())
    mean, std = planner.initial_distribution(previous)
    assert torch.equal(mean[:2], previous.mean[1:]) and torch.equal(mean[2], previous.mean[2])
    assert torch.allclose(std[0, :3], torch.full((3,), 0.075 * 0.5))


def test_energy_tolerance_stops_on_a_plateau():
    plateau = torch.tensor([0.03, -0.02, 0.05, 0.0, 0.0, 0.0, 0.5])

    def flat_bottom(candidates):  # quadratic bowl with an energy floor of 1.0
        return 1.0 + quadratic(plateau)(candidates)

    result = CEMPlanner(CEMConfig(iterations=30, energy_tolerance=0.01)).plan(flat_bottom, generator=seeded())
    assert result.stop_reason == "energy"
    assert 2 <= result.iterations < 30


def test_time_budget_returns_the_plan_so_far():
    def slow(candidates):
        time.sleep(0.05)
        return quadratic(TARGET)(candidates)

    result = CEMPlanner(CEMConfig(time_budget_s=0.14, evaluate_plan=False)).plan(slow, generator=seeded())
    assert result.stop_reason == "budget"
    assert 1 <= result.iterations <= 2
    assert result.elapsed_s < 0.2


@pytest.mark.parametrize(
    ("field", "value"), [("top_k", 1), ("samples", 0), ("momentum_std", 1.5), ("energy_reduction", "mean")]
)
def test_invalid_config_is_rejected(field, value):
    with pytest.raises(ValueError, match=field):
        CEMConfig(**{field: value})


def test_bad_energy_or_draw_shapes_are_rejected():
    planner = CEMPlanner(CEMConfig(samples=8, top_k=2, iterations=1))
    with pytest.raises(ValueError, match="energy_fn"):
        planner.plan(lambda c: c.sum(dim=(1, 2)))
    with pytest.raises(ValueError, match="unit_draws"):
        planner.plan(quadratic(TARGET), unit_draws=torch.zeros(1, 1, 8, 7))
