"""Goal-position prior: the probe and its training, its checkpoint entry, the energy term and what it does to a plan."""

import pytest
import torch

from jepa_core.checkpoints import (
    AC_PREFIX,
    CheckpointError,
    load_pose_probe,
    read_checkpoint,
    save_checkpoint,
    write_checkpoint,
)
from jepa_core.planning.cem import CEMConfig
from jepa_core.planning.mpc import MPCConfig, MPCController
from jepa_core.planning.pose_prior import PROBE_KEY, GoalPositionPrior, PoseProbe, describe_prior
from jepa_core.planning.world_model import WorldModel
from jepa_core.presets import build_ac_predictor, build_encoder
from training.fit_pose_probe import FitPoseProbeConfig, train_probe

N, D = 16, 192
START = torch.tensor([0.4, 0.0, 0.5, 3.14159, 0.0, 0.0, 0.0], dtype=torch.float64)


@pytest.fixture(scope="module")
def predictor():
    torch.manual_seed(0)
    return build_ac_predictor("parity_tiny")


def synthetic(frames: int, seed: int):
    """Frames [M, N, D] whose first channels of token 0 encode positions [M, 3] (~10 cm spread), the rest noise."""
    generator = torch.Generator().manual_seed(seed)
    positions = torch.tensor([0.5, 0.0, 0.3]) + 0.1 * torch.rand(frames, 3, generator=generator)
    reps = 0.01 * torch.randn(frames, N, D, generator=generator)
    reps[:, 0, :3] = (positions - 0.55) * 20.0
    return reps, positions


def constant_probe(position) -> PoseProbe:
    """A probe that reads every frame as `position` (last layer zeroed): a known decoded goal."""
    probe = PoseProbe(N, D, hidden=8)
    torch.nn.init.zeros_(probe.net[-1].weight)
    torch.nn.init.zeros_(probe.net[-1].bias)
    probe.position_mean.copy_(torch.tensor(position))
    return probe


def test_training_learns_the_read_out():
    reps, positions = synthetic(2000, seed=0)
    config = FitPoseProbeConfig(hidden=64, steps=400, batch_size=64, lr=3e-3)
    probe = train_probe(reps, positions, config)
    test_reps, test_positions = synthetic(200, seed=1)
    with torch.no_grad():
        error = (probe(test_reps) - test_positions).norm(dim=-1)
    mean_only = (positions.mean(0) - test_positions).norm(dim=-1)  # what a probe that learnt nothing gets
    assert error.median().item() < 0.3 * mean_only.median().item()
    assert probe(test_reps[0]).shape == (3,) and not probe.training
    with pytest.raises(ValueError, match="at least 2 frames"):
        train_probe(reps[:1], positions[:1], config)
    with pytest.raises(ValueError, match="holdout"):
        FitPoseProbeConfig(holdout=1.0)


def test_penalty_is_zero_inside_the_dead_zone_and_linear_outside():
    prior = GoalPositionPrior(constant_probe([0.5, 0.0, 0.3]), weight=2.0, dead_zone=0.05)
    goal = prior.goal_position(torch.zeros(N, D))
    positions = torch.tensor([[0.5, 0.0, 0.3], [0.54, 0.0, 0.3], [0.5, 0.15, 0.3]])
    assert torch.allclose(prior.penalty(positions, goal), torch.tensor([0.0, 0.0, 0.2]), atol=1e-6)
    with pytest.raises(ValueError, match="weight"):
        GoalPositionPrior(prior.probe, weight=-1.0)
    with pytest.raises(ValueError, match="dead_zone"):
        GoalPositionPrior(prior.probe, dead_zone=-0.1)
    assert describe_prior(prior, 2.0).startswith("on (weight 2 per m outside 5 cm")
    assert describe_prior(None, 0.0) == "off (weight 0)" and "no pose_probe" in describe_prior(None, 2.0)


def test_energy_adds_the_penalty_of_each_rolled_out_pose(predictor):
    prior = GoalPositionPrior(constant_probe([0.6, 0.1, 0.3]), weight=3.0, dead_zone=0.02)
    plain, with_prior = WorldModel(predictor), WorldModel(predictor, goal_prior=prior)
    frame = torch.nn.functional.layer_norm(torch.randn(1, N, D), (D,))
    goal = torch.nn.functional.layer_norm(torch.randn(N, D), (D,))
    context = plain.make_context(frame, START[None].float())
    candidates = 0.05 * torch.randn(8, 2, 7)
    candidates[..., 3:] = 0.0
    base = plain.energy_fn(context, goal)(candidates)  # [8, 2]
    total = with_prior.energy_fn(context, goal)(candidates)
    positions = START[:3].float() + candidates[..., :3].cumsum(dim=1)  # translation-only actions add up
    expected = base + 3.0 * torch.relu((positions - torch.tensor([0.6, 0.1, 0.3])).norm(dim=-1) - 0.02)
    assert torch.allclose(total, expected, atol=1e-5)
    off = WorldModel(predictor, goal_prior=None).energy_fn(context, goal)(candidates)
    assert torch.equal(off, base)  # no prior: the official energy, bit for bit


