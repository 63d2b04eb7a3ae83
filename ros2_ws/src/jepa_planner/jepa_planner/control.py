"""ROS-free bookkeeping of one PlanToGoal run: when to plan, when to stop and why.

The node feeds it clock readings and observation stamps (seconds on the node's clock); it answers "plan now", "wait"
or a `Stop` with an outcome whose values equal jepa_msgs/action/PlanToGoal's OUTCOME_* constants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum


class Outcome(IntEnum):
    """Result outcomes, numerically equal to PlanToGoal.Result.OUTCOME_*."""

    SUCCEEDED = 0
    MAX_STEPS = 1
    TIMEOUT = 2
    CANCELED = 3
    STALE_OBSERVATION = 4
    SAFETY_LIMIT = 5
    INVALID_GOAL = 6
    INTERNAL_ERROR = 7


@dataclass(frozen=True)
class Stop:
    """The run ends: outcome and a human-readable reason."""

    outcome: Outcome
    reason: str


@dataclass(frozen=True)
class GoalLimits:
    """Per-goal limits (from the goal request, else the node's parameters)."""

    max_steps: int  # control steps before giving up
    timeout_s: float  # wall-clock limit for the whole goal
    energy_threshold: float  # success once a plan's energy is below this; <= 0 disables energy success
    stale_timeout_s: float  # max age of the embedding and ee_state, and max wait for an observation after a command

    def __post_init__(self) -> None:
        """Reject limits that would never let a run end or start."""
        if self.max_steps < 1 or self.timeout_s <= 0 or self.stale_timeout_s <= 0:
            raise ValueError(
                f"GoalLimits: expected max_steps >= 1, timeout_s > 0, stale_timeout_s > 0, got {self.max_steps}, "
                f"{self.timeout_s}, {self.stale_timeout_s}"
            )


WAIT = "wait"
READY = "ready"


class GoalRun:
    """State of one goal: steps taken, energies, and the time of the last command (plans need newer observations)."""

    def __init__(self, limits: GoalLimits, start: float) -> None:
        """Start the run at clock time `start` (s)."""
        self.limits = limits
        self.start = start
        self.steps = 0
        self.initial_energy = math.nan
        self.final_energy = math.nan
        self.best_energy = math.inf
        self.last_command_time: float | None = None

    def interruption(self, now: float, cancel_requested: bool) -> Stop | None:
        """Cancel, timeout or step limit, checked before every control step."""
        if cancel_requested:
            return Stop(Outcome.CANCELED, "goal canceled by the client; holding the current pose")
        if now - self.start > self.limits.timeout_s:
            return Stop(Outcome.TIMEOUT, f"timeout of {self.limits.timeout_s:.1f} s reached after {self.steps} steps")
        if self.steps >= self.limits.max_steps:
            return Stop(Outcome.MAX_STEPS, f"{self.steps} steps without reaching the energy threshold")
        return None

    def observation_status(self, now: float, embedding_stamp: float | None, state_stamp: float | None) -> str | Stop:
        """READY when both observations are fresh and the embedding is newer than the last command; WAIT while one
        may still arrive; a STALE_OBSERVATION Stop once stale_timeout_s has passed since the run start/last command."""
        stale = self.limits.stale_timeout_s
        problems = []
        if embedding_stamp is None:
            problems.append("no embedding received")
        elif now - embedding_stamp > stale:
            problems.append(f"embedding is {now - embedding_stamp:.2f} s old")
        elif self.last_command_time is not None and embedding_stamp <= self.last_command_time:
            problems.append("no embedding newer than the last command")
        if state_stamp is None:
            problems.append("no ee_state received")
        elif now - state_stamp > stale:
            problems.append(f"ee_state is {now - state_stamp:.2f} s old")
        if not problems:
            return READY
        waited_since = self.start if self.last_command_time is None else self.last_command_time
        if now - waited_since <= stale:
            return WAIT
        return Stop(Outcome.STALE_OBSERVATION, f"{'; '.join(problems)} (stale_timeout_s {stale} s); holding pose")

    def record_step(self, energy: float, command_time: float) -> Stop | None:
        """Account for a commanded step; SUCCEEDED once the plan's energy is below the threshold."""
        self.steps += 1
        self.last_command_time = command_time
        if self.steps == 1:
            self.initial_energy = energy
        self.final_energy = energy
        self.best_energy = min(self.best_energy, energy)
        threshold = self.limits.energy_threshold
        if threshold > 0 and energy < threshold:
            reason = f"energy {energy:.4f} below the threshold {threshold} after {self.steps} steps"
            return Stop(Outcome.SUCCEEDED, reason)
        return None
