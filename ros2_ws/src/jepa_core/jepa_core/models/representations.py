"""Frame representations of the AC stack: each frame encoded alone as one tubelet, then a parameter-free LayerNorm."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from jepa_core.models.encoder import VisionTransformer

REPS_LAYER_NORM_EPS = 1e-5  # F.layer_norm default, on top of the encoder's own final norm (eps 1e-6)


def normalize_reps(x: torch.Tensor) -> torch.Tensor:
    """LayerNorm over the last dim without affine parameters (eps 1e-5), for encoder reps and predictions."""
    return F.layer_norm(x, (x.shape[-1],), eps=REPS_LAYER_NORM_EPS)


def encode_frames(encoder: VisionTransformer, frames: torch.Tensor) -> torch.Tensor:
    """frames [B, 3, H, W] -> normalised representations [B, N, D]; each frame is repeated into one tubelet."""
    if frames.dim() != 4:
        raise ValueError(f"encode_frames expects frames [B, 3, H, W], got shape {tuple(frames.shape)}")
    clips = frames.unsqueeze(2).expand(-1, -1, encoder.tubelet_size, -1, -1)  # [B, 3, tubelet, H, W]
    return normalize_reps(encoder(clips))


def encode_clip_frames(encoder: VisionTransformer, clips: torch.Tensor) -> torch.Tensor:
    """clips [B, 3, T, H, W] -> per-frame representations [B, T*N, D] (frame-major), as AC training uses them."""
    if clips.dim() != 5:
        raise ValueError(f"encode_clip_frames expects clips [B, 3, T, H, W], got shape {tuple(clips.shape)}")
    B, _, T, _, _ = clips.shape
    reps = encode_frames(encoder, clips.transpose(1, 2).flatten(0, 1))  # [B*T, N, D]
    return reps.view(B, T * reps.shape[1], reps.shape[2])
