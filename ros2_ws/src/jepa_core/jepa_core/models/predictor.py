"""V-JEPA 2 pretraining predictor (official `VisionTransformerPredictor`): fills masked tokens from the context."""

from __future__ import annotations

import torch
from torch import nn

from jepa_core.models.encoder import as_hw, gather_tokens
from jepa_core.models.modules import Block, init_vit_weights, rescale_residual_projections
from jepa_core.models.rope import GridRope, compute_dtype


class VisionTransformerPredictor(nn.Module):
    """Context tokens + learned mask tokens at the target positions, sorted by token index, RoPE blocks, projection."""

    def __init__(
        self,
        img_size: int | tuple[int, int] = 256,
        patch_size: int = 16,
        num_frames: int = 16,
        tubelet_size: int = 2,
        embed_dim: int = 1024,
        predictor_embed_dim: int = 384,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        norm_eps: float = 1e-6,
        use_mask_tokens: bool = True,
        num_mask_tokens: int = 10,
        zero_init_mask_tokens: bool = True,
        use_rope: bool = True,
        init_std: float = 0.02,
    ):
        super().__init__()
        if not (use_rope and use_mask_tokens):
            raise ValueError("only the RoPE predictor with mask tokens (use_rope=use_mask_tokens=True) is implemented")
        self.hparams = dict(
            img_size=list(as_hw(img_size)), patch_size=patch_size, num_frames=num_frames, tubelet_size=tubelet_size,
            embed_dim=embed_dim, predictor_embed_dim=predictor_embed_dim, depth=depth, num_heads=num_heads,
            mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, norm_eps=norm_eps, use_mask_tokens=use_mask_tokens,
            num_mask_tokens=num_mask_tokens, zero_init_mask_tokens=zero_init_mask_tokens, use_rope=use_rope,
        )  # fmt: skip
        height, width = as_hw(img_size)
        self.grid_height = height // patch_size
        self.grid_width = width // patch_size
        self.num_patches = (num_frames // tubelet_size) * self.grid_height * self.grid_width
        self.num_mask_tokens = num_mask_tokens
        self.predictor_embed = nn.Linear(embed_dim, predictor_embed_dim)
        self.mask_tokens = nn.ParameterList(
            [nn.Parameter(torch.zeros(1, 1, predictor_embed_dim)) for _ in range(num_mask_tokens)]
        )
        self.predictor_blocks = nn.ModuleList(
            [Block(predictor_embed_dim, num_heads, mlp_ratio, qkv_bias, norm_eps) for _ in range(depth)]
        )
        self.predictor_norm = nn.LayerNorm(predictor_embed_dim, eps=norm_eps)
        self.predictor_proj = nn.Linear(predictor_embed_dim, embed_dim)
        self.rope = GridRope(predictor_embed_dim // num_heads)
        init_vit_weights(self, init_std)
        rescale_residual_projections(self.predictor_blocks)
        if not zero_init_mask_tokens:
            for token in self.mask_tokens:
                nn.init.trunc_normal_(token, std=init_std)

    def forward(
        self, ctx_tokens: torch.Tensor, masks_ctx: torch.Tensor, masks_tgt: torch.Tensor, mask_index: int = 1
    ) -> torch.Tensor:
        """ctx_tokens [B, Nc, D] at token indices masks_ctx [B, Nc] -> predictions [B, Nt, D] for masks_tgt [B, Nt]
        (grid of the constructor's img_size/num_frames); mask token `mask_index % num_mask_tokens` is used."""
        masks_ctx = self._single_mask(masks_ctx, "masks_ctx")
        masks_tgt = self._single_mask(masks_tgt, "masks_tgt")
        B, n_ctx, _ = ctx_tokens.shape
        if masks_ctx.shape != (B, n_ctx) or masks_tgt.shape[0] != B:
            raise ValueError(
                f"masks_ctx {list(masks_ctx.shape)} / masks_tgt {list(masks_tgt.shape)} do not match "
                f"ctx_tokens {list(ctx_tokens.shape)}"
            )
        x = self.predictor_embed(ctx_tokens)  # [B, Nc, Dp]
        mask_token = self.mask_tokens[mask_index % self.num_mask_tokens]  # [1, 1, Dp]
        targets = mask_token.expand(B, masks_tgt.shape[1], -1).to(x.dtype)  # [B, Nt, Dp]
        x = torch.cat([x, targets], dim=1)
        ids = torch.cat([masks_ctx, masks_tgt], dim=1)  # [B, Nc+Nt]
        order = torch.argsort(ids, dim=1)
        x = gather_tokens(x, [order])
        rope = self.rope.for_ids(torch.gather(ids, 1, order), self.grid_height, self.grid_width, compute_dtype(x))
        for block in self.predictor_blocks:
            x = block(x, rope=rope)
        x = self.predictor_norm(x)
        x = gather_tokens(x, [torch.argsort(order, dim=1)])[:, n_ctx:]  # back to input order, targets only
        return self.predictor_proj(x)

    @staticmethod
    def _single_mask(mask: torch.Tensor | list[torch.Tensor], name: str) -> torch.Tensor:
        """Accept one index tensor [B, K] (or a one-element list, as the official multi-mask wrapper passes)."""
        if isinstance(mask, list | tuple):
            if len(mask) != 1:
                raise ValueError(f"{name}: pass one mask per call (got {len(mask)}); loop over masks like upstream")
            mask = mask[0]
        return mask
