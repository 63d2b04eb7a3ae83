"""Receding-horizon control with the world model: observe, plan with CEM, execute the first action, replan.

ROS-free, so the planner node, closed-loop evaluation in simulation and the demo share one implementation. It keeps the
last K observations (the executed actions between them are their pose differences, the DROID convention) and the
previous plan for warm starting. Each step also predicts the frame its executed action leads to, so the next
observation can be scored against it: the *surprise* (the planning energy between prediction and observation), a live
monitor of whether the world behaves as the model expects.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from jepa_core.planning.cem import GRIPPER_DIM, CEMConfig, CEMPlanner, CEMResult
from jepa_core.planning.poses import STATE_DIM, pose_differences, rollout_poses
from jepa_core.planning.world_model import WorldModel


@dataclass(frozen=True)
class MPCConfig:
    """Receding-horizon settings around the CEM."""

    cem: CEMConfig = field(default_factory=CEMConfig)
    context_steps: int = 1  # observed frames K the predictor sees (1 = the official planner)
    warm_start: bool = True  # start each CEM from the previous plan shifted by one step
    seed: int | None = None  # seeds the CEM draws once per goal (reproducible episodes); None = nondeterministic

    def __post_init__(self) -> None:
        """Reject impossible settings naming the field."""
        if self.context_steps < 1:
            raise ValueError(f"MPCConfig.context_steps: expected >= 1, got {self.context_steps}")


@dataclass
class MPCStep:
    """One control step's decision: what to execute now and the plan behind it (float64 CPU tensors)."""

    state: torch.Tensor  # [7] observed state the plan starts from
    action: torch.Tensor  # [7] first planned action, the one to execute
    target_state: torch.Tensor  # [7] state integrated with `action` (the commanded pose and gripper)
    plan: torch.Tensor  # [H, 7] whole planned action sequence
    predicted_states: torch.Tensor  # [H + 1, 7] states along the plan, `state` first
    energy: float  # energy of the plan (CEMResult.energy, else the elite mean)
    iterations: int  # CEM iterations run
    stop_reason: str  # why the CEM stopped
    planning_time: float  # wall time of this step's planning, s
    cem: CEMResult  # full CEM result (device tensors)
    predicted_next: torch.Tensor  # [N, D] predicted representation of the frame after `action` (float32, device)


def fixed_gripper(current: float, target: float, hold_arm: bool = False) -> Callable[[torch.Tensor], torch.Tensor]:
    """Map over action sequences [..., H, 7] setting the gripper delta to reach `target` (0 open .. 1 closed) from
    `current` in the first step and 0 after it; `hold_arm` also zeroes the first step's arm motion (a grasp in place:
    the fingers close on what is between them now)."""
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"gripper: expected a target in [0, 1] (0 open, 1 closed), got {target}")
    delta = target - current

    def apply(actions: torch.Tensor) -> torch.Tensor:
        actions = actions.clone()
        if hold_arm:
            actions[..., 0, :GRIPPER_DIM] = 0.0
        actions[..., 0, GRIPPER_DIM] = delta
        actions[..., 1:, GRIPPER_DIM] = 0.0
        return actions

    return apply


def _with_actions(energy_fn, transform: Callable[[torch.Tensor], torch.Tensor]):
    """The energy function scoring transform(candidates) [S, H, 7] instead of the candidates."""
    return lambda candidates: energy_fn(transform(candidates))


