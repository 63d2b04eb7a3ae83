"""Simulated tasks (reach, grasp, pick_place): seeded episode sampling, goal scenes and success distances.

An `Episode` fixes everything a reset needs (flange start, object positions) and what the goal looks like (the flange
pose, gripper and object positions rendered into the goal image) plus the success rule: reach succeeds when the
flange is within 4 cm of the goal position (as in the V-JEPA 2 paper); grasp when the task object is lifted to within
`object_tolerance` of a point `lift_height` above its start; pick_place when the object rests within
`object_tolerance` of its goal on the table. Sampling is a pure function of (task, seed, config): resets are
deterministic.

Each episode also carries its sub-goal scenes (`Episode.subgoals`, the last one is the goal scene), the sequence a
planner can be given instead of one goal image, as the V-JEPA 2 paper does for pick-and-place (grasp, carry, place
goal images switched after 4, 10 and 4 steps): reach has one; grasp has pregrasp (open fingers `hover_height` above
the object), approach (open fingers around it), grasp (fingers closed on it) and lift; pick_place has pregrasp,
approach, grasp, carry (object held `lift_height` above its goal) and place (object resting at its goal, fingers
open). The open-finger scenes come first because a closed-gripper grasp image alone invites closing the fingers on the
way down, and the pregrasp makes the hand descend onto the object instead of sweeping into it from the side (grasp
0% -> 35% with the bundled model and commanded grippers, models/README.md). Each sub-goal but the last has a step
budget (`TaskConfig`); the last one keeps the planner busy for the rest of the episode.
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
    hover_height: float = 0.08  # m, flange height above the grasp pose in pregrasp and pick_place goal images
    grasp_subgoal_steps: tuple[int, int, int] = (8, 5, 3)  # control steps on pregrasp, approach, grasp before lift
    pick_place_subgoal_steps: tuple[int, int, int, int] = (8, 5, 3, 8)  # pregrasp, approach, grasp, carry; place

    def __post_init__(self) -> None:
        """Reject sub-goal budgets that would skip a sub-goal."""
        for name, count in (("grasp_subgoal_steps", 3), ("pick_place_subgoal_steps", 4)):
            steps = getattr(self, name)
            if len(steps) != count or min(steps) < 1:
                raise ValueError(f"TaskConfig.{name}: expected {count} step budgets >= 1, got {steps!r}")


# Control steps an episode of each task gets unless told otherwise (evaluation, demo): the sub-goal budgets of
# TaskConfig (grasp 16, pick_place 24) plus room to finish.
EPISODE_STEPS = {"reach": 20, "grasp": 30, "pick_place": 40}


@dataclass(frozen=True)
class SubGoal:
    """One goal scene of an episode's sequence and how many control steps a planner gets for it."""

    name: str  # "reach", "pregrasp", "approach", "grasp", "lift", "carry" or "place"
    flange_state: np.ndarray  # [7] flange state shown (xyz, euler xyz, gripper)
    object_positions: dict[str, np.ndarray]  # name -> [3] object positions shown
    finger_opening: float  # m, each finger's joint position shown
    steps: int  # control steps before the next sub-goal; 0 = the last one (kept until the episode ends)

    @property
    def gripper_command(self) -> float:
        """The command that makes the fingers look as shown: 0 = open, 1 = close (until they meet an object)."""
        return 0.0 if self.finger_opening >= FINGER_OPEN_M else 1.0