def test_world_model_refuses_a_probe_of_another_frame_shape(predictor):
    with pytest.raises(ValueError, match="probe reads 4 tokens x 192"):
        WorldModel(predictor, goal_prior=GoalPositionPrior(PoseProbe(4, D, hidden=8)))


def test_prior_moves_the_arm_towards_the_decoded_goal(predictor):
    """The failure it fixes: an image energy that does not say where to go (here a random model's) leaves the arm
    where it is or sends it anywhere; the prior heads for the goal image's decoded flange position."""
    target = [0.6, -0.2, 0.2]
    config = MPCConfig(cem=CEMConfig(samples=64, top_k=8, iterations=4), seed=0)
    frame = torch.nn.functional.layer_norm(torch.randn(N, D), (D,))
    goal = torch.nn.functional.layer_norm(torch.randn(N, D), (D,))
    prior = GoalPositionPrior(constant_probe(target), weight=5.0, dead_zone=0.02)
    distances = []
    for goal_prior in (None, prior):
        controller = MPCController(WorldModel(predictor, goal_prior=goal_prior), config)
        controller.set_goal(goal)
        decision = controller.step(frame, START)
        distances.append((decision.target_state[:3] - torch.tensor(target, dtype=torch.float64)).norm().item())
    start_distance = (START[:3] - torch.tensor(target, dtype=torch.float64)).norm().item()
    assert distances[1] < start_distance - 0.08  # ~7.5 cm per axis towards the goal on x, y and z
    assert distances[1] < distances[0] - 0.05


def test_checkpoint_round_trip_and_refusals(tmp_path, predictor):
    path = save_checkpoint(tmp_path / "ac.pt", encoder=build_encoder("parity_tiny"), predictor=predictor,
                           prefix=AC_PREFIX)  # fmt: skip
    assert load_pose_probe(path, N, D) is None  # official files and ours without a probe: no prior
    reps, _ = synthetic(4, seed=2)
    probe = PoseProbe(N, D, hidden=32)
    ckpt = read_checkpoint(path)
    ckpt[PROBE_KEY] = probe.state_dict()
    write_checkpoint(ckpt, path)
    loaded = load_pose_probe(path, N, D)
    assert loaded.hidden == 32 and not loaded.training
    with torch.no_grad():
        assert torch.equal(loaded(reps), probe(reps))
    with pytest.raises(CheckpointError, match="expected tensors"):
        load_pose_probe(path, 4, D)
    ckpt[PROBE_KEY] = {**probe.state_dict(), "position_std": torch.full((3,), float("nan"))}
    write_checkpoint(ckpt, path)
    with pytest.raises(CheckpointError, match="NaN"):
        load_pose_probe(path, N, D)
    ckpt[PROBE_KEY] = {"weight": torch.zeros(3)}  # e.g. another kind of probe
    write_checkpoint(ckpt, path)
    with pytest.raises(CheckpointError, match=r"no 'net\.0\.weight'"):
        load_pose_probe(path, N, D)
    ckpt[PROBE_KEY] = "not a state dict"
    write_checkpoint(ckpt, path)
    with pytest.raises(CheckpointError, match="not a state dict"):
        load_pose_probe(path, N, D)


def test_prior_under_bf16_autocast_adds_the_same_fp32_penalty(predictor):
    """The GPU path (bf16 autocast, here on CPU): the predictor runs in bf16, the prior's penalty stays fp32."""
    from jepa_core.planning.world_model import WorldModelConfig

    prior = GoalPositionPrior(constant_probe([0.6, 0.1, 0.3]), weight=3.0, dead_zone=0.02)
    config = WorldModelConfig(autocast_dtype=torch.bfloat16)
    plain, with_prior = WorldModel(predictor, config=config), WorldModel(predictor, config=config, goal_prior=prior)
    frame = torch.nn.functional.layer_norm(torch.randn(1, N, D), (D,))
    goal = torch.nn.functional.layer_norm(torch.randn(N, D), (D,))
    context = plain.make_context(frame, START[None].float())
    candidates = 0.05 * torch.randn(8, 1, 7)
    candidates[..., 3:] = 0.0
    total = with_prior.energy_fn(context, goal)(candidates)
    base = plain.energy_fn(context, goal)(candidates)
    positions = START[:3].float() + candidates[..., :3]
    expected = 3.0 * torch.relu((positions - torch.tensor([0.6, 0.1, 0.3])).norm(dim=-1) - 0.02)
    assert total.dtype == torch.float32 and torch.isfinite(total).all()
    assert torch.allclose(total - base, expected, atol=1e-5)
