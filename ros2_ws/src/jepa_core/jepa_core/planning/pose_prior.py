"""Goal position prior: where the goal image's hand is, read from its tokens, as an extra planning energy term.

One fixed camera cannot tell a hand that is higher and farther from one that is lower and nearer (both cover the same
pixels), so the image energy of a small frozen encoder has valleys away from the goal, where the arm stalls
(models/README.md). A small MLP read-out of the flange position from a frame's planner tokens, fitted on the play
data's recorded proprioception (DROID `cartesian_position`, in every episode; training.fit_pose_probe), decodes the
goal image's flange position to about a centimetre. Planning adds `weight * max(0, |p - p_goal| - dead_zone)` for each
candidate's flange position p (its rolled-out state), so the prior pulls the arm into the goal's neighbourhood and the
image energy alone decides inside the read-out's error. Weight 0, or a checkpoint without a probe, is the official
energy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

PROBE_KEY = "pose_probe"  # checkpoint key of the probe's state dict
POSITION_DIMS = 3  # flange x, y, z (the first three state dims, m)
DEFAULT_HIDDEN = 128  # probe MLP width (held-out errors of widths 128, 256 and 512 within 0.1 cm of each other)


class PoseProbe(nn.Module):
    """MLP from one frame's normalised tokens [N, D] (flattened) to its flange position [3] in metres (robot base).

    Inputs are centred by the training frames' mean and outputs scaled by the training positions' mean and std, both
    stored as buffers, so the state dict alone reproduces the read-out (training.fit_pose_probe fits it)."""

    def __init__(self, tokens: int, dim: int, hidden: int = DEFAULT_HIDDEN):
        super().__init__()
        self.tokens, self.dim, self.hidden = tokens, dim, hidden
        self.register_buffer("feature_mean", torch.zeros(tokens * dim))
        self.register_buffer("position_mean", torch.zeros(POSITION_DIMS))
        self.register_buffer("position_std", torch.ones(POSITION_DIMS))
        self.net = nn.Sequential(
            nn.Linear(tokens * dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
            nn.Linear(hidden, POSITION_DIMS),
        )  # fmt: skip

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor], tokens: int, dim: int) -> PoseProbe:
        """The probe stored in a checkpoint, checked against the predictor's frame shape and for finite values."""
        first = state.get("net.0.weight")
        if not isinstance(first, torch.Tensor) or first.dim() != 2:
            raise ValueError(f"{PROBE_KEY}: no 'net.0.weight' matrix; keys are {sorted(state)}")
        probe = cls(tokens, dim, hidden=first.shape[0])
        expected = {name: tuple(t.shape) for name, t in probe.state_dict().items()}
        got = {name: tuple(t.shape) for name, t in state.items()}
        if got != expected:
            raise ValueError(f"{PROBE_KEY}: expected tensors {expected} for {tokens} tokens x {dim}, got {got}")
        if not all(torch.isfinite(t).all() for t in state.values()):
            raise ValueError(f"{PROBE_KEY}: holds NaN or inf values")
        probe.load_state_dict(state)
        return probe.eval()

    def forward(self, reps: torch.Tensor) -> torch.Tensor:
        """reps [..., N, D] -> flange positions [..., 3] (m)."""
        features = reps.reshape(*reps.shape[:-2], self.tokens * self.dim).float()
        return self.net(features - self.feature_mean) * self.position_std + self.position_mean


@dataclass(frozen=True)
class GoalPositionPrior:
    """The fitted probe and how strongly its decoded goal position pulls the candidates."""

    probe: PoseProbe
    weight: float = 2.0  # energy per metre outside the dead zone (the image energy spans ~0.05-0.4)
    dead_zone: float = 0.02  # m: no pull within this distance of the decoded goal (~the probe's 90th percentile error)

    def __post_init__(self) -> None:
        """Reject settings that cannot work, naming the field."""
        if not self.weight >= 0:
            raise ValueError(f"GoalPositionPrior.weight: expected >= 0, got {self.weight}")
        if not self.dead_zone >= 0:
            raise ValueError(f"GoalPositionPrior.dead_zone: expected >= 0, got {self.dead_zone}")

    @torch.no_grad()
    def goal_position(self, goal: torch.Tensor) -> torch.Tensor:
        """Decoded flange position [3] of a goal representation [N, D]."""
        return self.probe(goal[None])[0]

    def penalty(self, positions: torch.Tensor, goal_position: torch.Tensor) -> torch.Tensor:
        """Flange positions [..., 3] -> weight * max(0, distance to goal_position - dead_zone) [...]."""
        distance = (positions - goal_position).norm(dim=-1)
        return self.weight * torch.relu(distance - self.dead_zone)


def describe_prior(prior: GoalPositionPrior | None, weight: float) -> str:
    """For logs: the prior in use, or why planning uses the image energy alone (`weight` as configured)."""
    if prior is not None:
        return f"on (weight {prior.weight:g} per m outside {prior.dead_zone * 100:g} cm of the decoded goal)"
    return "off (weight 0)" if weight == 0 else f"off (the checkpoint has no {PROBE_KEY})"
