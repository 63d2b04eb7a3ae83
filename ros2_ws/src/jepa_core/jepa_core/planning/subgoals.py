"""Sub-goal sequences: plan towards one goal representation after another, as V-JEPA 2 does for pick-and-place
(grasp, carry and place goal images switched after 4, 10 and 4 steps).

ROS-free, shared by the planner node, closed-loop evaluation and the demo. `SubGoalSequence` decides which sub-goal
is active: the next one takes over once the active one has used its step budget, or as soon as an observed frame's
energy to it falls below its threshold; the last one has no successor, so its threshold means success and its budget
(if any) the end. `SubGoalController` runs an `MPCController` over the sequence, switching its goal as it advances.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

import torch

from jepa_core.planning.mpc import MPCController, MPCStep


@dataclass(frozen=True)
class SubGoal:
    """One entry of a sequence: its name, step budget and early-switch energy threshold."""

    name: str
    steps: int = 0  # control steps on this sub-goal before the next one; 0 = no budget (last sub-goal only)
    energy_threshold: float = 0.0  # move on (last: succeed) once an observed frame's energy to it is below
    gripper: float | None = None  # commanded gripper while active (0 open .. 1 closed); None = the CEM plans it


def validate_subgoals(subgoals: Sequence[SubGoal]) -> None:
    """Raise ValueError naming the sub-goal when the sequence is empty or a budget would never end it."""
    if not subgoals:
        raise ValueError("sub-goal sequence: expected at least one sub-goal, got none")
    for index, subgoal in enumerate(subgoals):
        last = index == len(subgoals) - 1
        if subgoal.steps < 0 or (subgoal.steps == 0 and not last):
            raise ValueError(
                f"sub-goal {index} ({subgoal.name!r}): steps must be >= 1 (0 = no budget is allowed only for the "
                f"last sub-goal), got {subgoal.steps}"
            )
        if subgoal.gripper is not None and not 0.0 <= subgoal.gripper <= 1.0:
            raise ValueError(f"sub-goal {index} ({subgoal.name!r}): gripper must be in [0, 1] (0 open, 1 closed) or "
                             f"None (planned), got {subgoal.gripper}")  # fmt: skip
        if not math.isfinite(subgoal.energy_threshold):
            raise ValueError(f"sub-goal {index} ({subgoal.name!r}): energy_threshold must be finite, got "
                             f"{subgoal.energy_threshold}")  # fmt: skip


class Advance(Enum):
    """What a recorded step did to the sequence."""

    STAY = "stay"  # the active sub-goal stays active
    SWITCH = "switch"  # the next sub-goal is active now
    REACHED = "reached"  # the last sub-goal's energy threshold was met: the sequence succeeded
    EXHAUSTED = "exhausted"  # the last sub-goal used its budget without meeting its threshold


@dataclass(frozen=True)
class SubGoalUpdate:
    """The outcome of one recorded step: what happened, the sub-goal that was active for it, and why."""

    advance: Advance
    index: int  # sub-goal the step planned towards
    reason: str  # human-readable, empty for STAY


class SubGoalSequence:
    """Which sub-goal is active, how many steps it has had, and which sub-goals were left by their threshold."""

    def __init__(self, subgoals: Sequence[SubGoal]) -> None:
        """Start on the first sub-goal; raises ValueError for an invalid sequence (`validate_subgoals`)."""
        validate_subgoals(subgoals)
        self.subgoals = tuple(subgoals)
        self.index = 0
        self.steps_on_active = 0
        self.reached = [False] * len(self.subgoals)  # left (or finished) because the energy threshold was met

    @property
    def active(self) -> SubGoal:
        """The sub-goal the next plan is for."""
        return self.subgoals[self.index]

    @property
    def gripper_only(self) -> bool:
        """True while the active sub-goal only moves the gripper: it commands another gripper than the sub-goal before
        it (both commanded), for its budget (the last one, which has none, for its first step: a release in place)."""
        if self.index == 0:
            return False
        active, previous = self.active, self.subgoals[self.index - 1]
        if None in (active.gripper, previous.gripper) or active.gripper == previous.gripper:
            return False
        return self.steps_on_active < (active.steps or 1)

    @property
    def is_last(self) -> bool:
        """True while the last sub-goal is active."""
        return self.index == len(self.subgoals) - 1

    def observe(self, energy: float) -> SubGoalUpdate:
        """An observed frame's `energy` to the active sub-goal: below its threshold -> SWITCH (last: REACHED). A
        gripper-only sub-goal keeps its budget: its image differs from the one before only in the fingers."""
        index, subgoal = self.index, self.active
        if self.gripper_only or not (subgoal.energy_threshold > 0 and energy < subgoal.energy_threshold):
            return SubGoalUpdate(Advance.STAY, index, "")
        self.reached[index] = True
        reason = f"sub-goal {index} ({subgoal.name}): observed energy {energy:.4f} below {subgoal.energy_threshold}"
        if self.is_last:
            return SubGoalUpdate(Advance.REACHED, index, reason)
        return self._switch(reason)

    def record_step(self) -> SubGoalUpdate:
        """Account for one executed step on the active sub-goal: budget used -> SWITCH (last: EXHAUSTED)."""
        index, subgoal = self.index, self.active
        self.steps_on_active += 1
        if not (subgoal.steps and self.steps_on_active >= subgoal.steps):
            return SubGoalUpdate(Advance.STAY, index, "")
        reason = f"sub-goal {index} ({subgoal.name}): step budget of {subgoal.steps} used"
        if self.is_last:
            return SubGoalUpdate(Advance.EXHAUSTED, index, reason)
        return self._switch(reason)

    def _switch(self, reason: str) -> SubGoalUpdate:
        """Make the next sub-goal active."""
        update = SubGoalUpdate(Advance.SWITCH, self.index, f"{reason}; next: {self.subgoals[self.index + 1].name}")
        self.index += 1
        self.steps_on_active = 0
        return update


class SubGoalController:
    """MPC over a sequence of goal representations: plans towards the active one, switching as the sequence says."""

    def __init__(self, controller: MPCController, goals: Sequence[torch.Tensor], subgoals: Sequence[SubGoal]) -> None:
        """Goal representations [N, D] (one per sub-goal) and their sub-goals; sets the first goal on `controller`."""
        if len(goals) != len(subgoals):
            raise ValueError(f"SubGoalController: {len(goals)} goal representation(s) for {len(subgoals)} sub-goal(s)")
        self.sequence = SubGoalSequence(subgoals)
        self.controller = controller
        self.goals = list(goals)
        controller.set_goal(self.goals[0])

    def observe(self, representation: torch.Tensor) -> tuple[float, SubGoalUpdate]:
        """Score an observed frame [N, D] against the active sub-goal (`MPCController.goal_energy`) and switch when it
        is within that sub-goal's threshold; returns the energy (to the sub-goal it was scored against) and the
        update. One switch per observation: the next sub-goal is judged on the next frame."""
        energy = self.controller.goal_energy(representation)
        return energy, self._follow(self.sequence.observe(energy))

    def step(
        self, representation: torch.Tensor, state: torch.Tensor, interrupt: Callable[[], bool] | None = None
    ) -> tuple[MPCStep, SubGoalUpdate]:
        """`plan`, then `record_step`: for callers that execute every plan."""
        decision = self.plan(representation, state, interrupt)
        return decision, self.record_step()

    def plan(
        self, representation: torch.Tensor, state: torch.Tensor, interrupt: Callable[[], bool] | None = None
    ) -> MPCStep:
        """Plan one action towards the active sub-goal from frame [N, D] and state [7]. A sub-goal with a `gripper`
        commands it instead of the CEM planning it; one that changes the previous sub-goal's commanded gripper holds
        the arm while `SubGoalSequence.gripper_only` (a grasp closes the fingers where the approach left them, a
        release drops the object where the carry brought it). `interrupt` as in MPCController.step."""
        gripper, hold_arm = self.sequence.active.gripper, self.sequence.gripper_only
        return self.controller.step(representation, state, interrupt, gripper=gripper, hold_arm=hold_arm)

    def record_step(self) -> SubGoalUpdate:
        """Count an executed plan against the active sub-goal's budget (a switch keeps the observed history and drops
        the warm start, which aimed at the old goal). A plan that was never executed must not count: the sequence
        would name a sub-goal that was never active."""
        return self._follow(self.sequence.record_step())

    def _follow(self, update: SubGoalUpdate) -> SubGoalUpdate:
        """Give the controller the new goal when the sequence switched."""
        if update.advance is Advance.SWITCH:
            self.controller.switch_goal(self.goals[self.sequence.index])
        return update
