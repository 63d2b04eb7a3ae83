"""Transformer building blocks shared by the encoder and both predictors (official parameter names)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from jepa_core.models.rope import RopeTables, apply_rope

KeyValue = tuple[torch.Tensor, torch.Tensor]  # (k, v) after RoPE, each [B, heads, N, head_dim]


class MLP(nn.Module):
    """Two-layer perceptron with exact (erf) GELU: fc1 -> GELU -> fc2."""

    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def _matmul_shared_batch(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a [B, H, M, X] @ b [Bb, H, X, Y] where Bb is B or 1; a batch-1 `b` is shared by folding B into M (no copy)."""
    B, H, M, _ = a.shape
    if b.shape[0] == B:
        return a @ b
    out = a.transpose(0, 1).reshape(H, B * M, a.shape[-1]) @ b[0]  # [H, B*M, Y]
    return out.view(H, B, M, b.shape[-1]).transpose(0, 1)


def attention_with_past(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, past: KeyValue, attn_mask: torch.Tensor | None
) -> torch.Tensor:
    """Attention of new queries q [B,H,M,hd] over cached keys/values (all visible; batch B or 1) plus new k, v
    under a bool mask [M, M] (True = may attend). On CUDA one fused SDPA kernel (no score matrix in memory), else
    explicit scores that share a batch-1 cache without copying it (the faster path on a CPU)."""
    if q.device.type == "cuda":
        return fused_attention_with_past(q, k, v, past, attn_mask)
    past_k, past_v = past
    scale = q.shape[-1] ** -0.5
    scores_past = _matmul_shared_batch(q * scale, past_k.transpose(-2, -1))  # [B, H, M, P]
    scores_new = (q * scale) @ k.transpose(-2, -1)  # [B, H, M, M]
    if attn_mask is not None:
        scores_new = scores_new.masked_fill(~attn_mask, float("-inf"))
    probs = torch.cat([scores_past, scores_new], dim=-1).softmax(dim=-1, dtype=torch.float32).to(q.dtype)
    n_past = past_k.shape[-2]
    return _matmul_shared_batch(probs[..., :n_past], past_v) + probs[..., n_past:] @ v  # [B, H, M, hd]


def fused_attention_with_past(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, past: KeyValue, attn_mask: torch.Tensor | None
) -> torch.Tensor:
    """`attention_with_past` as one SDPA call over [past | new] keys/values (a batch-1 cache is copied per row):
    memory O(keys) per row instead of the O(queries x keys) score matrix, and a fused kernel on GPUs."""
    B, _, M, _ = q.shape
    past_k, past_v = past
    keys = torch.cat([past_k.expand(B, -1, -1, -1), k], dim=2)  # [B, H, P+M, hd]
    values = torch.cat([past_v.expand(B, -1, -1, -1), v], dim=2)
    if attn_mask is not None:
        attn_mask = torch.cat([attn_mask.new_ones(M, past_k.shape[-2]), attn_mask], dim=1)  # [M, P+M]
    return F.scaled_dot_product_attention(q, keys, values, attn_mask=attn_mask)


class Attention(nn.Module):
    """Multi-head self-attention with one qkv projection (rows [q|k|v], heads contiguous), RoPE on q and k, SDPA."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"width {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(
        self,
        x: torch.Tensor,
        rope: RopeTables | None = None,
        attn_mask: torch.Tensor | None = None,
        past: KeyValue | None = None,
        return_kv: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, KeyValue]:
        """x [B, N, C] -> [B, N, C]; `past` adds cached context keys/values; `return_kv` also returns (k, v)."""
        B, N, C = x.shape
        qkv = self.qkv(x).unflatten(-1, (3, self.num_heads, self.head_dim)).permute(2, 0, 3, 1, 4)  # [3,B,H,N,hd]
        if rope is None:
            q, k, v = qkv
        else:
            (q, k), v = apply_rope(qkv[:2], rope), qkv[2]  # q and k rotated in one pass
        if past is None:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # [B, H, N, hd]
        else:
            out = attention_with_past(q, k, v, past, attn_mask)
        out = self.proj(out.transpose(1, 2).reshape(B, N, C))
        return (out, (k, v)) if return_kv else out


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x))."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True, norm_eps: float = 1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = MLP(dim, int(dim * mlp_ratio))

    def forward(
        self,
        x: torch.Tensor,
        rope: RopeTables | None = None,
        attn_mask: torch.Tensor | None = None,
        past: KeyValue | None = None,
        return_kv: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, KeyValue]:
        """x [B, N, C] -> [B, N, C] (and this block's (k, v) when `return_kv`)."""
        attended = self.attn(self.norm1(x), rope=rope, attn_mask=attn_mask, past=past, return_kv=return_kv)
        if return_kv:
            attended, kv = attended
        x = x + attended
        x = x + self.mlp(self.norm2(x))
        return (x, kv) if return_kv else x


def init_vit_weights(module: nn.Module, init_std: float = 0.02) -> None:
    """Official initialisation: truncated-normal(init_std) linear/conv weights, zero biases, unit LayerNorms."""
    for sub in module.modules():
        if isinstance(sub, nn.Linear | nn.Conv3d):
            nn.init.trunc_normal_(sub.weight, std=init_std)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.LayerNorm):
            nn.init.ones_(sub.weight)
            nn.init.zeros_(sub.bias)


def rescale_residual_projections(blocks: nn.ModuleList) -> None:
    """Divide each block's attn.proj and mlp.fc2 weights by sqrt(2 * layer_id) (layer_id from 1), as upstream does."""
    with torch.no_grad():
        for layer_id, block in enumerate(blocks, start=1):
            block.attn.proj.weight.div_((2.0 * layer_id) ** 0.5)
            block.mlp.fc2.weight.div_((2.0 * layer_id) ** 0.5)
