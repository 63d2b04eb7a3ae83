"""Receding-horizon controller on a tiny random world model: history, warm start, seeding, targets, errors."""

import pytest
import torch

from jepa_core.geometry import compute_new_pose
from jepa_core.planning.cem import CEMConfig
from jepa_core.planning.mpc import MPCConfig, MPCController
from jepa_core.planning.oracle import StateWorldModel
from jepa_core.planning.world_model import PlanningInterrupted, WorldModel
from jepa_core.presets import build_ac_predictor

N, D = 16, 192
SMALL_CEM = CEMConfig(samples=24, top_k=4, iterations=3)


@pytest.fixture(scope="module")
def world_model():
    torch.manual_seed(0)
    return WorldModel(build_ac_predictor("parity_tiny"))


def reps(seed: int, count: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.nn.functional.layer_norm(torch.randn(count, N, D, generator=generator), (D,))


STATE = torch.tensor([0.5, 0.0, 0.3, 3.0, 0.1, -1.0, 0.2], dtype=torch.float64)


def test_step_returns_a_bounded_action_and_its_integrated_target(world_model):
    controller = MPCController(world_model, MPCConfig(cem=SMALL_CEM, seed=1))
    controller.set_goal(reps(0)[0])
    decision = controller.step(reps(1)[0], STATE)
    assert decision.action.shape == (7,) and decision.plan.shape == (1, 7)
    assert decision.action[:3].abs().max().item() <= 0.075 and decision.action[3:6].abs().max().item() == 0.0
    expected = compute_new_pose(STATE.numpy(), decision.action.numpy())
    assert torch.allclose(decision.target_state, torch.from_numpy(expected), atol=1e-12)
    assert torch.equal(decision.predicted_states[0], STATE)
    assert decision.energy > 0 and decision.iterations == 3 and decision.planning_time > 0


def test_seed_makes_episodes_reproducible_and_set_goal_resets(world_model):
    controller = MPCController(world_model, MPCConfig(cem=SMALL_CEM, seed=7, context_steps=2))
    actions = []
    for _ in range(2):
        controller.set_goal(reps(0)[0])
        first = controller.step(reps(1)[0], STATE)
        second = controller.step(reps(2)[0], first.target_state)
        actions.append(torch.stack([first.action, second.action]))
    assert torch.equal(actions[0], actions[1])


def test_history_and_warm_start_change_the_plan(world_model):
    goal, frames = reps(0)[0], reps(5, 2)
    with_history = MPCController(world_model, MPCConfig(cem=SMALL_CEM, seed=3, context_steps=2, warm_start=False))
    current_only = MPCController(world_model, MPCConfig(cem=SMALL_CEM, seed=3, context_steps=1, warm_start=False))
    for controller in (with_history, current_only):
        controller.set_goal(goal)
        controller.step(frames[0], STATE)
    moved = STATE + torch.tensor([0.02, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    assert not torch.equal(with_history.step(frames[1], moved).action, current_only.step(frames[1], moved).action)


def test_errors_name_the_problem(world_model):
    controller = MPCController(world_model, MPCConfig(cem=SMALL_CEM))
    with pytest.raises(RuntimeError, match="set_goal"):
        controller.step(reps(1)[0], STATE)
    controller.set_goal(reps(0)[0])
    with pytest.raises(ValueError, match="state"):
        controller.step(reps(1)[0], STATE[:6])
    with pytest.raises(ValueError, match="representation"):
        controller.step(reps(1)[0, :, :8], STATE)
    with pytest.raises(ValueError, match="context_steps"):
        MPCConfig(context_steps=0)


def test_surprise_scores_the_next_frame_against_the_executed_actions_prediction(world_model):
    controller = MPCController(world_model, MPCConfig(cem=SMALL_CEM, seed=2))
    goal = reps(0)[0]
    controller.set_goal(goal)
    assert controller.goal_energy(goal) == 0.0
    assert controller.goal_energy(reps(1)[0]) == pytest.approx((reps(1)[0] - goal).abs().mean().item())
    assert controller.surprise(reps(1)[0]) is None  # nothing predicted before the first step
    decision = controller.step(reps(1)[0], STATE)
    assert decision.predicted_next.shape == (N, D)
    context = world_model.make_context(reps(1), STATE.float()[None])
    expected = world_model.rollout(context, decision.action.float()[None, None])[0][0, 0]  # [N, D]
    assert torch.allclose(decision.predicted_next, expected, atol=1e-5)  # the prediction for the executed action
    observed = reps(3)[0]
    assert controller.surprise(observed) == pytest.approx((observed - expected).abs().mean().item(), rel=1e-5)
    assert controller.surprise(decision.predicted_next) == 0.0
    controller.set_goal(goal)
    assert controller.surprise(observed) is None  # a new goal forgets the prediction


def test_interrupt_stops_planning_between_predictor_calls(world_model):
    controller = MPCController(world_model, MPCConfig(cem=CEMConfig(samples=64, top_k=4, iterations=5), seed=3))
    controller.set_goal(reps(0)[0])
    calls = []

    def interrupt() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(PlanningInterrupted):
        controller.step(reps(1)[0], STATE, interrupt)
    assert len(calls) == 3  # stopped at the third check, not after the whole plan
    decision = controller.step(reps(1)[0], STATE, lambda: False)  # never interrupted: a normal plan
    assert decision.iterations == 5


def test_interrupt_works_with_the_oracle_world_model():
    """The interrupt lived in MPCController and split candidates by WorldModel.chunk_size, which the oracle (a
    drop-in world model for tests and benchmarks) lacks: AttributeError instead of a plan or PlanningInterrupted."""
    oracle = StateWorldModel()
    controller = MPCController(oracle, MPCConfig(cem=SMALL_CEM, seed=0))
    controller.set_goal(oracle.encode(STATE + torch.tensor([0.05, 0, 0, 0, 0, 0, 0], dtype=torch.float64)))
    with pytest.raises(PlanningInterrupted):
        controller.step(oracle.encode(STATE), STATE, lambda: True)
    decision = controller.step(oracle.encode(STATE), STATE, lambda: False)
    assert decision.action[0] > 0  # towards the goal, +x
