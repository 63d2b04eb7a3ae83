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
    INVALID_OBSERVATION = 8
    SURPRISE = 9
    INACTIVE = 10


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
    energy_threshold: float  # success once the observed frame's energy to the goal is below this; <= 0 = off
    stale_timeout_s: float  # max age of the embedding and ee_state (header stamp vs the node clock)
    observation_timeout_s: float = 1.0  # max wait for an embedding and ee_state newer than the last command (or, at
    # the start, for fresh ones): the robot's control period plus a margin
    future_tolerance_s: float = 0.5  # max lead of an observation stamp over the node clock (clock skew)
    surprise_stop_threshold: float = 0.0  # stop once an action's surprise exceeds this; <= 0 = monitor only

    def __post_init__(self) -> None:
        """Reject limits that would never let a run end or start, or that NaN/inf would silently switch off (every
        comparison with NaN is False), naming the field."""
        inf = math.inf
        checks = {
            "max_steps": (self.max_steps >= 1, ">= 1"),
            "timeout_s": (self.timeout_s > 0, "> 0"),
            "stale_timeout_s": (0 < self.stale_timeout_s < inf, "finite > 0"),
            "observation_timeout_s": (0 < self.observation_timeout_s < inf, "finite > 0"),
            "future_tolerance_s": (0 <= self.future_tolerance_s < inf, "finite >= 0"),
            "energy_threshold": (math.isfinite(self.energy_threshold), "finite"),
            "surprise_stop_threshold": (math.isfinite(self.surprise_stop_threshold), "finite"),
        }
        bad = [f"{name}={getattr(self, name)} (expected {want})" for name, (ok, want) in checks.items() if not ok]
        if bad:
            raise ValueError(f"GoalLimits: {', '.join(bad)}")


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
        self.observed_energy = math.nan  # energy of the latest observed frame to the goal

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
        """READY when the embedding and the ee_state are both fresh and, after a command, both newer than it; WAIT
        while they may still arrive; a Stop for a stamp ahead of the clock (INVALID_OBSERVATION) or once
        observation_timeout_s has passed since the run start / the last command (STALE_OBSERVATION)."""
        limits = self.limits
        stamps = {"embedding": embedding_stamp, "ee_state": state_stamp}
        for name, stamp in stamps.items():
            if stamp is not None and stamp - now > limits.future_tolerance_s:
                reason = (f"{name} stamped {stamp - now:.3f} s in the future (future_tolerance_s "
                          f"{limits.future_tolerance_s} s): clocks out of sync?; holding the pose")  # fmt: skip
                return Stop(Outcome.INVALID_OBSERVATION, reason)
        problems = [problem for name, stamp in stamps.items() if (problem := self._stamp_problem(name, stamp, now))]
        if not problems:
            return READY
        if self.may_wait(now):
            return WAIT
        waited_since = self._waited_since
        reason = (
            f"{'; '.join(problems)} after waiting {now - waited_since:.2f} s (observation_timeout_s "
            f"{limits.observation_timeout_s} s, stale_timeout_s {limits.stale_timeout_s} s); holding the pose"
        )
        return Stop(Outcome.STALE_OBSERVATION, reason)

    @property
    def _waited_since(self) -> float:
        """Since when the run waits for an observation: its start, else its last command."""
        return self.start if self.last_command_time is None else self.last_command_time

    def may_wait(self, now: float) -> bool:
        """True while a wait for a usable observation is within observation_timeout_s."""
        return now - self._waited_since <= self.limits.observation_timeout_s

    def _stamp_problem(self, name: str, stamp: float | None, now: float) -> str | None:
        """Why an observation stamped `stamp` cannot be planned from now (missing, too old, not after the command)."""
        if stamp is None:
            return f"no {name} received"
        if now - stamp > self.limits.stale_timeout_s:
            return f"{name} is {now - stamp:.2f} s old"
        if self.last_command_time is not None and stamp <= self.last_command_time:
            return f"no {name} newer than the last command"
        return None

    def check_state_before_command(self, now: float, state_stamp: float) -> Stop | None:
        """After planning, before commanding: STALE_OBSERVATION when the latest ee_state is older than stale_timeout_s
        (the robot's state stream stopped while the plan was computed; a big model plans for seconds)."""
        problem = self._stamp_problem("ee_state", state_stamp, now)
        if problem is None:
            return None
        reason = f"{problem} after planning step {self.steps} (stale_timeout_s {self.limits.stale_timeout_s} s)"
        return Stop(Outcome.STALE_OBSERVATION, f"{reason}; holding the pose")

    def check_observation(self, observed_energy: float, surprise: float | None) -> Stop | None:
        """Before planning from a new observation: SURPRISE when the last action's surprise exceeds
        surprise_stop_threshold (checked first: a world that misbehaves is no success), SUCCEEDED when the observed
        frame's energy to the goal is below energy_threshold."""
        self.observed_energy = observed_energy
        limit = self.limits.surprise_stop_threshold
        if surprise is not None and limit > 0 and surprise > limit:
            reason = (f"surprise {surprise:.4f} above surprise_stop_threshold {limit} after step {self.steps - 1}: "
                      "the world did not behave as predicted; holding the pose")  # fmt: skip
            return Stop(Outcome.SURPRISE, reason)
        threshold = self.limits.energy_threshold
        if threshold > 0 and observed_energy < threshold:
            reason = f"observed energy {observed_energy:.4f} below the threshold {threshold} after {self.steps} steps"
            return Stop(Outcome.SUCCEEDED, reason)
        return None

    def record_step(self, energy: float, command_time: float) -> None:
        """Account for a commanded step with plan energy `energy` sent at clock time `command_time`."""
        self.steps += 1
        self.last_command_time = command_time
        if self.steps == 1:
            self.initial_energy = energy
        self.final_energy = energy
        self.best_energy = min(self.best_energy, energy)
