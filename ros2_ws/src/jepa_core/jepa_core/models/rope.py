"""3-D rotary position embedding (RoPE) of V-JEPA 2, with sin/cos tables cached per token grid.

The head dim is split into time | height | width segments of size 2*((head_dim//3)//2) plus an unrotated tail. Inside a
segment of size S the S/2 angles pos * 10000^(-j/(S/2)) are tiled twice (not interleaved) and the partner of the pair
(x[2i], x[2i+1]) is (-x[2i+1], x[2i]); the released weights depend on this exact layout.
"""

from __future__ import annotations

import torch

ROPE_BASE = 10000.0
RopeTables = tuple[torch.Tensor, torch.Tensor]  # (cos, signed sin), each [..., N, head_dim]


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """dtype that q/k will have for input x: the autocast dtype when autocast is on for x's device, else x's dtype."""
    if torch.is_autocast_enabled(x.device.type):
        return torch.get_autocast_dtype(x.device.type)
    return x.dtype


def rope_segment_dim(head_dim: int) -> int:
    """Size of each of the time/height/width segments for a given head dim (64 -> 20, 80 -> 26)."""
    return 2 * ((head_dim // 3) // 2)


def rope_angles(positions: torch.Tensor, segment_dim: int, dtype: torch.dtype) -> torch.Tensor:
    """Angles pos * omega_j for one segment, computed in `dtype` like the official code.  # [..., N] -> [..., N, S/2]"""
    half = segment_dim // 2
    omega = torch.arange(half, dtype=dtype, device=positions.device)
    omega = 1.0 / ROPE_BASE ** (omega / (segment_dim / 2.0))
    return positions.to(dtype).unsqueeze(-1) * omega


def rotate_pairs(x: torch.Tensor) -> torch.Tensor:
    """Partner vector of RoPE: each pair (x[2i], x[2i+1]) becomes (-x[2i+1], x[2i])."""
    pairs = x.unflatten(-1, (-1, 2))  # [..., D/2, 2]
    return torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)


def rotate_segment(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Rotate one whole segment x [..., N, S] by positions [N] (the official per-segment function; reference/debug)."""
    angles = rope_angles(positions, x.shape[-1], x.dtype).repeat(*([1] * positions.dim()), 2)  # [N, S]
    return x * angles.cos() + rotate_pairs(x) * angles.sin()


def swap_pairs(x: torch.Tensor) -> torch.Tensor:
    """(x[2i], x[2i+1]) -> (x[2i+1], x[2i]); with a sign-folded sin this equals rotate_pairs(x) * sin exactly."""
    return x.unflatten(-1, (-1, 2)).flip(-1).flatten(-2)


def apply_rope(x: torch.Tensor, tables: RopeTables) -> torch.Tensor:
    """Rotate q and/or k [..., N, hd] with full-head tables (cos, signed sin) [N, hd] or [B, 1, N, hd].

    signed sin = sin * (-1, +1, -1, ...): x*cos + swap_pairs(x)*signed_sin is bit-identical to the official
    x*cos + rotate_pairs(x)*sin with one op fewer (negation is exact), which matters on small CPUs.
    """
    cos, signed_sin = tables
    return x * cos + swap_pairs(x) * signed_sin


def rope_tables(
    head_dim: int,
    time_pos: torch.Tensor,
    height_pos: torch.Tensor | None,
    width_pos: torch.Tensor | None,
    dtype: torch.dtype,
) -> RopeTables:
    """Full-head (cos, signed sin) [..., N, head_dim] for per-token positions; None leaves that segment unrotated."""
    seg = rope_segment_dim(head_dim)
    cos_parts, sin_parts = [], []
    for positions in (time_pos, height_pos, width_pos):
        if positions is None:
            shape = (*time_pos.shape, seg)
            cos_parts.append(torch.ones(shape, dtype=dtype, device=time_pos.device))
            sin_parts.append(torch.zeros(shape, dtype=dtype, device=time_pos.device))
            continue
        angles = rope_angles(positions, seg, dtype)  # [..., N, S/2]
        cos_parts.append(angles.cos().repeat(*([1] * positions.dim()), 2))
        sin_parts.append(angles.sin().repeat(*([1] * positions.dim()), 2))
    rest = head_dim - 3 * seg
    if rest:
        shape = (*time_pos.shape, rest)
        cos_parts.append(torch.ones(shape, dtype=dtype, device=time_pos.device))
        sin_parts.append(torch.zeros(shape, dtype=dtype, device=time_pos.device))
    sin = torch.cat(sin_parts, dim=-1)
    sign = torch.tensor([-1.0, 1.0], dtype=dtype, device=sin.device).repeat(head_dim // 2)
    return torch.cat(cos_parts, dim=-1), sin * sign


def split_token_ids(ids: torch.Tensor, grid_h: int, grid_w: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Flat (t, h, w) row-major token indices -> float (time, row, column) positions, as the official encoder does."""
    per_frame = grid_h * grid_w
    t = ids // per_frame
    rem = ids - per_frame * t
    h = rem // grid_w
    w = rem - grid_w * h
    return 1.0 * t, 1.0 * h, 1.0 * w


class GridRope:
    """Caches full-head RoPE tables per (T, H, W, scales, conditioning tokens, device, dtype) for one head dim."""

    def __init__(self, head_dim: int):
        self.head_dim = head_dim
        self._cache: dict[tuple, RopeTables] = {}

    def for_ids(self, ids: torch.Tensor, grid_h: int, grid_w: int, dtype: torch.dtype) -> RopeTables:
        """Uncached tables for explicit token indices ids [B, N] (masked tokens) -> [B, 1, N, hd]."""
        t, h, w = split_token_ids(ids, grid_h, grid_w)
        cos, sin = rope_tables(self.head_dim, t, h, w, dtype)
        return cos.unsqueeze(1), sin.unsqueeze(1)

    def for_grid(
        self,
        steps: int,
        grid_h: int,
        grid_w: int,
        device: torch.device,
        dtype: torch.dtype,
        *,
        first_step: int = 0,
        cond_tokens: int = 0,
        h_scale: float = 1.0,
        w_scale: float = 1.0,
    ) -> RopeTables:
        """Tables [steps*(cond_tokens+H*W), hd] for a full grid, steps first_step.. ; per step `cond_tokens` leading
        tokens (action, state) get only the temporal rotation. Row/column positions are multiplied by the scales."""
        if torch.compiler.is_compiling():  # traced (export/compile): build in-graph, never cache traced tensors
            return self._build(steps, grid_h, grid_w, device, dtype, first_step, cond_tokens, h_scale, w_scale)
        key = (steps, grid_h, grid_w, str(device), dtype, first_step, cond_tokens, h_scale, w_scale)
        tables = self._cache.get(key)
        if tables is None:
            with torch.inference_mode(False), torch.no_grad():  # cached tables must stay usable under autograd
                tables = self._build(steps, grid_h, grid_w, device, dtype, first_step, cond_tokens, h_scale, w_scale)
            self._cache[key] = tables
        return tables

    def _build(self, steps, grid_h, grid_w, device, dtype, first_step, cond_tokens, h_scale, w_scale) -> RopeTables:
        """Compute the grid tables; patch positions follow the official float32 index arithmetic."""
        ids = torch.arange(steps * grid_h * grid_w, device=device)
        t, h, w = split_token_ids(ids, grid_h, grid_w)
        t = t + first_step
        h = h * h_scale
        w = w * w_scale
        cos, sin = rope_tables(self.head_dim, t, h, w, dtype)  # [steps*H*W, hd]
        if not cond_tokens:
            return cos, sin
        step_pos = torch.arange(first_step, first_step + steps, device=device)
        cond_cos, cond_sin = rope_tables(self.head_dim, step_pos, None, None, dtype)  # [steps, hd]
        per_step = grid_h * grid_w

        def interleave(cond: torch.Tensor, patches: torch.Tensor) -> torch.Tensor:
            cond = cond.unsqueeze(1).expand(steps, cond_tokens, self.head_dim)
            return torch.cat([cond, patches.view(steps, per_step, self.head_dim)], dim=1).flatten(0, 1)

        return interleave(cond_cos, cos), interleave(cond_sin, sin)
