"""An oracle world model: representations are true end-effector states, predictions are exact.

It plugs into `jepa_core.planning.mpc.MPCController` where a `WorldModel` goes, so planners, sub-goal sequences and a
simulator's gripper can be tested and benchmarked without a trained model (tests/unit/test_planning_subgoals.py,
benchmarks/subgoals.py): what the planning machinery achieves when the model is perfect about the arm. It knows
nothing about objects, so it cannot see a missed grasp.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from jepa_core.planning.poses import STATE_DIM, rollout_poses
from jepa_core.planning.world_model import PlanningContext, mean_abs_energy, raise_if_interrupted


class StateWorldModel:
    """Representation of a state [7]: one token [1, 7] = (x, y, z, 0, 0, 0, gripper_weight x gripper); energies are
    WorldModel's mean L1, so the energy is (position L1 + gripper_weight x gripper gap) / 7."""

    device = torch.device("cpu")
    tokens_per_frame, embed_dim = 1, STATE_DIM
    step_energies = staticmethod(mean_abs_energy)

    def __init__(self, gripper_weight: float = 0.2) -> None:
        """`gripper_weight`: metres of flange distance worth a full gripper opening (0.2 = 20 cm)."""
        self.weights = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0, 0.0, gripper_weight], dtype=torch.float64)

    def encode(self, states: torch.Tensor) -> torch.Tensor:
        """States [..., 7] -> representations [..., 1, 7] (float32)."""
        return (torch.as_tensor(states, dtype=torch.float64) * self.weights).float()[..., None, :]

    def check_representation(self, name: str, reps: torch.Tensor) -> None:
        """Raise when representations are not [..., 1, 7]."""
        if reps.dim() < 2 or tuple(reps.shape[-2:]) != (1, STATE_DIM):
            raise ValueError(f"{name}: expected shape [..., 1, {STATE_DIM}], got {tuple(reps.shape)}")

    def make_context(self, frames, states, actions=None) -> PlanningContext:
        """The observed frames and states as they are (nothing to precompute)."""
        return PlanningContext(frames, states, actions, None)

    def rollout(self, context: PlanningContext, candidates: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Candidates [S, H, 7] -> exact predicted representations [S, H, 1, 7] and poses [S, H + 1, 7]."""
        poses = rollout_poses(context.states[-1].double(), candidates.double())
        return self.encode(poses[:, 1:]), poses

    def energy_fn(self, context: PlanningContext, goal: torch.Tensor, interrupt: Callable[[], bool] | None = None):
        """Candidates [S, H, 7] -> per-step energies [S, H] to `goal` [1, 7]; `interrupt` polled first."""

        def energies(candidates: torch.Tensor) -> torch.Tensor:
            raise_if_interrupted(interrupt)
            return self.step_energies(self.rollout(context, candidates)[0], goal)

        return energies
