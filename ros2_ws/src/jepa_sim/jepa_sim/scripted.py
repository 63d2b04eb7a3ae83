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

from jepa_sim.scene import OBJECTS, ObjectSpec
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


def lifted(object_position: np.ndarray, spec: ObjectSpec, margin: float = 0.01) -> bool:
    """The object's centre is more than `margin` above its resting height."""
    return bool(object_position[2] > spec.half_height + margin)


def in_hand(object_position: np.ndarray, spec: ObjectSpec, flange_position: np.ndarray) -> bool:
    """Lifted and between the fingers: within 3 cm (xy) and 3 cm (z) of the grasp point below the flange."""
    grasp = np.asarray(flange_position) - np.array([0.0, 0.0, spec.grasp_flange_height])
    offset = np.asarray(object_position) - grasp
    return lifted(object_position, spec) and bool(np.linalg.norm(offset[:2]) < 0.03 and abs(offset[2]) < 0.03)


@dataclass(frozen=True)
class PlayConfig:
    """The play (exploration) mix: manipulation segments around the objects, random waypoints, gripper toggles.

    Probabilities pick the next segment whenever the previous one is done; noise makes grasps fail now and then.
    Durations are in seconds and speeds in m/s, so the same play runs at 4 Hz (sim_episodes) or 15 Hz (collect_sim).
    """

    max_speed: float = 0.3  # m/s per axis (0.075 m per 0.25 s step: the planner's CEM bound)
    manipulate_prob: float = 0.6  # approach / descend / close / lift / carry / lower-or-drop / open on an object
    wander_prob: float = 0.3  # a random waypoint with the gripper kept (held objects come along)
    # the remaining probability: idle gripper toggles in place
    step_noise: float = 0.04  # m/s, uniform per-axis velocity noise
    grasp_noise: float = 0.012  # m, std of the xy offset of a grasp attempt from the object centre
    miss_prob: float = 0.15  # chance of a deliberately bad grasp (offset miss_offset): failed grasps
    miss_offset: tuple[float, float] = (0.03, 0.06)  # m, xy offset range of a bad grasp
    descend_noise: float = 0.01  # m, uniform noise on the grasp height (never below the object's grasp height - 1 cm)
    approach_height: tuple[float, float] = (0.06, 0.15)  # m above the grasp pose when approaching
    lift_height: tuple[float, float] = (0.05, 0.25)  # m above the grasp pose after closing
    drop_prob: float = 0.2  # open in the air instead of lowering first (drops)
    hold_prob: float = 0.3  # keep the object and skip the release (the next segment carries it on)
    gripper_time: tuple[float, float] = (0.5, 0.75)  # s waited for the fingers to close / open
    toggle_time: tuple[float, float] = (0.25, 0.5)  # s between idle gripper toggles
    object_area_min: tuple[float, float] = (0.38, -0.25)  # xy box of carry targets
    object_area_max: tuple[float, float] = (0.64, 0.25)
    waypoint_min: tuple[float, float, float] = (0.3, -0.3, 0.18)  # wander box
    waypoint_max: tuple[float, float, float] = (0.7, 0.3, 0.6)
    waypoint_tolerance: float = 0.015  # m, a waypoint counts as reached within this distance
    waypoint_timeout: float = 3.0  # s, give up on a waypoint after this long (blocked by an object)


