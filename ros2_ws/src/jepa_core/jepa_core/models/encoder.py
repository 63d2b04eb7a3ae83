"""V-JEPA 2 video encoder (official `VisionTransformer`): tubelet patch embedding, RoPE blocks, final LayerNorm."""

from __future__ import annotations

import torch
from torch import nn

from jepa_core.models.modules import Block, init_vit_weights, rescale_residual_projections
from jepa_core.models.rope import GridRope, compute_dtype


def as_hw(img_size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """Normalise an image size given as one int or (height, width)."""
    if isinstance(img_size, int):
        return img_size, img_size
    height, width = img_size
    return int(height), int(width)


def gather_tokens(x: torch.Tensor, masks: list[torch.Tensor]) -> torch.Tensor:
    """Keep the tokens listed by each index mask [B, K] of x [B, N, D]; masks are concatenated on the batch axis."""
    return torch.cat([torch.gather(x, 1, m.unsqueeze(-1).expand(-1, -1, x.shape[-1])) for m in masks], dim=0)


class PatchEmbed3D(nn.Module):
    """Conv3d with kernel = stride = (tubelet, patch, patch): video [B,C,T,H,W] -> tokens [B, T'*H'*W', D]."""

    def __init__(self, patch_size: int, tubelet_size: int, in_chans: int, embed_dim: int):
        super().__init__()
        kernel = (tubelet_size, patch_size, patch_size)
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=kernel, stride=kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # [B, N, D], (t, h, w) row-major


class VisionTransformer(nn.Module):
    """Video ViT without cls token or position table; the RoPE grid follows the actual input size."""

    def __init__(
        self,
        img_size: int | tuple[int, int] = 256,
        patch_size: int = 16,
        num_frames: int = 16,
        tubelet_size: int = 2,
        in_chans: int = 3,
        embed_dim: int = 1024,
        depth: int = 24,
        num_heads: int = 16,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        norm_eps: float = 1e-6,
        use_rope: bool = True,
        init_std: float = 0.02,
        separate_views: int = 1,
    ):
        super().__init__()
        if not use_rope:
            raise ValueError("only the RoPE encoder (use_rope=True) of V-JEPA 2 is implemented")
        height, width = as_hw(img_size)
        if separate_views < 1 or (separate_views > 1 and width != separate_views * height):
            raise ValueError(f"separate_views={separate_views}: img_size must be H x (views * H), got {height}x{width}")
        self.hparams = dict(
            img_size=[height, width], patch_size=patch_size, num_frames=num_frames, tubelet_size=tubelet_size,
            in_chans=in_chans, embed_dim=embed_dim, depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio,
            qkv_bias=qkv_bias, norm_eps=norm_eps, use_rope=use_rope,
        )  # fmt: skip
        if separate_views != 1:
            self.hparams["separate_views"] = separate_views  # ours; official configs have no such key
        self.img_size = (height, width)
        self.separate_views = separate_views
        self.patch_size = patch_size
        self.num_frames = num_frames
        self.tubelet_size = tubelet_size
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.patch_embed = PatchEmbed3D(patch_size, tubelet_size, in_chans, embed_dim)
        self.blocks = nn.ModuleList(
            [Block(embed_dim, num_heads, mlp_ratio, qkv_bias=qkv_bias, norm_eps=norm_eps) for _ in range(depth)]
        )
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)
        self.rope = GridRope(embed_dim // num_heads)
        init_vit_weights(self, init_std)
        rescale_residual_projections(self.blocks)

    def grid(self, video_shape: torch.Size) -> tuple[int, int, int]:
        """Token grid (tubelets, rows, columns) of a video [B, C, T, H, W]; rejects sizes the patching would crop."""
        if len(video_shape) != 5:
            raise ValueError(f"encoder expects video [B, 3, T, H, W], got shape {tuple(video_shape)}")
        _, _, T, H, W = video_shape
        if T % self.tubelet_size or H % self.patch_size or W % self.patch_size:
            raise ValueError(
                f"video T={T}, H={H}, W={W} must be multiples of tubelet {self.tubelet_size} / patch {self.patch_size}"
            )
        return T // self.tubelet_size, H // self.patch_size, W // self.patch_size

    def forward(self, video: torch.Tensor, masks: torch.Tensor | list[torch.Tensor] | None = None) -> torch.Tensor:
        """video [B, 3, T, H, W] -> tokens [B, N, D]; with `masks` (index tensors [B, K]) only those tokens are
        encoded (context encoder of pretraining) and the outputs of all masks are stacked on the batch axis.
        With separate_views V > 1 each of the V square views side by side is encoded alone (no attention across
        views) and the token grids are put back side by side: the same [B, T*H*W, D] layout as one wide image."""
        if self.separate_views > 1:
            return self._forward_views_apart(video, masks)
        T, H, W = self.grid(video.shape)
        x = self.patch_embed(video)  # [B, N, D]
        if masks is None:
            rope = self.rope.for_grid(T, H, W, x.device, compute_dtype(x))
        else:
            masks = [masks] if isinstance(masks, torch.Tensor) else list(masks)
            x = gather_tokens(x, masks)  # [len(masks)*B, K, D]
            rope = self.rope.for_ids(torch.cat(masks, dim=0), H, W, compute_dtype(x))
        for block in self.blocks:
            x = block(x, rope=rope)
        return self.norm(x)

    def _forward_views_apart(self, video: torch.Tensor, masks: torch.Tensor | list | None) -> torch.Tensor:
        """video [B, 3, T, S, V*S] -> tokens [B, t*h*V*w, D], each view [B, 3, T, S, S] encoded alone."""
        if masks is not None:
            raise ValueError("separate_views encoders encode whole frames; masked (pretraining) input is not supported")
        T, H, W = self.grid(video.shape)
        views = self.separate_views
        if video.shape[-1] != views * video.shape[-2]:
            raise ValueError(f"separate_views={views}: frames must be S x {views}*S px, got {tuple(video.shape[-2:])}")
        B, S = video.shape[0], video.shape[-2]
        apart = video.unflatten(-1, (views, S)).permute(0, 4, 1, 2, 3, 5).flatten(0, 1)  # [B*V, 3, T, S, S]
        x = self.patch_embed(apart)  # [B*V, T*H*(W/V), D]
        rope = self.rope.for_grid(T, H, W // views, x.device, compute_dtype(x))
        for block in self.blocks:
            x = block(x, rope=rope)
        x = self.norm(x).view(B, views, T, H, W // views, -1)  # [B, V, t, h, w, D]
        return x.permute(0, 2, 3, 1, 4, 5).flatten(1, 4)  # [B, t*h*V*w, D]: rows of view 0's tokens, then view 1's
