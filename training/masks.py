"""V-JEPA multi-block 3-D masks: blocks of patches spanning all tubelets; the encoder sees their complement.

Each `MaskConfig` makes one masking of every clip (V-JEPA 2: 8 small blocks of spatial scale 0.15 and, separately,
2 large blocks of scale 0.7, aspect ratio 0.75-1.5, temporal scale 1). Block sizes are drawn once per batch (so every
clip has blocks of the same size) and placed independently per clip; masks are then trimmed to the batch's shortest so
they stack into index tensors [B, K].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

MAX_PLACEMENT_TRIES = 50


@dataclass(frozen=True)
class MaskConfig:
    """One multi-block masking: `num_blocks` blocks of `spatial_scale` of the frame and `temporal_scale` of time."""

    num_blocks: int
    spatial_scale: float
    temporal_scale: float = 1.0
    aspect_ratio: tuple[float, float] = (0.75, 1.5)
    min_context: int = 1  # fewest unmasked spatial positions a mask may leave

    def __post_init__(self) -> None:
        if self.num_blocks < 1 or not 0 < self.spatial_scale <= 1 or not 0 < self.temporal_scale <= 1:
            raise ValueError(
                f"MaskConfig: expected num_blocks >= 1 and scales in (0, 1], got {self.num_blocks}, "
                f"{self.spatial_scale}, {self.temporal_scale}"
            )
        low, high = self.aspect_ratio
        if not 0 < low <= high:
            raise ValueError(f"MaskConfig.aspect_ratio: expected 0 < low <= high, got {self.aspect_ratio}")


VJEPA2_MASKS = (MaskConfig(num_blocks=8, spatial_scale=0.15), MaskConfig(num_blocks=2, spatial_scale=0.7))


@dataclass
class ClipMasks:
    """Token indices of one masking for a batch: context (encoder input) and target (predicted) [B, K]."""

    context: torch.Tensor  # [B, Kc] int64, sorted
    target: torch.Tensor  # [B, Kt] int64, sorted


def block_size(config: MaskConfig, grid: tuple[int, int, int], generator: torch.Generator) -> tuple[int, int, int]:
    """(t, h, w) extent of a block: area = scale of the frame, aspect ratio drawn log-uniformly, clipped to the grid."""
    T, H, W = grid
    t = max(1, int(T * config.temporal_scale))
    area = H * W * config.spatial_scale
    low, high = config.aspect_ratio
    u = torch.rand((), generator=generator).item()
    ratio = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    h = min(H, max(1, round(math.sqrt(area * ratio))))
    w = min(W, max(1, round(math.sqrt(area / ratio))))
    return t, h, w


def _place_blocks(
    config: MaskConfig, grid: tuple[int, int, int], size: tuple[int, int, int], generator: torch.Generator
) -> torch.Tensor:
    """Bool [T, H, W] (True = masked) with config.num_blocks blocks at random places, leaving min_context positions."""
    T, H, W = grid
    t, h, w = size
    for _ in range(MAX_PLACEMENT_TRIES):
        masked = torch.zeros(T, H, W, dtype=torch.bool)
        for _ in range(config.num_blocks):
            t0 = int(torch.randint(0, T - t + 1, (), generator=generator))
            h0 = int(torch.randint(0, H - h + 1, (), generator=generator))
            w0 = int(torch.randint(0, W - w + 1, (), generator=generator))
            masked[t0 : t0 + t, h0 : h0 + h, w0 : w0 + w] = True
        if int((~masked).sum()) >= config.min_context * T:
            return masked
    raise ValueError(
        f"could not leave {config.min_context} context position(s) per tubelet with {config.num_blocks} blocks of "
        f"size {size} on a {grid} token grid after {MAX_PLACEMENT_TRIES} tries; use fewer/smaller blocks or a "
        "larger image"
    )


def sample_masks(
    config: MaskConfig, batch_size: int, grid: tuple[int, int, int], generator: torch.Generator
) -> ClipMasks:
    """Context/target token indices for `batch_size` clips of a (tubelets, rows, columns) token grid."""
    size = block_size(config, grid, generator)
    contexts, targets = [], []
    for _ in range(batch_size):
        masked = _place_blocks(config, grid, size, generator).flatten()  # [N]
        targets.append(torch.nonzero(masked).squeeze(1))
        contexts.append(torch.nonzero(~masked).squeeze(1))
    keep_context = min(len(c) for c in contexts)
    keep_target = min(len(t) for t in targets)
    return ClipMasks(
        context=torch.stack([c[:keep_context] for c in contexts]),
        target=torch.stack([t[:keep_target] for t in targets]),
    )