class MPCController:
    """Plans one action per observation towards a goal representation, keeping history and the previous plan."""

    def __init__(self, world_model: WorldModel, config: MPCConfig | None = None) -> None:
        """Bind the world model; call `set_goal` before `step`."""
        self.world_model = world_model
        self.config = config or MPCConfig()
        self.planner = CEMPlanner(self.config.cem, device=world_model.device)
        self._goal: torch.Tensor | None = None
        self._frames: list[torch.Tensor] = []  # each [N, D]
        self._states: list[torch.Tensor] = []  # each [7]
        self._previous: CEMResult | None = None
        self._generator: torch.Generator | None = None
        self._predicted_next: torch.Tensor | None = None  # [N, D] prediction for the last executed action

    def reconfigure(self, config: MPCConfig) -> None:
        """Plan with `config` from the next step (live parameters); keeps the goal and the observed history, drops a
        warm start whose horizon no longer fits."""
        if config.cem.horizon != self.config.cem.horizon:
            self._previous = None
        self.config = config
        self.planner = CEMPlanner(config.cem, device=self.world_model.device)

    def set_goal(self, goal: torch.Tensor) -> None:
        """Goal representation [N, D] (or [1, N, D]); forgets history and the previous plan, reseeds the draws."""
        self.switch_goal(goal)
        self.reset_history()
        if self.config.seed is not None:
            self._generator = torch.Generator(device=self.world_model.device).manual_seed(self.config.seed)

    def switch_goal(self, goal: torch.Tensor) -> None:
        """Plan towards another goal [N, D] within the same run (next sub-goal): keeps the observed history and the
        draws, drops the previous plan (a warm start aimed at the old goal)."""
        self.world_model.check_representation("goal", goal)
        self._goal = goal.reshape(self.world_model.tokens_per_frame, -1).to(self.world_model.device, torch.float32)
        self._previous = None

    def reset_history(self) -> None:
        """Forget observed frames and the previous plan (e.g. after the robot was moved by hand)."""
        self._frames, self._states, self._previous, self._predicted_next = [], [], None, None

    def goal_energy(self, representation: torch.Tensor) -> float:
        """Energy of an observed frame's representation [N, D] to the goal (0 = looks exactly like the goal)."""
        if self._goal is None:
            raise RuntimeError("MPCController.goal_energy: no goal; call set_goal(goal_representation) first")
        return self._energy(representation, self._goal)

    def surprise(self, representation: torch.Tensor) -> float | None:
        """Energy between the prediction for the last executed action and the frame observed after it [N, D]; None
        before the first step (nothing predicted yet)."""
        if self._predicted_next is None:
            return None
        return self._energy(representation, self._predicted_next)

    def _energy(self, representation: torch.Tensor, target: torch.Tensor) -> float:
        """The planning energy (WorldModel.step_energies) between a representation [N, D] and a target [N, D]."""
        self.world_model.check_representation("representation", representation)
        observed = representation.reshape(target.shape).to(target.device, torch.float32)
        return float(self.world_model.step_energies(observed[None, None], target)[0, 0])

    def step(
        self,
        representation: torch.Tensor,
        state: torch.Tensor,
        interrupt: Callable[[], bool] | None = None,
        gripper: float | None = None,
        hold_arm: bool = False,
    ) -> MPCStep:
        """Plan from the current frame's representation [N, D] and end-effector state [7]; returns the decision.

        `interrupt` is polled before every predictor call of the CEM (the world model's `energy_fn`); once it returns
        True the step raises world_model.PlanningInterrupted (a long plan on a big model honours a cancel within one
        call, not one whole plan). `gripper` (0 open .. 1 closed) fixes the gripper: every candidate, and the plan,
        moves it to that value in the first step and keeps it there, so the predictor scores what will be commanded;
        None lets the CEM plan it. `hold_arm` (with a `gripper`): the first step moves only the gripper.
        """
        if self._goal is None:
            raise RuntimeError("MPCController.step: no goal; call set_goal(goal_representation) first")
        if hold_arm and gripper is None:
            raise ValueError("MPCController.step: hold_arm needs a commanded gripper (it holds the arm while it moves)")
        self.world_model.check_representation("representation", representation)
        state = torch.as_tensor(state, dtype=torch.float64).reshape(-1)
        if state.shape != (STATE_DIM,):
            raise ValueError(f"state: expected {STATE_DIM} values [x, y, z, roll, pitch, yaw, gripper], got {state}")
        start = time.perf_counter()
        device = self.world_model.device
        self._frames = [*self._frames, representation.reshape(self._goal.shape).to(device, torch.float32)]
        self._states = [*self._states, state]
        self._frames = self._frames[-self.config.context_steps :]
        self._states = self._states[-self.config.context_steps :]
        states = torch.stack(self._states)  # [K, 7] float64
        executed = pose_differences(states) if len(self._states) > 1 else torch.zeros(0, STATE_DIM)  # [K-1, 7]
        context = self.world_model.make_context(torch.stack(self._frames), states.float(), executed.float())
        warm = self._previous if self.config.warm_start else None
        energy_fn = self.world_model.energy_fn(context, self._goal, interrupt)
        if gripper is not None:
            fixed = fixed_gripper(float(state[GRIPPER_DIM]), gripper, hold_arm)
            energy_fn = _with_actions(energy_fn, fixed)
        result = self.planner.plan(energy_fn, warm, self._generator)
        self._previous = result
        if gripper is not None:
            result.actions = fixed(result.actions)
        plan = result.actions.detach().to("cpu", torch.float64)  # [H, 7]
        path = rollout_poses(state, plan[None])[0]  # [H + 1, 7]
        energy = result.energy if result.energy is not None else result.elite_energy
        first_action = result.actions[:1].to(device, torch.float32)  # [1, 7]
        self._predicted_next = self.world_model.rollout(context, first_action[None])[0][0, 0]  # [N, D]
        return MPCStep(
            state=state,
            action=plan[0],
            target_state=path[1],
            plan=plan,
            predicted_states=path,
            energy=float(energy),
            iterations=result.iterations,
            stop_reason=result.stop_reason,
            planning_time=time.perf_counter() - start,
            cem=result,
            predicted_next=self._predicted_next,
        )
