"""The planner's latest observations (embedding, ee_state), checked on arrival, and the pose the hold may use.

An ee_state is refused when it is in another frame, non-finite, or moved faster than the robot can since the
previous one (a fresh but wrong pose must never become a command). A refused message replaces the latest one, so a
running goal stops on it instead of planning on older data. The hold uses only a fresh pose that passed every check.
No rclpy: the node feeds messages and clock readings.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch
from geometry_msgs.msg import Pose

from jepa_core.frame_encoder import same_encoder
from jepa_core.planning.world_model import WorldModel
from jepa_msgs.msg import Embedding, EndEffectorState
from jepa_planner.control import READY, WAIT, GoalRun, Outcome, Stop
from jepa_planner.safety import MotionLimits, implausible_motion, non_finite_reason
from jepa_ros_common.embeddings import embedding_to_tensor
from jepa_ros_common.poses import state_from_ee_state
from jepa_ros_common.stamps import stamp_seconds


@dataclass(frozen=True)
class Measured:
    """A usable measured flange state [7] and the pose message it came from."""

    state: np.ndarray
    pose: Pose


@dataclass(frozen=True)
class Stamped:
    """A received message with its header stamp (s, node clock) and, when it cannot be used, why."""

    value: Embedding | Measured | None  # None when refused
    stamp: float
    problem: str = ""
    implausible: bool = False  # refused for moving faster than the robot can (a glitch, or a teleport between goals)


class Observations:
    """Thread-safe latest embedding and ee_state; `arrived` is set on every message (it wakes a waiting goal)."""

    def __init__(self, base_frame: str, motion: MotionLimits) -> None:
        """Accept ee_state only in `base_frame` and within `motion` of the previous one."""
        self.base_frame = base_frame
        self.motion = motion
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        self._embedding: Stamped | None = None
        self._ee_state: Stamped | None = None
        self._previous: tuple[np.ndarray, float] | None = None  # last finite state received and its stamp

    def on_embedding(self, msg: Embedding) -> None:
        """Keep the latest embedding."""
        with self._lock:
            self._embedding = Stamped(msg, stamp_seconds(msg.header.stamp))
        self.arrived.set()

    def on_ee_state(self, msg: EndEffectorState) -> str:
        """Keep the latest ee_state, or why it is refused; returns that reason ('' when usable).

        Plausibility compares each message with the one received just before it, refused or not: alternating glitches
        are all refused, and after a real jump (a simulator reset between goals) the next consistent message is
        usable again."""
        stamp = stamp_seconds(msg.header.stamp)
        frame = msg.header.frame_id
        entry = Stamped(None, stamp, f"ee_state in frame '{frame}', expected base_frame '{self.base_frame}'")
        if frame == self.base_frame:
            try:
                state = state_from_ee_state(msg)
            except ValueError as error:
                entry = Stamped(None, stamp, str(error))
            else:
                with self._lock:
                    previous, self._previous = self._previous, (state, stamp)
                jump = None if previous is None else implausible_motion(*previous, state, stamp, self.motion)
                entry = Stamped(None, stamp, jump, True) if jump else Stamped(Measured(state, msg.pose), stamp)
        with self._lock:
            self._ee_state = entry
        self.arrived.set()
        return entry.problem

    def latest(self) -> tuple[Stamped | None, Stamped | None]:
        """The latest embedding and ee_state entries (None before the first message)."""
        with self._lock:
            return self._embedding, self._ee_state

    def pair(
        self, now: float, run: GoalRun, model: str, world_model: WorldModel
    ) -> tuple[Embedding, torch.Tensor, np.ndarray] | str | Stop:
        """The paired observation to plan from now, (embedding, representation [N, D], state [7]), else WAIT or a
        Stop naming what is wrong. The embedding must come from the goal's encoder `model` and fit `world_model`.
        Before the first command an implausible ee_state (e.g. the jump of a simulator reset) is waited out."""
        embedding, ee_state = self.latest()
        status = run.observation_status(now, embedding and embedding.stamp, ee_state and ee_state.stamp)
        if status != READY:
            return status
        if ee_state.problem:
            if ee_state.implausible and run.last_command_time is None and run.may_wait(now):
                return WAIT
            return Stop(Outcome.INVALID_OBSERVATION, f"{ee_state.problem}; holding the last finite pose")
        msg = embedding.value
        if not same_encoder(msg.model, model):
            reason = f"embedding from encoder {msg.model!r}, but the goal was encoded by {model!r}; holding the pose"
            return Stop(Outcome.INVALID_OBSERVATION, reason)
        try:
            rep = embedding_to_tensor(msg, world_model.tokens_per_frame, world_model.embed_dim)
        except ValueError as error:
            return Stop(Outcome.INVALID_OBSERVATION, str(error))
        reason = non_finite_reason(embedding=rep.numpy())
        if reason:
            return Stop(Outcome.INVALID_OBSERVATION, f"{reason}; holding the pose")
        return msg, rep, ee_state.value.state

    def ages(self, now: float) -> dict[str, float | None]:
        """Age (s) of the latest embedding and ee_state, None for one never received (diagnostics)."""
        entries = dict(zip(("embedding", "ee_state"), self.latest(), strict=True))
        return {name: None if entry is None else now - entry.stamp for name, entry in entries.items()}

    def measured_state(self) -> np.ndarray | None:
        """The latest usable measured state [7], whatever its age, or None (goal capture, RViz gripper)."""
        _, ee_state = self.latest()
        return None if ee_state is None or ee_state.problem else ee_state.value.state

    def pose_to_hold(self, now: float, max_age: float, future_tolerance: float) -> tuple[Measured | None, str]:
        """The latest measured pose when the planner would plan from it (passed every check, at most `max_age` s old,
        not stamped more than `future_tolerance` s ahead), else None and why."""
        _, ee_state = self.latest()
        if ee_state is None:
            return None, "no ee_state received"
        if ee_state.problem:
            return None, ee_state.problem
        age = now - ee_state.stamp
        if age > max_age:
            return None, f"the latest ee_state is {age:.2f} s old (stale_timeout_s {max_age} s)"
        if -age > future_tolerance:
            return None, f"the latest ee_state is stamped {-age:.2f} s in the future"
        return ee_state.value, ""
