"""A linear read-out of the robot's state from a frame's planner tokens, as an auxiliary loss of end-to-end training.

The planner compares layer-normed frame tokens; it can only position the hand and the fingers as precisely as those
tokens encode them. A random or SIGReg-trained encoder encodes the arm coarsely and the finger opening hardly at all
(model card). The probe asks the tokens to predict the recorded flange position and gripper opening (DROID's
`cartesian_position[:3]` and `gripper_position`, both in every episode) linearly, which makes the encoder keep them.
Training only: the probe is saved for resuming, never in a release, and the planner never sees it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

PROBED_STATE = (0, 1, 2, 6)  # indices into DROID's 7-d state: x, y, z of the flange and the gripper opening


def state_statistics(states: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std [len(PROBED_STATE)] of the probed state dims over every row of every episode ([rows, 7] each)."""
    rows = np.concatenate([episode[:, PROBED_STATE] for episode in states])  # [rows, 4]
    std = rows.std(0)
    if not np.all(std > 1e-6):
        raise ValueError(f"state probe: a probed state dimension never changes in the data (std {std.tolist()})")
    return torch.from_numpy(rows.mean(0)).float(), torch.from_numpy(std).float()


class StateProbe(nn.Module):
    """Linear map of one frame's tokens [N*D] to its standardised probed state; forward gives the mean squared error."""

    def __init__(self, tokens: int, dim: int, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.linear = nn.Linear(tokens * dim, len(PROBED_STATE))
        self.register_buffer("mean", mean.clone())
        self.register_buffer("std", std.clone())

    def forward(self, reps: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """reps [B, T*N, D] (frame-major), states [B, T, 7] -> 0-d MSE in units of the data's std."""
        B, T = states.shape[:2]
        predicted = self.linear(reps.reshape(B, T, -1).float())  # [B, T, 4]
        target = (states[..., list(PROBED_STATE)].float() - self.mean) / self.std  # [B, T, 4]
        return torch.mean((predicted - target) ** 2)