@dataclass(frozen=True)
class Episode:
    """One seeded episode: start scene, sub-goal scenes (the last is what the goal image shows), success rule."""

    task: str
    seed: int
    start_state: np.ndarray  # [7] flange state at reset (xyz, euler xyz, gripper)
    object_positions: dict[str, np.ndarray]  # name -> [3] resting start positions (upright, yaw 0)
    subgoals: tuple[SubGoal, ...]  # goal scenes in order; the last one is the task's goal
    tolerance: float  # m, success when distance < tolerance
    object_name: str | None = None  # the object the task is about (None for reach)
    object_goal: np.ndarray | None = field(default=None)  # [3] object goal position (grasp, pick_place)

    def subgoal_index(self, name: str) -> int:
        """Position of the sub-goal scene called `name` in `subgoals`; ValueError naming the scenes if none is."""
        names = [subgoal.name for subgoal in self.subgoals]
        if name not in names:
            raise ValueError(f"{self.task} episode has no sub-goal {name!r}; its sub-goals: {names}")
        return names.index(name)

    @property
    def goal_state(self) -> np.ndarray:
        """[7] flange state shown in the goal image (reach: the goal itself)."""
        return self.subgoals[-1].flange_state

    @property
    def goal_object_positions(self) -> dict[str, np.ndarray]:
        """name -> [3] object positions shown in the goal image."""
        return self.subgoals[-1].object_positions

    @property
    def goal_finger_opening(self) -> float:
        """m, each finger's joint position in the goal image."""
        return self.subgoals[-1].finger_opening

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
    if task == "reach":
        goal = np.concatenate([rng.uniform(config.reach_goal_min, config.reach_goal_max), orientation, [0.0]])
        subgoals = (SubGoal("reach", goal, dict(object_positions), FINGER_OPEN_M, 0),)
        return Episode(task, seed, start_state, object_positions, subgoals, config.reach_tolerance)
    start = object_positions[task_object]
    if task == "grasp":
        object_goal = start + np.array([0.0, 0.0, config.lift_height])
        subgoals = _grasp_subgoals(spec, object_positions, task_object, object_goal, orientation, config)
    else:
        others = [p for name, p in object_positions.items() if name != task_object] + [start]
        xy = _sample_apart(rng, config.object_area_min, config.object_area_max, others, config.min_object_separation)
        object_goal = np.array([xy[0], xy[1], spec.half_height])
        subgoals = _pick_place_subgoals(spec, object_positions, task_object, object_goal, orientation, config)
    return Episode(
        task, seed, start_state, object_positions, subgoals, config.object_tolerance, task_object, object_goal
    )


def _pick_subgoals(spec, objects, task_object, orientation, steps, hover) -> tuple[SubGoal, ...]:
    """pregrasp (fingers open, hover above the object), approach (fingers open around it) and grasp (closed on it)."""
    start = objects[task_object]
    held = 1.0 - spec.held_finger_opening / FINGER_OPEN_M
    above = _grasp_state(spec, start, orientation, 0.0, lift=hover)
    return (
        SubGoal("pregrasp", above, dict(objects), FINGER_OPEN_M, steps[0]),
        SubGoal("approach", _grasp_state(spec, start, orientation, 0.0), dict(objects), FINGER_OPEN_M, steps[1]),
        SubGoal(
            "grasp", _grasp_state(spec, start, orientation, held), dict(objects), spec.held_finger_opening, steps[2]
        ),
    )


def _grasp_subgoals(spec, objects, task_object, object_goal, orientation, config: TaskConfig) -> tuple[SubGoal, ...]:
    """pregrasp, approach, grasp, lift (held at object_goal)."""
    pick = _pick_subgoals(spec, objects, task_object, orientation, config.grasp_subgoal_steps, config.hover_height)
    lifted = {**objects, task_object: object_goal}
    lift_state = _grasp_state(spec, object_goal, orientation, pick[-1].flange_state[6])
    return (*pick, SubGoal("lift", lift_state, lifted, spec.held_finger_opening, 0))


def _pick_place_subgoals(spec, objects, task_object, object_goal, orientation, config) -> tuple[SubGoal, ...]:
    """pregrasp, approach, grasp, carry (held lift_height above its goal), place (resting at the goal, fingers open,
    flange hover_height above the grasp pose)."""
    *pick_steps, carry_steps = config.pick_place_subgoal_steps
    pick = _pick_subgoals(spec, objects, task_object, orientation, tuple(pick_steps), config.hover_height)
    carried = object_goal + np.array([0.0, 0.0, config.lift_height])
    carry_state = _grasp_state(spec, carried, orientation, pick[-1].flange_state[6])
    place_state = _grasp_state(spec, object_goal, orientation, 0.0, lift=config.hover_height)
    return (
        *pick,
        SubGoal("carry", carry_state, {**objects, task_object: carried}, spec.held_finger_opening, carry_steps),
        SubGoal("place", place_state, {**objects, task_object: object_goal}, FINGER_OPEN_M, 0),
    )
