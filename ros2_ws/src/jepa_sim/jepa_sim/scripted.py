"""Scripted expert for the simulated tasks: straight-line moves between waypoints in steps of at most 7.5 cm.

Used by tests and as a baseline/exploration policy for data collection::

    policy = ScriptedPolicy(env.episode, control_period=env.config.control_period)
    while not policy.done:
        obs = env.step(policy.act(obs))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from jepa_sim.scene import OBJECTS
from jepa_sim.tasks import Episode


@dataclass(frozen=True)
class ScriptedConfig:
    """Step size and waypoint tolerances of the scripted expert."""

    max_step: float = 0.075  # m per control step (the CEM planner's per-axis clip in the paper)
    approach_height: float = 0.1  # m above the grasp pose when approaching and carrying
    waypoint_tolerance: float = 0.01  # m, a waypoint counts as reached within this distance
    gripper_wait: float = 0.6  # s of simulated time to let the fingers close or open


@dataclass(frozen=True)
class Waypoint:
    """Flange position [3] to reach, the gripper command to hold meanwhile, and seconds to wait once there."""

    position: np.ndarray
    gripper: float
    wait: float = 0.0


def task_waypoints(episode: Episode, config: ScriptedConfig) -> list[Waypoint]:
    """Waypoints solving the episode: reach the goal; or approach, grasp, lift (and carry, place, release)."""
    if episode.object_name is None:
        return [Waypoint(episode.goal_state[:3], 0.0)]
    spec = OBJECTS[episode.object_name]
    up = np.array([0.0, 0.0, config.approach_height])
    grasp = episode.object_positions[episode.object_name] + np.array([0.0, 0.0, spec.grasp_flange_height])
    pick = [Waypoint(grasp + up, 0.0), Waypoint(grasp, 0.0), Waypoint(grasp, 1.0, config.gripper_wait)]
    if episode.task == "grasp":
        return [*pick, Waypoint(episode.goal_state[:3], 1.0)]
    place = episode.object_goal + np.array([0.0, 0.0, spec.grasp_flange_height])
    return [
        *pick,
        Waypoint(grasp + up, 1.0),
        Waypoint(place + up, 1.0),
        Waypoint(place, 1.0),
        Waypoint(place, 0.0, config.gripper_wait),
        Waypoint(episode.goal_state[:3], 0.0),
    ]


class ScriptedPolicy:
    """Closed-loop waypoint follower: each `act` returns the next target state [7] from the observed flange state."""

    def __init__(self, episode: Episode, control_period: float, config: ScriptedConfig | None = None):
        self.config = config or ScriptedConfig()
        self.orientation = episode.goal_state[3:6].copy()
        self.waypoints = task_waypoints(episode, self.config)
        self.control_period = control_period
        self._index = 0
        self._wait_steps_left: int | None = None

    @property
    def done(self) -> bool:
        """True once every waypoint has been reached (and waited at)."""
        return self._index >= len(self.waypoints)

    def act(self, observation) -> np.ndarray:
        """Target state [x, y, z, euler xyz, gripper] for the next control step, given the latest observation."""
        position = observation.ee_state[:3]
        waypoint = self.waypoints[min(self._index, len(self.waypoints) - 1)]
        if not self.done and np.linalg.norm(waypoint.position - position) < self.config.waypoint_tolerance:
            if self._wait_steps_left is None:
                self._wait_steps_left = math.ceil(waypoint.wait / self.control_period - 1e-9)
            if self._wait_steps_left <= 0:
                self._index += 1
                self._wait_steps_left = None
                waypoint = self.waypoints[min(self._index, len(self.waypoints) - 1)]
            else:
                self._wait_steps_left -= 1
        delta = waypoint.position - position
        distance = float(np.linalg.norm(delta))
        if distance > self.config.max_step:
            delta *= self.config.max_step / distance
        return np.concatenate([position + delta, self.orientation, [waypoint.gripper]])
