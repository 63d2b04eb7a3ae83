"""Sub-goal sequencing (budgets, early switches, success, validation) and the CEM's gripper dimension.

The closed-loop checks use the oracle world model (jepa_core.planning.oracle: the representation is the end-effector
state itself), so the CEM, the sub-goal switching and the simulator's gripper are tested without a trained model: the
plans must open and close the gripper as the sub-goals ask, and pick the cube up.
"""

import numpy as np
import pytest
import torch

from jepa_core.planning.cem import CEMConfig, CEMPlanner
from jepa_core.planning.mpc import MPCConfig, MPCController, fixed_gripper
from jepa_core.planning.oracle import StateWorldModel
from jepa_core.planning.subgoals import Advance, SubGoal, SubGoalController, SubGoalSequence
from jepa_core.planning.world_model import WorldModel
from jepa_core.presets import build_ac_predictor
from jepa_sim.env import FrankaSimEnv, SimConfig


def steps(sequence: SubGoalSequence, count: int) -> list[tuple[int, Advance]]:
    return [(u.index, u.advance) for u in (sequence.record_step() for _ in range(count))]


def test_paper_pick_place_budgets_switch_after_4_10_and_4_steps():
    sequence = SubGoalSequence([SubGoal("grasp", 4), SubGoal("carry", 10), SubGoal("place", 4)])
    updates = steps(sequence, 18)
    assert [index for index, _ in updates] == [0] * 4 + [1] * 10 + [2] * 4
    assert [i for i, (_, advance) in enumerate(updates) if advance is Advance.SWITCH] == [3, 13]
    assert updates[-1] == (2, Advance.EXHAUSTED) and sequence.reached == [False, False, False]


def test_observed_energy_below_the_threshold_switches_early_and_on_the_last_means_success():
    sequence = SubGoalSequence([SubGoal("a", 5, energy_threshold=0.5), SubGoal("b", 0, energy_threshold=0.2)])
    assert sequence.observe(0.9).advance is Advance.STAY
    assert steps(sequence, 1) == [(0, Advance.STAY)]
    update = sequence.observe(0.4)
    assert (update.index, update.advance) == (0, Advance.SWITCH) and "observed energy 0.4000 below 0.5" in update.reason
    assert sequence.active.name == "b" and sequence.steps_on_active == 0
    assert steps(sequence, 50) == [(1, Advance.STAY)] * 50  # no budget on the last: it stays until its threshold
    assert sequence.observe(0.3).advance is Advance.STAY and sequence.observe(0.1).advance is Advance.REACHED
    assert sequence.reached == [True, True]


def test_no_threshold_means_budget_only_and_the_reason_names_the_subgoals():
    sequence = SubGoalSequence([SubGoal("approach", 1), SubGoal("grasp", 2)])
    assert sequence.observe(0.0).advance is Advance.STAY
    update = sequence.record_step()
    assert update.advance is Advance.SWITCH
    assert update.reason == "sub-goal 0 (approach): step budget of 1 used; next: grasp"


@pytest.mark.parametrize(
    ("subgoals", "match"),
    [
        ([], "at least one"),
        ([SubGoal("a", 0), SubGoal("b", 3)], r"sub-goal 0 \('a'\): steps must be >= 1"),
        ([SubGoal("a", -1)], r"sub-goal 0 \('a'\): steps must be >= 1"),
        ([SubGoal("a", 2, float("nan"))], "energy_threshold must be finite"),
        ([SubGoal("a", 2, gripper=1.5), SubGoal("b")], r"sub-goal 0 \('a'\): gripper must be in \[0, 1\]"),
        ([SubGoal("a", gripper=float("nan"))], "gripper must be in"),
    ],
)
def test_invalid_sequences_are_rejected(subgoals, match):
    with pytest.raises(ValueError, match=match):
        SubGoalSequence(subgoals)


# ---- SubGoalController on a real (tiny, random) world model ------------------------------------------------------
N, D = 16, 192


