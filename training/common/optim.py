"""Optimiser pieces shared by the trainers: AdamW groups, the warmup/constant/cooldown schedule and the EMA update.

As in V-JEPA 2, biases and 1-D parameters (norm weights, mask tokens) get no weight decay, and the learning rate rises
linearly over the warmup, stays constant, then falls linearly to `final_lr` over the cooldown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ScheduleConfig:
    """Warmup/constant/cooldown learning-rate schedule over `total_steps` optimiser steps."""

    lr: float
    start_lr: float
    final_lr: float
    warmup_steps: int
    cooldown_steps: int
    total_steps: int

    def __post_init__(self) -> None:
        if self.total_steps < 1 or self.warmup_steps < 0 or self.cooldown_steps < 0:
            raise ValueError(
                f"schedule: expected total_steps >= 1 and warmup/cooldown >= 0, got total={self.total_steps}, "
                f"warmup={self.warmup_steps}, cooldown={self.cooldown_steps}"
            )
        if self.warmup_steps + self.cooldown_steps > self.total_steps:
            raise ValueError(
                f"schedule: warmup_steps {self.warmup_steps} + cooldown_steps {self.cooldown_steps} exceed "
                f"total_steps {self.total_steps}"
            )


def learning_rate(schedule: ScheduleConfig, step: int) -> float:
    """Learning rate for optimiser step `step` (0-based) under the warmup/constant/cooldown schedule."""
    if step < schedule.warmup_steps:
        return schedule.start_lr + (schedule.lr - schedule.start_lr) * (step + 1) / schedule.warmup_steps
    cooldown_start = schedule.total_steps - schedule.cooldown_steps
    if step < cooldown_start:
        return schedule.lr
    progress = min(1.0, (step - cooldown_start + 1) / max(1, schedule.cooldown_steps))
    return schedule.lr + (schedule.final_lr - schedule.lr) * progress


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Write `lr` into every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def adamw(
    modules: Iterable[nn.Module], weight_decay: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
) -> torch.optim.AdamW:
    """AdamW over the trainable parameters of `modules`: matrices decayed, biases and 1-D parameters not."""
    decay, no_decay = [], []
    for module in modules:
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            (no_decay if name.endswith(".bias") or param.ndim == 1 else decay).append(param)
    if not decay and not no_decay:
        raise ValueError("adamw: the given modules have no trainable parameters")
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, betas=betas, eps=eps)


@torch.no_grad()
def ema_update(target: nn.Module, source: nn.Module, momentum: float) -> None:
    """target <- momentum * target + (1 - momentum) * source, parameter by parameter (the EMA encoder)."""
    target_params = list(target.parameters())
    source_params = list(source.parameters())
    if len(target_params) != len(source_params):
        raise ValueError(f"EMA: target has {len(target_params)} parameters, source {len(source_params)}")
    torch._foreach_lerp_(target_params, source_params, 1.0 - momentum)
