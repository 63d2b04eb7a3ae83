"""The CUDA planning path, checked on the CPU: bounded candidate chunks, fused attention over the context cache,
no host syncs inside the CEM loop, fp32 energies under bf16 autocast, pinned-memory image transfers."""

import dataclasses

import pytest
import torch

from jepa_core.models.ac_predictor import block_causal_mask
from jepa_core.models.modules import attention_with_past, fused_attention_with_past
from jepa_core.planning.cem import CEMConfig, CEMPlanner
from jepa_core.planning.poses import pose_differences
from jepa_core.planning.world_model import (
    GPU_ACTIVATION_BUDGET_MB,
    WorldModel,
    WorldModelConfig,
    automatic_chunk,
    candidate_activation_bytes,
)
from jepa_core.presets import build_ac_predictor
from jepa_core.transforms import planning_transform_batch

K = 4


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return build_ac_predictor("parity_tiny")


@pytest.fixture(scope="module")
def giant():
    return build_ac_predictor("vit_ac_giant", device="meta")  # shapes only: the sizing needs no weights


def history(predictor, steps: int = K):
    """Observed representations [K, N, D], states [K, 7] and executed actions [K-1, 7]."""
    generator = torch.Generator().manual_seed(0)
    frames = torch.randn(steps, predictor.tokens_per_frame, predictor.embed_dim, generator=generator)
    frames = torch.nn.functional.layer_norm(frames, (predictor.embed_dim,))
    states = torch.tensor([0.5, 0.0, 0.3, 3.0, 0.1, -1.0, 0.2]) + 0.05 * torch.randn(steps, 7, generator=generator)
    return frames, states, pose_differences(states)


@pytest.mark.parametrize(("past", "new"), [(0, 1), (3, 1), (0, 4)])
def test_cuda_chunks_fit_the_activation_budget_for_800_giant_candidates(giant, past, new):
    budget = GPU_ACTIVATION_BUDGET_MB
    per_candidate = candidate_activation_bytes(giant, new, past, element_bytes=2, fused=True)
    chunk = automatic_chunk(giant, "cuda", new, past, element_bytes=2, budget_mb=budget)
    assert chunk * per_candidate <= budget * 2**20 < (chunk + 1) * per_candidate  # as many as fit, no more
    assert 16 <= chunk < 800  # 800 samples go in a few large calls, never all at once
    assert 800 * per_candidate > 2 * budget * 2**20  # what all-at-once would have needed


def test_cuda_chunk_takes_every_small_candidate_at_once(tiny):
    assert automatic_chunk(tiny, "cuda", 1, 0, element_bytes=2) >= 800


def test_activation_estimate_grows_with_history_and_precision(giant):
    base = candidate_activation_bytes(giant, 1, 0, 2, fused=True)
    assert candidate_activation_bytes(giant, 1, 3, 2, fused=True) > base  # cached keys copied per candidate
    assert candidate_activation_bytes(giant, 4, 0, 2, fused=True) > 3 * base  # uncached history runs again
    assert candidate_activation_bytes(giant, 1, 0, 4, fused=True) > base  # fp32
    # CPU path: the score matrix is materialised; heads x queries x keys x (fp32 probs + 2 reduced copies)
    assert (
        candidate_activation_bytes(giant, 1, 3, 2, fused=False) - candidate_activation_bytes(giant, 1, 3, 2, fused=True)
        == 16 * 258 * 1032 * 8 - 2 * 1032 * 1024 * 2
    )


def test_world_model_sizes_cuda_chunks_from_context_and_dtype(tiny, giant, monkeypatch):
    frames, states, actions = history(tiny)
    world_model = WorldModel(tiny, config=WorldModelConfig(autocast_dtype=torch.bfloat16, activation_budget_mb=1))
    context = world_model.make_context(frames, states, actions)
    uncached = dataclasses.replace(context, cache=None)
    monkeypatch.setattr(world_model, "device", torch.device("cuda"))  # the sizing only reads the device type
    expected = automatic_chunk(tiny, "cuda", 2, K - 1, element_bytes=2, budget_mb=1)
    assert world_model.chunk_size(context, horizon=2) == expected
    assert world_model.chunk_size(uncached, horizon=2) == automatic_chunk(tiny, "cuda", K + 1, 0, 2, budget_mb=1)


