"""Loss of one action-conditioned post-training step: L1 teacher forcing over all steps + L1 rollout with GT states."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from jepa_core.models.ac_predictor import VisionTransformerPredictorAC
from jepa_core.models.representations import normalize_reps


@dataclass
class ACLoss:
    """Total loss and its parts, with the predictions they were computed from."""

    loss: torch.Tensor  # 0-d, jloss + sloss
    jloss: torch.Tensor  # 0-d, teacher forcing
    sloss: torch.Tensor  # 0-d, auto-regressive rollout
    z_tf: torch.Tensor  # [B, (T-1)*N, D] teacher-forced predictions of frames 1..T-1
    z_ar: torch.Tensor  # [B, auto_steps*N, D] rollout predictions of frames 1..auto_steps


def _frame_loss(z: torch.Tensor, h: torch.Tensor, tokens_per_frame: int, loss_exp: float) -> torch.Tensor:
    """mean |z - h[frames 1..]|^p / p, with z covering the frames right after frame 0."""
    target = h[:, tokens_per_frame : tokens_per_frame + z.shape[1]]
    return torch.mean(torch.abs(z - target) ** loss_exp) / loss_exp


def ac_training_loss(
    predictor: VisionTransformerPredictorAC,
    h: torch.Tensor,
    actions: torch.Tensor,
    states: torch.Tensor,
    extrinsics: torch.Tensor | None = None,
    auto_steps: int = 2,
    loss_exp: float = 1.0,
    normalize: bool = True,
) -> ACLoss:
    """h [B, T*N, D] frame reps (encode_clip_frames), actions [B, T-1, 7], states [B, T, 7] -> ACLoss.

    Teacher forcing predicts frames 1..T-1 from frames 0..T-2, all actions and states 0..T-2. The rollout starts from
    [frame 0, predicted frame 1] and for n = 1..auto_steps-1 feeds actions/states 0..n (ground-truth states), keeping
    the last predicted frame each time.
    """
    N = predictor.tokens_per_frame
    T = h.shape[1] // N
    if actions.shape[1] != T - 1 or states.shape[1] != T:
        raise ValueError(
            f"{T} frames need actions [B, {T - 1}, 7] and states [B, {T}, 7]; "
            f"got actions {list(actions.shape)}, states {list(states.shape)}"
        )
    if not 1 <= auto_steps <= T - 1:
        raise ValueError(f"auto_steps must be in 1..{T - 1} for {T} frames, got {auto_steps}")

    def step(z, a, s, e):
        out = predictor(z, a, s, e)
        return normalize_reps(out) if normalize else out

    def cond(x: torch.Tensor | None, n: int) -> torch.Tensor | None:
        return None if x is None else x[:, :n]

    z_tf = step(h[:, :-N], actions, states[:, :-1], cond(extrinsics, T - 1))
    z = torch.cat([h[:, :N], z_tf[:, :N]], dim=1)
    for n in range(1, auto_steps):
        z_next = step(z, actions[:, : n + 1], states[:, : n + 1], cond(extrinsics, n + 1))[:, -N:]
        z = torch.cat([z, z_next], dim=1)
    z_ar = z[:, N:]
    jloss = _frame_loss(z_tf, h, N, loss_exp)
    sloss = _frame_loss(z_ar, h, N, loss_exp)
    return ACLoss(loss=jloss + sloss, jloss=jloss, sloss=sloss, z_tf=z_tf, z_ar=z_ar)
