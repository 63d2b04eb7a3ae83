"""Offline model check core: surprise is the planner's energy, shuffles have no fixed point, plans land where asked,
and the verdict's rules (PASS / FAIL with reasons / INCONCLUSIVE without motion)."""

import numpy as np
import pytest
import torch

from jepa_core.checkpoints import load_ac_predictor, load_encoder
from jepa_core.planning.cem import CEMConfig
from jepa_core.planning.model_check import (
    CheckConfig,
    EpisodeCheck,
    check_episode,
    derangement,
    encode_in_batches,
    judge,
    merge_checks,
)
from jepa_core.planning.world_model import WorldModel
from tests.conftest import REPO_ROOT

SMALL = CheckConfig(cem=CEMConfig(samples=24, top_k=4, iterations=2), encode_batch=3)


@pytest.fixture(scope="module")
def world_model():
    checkpoint = REPO_ROOT / "models" / "sim_manip.pt"
    return WorldModel(load_ac_predictor(checkpoint), load_encoder(checkpoint))


@pytest.fixture(scope="module")
def episode():
    """Five frames with a moving bright square and states moving 3 cm per step in x."""
    frames = np.zeros((5, 64, 64, 3), dtype=np.uint8)
    for t in range(5):
        frames[t, 20:36, 8 + 8 * t : 24 + 8 * t] = 255
    states = np.zeros((5, 7))
    states[:, 0] = 0.4 + 0.03 * np.arange(5)
    states[:, 2] = 0.3
    states[:, 3] = np.pi
    return frames, states


def test_derangement_moves_every_index():
    rng = np.random.default_rng(0)
    for count in (2, 3, 7, 40):
        order = derangement(count, rng)
        assert sorted(order.tolist()) == list(range(count))
        assert np.all(order != np.arange(count))
    with pytest.raises(ValueError, match="at least 2"):
        derangement(1, rng)


def test_surprise_is_the_planning_energy_of_the_recorded_action(world_model, episode):
    frames, states = episode
    check = check_episode(world_model, frames, states, SMALL)
    reps = encode_in_batches(world_model, frames, batch=2)  # [T, N, D]
    assert torch.allclose(reps, world_model.encode_images(frames), atol=1e-5)
    for t in range(len(frames) - 1):
        context = world_model.make_context(reps[t : t + 1], torch.from_numpy(states[t : t + 1]).float())
        energy_fn = world_model.energy_fn(context, reps[t + 1])
        action = torch.from_numpy(check.taken[t]).float()[None, None]  # [1, 1, 7]
        assert check.surprise["recorded"][t] == pytest.approx(energy_fn(action).item(), rel=1e-5)
        assert check.surprise["zero"][t] == pytest.approx(energy_fn(torch.zeros(1, 1, 7)).item(), rel=1e-5)
        # mean over the patch grid of the per-token surprise is the surprise itself
        assert check.token_surprise[t].mean() == pytest.approx(check.surprise["recorded"][t], rel=1e-5)
        assert check.no_change[t] == pytest.approx((reps[t + 1] - reps[t]).abs().mean().item(), rel=1e-5)
    np.testing.assert_allclose(check.taken[:, 0], 0.03, atol=1e-9)
    assert check.token_surprise.shape == (4, 4, 4)  # 64 px / patch 16


def test_plans_only_every_nth_step_and_compares_directions(world_model, episode):
    frames, states = episode
    check = check_episode(world_model, frames, states, CheckConfig(cem=SMALL.cem, plan_every=2))
    planned = ~np.isnan(check.planned[:, 0])
    assert planned.tolist() == [True, False, True, False]
    assert np.all(np.abs(check.planned[planned, :3]) <= 0.075 + 1e-9)
    np.testing.assert_allclose(check.to_goal[:, 0], [0.12, 0.09, 0.06, 0.03], atol=1e-9)
    expected = check.planned[0, 0] / np.linalg.norm(check.planned[0, :3])  # taken and to-goal point along +x
    assert check.cos_taken[0] == pytest.approx(expected) and check.cos_goal[0] == pytest.approx(expected)
    assert np.isnan(check.cos_goal[3])  # 3 cm from the final pose: arrived, not compared
    assert np.isnan(check.cos_goal[1])  # not planned


def test_rejects_too_short_or_mismatched_recordings(world_model, episode):
    frames, states = episode
    with pytest.raises(ValueError, match="T >= 3"):
        check_episode(world_model, frames[:2], states[:2], SMALL)
    with pytest.raises(ValueError, match=r"\(5, 64, 64, 3\) and \(4, 7\)"):
        check_episode(world_model, frames, states[:4], SMALL)