def reps(seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.nn.functional.layer_norm(torch.randn(N, D, generator=generator), (D,))


def test_controller_plans_towards_the_active_goal_and_keeps_history_across_a_switch():
    torch.manual_seed(0)
    world_model = WorldModel(build_ac_predictor("parity_tiny"))
    config = MPCConfig(cem=CEMConfig(samples=16, top_k=4, iterations=2), context_steps=2, seed=0)
    controller = MPCController(world_model, config)
    runner = SubGoalController(controller, [reps(1), reps(2)], [SubGoal("first", 1), SubGoal("second", 0, 1e9)])
    state = torch.tensor([0.5, 0.0, 0.3, 3.0, 0.1, -1.0, 0.0], dtype=torch.float64)
    energy, update = runner.observe(reps(10))
    assert update.advance is Advance.STAY
    assert energy == pytest.approx(float((reps(10) - reps(1)).abs().mean()))
    first, update = runner.step(reps(10), state)
    assert update.advance is Advance.SWITCH and runner.sequence.index == 1
    energy, update = runner.observe(reps(11))  # scored against the new goal
    assert energy == pytest.approx(float((reps(11) - reps(2)).abs().mean())) and update.advance is Advance.REACHED
    second, _ = runner.step(reps(11), first.target_state)
    # the second plan is scored against goal 2 with both observed frames as context (history kept over the switch)
    states = torch.stack([state, first.target_state]).float()
    context = world_model.make_context(torch.stack([reps(10), reps(11)]), states, (states[1] - states[0])[None])
    expected = world_model.energy_fn(context, reps(2))(second.plan[None].float())[0, -1]
    assert second.energy == pytest.approx(float(expected), rel=1e-4)
    with pytest.raises(ValueError, match="2 goal representation"):
        SubGoalController(controller, [reps(1), reps(2)], [SubGoal("only", 0)])


# ---- the gripper dimension ---------------------------------------------------------------------------------------
def gripper_plan(current: float, goal: float, seed: int = 0) -> float:
    """Planned gripper delta from closure `current` towards `goal` (same position), paper CEM settings."""
    state = torch.tensor([0.5, 0.0, 0.3, 3.14, 0.0, 0.0, current], dtype=torch.float64)
    goal_state = state.clone()
    goal_state[6] = goal
    world_model = StateWorldModel()
    context = world_model.make_context(world_model.encode(state)[None], state[None], torch.zeros(0, 7))
    energy = world_model.energy_fn(context, world_model.encode(goal_state))
    result = CEMPlanner(CEMConfig()).plan(energy, generator=torch.Generator().manual_seed(seed))
    return float(result.actions[0, 6])


def test_cem_closes_and_opens_the_gripper_within_its_bounds_and_ignores_small_changes():
    for seed in range(2):
        assert gripper_plan(0.0, 1.0, seed) == pytest.approx(0.75, abs=0.05)  # close, clipped to +0.75
        assert gripper_plan(1.0, 0.0, seed) == pytest.approx(-0.75, abs=0.05)  # open, clipped to -0.75
        assert 0.25 <= gripper_plan(0.0, 0.35, seed) <= 0.45  # close on an object (held closure 0.35)
        assert gripper_plan(0.35, 0.0, seed) <= -0.25  # release it
        assert gripper_plan(0.3, 0.4, seed) == 0.0  # below the 0.25 deadband: no gripper motion


@pytest.mark.parametrize(("task", "seed"), [("grasp", 0), ("pick_place", 1)])
def test_planned_gripper_grasps_carries_and_releases_in_the_simulator(task, seed):
    """Oracle energy + sub-goal sequence + CEM in the MuJoCo sim: the gripper closes on the cube (held closure),
    keeps it while lifting/carrying, opens for the place sub-goal; the task succeeds."""
    env = FrankaSimEnv(SimConfig(render_observations=False))
    try:
        obs = env.reset(task, seed)
        subgoals = env.episode.subgoals
        world_model = StateWorldModel()
        goals = [world_model.encode(torch.from_numpy(s.flange_state)) for s in subgoals]
        config = MPCConfig(cem=CEMConfig(samples=100, iterations=5), seed=seed)
        runner = SubGoalController(MPCController(world_model, config), goals,
                                   [SubGoal(s.name, s.steps) for s in subgoals])  # fmt: skip
        closures: dict[str, list[float]] = {s.name: [] for s in subgoals}
        for _ in range(sum(s.steps for s in subgoals) + 4):
            state = torch.from_numpy(obs.ee_state)
            runner.observe(world_model.encode(state))
            decision, update = runner.step(world_model.encode(state), state)
            obs = env.step(decision.target_state.numpy())
            closures[subgoals[update.index].name].append(float(obs.ee_state[6]))
        assert env.task_status().success, env.task_status()
    finally:
        env.close()
    assert max(closures["approach"]) < 0.1  # open on the way down
    assert 0.3 < closures["grasp"][-1] < 0.45  # closed on the cube (not fully closed: it is between the fingers)
    carried = closures["lift" if task == "grasp" else "carry"]
    assert min(carried) > 0.3
    if task == "pick_place":
        assert closures["place"][-1] < 0.05  # released
    assert np.all(np.isfinite(obs.ee_state))


# ---- a gripper commanded by the sub-goal --------------------------------------------------------------------------
def test_fixed_gripper_moves_to_the_target_in_the_first_step_and_holds_it():
    actions = torch.full((5, 3, 7), 0.3)  # [S, H, 7]
    fixed = fixed_gripper(current=0.2, target=1.0)(actions)
    assert torch.allclose(fixed[:, 0, 6], torch.tensor(0.8)) and torch.all(fixed[:, 1:, 6] == 0)
    assert torch.equal(fixed[..., :6], actions[..., :6]) and torch.all(actions[..., 6] == 0.3)  # input untouched
    in_place = fixed_gripper(current=0.2, target=1.0, hold_arm=True)(actions)
    assert torch.all(in_place[:, 0, :6] == 0) and torch.equal(in_place[:, 1:, :6], actions[:, 1:, :6])
    with pytest.raises(ValueError, match=r"gripper: expected a target in \[0, 1\]"):
        fixed_gripper(0.0, -0.1)
    controller = MPCController(StateWorldModel())
    controller.set_goal(StateWorldModel().encode(torch.zeros(7)))
    with pytest.raises(ValueError, match="hold_arm needs a commanded gripper"):
        controller.step(StateWorldModel().encode(torch.zeros(7)), torch.zeros(7), hold_arm=True)


def test_a_subgoal_that_changes_the_commanded_gripper_is_gripper_only_for_its_budget_or_first_step():
    sequence = SubGoalSequence([SubGoal("pregrasp", 1, gripper=0.0), SubGoal("approach", 1, gripper=0.0),
                                SubGoal("grasp", 2, gripper=1.0), SubGoal("carry", 1, gripper=1.0),
                                SubGoal("place", 0, gripper=0.0)])  # fmt: skip
    only = []
    for _ in range(7):
        only.append((sequence.active.name, sequence.gripper_only))
        sequence.record_step()
    expected = [
        ("pregrasp", False),
        ("approach", False),
        ("grasp", True),
        ("grasp", True),
        ("carry", False),
        ("place", True),
        ("place", False),
    ]  # fmt: skip  (the last releases in place, then plans again)
    assert only == expected
    planned = SubGoalSequence([SubGoal("a", 1), SubGoal("b", 1, gripper=1.0), SubGoal("c")])
    planned.record_step()
    assert not planned.gripper_only  # the previous one was planned by the CEM: nothing to compare with


class RecordingWorldModel(StateWorldModel):
    """The oracle, remembering every candidate batch its energy function scored."""

    def __init__(self):
        super().__init__()
        self.scored: list[torch.Tensor] = []

    def energy_fn(self, context, goal, interrupt=None):
        inner = super().energy_fn(context, goal, interrupt)

        def energy(candidates):
            self.scored.append(candidates.clone())
            return inner(candidates)

        return energy


def test_subgoal_gripper_is_commanded_and_every_candidate_is_scored_with_it():
    """The goal state asks for an open gripper, the sub-goal commands it closed: the command wins, and the predictor
    scored exactly the commanded gripper delta for every candidate (what will be executed)."""
    world_model = RecordingWorldModel()
    state = torch.tensor([0.5, 0.0, 0.3, 3.14, 0.0, 0.0, 0.5], dtype=torch.float64)
    goal = state.clone()
    goal[0] += 0.05
    goal[6] = 0.0
    config = MPCConfig(cem=CEMConfig(samples=32, top_k=4, iterations=3, horizon=2), seed=0)
    runner = SubGoalController(
        MPCController(world_model, config), [world_model.encode(goal)], [SubGoal("close", gripper=1.0)]
    )
    decision, _ = runner.step(world_model.encode(state), state)
    assert decision.target_state[6] == pytest.approx(1.0) and decision.action[6] == pytest.approx(0.5)
    assert torch.all(decision.plan[1:, 6] == 0)
    assert decision.predicted_states[-1, 0] > state[0] + 0.03  # the arm is still planned towards the goal
    scored = torch.cat([batch.reshape(-1, 2, 7) for batch in world_model.scored])  # [all candidates, H, 7]
    assert torch.allclose(scored[:, 0, 6].float(), torch.tensor(0.5)) and torch.all(scored[:, 1, 6] == 0)
    planned = MPCController(RecordingWorldModel(), config)
    planned.set_goal(world_model.encode(goal))
    assert planned.step(world_model.encode(state), state).predicted_states[-1, 6] < 0.3  # None: the CEM opens it


def test_a_grasp_subgoal_closes_the_fingers_in_place():
    world_model = StateWorldModel()
    state = torch.tensor([0.5, 0.0, 0.3, 3.14, 0.0, 0.0, 0.0], dtype=torch.float64)
    away = state.clone()
    away[0] += 0.05  # both goals lie 5 cm off: only the gripper-only sub-goal stays put
    goals = [world_model.encode(away)] * 3
    subgoals = [SubGoal("approach", 1, gripper=0.0), SubGoal("grasp", 1, gripper=1.0), SubGoal("lift", gripper=1.0)]
    config = MPCConfig(cem=CEMConfig(samples=32, top_k=4, iterations=3), seed=0)
    runner = SubGoalController(MPCController(world_model, config), goals, subgoals)
    approach, _ = runner.step(world_model.encode(state), state)
    assert approach.action[0] > 0.03 and approach.action[6] == 0.0  # planned towards the goal, fingers open
    grasp, _ = runner.step(world_model.encode(approach.target_state), approach.target_state)
    assert torch.all(grasp.action[:6] == 0) and grasp.target_state[6] == pytest.approx(1.0)
    lift, _ = runner.step(world_model.encode(grasp.target_state), grasp.target_state)
    assert lift.target_state[6] == pytest.approx(1.0)  # the last one plans the arm again, fingers kept closed


def test_a_gripper_only_subgoal_ignores_its_threshold_and_keeps_its_budget():
    """Its image differs from the approach only in the fingers, which a model may not see: an energy threshold
    would leave it before the fingers closed."""
    sequence = SubGoalSequence([SubGoal("approach", 5, 0.5, gripper=0.0), SubGoal("grasp", 2, 0.5, gripper=1.0),
                                SubGoal("lift", 0, 0.5, gripper=1.0)])  # fmt: skip
    assert sequence.observe(0.1).advance is Advance.SWITCH and sequence.active.name == "grasp"
    assert sequence.observe(0.1).advance is Advance.STAY  # below its threshold, yet it stays
    assert steps(sequence, 2) == [(1, Advance.STAY), (1, Advance.SWITCH)]
    assert sequence.observe(0.1).advance is Advance.REACHED


def test_a_release_as_the_last_subgoal_opens_before_its_threshold_can_end_the_goal():
    sequence = SubGoalSequence([SubGoal("carry", 1, gripper=1.0), SubGoal("place", 0, 0.5, gripper=0.0)])
    assert steps(sequence, 1) == [(0, Advance.SWITCH)]
    assert sequence.observe(0.1).advance is Advance.STAY  # the fingers have not opened yet: not a success
    assert steps(sequence, 1) == [(1, Advance.STAY)]
    assert sequence.observe(0.1).advance is Advance.REACHED
