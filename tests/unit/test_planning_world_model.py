"""World-model facade on a tiny random model: cached history == uncached, chunking, autocast, shapes, energies."""

import dataclasses

import pytest
import torch

from jepa_core.planning.poses import pose_differences
from jepa_core.planning.world_model import WorldModel, WorldModelConfig
from jepa_core.presets import build_ac_predictor, build_encoder

K, N, D = 4, 16, 192


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return build_ac_predictor("parity_tiny"), build_encoder("parity_tiny")


def make_history(seed: int = 0):
    """K observed representations [K, N, D], states [K, 7] and the executed actions [K-1, 7] between them."""
    generator = torch.Generator().manual_seed(seed)
    frames = torch.nn.functional.layer_norm(torch.randn(K, N, D, generator=generator), (D,))
    states = torch.tensor([0.5, 0.0, 0.3, 3.0, 0.1, -1.0, 0.2]) + 0.05 * torch.randn(K, 7, generator=generator)
    return frames, states, pose_differences(states)


def candidates(S: int = 6, H: int = 2, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    actions = torch.randn(S, H, 7, generator=generator) * 0.05
    actions[..., 3:6] = 0.0
    return actions


def test_cached_history_matches_uncached(models):
    predictor, _ = models
    frames, states, actions = make_history()
    cached = WorldModel(predictor)
    uncached = WorldModel(predictor, config=WorldModelConfig(use_context_cache=False))
    context = cached.make_context(frames, states, actions)
    assert context.cache is not None and context.cache.steps == K - 1
    plain = uncached.make_context(frames, states, actions)
    assert plain.cache is None
    pred_cached, poses_cached = cached.rollout(context, candidates())
    pred_plain, poses_plain = uncached.rollout(plain, candidates())
    assert pred_cached.shape == (6, 2, N, D)
    assert (pred_cached - pred_plain).abs().max().item() <= 1e-5
    assert torch.equal(poses_cached, poses_plain)


def test_history_changes_the_prediction(models):
    predictor, _ = models
    frames, states, actions = make_history()
    world_model = WorldModel(predictor)
    with_history = world_model.rollout(world_model.make_context(frames, states, actions), candidates())[0]
    current_only = world_model.rollout(world_model.make_context(frames[-1:], states[-1:]), candidates())[0]
    assert (with_history - current_only).abs().max().item() > 1e-2


def test_chunked_energies_equal_unchunked(models):
    predictor, _ = models
    frames, states, actions = make_history()
    goal = frames[0]
    whole = WorldModel(predictor, config=WorldModelConfig(candidate_chunk=0))
    chunked = WorldModel(predictor, config=WorldModelConfig(candidate_chunk=4))
    energies = whole.energy_fn(whole.make_context(frames, states, actions), goal)(candidates(S=10))
    energies_chunked = chunked.energy_fn(chunked.make_context(frames, states, actions), goal)(candidates(S=10))
    assert energies.shape == (10, 2)
    assert (energies - energies_chunked).abs().max().item() <= 1e-6
    assert energies.min().item() > 0


def test_automatic_chunk_size(models):
    predictor, _ = models
    frames, states, actions = make_history()
    context = WorldModel(predictor).make_context(frames, states, actions)
    assert WorldModel(predictor).chunk_size(context, 1) == 4096 // (N + 2)  # CPU: ~4096 tokens per predictor call
    assert WorldModel(predictor, config=WorldModelConfig(candidate_chunk=7)).chunk_size(context, 1) == 7
    with pytest.raises(ValueError, match="candidate_chunk"):
        WorldModelConfig(candidate_chunk=-2)
    with pytest.raises(ValueError, match="activation_budget_mb"):
        WorldModelConfig(activation_budget_mb=0)


def test_bf16_autocast_is_close_to_fp32(models):
    predictor, encoder = models
    frames = torch.randn(2, 3, 64, 64)
    fp32 = WorldModel(predictor, encoder)
    bf16 = WorldModel(predictor, encoder, WorldModelConfig(autocast_dtype=torch.bfloat16))
    reps, reps_bf16 = fp32.encode(frames), bf16.encode(frames)
    assert reps.dtype == reps_bf16.dtype == torch.float32
    assert (reps - reps_bf16).abs().mean().item() < 0.05
    state = torch.zeros(1, 7)
    energy = fp32.energy_fn(fp32.make_context(reps[:1], state), reps[1])(candidates())
    energy_bf16 = bf16.energy_fn(bf16.make_context(reps[:1], state), reps[1])(candidates())
    assert energy_bf16.dtype == torch.float32
    assert (energy - energy_bf16).abs().max().item() < 0.02


def test_encode_images_uses_the_planning_transform(models):
    predictor, encoder = models
    world_model = WorldModel(predictor, encoder)
    images = torch.randint(0, 256, (2, 48, 80, 3), dtype=torch.uint8)
    assert world_model.encode_images(images).shape == (2, N, D)
    with pytest.raises(RuntimeError, match="without an encoder"):
        WorldModel(predictor).encode_images(images)


def test_bad_context_shapes_are_rejected(models):
    predictor, _ = models
    frames, states, actions = make_history()
    world_model = WorldModel(predictor)
    with pytest.raises(ValueError, match="frames"):
        world_model.make_context(frames[..., :10], states, actions)
    with pytest.raises(ValueError, match="context"):
        world_model.make_context(frames, states, actions[:1])
    with pytest.raises(ValueError, match="candidates"):
        world_model.rollout(world_model.make_context(frames, states, actions), torch.zeros(3, 7))


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        WorldModelConfig().device = "cuda"


def test_view_weights_weigh_the_views_of_tiled_frames():
    """Issue 26: a two-view model's energy with weights (1, 0) is the exterior view's tokens alone; equal weights are
    the official uniform mean, bit for bit."""
    torch.manual_seed(0)
    predictor = build_ac_predictor("parity_tiny", img_size=(64, 128))  # 4 x 8 tokens: exterior | wrist
    generator = torch.Generator().manual_seed(3)
    predictions = torch.randn(5, 2, predictor.tokens_per_frame, D, generator=generator)  # [S, H, N, D]
    goal = torch.randn(predictor.tokens_per_frame, D, generator=generator)
    official = WorldModel(predictor).step_energies(predictions, goal)
    equal = WorldModel(predictor, config=WorldModelConfig(view_weights=(0.3, 0.3)))
    assert equal.token_weights is None and torch.equal(equal.step_energies(predictions, goal), official)
    exterior = WorldModel(predictor, config=WorldModelConfig(view_weights=(1.0, 0.0))).step_energies(predictions, goal)
    per_token = (predictions - goal).abs().mean(dim=-1).unflatten(-1, (4, 8))  # [S, H, rows, cols]
    torch.testing.assert_close(exterior, per_token[..., :4].mean(dim=(-2, -1)))
    with pytest.raises(ValueError, match="view_weights"):
        WorldModelConfig(view_weights=(1.0, -1.0))