def _check(recorded, shuffled, zero, no_change, cos_goal, step=0.03) -> EpisodeCheck:
    """A hand-made check of len(recorded) steps moving `step` m in x each, plans with the given cosines."""
    steps = len(recorded)
    taken = np.zeros((steps, 7))
    taken[:, 0] = step
    planned = np.where(np.isnan(cos_goal)[:, None], np.nan, 0.01)
    return EpisodeCheck(
        surprise={"recorded": np.asarray(recorded), "shuffled": np.asarray(shuffled), "zero": np.asarray(zero)},
        no_change=np.asarray(no_change),
        token_surprise=np.zeros((steps, 2, 2)),
        taken=taken,
        to_goal=np.tile([0.1, 0.0, 0.0], (steps, 1)),
        planned=np.broadcast_to(planned, (steps, 7)).copy(),
        plan_energy=np.zeros(steps),
        planning_s=0.0,
        cos_taken=np.asarray(cos_goal),
        cos_goal=np.asarray(cos_goal),
    )


def test_verdict_passes_only_when_all_three_criteria_hold():
    good = _check([0.1] * 4, [0.2] * 4, [0.15] * 4, [0.2] * 4, np.array([0.9, 0.8, 0.7, 0.6]))
    verdict = judge(good)
    assert verdict.status == "PASS" and verdict.reasons == ()
    assert verdict.surprise_ratio == pytest.approx(0.5) and verdict.action_gain["zero"] == pytest.approx(1.5)
    assert verdict.line.startswith("VERDICT PASS: over 4 of 4 steps, surprise 0.100 = 0.50x the no-change baseline")
    assert "over 4 plans, cos to the final-pose direction 0.75" in verdict.line

    blind = _check([0.1] * 4, [0.104] * 4, [0.2] * 4, [0.2] * 4, np.array([0.9] * 4))
    assert judge(blind).status == "FAIL" and judge(blind).reasons == ("action gain 1.04 < 1.1",)
    lost = _check([0.1] * 4, [0.2] * 4, [0.2] * 4, [0.2] * 4, np.array([0.9, -0.8, 0.1, 0.2]))
    assert judge(lost).reasons == ("plan-to-final cosine 0.10 < 0.3",)
    worse = _check([0.3] * 4, [0.4] * 4, [0.4] * 4, [0.2] * 4, np.array([0.9] * 4))
    assert judge(worse).reasons == ("surprise/no-change 1.50 >= 0.9",)


def test_verdict_is_inconclusive_when_the_arm_does_not_move():
    still = _check([0.1] * 4, [0.2] * 4, [0.2] * 4, [0.2] * 4, np.array([0.9] * 4), step=0.001)
    verdict = judge(still)
    assert verdict.status == "INCONCLUSIVE" and verdict.reasons == ("only 0 of 4 steps move the arm or gripper",)
    unplanned = _check([0.1] * 4, [0.2] * 4, [0.2] * 4, [0.2] * 4, np.full(4, np.nan))
    assert judge(unplanned).status == "PASS" and "cos" not in judge(unplanned).line  # no planning asked for


def test_still_steps_are_left_out_of_the_means():
    check = _check([0.1] * 4, [0.2] * 4, [0.2] * 4, [0.2] * 4, np.array([0.9] * 4))
    check.taken[3] = 0.0  # the arm stands still: the no-change baseline is perfect there
    check.surprise["recorded"][3], check.no_change[3] = 0.09, 0.001
    verdict = judge(check)
    assert verdict.status == "PASS" and verdict.judged_steps == 3 and verdict.no_change == pytest.approx(0.2)
    check.taken[3, 6] = 0.2  # the gripper moved: the step counts
    assert judge(check).judged_steps == 4


def test_merged_checks_pool_every_step():
    first = _check([0.1] * 2, [0.2] * 2, [0.2] * 2, [0.2] * 2, np.array([0.9, 0.8]))
    second = _check([0.3] * 3, [0.4] * 3, [0.4] * 3, [0.4] * 3, np.array([0.1, np.nan, 0.3]))
    merged = merge_checks([first, second])
    assert merged.steps == 5 and judge(merged).judged_plans == 4
    assert judge(merged).surprise["recorded"] == pytest.approx((0.2 + 0.9) / 5)