@pytest.mark.parametrize("past_batch", [1, 5])
def test_fused_attention_with_past_equals_the_explicit_one(past_batch):
    generator = torch.Generator().manual_seed(0)
    B, H, M, P, hd = 5, 3, 2 * 6, 3 * 6, 8
    q, k, v = (torch.randn(B, H, M, hd, generator=generator) for _ in range(3))
    past = tuple(torch.randn(past_batch, H, P, hd, generator=generator) for _ in range(2))
    mask = block_causal_mask(2, 6, torch.device("cpu"))
    explicit = attention_with_past(q, k, v, past, mask)  # the CPU path
    fused = fused_attention_with_past(q, k, v, past, mask)  # the CUDA path
    assert (explicit - fused).abs().max().item() < 1e-5
    assert (fused - fused_attention_with_past(q, k, v, past, None)).abs().max().item() > 1e-3  # the mask is used


class HostSyncError(AssertionError):
    """Raised when the CEM loop reads a tensor value on the host."""


def test_cem_loop_through_the_world_model_never_reads_values_on_the_host(tiny, monkeypatch):
    frames, states, actions = history(tiny)
    world_model = WorldModel(tiny)
    energy_fn = world_model.energy_fn(world_model.make_context(frames, states, actions), frames[0])
    planner = CEMPlanner(CEMConfig(samples=12, top_k=4, iterations=3, horizon=2))
    generator = torch.Generator().manual_seed(0)

    def forbidden(name):
        def raise_sync(*args, **kwargs):
            raise HostSyncError(f"Tensor.{name} inside the CEM loop syncs the GPU")

        return raise_sync

    for name in ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__"):
        monkeypatch.setattr(torch.Tensor, name, forbidden(name))
    result = planner.plan(energy_fn, generator=generator)
    monkeypatch.undo()
    assert result.iterations == 3 and torch.isfinite(result.energy)
    with_rule = CEMPlanner(CEMConfig(samples=24, top_k=4, iterations=3, std_tolerance=0.01))
    monkeypatch.setattr(torch.Tensor, "tolist", forbidden("tolist"))
    with pytest.raises(HostSyncError):  # the check is able to fail: a stopping rule needs one read per iteration
        with_rule.plan(energy_fn, generator=generator)


def test_energies_and_predictions_are_fp32_under_bf16_autocast_with_history(tiny):
    frames, states, actions = history(tiny)
    fp32 = WorldModel(tiny)
    bf16 = WorldModel(tiny, config=WorldModelConfig(autocast_dtype=torch.bfloat16))
    context = bf16.make_context(frames, states, actions)
    assert context.cache.kv[0][0].dtype == torch.bfloat16  # the predictor itself runs in bf16
    candidates = torch.randn(6, 2, 7, generator=torch.Generator().manual_seed(1)) * 0.05
    predictions, _ = bf16.rollout(context, candidates)
    energies = bf16.energy_fn(context, frames[0])(candidates)
    assert predictions.dtype == energies.dtype == torch.float32
    reference = fp32.energy_fn(fp32.make_context(frames, states, actions), frames[0])(candidates)
    assert 0 < (energies - reference).abs().max().item() < 0.02  # reduced matmuls, fp32 reductions


def test_host_images_reach_cuda_through_pinned_memory(monkeypatch):
    calls = []
    real_to = torch.Tensor.to

    def fake_pin(self):
        calls.append("pin")
        return self

    def fake_to(self, *args, **kwargs):
        if args and isinstance(args[0], torch.device) and args[0].type == "cuda":
            calls.append(("to", args[0].type, kwargs.get("non_blocking")))
            return self
        return real_to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "pin_memory", fake_pin)
    monkeypatch.setattr(torch.Tensor, "to", fake_to)
    images = torch.randint(0, 256, (2, 48, 64, 3), dtype=torch.uint8)
    monkeypatch.setattr("jepa_core.transforms._pixel_normalisation", lambda device: (torch.zeros(1), torch.ones(1)))
    planning_transform_batch(images, size=32, device="cuda")
    assert calls == ["pin", ("to", "cuda", True)]  # staged in page-locked memory, then an asynchronous copy
    calls.clear()
    planning_transform_batch(images, size=32, device="cpu")
    assert calls == []  # CPU targets are not pinned


def test_compile_mode_is_validated():
    with pytest.raises(ValueError, match="compile_mode"):
        WorldModelConfig(compile_mode="cudagraphs")


@pytest.mark.slow
def test_compiled_predictor_gives_the_eager_energies(tiny):
    frames, states, actions = history(tiny)
    candidates = torch.randn(6, 2, 7, generator=torch.Generator().manual_seed(1)) * 0.05
    energies = {}
    for mode in ("", "default"):
        world_model = WorldModel(tiny, config=WorldModelConfig(compile_mode=mode))
        energies[mode] = world_model.energy_fn(world_model.make_context(frames, states, actions), frames[0])(candidates)
    assert (energies[""] - energies["default"]).abs().max().item() < 1e-5
