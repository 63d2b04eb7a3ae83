"""Action-conditioned V-JEPA 2 predictor (official `VisionTransformerPredictorAC`) with a context KV cache.

Per time step the tokens are [action_t, state_t, (extrinsics_t), patches_t]; a block-causal mask lets step t attend to
every token of steps <= t, so keys/values of observed history steps can be computed once (`prefill`) and shared by
every planning candidate.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from jepa_core.models.encoder import as_hw
from jepa_core.models.modules import Block, KeyValue, init_vit_weights, rescale_residual_projections
from jepa_core.models.rope import GridRope, compute_dtype


def block_causal_mask(steps: int, tokens_per_step: int, device: torch.device) -> torch.Tensor:
    """Bool mask [steps*n, steps*n], True where the query's step >= the key's step (official frame-causal mask)."""
    step_of_token = torch.arange(steps * tokens_per_step, device=device) // tokens_per_step
    return step_of_token.unsqueeze(1) >= step_of_token.unsqueeze(0)


@dataclass
class ACContextCache:
    """Keys/values (after RoPE) of every predictor block for `steps` observed time steps.

    kv[i] = (k, v), each [Bc, heads, steps*(cond_tokens+N), head_dim]; Bc = 1 is shared by any candidate batch.
    """

    kv: list[KeyValue]
    steps: int

    @property
    def batch_size(self) -> int:
        return self.kv[0][0].shape[0]


class VisionTransformerPredictorAC(nn.Module):
    """Predicts the next frame's encoder tokens for each step from frames, actions and end-effector states."""

    def __init__(
        self,
        img_size: int | tuple[int, int] = 256,
        patch_size: int = 16,
        num_frames: int = 64,
        tubelet_size: int = 2,
        embed_dim: int = 1408,
        predictor_embed_dim: int = 1024,
        depth: int = 24,
        num_heads: int = 16,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        norm_eps: float = 1e-6,
        action_embed_dim: int = 7,
        use_extrinsics: bool = False,
        is_frame_causal: bool = True,
        use_rope: bool = True,
        init_std: float = 0.02,
    ):
        super().__init__()
        if not use_rope:
            raise ValueError("only the RoPE AC predictor (use_rope=True) of V-JEPA 2 is implemented")
        self.hparams = dict(
            img_size=list(as_hw(img_size)), patch_size=patch_size, num_frames=num_frames, tubelet_size=tubelet_size,
            embed_dim=embed_dim, predictor_embed_dim=predictor_embed_dim, depth=depth, num_heads=num_heads,
            mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, norm_eps=norm_eps, action_embed_dim=action_embed_dim,
            use_extrinsics=use_extrinsics, is_frame_causal=is_frame_causal, use_rope=use_rope,
        )  # fmt: skip
        height, width = as_hw(img_size)
        self.grid_height = height // patch_size
        self.grid_width = width // patch_size
        self.tokens_per_frame = self.grid_height * self.grid_width
        self.max_steps = num_frames // tubelet_size
        self.embed_dim = embed_dim
        self.action_embed_dim = action_embed_dim
        self.use_extrinsics = use_extrinsics
        self.is_frame_causal = is_frame_causal
        self.cond_tokens = 3 if use_extrinsics else 2
        self.predictor_embed = nn.Linear(embed_dim, predictor_embed_dim)
        self.action_encoder = nn.Linear(action_embed_dim, predictor_embed_dim)
        self.state_encoder = nn.Linear(action_embed_dim, predictor_embed_dim)
        self.extrinsics_encoder = nn.Linear(action_embed_dim - 1, predictor_embed_dim)
        self.predictor_blocks = nn.ModuleList(
            [Block(predictor_embed_dim, num_heads, mlp_ratio, qkv_bias, norm_eps) for _ in range(depth)]
        )
        self.predictor_norm = nn.LayerNorm(predictor_embed_dim, eps=norm_eps)
        self.predictor_proj = nn.Linear(predictor_embed_dim, embed_dim)
        self.rope = GridRope(predictor_embed_dim // num_heads)
        self._masks: dict[tuple, torch.Tensor] = {}
        init_vit_weights(self, init_std)
        rescale_residual_projections(self.predictor_blocks)

    def _check_inputs(self, x, actions, states, extrinsics) -> int:
        """Validate shapes and return the number of time steps T of x [B, T*N, D]."""
        B, n_tokens, dim = x.shape
        if dim != self.embed_dim or n_tokens % self.tokens_per_frame:
            raise ValueError(f"tokens: expected [B, T*{self.tokens_per_frame}, {self.embed_dim}], got {tuple(x.shape)}")
        steps = n_tokens // self.tokens_per_frame
        expected = (B, steps, self.action_embed_dim)
        for name, value in (("actions", actions), ("states", states)):
            if tuple(value.shape) != expected:
                raise ValueError(f"{name}: expected {list(expected)}, got {list(value.shape)}")
        if self.use_extrinsics and (extrinsics is None or tuple(extrinsics.shape) != (B, steps, 6)):
            got = None if extrinsics is None else list(extrinsics.shape)
            raise ValueError(f"extrinsics: expected [{B}, {steps}, 6] (use_extrinsics=True), got {got}")
        return steps

    def _tokens(self, x, actions, states, extrinsics, steps: int) -> torch.Tensor:
        """Embed and interleave per step [action, state, (extrinsics), patches] -> [B, T*(cond+N), Dp]."""
        x = self.predictor_embed(x)  # [B, T*N, Dp]
        B, _, D = x.shape
        cond = [self.action_encoder(actions).unsqueeze(2), self.state_encoder(states).unsqueeze(2)]
        if self.use_extrinsics:
            cond.append(self.extrinsics_encoder(extrinsics).unsqueeze(2))
        x = x.view(B, steps, self.tokens_per_frame, D)
        return torch.cat([*cond, x], dim=2).flatten(1, 2)

    def _attn_mask(self, steps: int, device: torch.device) -> torch.Tensor | None:
        """Cached block-causal mask for `steps` new steps (None when the predictor is not frame-causal)."""
        if not self.is_frame_causal:
            return None
        if torch.compiler.is_compiling():  # traced (export/compile): build in-graph, never cache traced tensors
            return block_causal_mask(steps, self.cond_tokens + self.tokens_per_frame, device)
        key = (steps, str(device))
        if key not in self._masks:
            with torch.inference_mode(False):  # a cached mask must stay usable outside inference mode
                self._masks[key] = block_causal_mask(steps, self.cond_tokens + self.tokens_per_frame, device)
        return self._masks[key]

    def _run_blocks(self, x, actions, states, extrinsics, cache: ACContextCache | None, collect_kv: bool):
        """Shared body of forward/prefill: returns the residual stream [B, T*(cond+N), Dp] and the per-block (k, v)."""
        steps = self._check_inputs(x, actions, states, extrinsics)
        first_step = 0 if cache is None else cache.steps
        if first_step + steps > self.max_steps:
            raise ValueError(
                f"{first_step} cached + {steps} new steps exceed the predictor's {self.max_steps} steps "
                f"(num_frames // tubelet_size)"
            )
        if cache is not None and cache.batch_size not in (1, x.shape[0]):
            raise ValueError(f"cache batch {cache.batch_size} must be 1 or the input batch {x.shape[0]}")
        tokens = self._tokens(x, actions, states, extrinsics, steps)
        rope = self.rope.for_grid(
            steps, self.grid_height, self.grid_width, x.device, compute_dtype(tokens),
            first_step=first_step, cond_tokens=self.cond_tokens, w_scale=self.grid_height / self.grid_width,
        )  # fmt: skip
        mask = self._attn_mask(steps, x.device)
        kv = []
        for i, block in enumerate(self.predictor_blocks):
            past = None if cache is None else cache.kv[i]
            if collect_kv:
                tokens, block_kv = block(tokens, rope=rope, attn_mask=mask, past=past, return_kv=True)
                kv.append(block_kv)
            else:
                tokens = block(tokens, rope=rope, attn_mask=mask, past=past)
        return tokens, kv, steps

    def forward(
        self,
        x: torch.Tensor,
        actions: torch.Tensor,
        states: torch.Tensor,
        extrinsics: torch.Tensor | None = None,
        cache: ACContextCache | None = None,
    ) -> torch.Tensor:
        """x [B, T*N, D], actions/states [B, T, 7] -> predictions [B, T*N, D] (step t predicts frame t+1).

        With `cache` (from `prefill` over K steps) the T new steps sit at time positions K..K+T-1 and also attend to
        every cached token; a cache of batch 1 is shared by all B rows without copying.
        """
        tokens, _, steps = self._run_blocks(x, actions, states, extrinsics, cache, collect_kv=False)
        B, _, D = tokens.shape
        tokens = tokens.view(B, steps, self.cond_tokens + self.tokens_per_frame, D)[:, :, self.cond_tokens :]
        return self.predictor_proj(self.predictor_norm(tokens.flatten(1, 2)))

    def prefill(
        self,
        x: torch.Tensor,
        actions: torch.Tensor,
        states: torch.Tensor,
        extrinsics: torch.Tensor | None = None,
        cache: ACContextCache | None = None,
    ) -> ACContextCache:
        """Keys/values of observed steps x [Bc, K*N, D], actions/states [Bc, K, 7], appended to `cache` if given."""
        _, kv, steps = self._run_blocks(x, actions, states, extrinsics, cache, collect_kv=True)
        if cache is not None:
            kv = [
                (
                    torch.cat([pk.expand(k.shape[0], -1, -1, -1), k], 2),
                    torch.cat([pv.expand(v.shape[0], -1, -1, -1), v], 2),
                )
                for (pk, pv), (k, v) in zip(cache.kv, kv, strict=True)
            ]
            steps += cache.steps
        return ACContextCache(kv=kv, steps=steps)