class PlayPolicy:
    """Noisy scripted play in the spirit of DROID: manipulation attempts, random waypoints and gripper toggles.

    `act` takes the flange state [7] and, when known, the objects' current positions (name -> [3]); without them the
    policy keeps its own belief (start positions, then where it released each object). Orientation stays fixed.
    """

    def __init__(
        self,
        start_state: np.ndarray,
        object_positions: dict[str, np.ndarray],
        period: float,
        rng: np.random.Generator,
        config: PlayConfig | None = None,
    ):
        if period <= 0:
            raise ValueError(f"PlayPolicy: control period must be > 0 s, got {period}")
        self.config = config or PlayConfig()
        self.period = period
        self.rng = rng
        self.orientation = np.asarray(start_state[3:6], dtype=np.float64).copy()
        self.objects = {name: np.asarray(p, dtype=np.float64).copy() for name, p in object_positions.items()}
        self.held: str | None = None  # object the policy believes it holds
        self.queue: list[tuple[np.ndarray, float, int, str | None]] = []  # (position, gripper, wait steps, event)
        self.gripper = float(round(start_state[6]))
        self._steps_on_waypoint = 0
        self._waiting: int | None = None
        self.segments: list[str] = []  # names of the segments started, for the data summary

    # ------------------------------------------------------------------------------------------------- segments
    def _push(self, position, gripper: float, wait_s: float = 0.0, event: str | None = None) -> None:
        wait = math.ceil(wait_s / self.period - 1e-9)
        self.queue.append((np.asarray(position, dtype=np.float64), float(gripper), wait, event))

    def _grasp_point(self, name: str) -> np.ndarray:
        spec = OBJECTS[name]
        return self.objects[name] + np.array([0.0, 0.0, spec.grasp_flange_height])

    def _manipulate(self) -> None:
        """Queue one attempt: (approach, descend, close, lift) unless holding, then carry and place/drop/hold."""
        cfg, rng = self.config, self.rng
        if self.held is None:
            name = str(rng.choice(sorted(self.objects)))
            grasp = self._grasp_point(name)
            if rng.random() < cfg.miss_prob:
                angle = rng.uniform(0.0, 2.0 * np.pi)
                offset = rng.uniform(*cfg.miss_offset) * np.array([np.cos(angle), np.sin(angle)])
            else:
                offset = rng.normal(0.0, cfg.grasp_noise, 2)
            grasp[:2] += offset
            grasp[2] += rng.uniform(-cfg.descend_noise, cfg.descend_noise)
            grasp[2] = max(grasp[2], self._grasp_point(name)[2] - 0.01)
            above = grasp + np.array([0.0, 0.0, rng.uniform(*cfg.approach_height)])
            self._push(above, 0.0)
            self._push(grasp, 0.0)
            self._push(grasp, 1.0, rng.uniform(*cfg.gripper_time), f"grasp:{name}")
            lift = grasp + np.array([0.0, 0.0, rng.uniform(*cfg.lift_height)])
            self._push(lift, 1.0)
            name_held, height = name, self._grasp_point(name)[2]
        else:
            name_held, height = self.held, self._grasp_point(self.held)[2]
        target = np.append(rng.uniform(cfg.object_area_min, cfg.object_area_max), 0.0)
        carry_height = height + rng.uniform(*cfg.lift_height)
        self._push([target[0], target[1], carry_height], 1.0)
        choice = rng.random()
        if choice < cfg.hold_prob:
            return  # keep holding: the next segment carries on
        wait = rng.uniform(*cfg.gripper_time)
        if choice < cfg.hold_prob + cfg.drop_prob:
            self._push([target[0], target[1], carry_height], 0.0, wait, f"release:{name_held}")
        else:
            place = np.array([target[0], target[1], height + rng.uniform(0.0, 0.02)])
            self._push(place, 1.0)
            self._push(place, 0.0, wait, f"release:{name_held}")
        self._push([target[0], target[1], carry_height], 0.0)

    def _wander(self) -> None:
        """A random waypoint; the gripper keeps its command (a held object comes along)."""
        cfg = self.config
        waypoint = self.rng.uniform(cfg.waypoint_min, cfg.waypoint_max)
        self._push(waypoint, self.gripper)

    def _toggle(self, position: np.ndarray) -> None:
        """Open/close the gripper 1-3 times in place (releases whatever is held)."""
        gripper = self.gripper
        for _ in range(int(self.rng.integers(1, 4))):
            gripper = 1.0 - gripper
            event = "release:" + self.held if (self.held is not None and gripper == 0.0) else None
            self._push(position, gripper, self.rng.uniform(*self.config.toggle_time), event)

    def _next_segment(self, position: np.ndarray) -> None:
        draw = self.rng.random()
        if draw < self.config.manipulate_prob:
            self.segments.append("manipulate")
            self._manipulate()
        elif draw < self.config.manipulate_prob + self.config.wander_prob:
            self.segments.append("wander")
            self._wander()
        else:
            self.segments.append("toggle")
            self._toggle(position)

    # ------------------------------------------------------------------------------------------------------- act
    def act(self, ee_state: np.ndarray, object_positions: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Target state [x, y, z, euler xyz, gripper] for the next control step."""
        cfg = self.config
        position = np.asarray(ee_state[:3], dtype=np.float64)
        if object_positions is not None:
            self.objects = {name: np.asarray(p, dtype=np.float64).copy() for name, p in object_positions.items()}
            held = [name for name, p in self.objects.items() if in_hand(p, OBJECTS[name], position)]
            self.held = held[0] if held else None
        if not self.queue:
            self._next_segment(position)
        target, gripper, wait, event = self.queue[0]
        reached = np.linalg.norm(target - position) < cfg.waypoint_tolerance
        if reached or self._steps_on_waypoint * self.period >= cfg.waypoint_timeout:
            if self._waiting is None:
                self._waiting = wait
            if self._waiting <= 0:
                self._finish_waypoint(event, target)
                if not self.queue:
                    self._next_segment(position)
                target, gripper, wait, event = self.queue[0]
            else:
                self._waiting -= 1
        self._steps_on_waypoint += 1
        self.gripper = gripper
        max_step = cfg.max_speed * self.period
        noise = self.rng.uniform(-cfg.step_noise, cfg.step_noise, 3) * self.period
        step = np.clip(np.clip(target - position, -max_step, max_step) + noise, -max_step, max_step)
        return np.concatenate([position + step, self.orientation, [gripper]])

    def _finish_waypoint(self, event: str | None, target: np.ndarray) -> None:
        """Pop the reached waypoint and update the belief about what is held and where released objects lie."""
        self.queue.pop(0)
        self._waiting = None
        self._steps_on_waypoint = 0
        if event is None:
            return
        kind, name = event.split(":")
        if kind == "grasp":
            self.held = name
        elif kind == "release" and self.held == name:
            self.held = None
            self.objects[name] = np.array([target[0], target[1], OBJECTS[name].half_height])
