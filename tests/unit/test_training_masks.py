"""Multi-block 3-D masks of pretraining: sizes, complementarity, blocks spanning all time, impossible settings."""

import pytest
import torch

from training.masks import VJEPA2_MASKS, MaskConfig, block_size, sample_masks


def test_vjepa2_defaults_match_the_paper():
    small, large = VJEPA2_MASKS
    assert (small.num_blocks, small.spatial_scale, small.temporal_scale) == (8, 0.15, 1.0)
    assert (large.num_blocks, large.spatial_scale, large.temporal_scale) == (2, 0.7, 1.0)
    assert small.aspect_ratio == large.aspect_ratio == (0.75, 1.5)


@pytest.mark.parametrize("config", VJEPA2_MASKS)
def test_context_and_target_partition_each_clip(config):
    grid = (4, 8, 8)  # tubelets, rows, columns
    masks = sample_masks(config, 5, grid, torch.Generator().manual_seed(0))
    assert masks.context.shape[0] == masks.target.shape[0] == 5
    total = grid[0] * grid[1] * grid[2]
    for context, target in zip(masks.context, masks.target, strict=True):
        assert len(set(context.tolist()) & set(target.tolist())) == 0
        assert context.max() < total and target.max() < total
        assert torch.equal(context, context.sort().values)


def test_blocks_span_all_tubelets():
    grid = (3, 8, 8)
    masks = sample_masks(MaskConfig(num_blocks=2, spatial_scale=0.15), 4, grid, torch.Generator().manual_seed(1))
    per_frame = grid[1] * grid[2]
    for target in masks.target:
        # Before trimming, every masked spatial position is masked in every tubelet; after trimming to the batch
        # minimum, positions of the first tubelet are a superset of the later ones.
        spatial = [set((target[target // per_frame == t] % per_frame).tolist()) for t in range(grid[0])]
        assert spatial[1] <= spatial[0] and spatial[2] <= spatial[0]


def test_block_size_follows_scale_and_aspect_ratio():
    generator = torch.Generator().manual_seed(0)
    sizes = [block_size(MaskConfig(1, 0.7), (2, 16, 16), generator) for _ in range(50)]
    areas = [h * w for _, h, w in sizes]
    assert all(t == 2 for t, _, _ in sizes)
    assert 0.55 * 256 < sum(areas) / len(areas) < 0.85 * 256
    ratios = [h / w for _, h, w in sizes]
    assert min(ratios) >= 0.75 * 0.8 and max(ratios) <= 1.5 * 1.25


def test_impossible_context_raises_a_clear_error():
    with pytest.raises(ValueError, match="context position"):
        sample_masks(MaskConfig(num_blocks=4, spatial_scale=1.0), 2, (1, 4, 4), torch.Generator().manual_seed(0))


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="scales"):
        MaskConfig(num_blocks=1, spatial_scale=1.5)
    with pytest.raises(ValueError, match="aspect_ratio"):
        MaskConfig(num_blocks=1, spatial_scale=0.5, aspect_ratio=(2.0, 1.0))
