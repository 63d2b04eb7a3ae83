"""Simulated tasks (reach, grasp, pick_place): seeded episode sampling, goal scenes and success distances.

An `Episode` fixes everything a reset needs (flange start, object positions) and what the goal looks like (the flange
pose, gripper and object positions rendered into the goal image) plus the success rule: reach succeeds when the
flange is within 4 cm of the goal position (as in the V-JEPA 2 paper); grasp when the task object is lifted to within
`object_tolerance` of a point `lift_height` above its start; pick_place when the object rests within
`object_tolerance` of its goal on the table. Sampling is a pure function of (task, seed, config): resets are
deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from jepa_sim.scene import FINGER_OPEN_M, OBJECTS, ObjectSpec

TASKS = ("reach", "grasp", "pick_place")


@dataclass(frozen=True)
class TaskConfig:
    """Sampling boxes (base frame, m) and success tolerances of the tasks."""

    reach_goal_min: tuple[float, float, float] = (0.35, -0.25, 0.22)
    reach_goal_max: tuple[float, float, float] = (0.65, 0.25, 0.5)
    object_area_min: tuple[float, float] = (0.4, -0.22)  # xy box where objects start and pick_place goals lie
    object_area_max: tuple[float, float] = (0.62, 0.22)
    min_object_separation: float = 0.14  # m between object centres (and between start and pick_place goal)
    start_jitter: float = 0.04  # m, uniform jitter of the flange start around the home position, per axis
    reach_tolerance: float = 0.04
    object_tolerance: float = 0.05
    lift_height: float = 0.1  # m, grasp goal height of the object above its start
    hover_height: float = 0.08  # m, flange height above the grasp pose in the pick_place goal image


@dataclass(frozen=True)
class Episode:
    """One seeded episode: start scene, goal scene (what the goal image shows) and the success rule."""

    task: str
    seed: int
    start_state: np.ndarray  # [7] flange state at reset (xyz, euler xyz, gripper)
    object_positions: dict[str, np.ndarray]  # name -> [3] resting start positions (upright, yaw 0)
    goal_state: np.ndarray  # [7] flange state shown in the goal image (reach: the goal itself)
    goal_object_positions: dict[str, np.ndarray]  # name -> [3] object positions shown in the goal image
    goal_finger_opening: float  # m, each finger's joint position in the goal image
    tolerance: float  # m, success when distance < tolerance
    object_name: str | None = None  # the object the task is about (None for reach)
    object_goal: np.ndarray | None = field(default=None)  # [3] object goal position (grasp, pick_place)

    @property
    def goal_point(self) -> np.ndarray:
        """[3] the point whose distance decides success: flange goal (reach) or object goal."""
        return self.goal_state[:3] if self.object_goal is None else self.object_goal

    def distance(self, flange_position: np.ndarray, object_positions: dict[str, np.ndarray]) -> float:
        """Distance (m) between the current flange/object position and the goal point."""
        current = flange_position if self.object_name is None else object_positions[self.object_name]
        return float(np.linalg.norm(np.asarray(current) - self.goal_point))


def _sample_apart(rng: np.random.Generator, low, high, avoid: list[np.ndarray], min_distance: float) -> np.ndarray:
    """A uniform xy point in [low, high] at least min_distance from every point in avoid (rejection sampling)."""
    for _ in range(1000):
        point = rng.uniform(low, high)
        if all(np.linalg.norm(point - other[:2]) >= min_distance for other in avoid):
            return point
    raise ValueError(f"cannot place {len(avoid) + 1} objects {min_distance} m apart in the box {low}..{high}")


def _grasp_state(spec: ObjectSpec, object_position: np.ndarray, orientation: np.ndarray, gripper: float, lift=0.0):
    """Flange state for a top-down grasp of an object at object_position, raised by `lift`."""
    position = object_position + np.array([0.0, 0.0, spec.grasp_flange_height + lift])
    return np.concatenate([position, orientation, [gripper]])


def sample_episode(task: str, seed: int, task_object: str, home_state: np.ndarray, config: TaskConfig) -> Episode:
    """Episode of `task` for `seed`; the flange orientation stays the home one (gripper pointing down)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    if task_object not in OBJECTS:
        raise ValueError(f"unknown task object {task_object!r}; expected one of {tuple(OBJECTS)}")
    rng = np.random.default_rng(seed)
    start_state = home_state.copy()
    start_state[:3] += rng.uniform(-config.start_jitter, config.start_jitter, size=3)
    start_state[6] = 0.0
    object_positions: dict[str, np.ndarray] = {}
    for name, spec in OBJECTS.items():
        xy = _sample_apart(
            rng,
            config.object_area_min,
            config.object_area_max,
            list(object_positions.values()),
            config.min_object_separation,
        )
        object_positions[name] = np.array([xy[0], xy[1], spec.half_height])
    orientation = home_state[3:6]
    spec = OBJECTS[task_object]
    held_gripper = 1.0 - spec.held_finger_opening / FINGER_OPEN_M
    if task == "reach":
        goal = np.concatenate([rng.uniform(config.reach_goal_min, config.reach_goal_max), orientation, [0.0]])
        return Episode(
            task,
            seed,
            start_state,
            object_positions,
            goal,
            dict(object_positions),
            FINGER_OPEN_M,
            config.reach_tolerance,
        )
    start = object_positions[task_object]
    if task == "grasp":
        object_goal = start + np.array([0.0, 0.0, config.lift_height])
        goal_state = _grasp_state(spec, object_goal, orientation, held_gripper)
        goal_opening = spec.held_finger_opening
    else:
        others = [p for name, p in object_positions.items() if name != task_object] + [start]
        xy = _sample_apart(rng, config.object_area_min, config.object_area_max, others, config.min_object_separation)
        object_goal = np.array([xy[0], xy[1], spec.half_height])
        goal_state = _grasp_state(spec, object_goal, orientation, 0.0, lift=config.hover_height)
        goal_opening = FINGER_OPEN_M
    goal_objects = {**object_positions, task_object: object_goal}
    return Episode(
        task,
        seed,
        start_state,
        object_positions,
        goal_state,
        goal_objects,
        goal_opening,
        config.object_tolerance,
        task_object,
        object_goal,
    )
