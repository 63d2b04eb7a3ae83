"""Full-size smoke on the CPU: the released architecture (ViT-g encoder, AC giant predictor) with random weights runs
one frame and one CEM iteration through the planner's own WorldModel, in bounded memory (slow: ~1.5 min, 5.4 GB)."""

import resource

import pytest
import torch

from jepa_core.models.representations import normalize_reps
from jepa_core.planning.cem import CEMConfig, CEMPlanner
from jepa_core.planning.world_model import WorldModel
from jepa_core.presets import build_ac_predictor, build_encoder, materialize

WEIGHT_BYTES = 4 * (1_012_000_000 + 303_000_000)  # fp32 ViT-g + AC giant, rounded up
PEAK_RSS_LIMIT_BYTES = WEIGHT_BYTES + 2 * 2**30  # weights + 2 GiB for activations, the runtime and pytest


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@pytest.mark.slow
def test_fullsize_models_encode_and_plan_on_cpu():
    encoder = materialize(build_encoder("vit_giant_xformers", device="meta"), seed=0)
    predictor = materialize(build_ac_predictor("vit_ac_giant", device="meta"), seed=1)
    assert sum(p.numel() for p in encoder.parameters()) > 1.0e9  # the released 1 B-parameter ViT-g
    assert sum(p.numel() for p in predictor.parameters()) > 0.3e9
    assert not any(p.is_meta for p in (*encoder.parameters(), *predictor.parameters()))
    world_model = WorldModel(predictor, encoder)

    image = torch.randint(0, 256, (1, 256, 256, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    reps = world_model.encode_images(image)  # [1, 256, 1408]
    assert reps.shape == (1, 256, 1408) and reps.dtype == torch.float32 and torch.isfinite(reps).all()
    goal = normalize_reps(reps[0] + 0.5 * torch.randn(reps.shape[1:], generator=torch.Generator().manual_seed(1)))

    state = torch.tensor([[0.5, 0.0, 0.3, 3.1, 0.0, 0.0, 0.3]])
    context = world_model.make_context(reps[:1], state)
    assert world_model.chunk_size(context, horizon=1) == 15  # 4096 tokens per call: 800 samples stay bounded
    planner = CEMPlanner(CEMConfig(samples=3, top_k=2, iterations=1))
    result = planner.plan(world_model.energy_fn(context, goal), generator=torch.Generator().manual_seed(0))
    assert result.iterations == 1 and result.actions.shape == (1, 7)
    assert torch.isfinite(result.energy) and result.energy > 0

    peak = peak_rss_bytes()
    print(f"full-size smoke: peak RSS {peak / 2**30:.2f} GiB (limit {PEAK_RSS_LIMIT_BYTES / 2**30:.2f} GiB)")
    assert peak < PEAK_RSS_LIMIT_BYTES
