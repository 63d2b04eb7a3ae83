"""Cross-entropy-method (CEM) MPC over end-effector action sequences, with an injected energy function.

Defaults are the V-JEPA 2 paper's planner (800 samples, top-k 10, 10 iterations, horizon 1, xyz clipped per axis to
0.075 m, rotation deltas 0, gripper delta clipped to +-0.75 and zeroed below 0.25, final-step energy, momentum-smoothed
mean/std). Beyond the official loop: warm start from the previous plan, convergence-based early stopping, a wall-clock
budget, seeded or injected draws and a summed-over-horizon energy. Without stopping rules the loop never syncs the host.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

ACTION_DIM = 7
TRANSLATION_DIMS = (0, 1, 2)
ROTATION_DIMS = (3, 4, 5)
GRIPPER_DIM = 6

# Candidate action sequences [S, H, 7] -> per-horizon-step energies [S, H] (lower is better).
EnergyFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class CEMConfig:
    """CEM hyper-parameters; defaults reproduce the paper's planner, the extra features are off unless set."""

    samples: int = 800  # candidate sequences per iteration
    top_k: int = 10  # elites that update the sampling distribution
    iterations: int = 10  # maximum iterations
    horizon: int = 1  # actions per plan
    max_translation: float = 0.075  # per-axis |dxyz| bound, m; also the initial xyz std
    max_rotation: float = 0.0  # per-axis |d_euler| bound, rad; 0 = rotation deltas fixed at 0 (paper)
    max_gripper_delta: float = 0.75  # |dgripper| bound
    initial_gripper_std: float = 1.0  # initial std of the gripper delta
    gripper_deadband: float = 0.25  # the returned gripper delta is zeroed when its magnitude is below this
    momentum_mean: float = 0.15  # weight of the previous mean (arm dims)
    momentum_std: float = 0.75  # weight of the previous std (arm dims)
    momentum_mean_gripper: float = 0.15
    momentum_std_gripper: float = 0.15
    energy_reduction: Literal["final", "sum"] = "final"  # energy of the final step (paper) or summed over the horizon
    std_tolerance: float = 0.0  # stop once every std / its cold-start std is below this; 0 = off
    energy_tolerance: float = 0.0  # stop once the elite mean energy improves by less than this fraction; 0 = off
    min_iterations: int = 1  # iterations run before any stopping rule applies
    time_budget_s: float = 0.0  # wall-clock budget per plan, s; 0 = none. The plan so far is returned when exceeded
    warm_start_std_scale: float = 0.5  # initial std (as a fraction of the cold one) when warm starting
    evaluate_plan: bool = True  # evaluate the returned plan's energy (one extra energy call with one candidate)

    def __post_init__(self) -> None:
        """Reject inconsistent settings with a message naming the field."""
        positive = {"samples": self.samples, "top_k": self.top_k, "iterations": self.iterations}
        positive |= {"horizon": self.horizon, "min_iterations": self.min_iterations}
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"CEMConfig.{name}: expected >= 1, got {value}")
        if self.top_k < 2 or self.top_k > self.samples:
            raise ValueError(f"CEMConfig.top_k: expected 2 <= top_k <= samples={self.samples}, got {self.top_k}")
        if self.max_translation <= 0 or self.max_rotation < 0 or self.max_gripper_delta < 0:
            raise ValueError(
                "CEMConfig: expected max_translation > 0, max_rotation >= 0, max_gripper_delta >= 0, got "
                f"{self.max_translation}, {self.max_rotation}, {self.max_gripper_delta}"
            )
        for name in ("momentum_mean", "momentum_std", "momentum_mean_gripper", "momentum_std_gripper"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"CEMConfig.{name}: expected a value in [0, 1], got {getattr(self, name)}")
        if self.energy_reduction not in ("final", "sum"):
            raise ValueError(f"CEMConfig.energy_reduction: expected 'final' or 'sum', got {self.energy_reduction!r}")
        if not 0.0 < self.warm_start_std_scale <= 1.0:
            raise ValueError(f"CEMConfig.warm_start_std_scale: expected (0, 1], got {self.warm_start_std_scale}")
        for name in ("std_tolerance", "energy_tolerance", "time_budget_s", "gripper_deadband"):
            if getattr(self, name) < 0:
                raise ValueError(f"CEMConfig.{name}: expected >= 0, got {getattr(self, name)}")

    @property
    def sampled_dims(self) -> tuple[int, ...]:
        """Action dimensions the CEM samples (xyz, rotation when enabled, gripper); the others stay 0."""
        rotation = ROTATION_DIMS if self.max_rotation > 0 else ()
        return (*TRANSLATION_DIMS, *rotation, GRIPPER_DIM)

    @property
    def uses_host_checks(self) -> bool:
        """True when a stopping rule needs one scalar on the host per iteration."""
        return self.std_tolerance > 0 or self.energy_tolerance > 0 or self.time_budget_s > 0


@dataclass
class CEMResult:
    """A plan and the state behind it (pass it back as `warm_start` for the next control step)."""

    actions: torch.Tensor  # [H, 7] plan: final mean, rotation bounds applied, small gripper deltas zeroed
    mean: torch.Tensor  # [H, 7] final sampling mean
    std: torch.Tensor  # [H, 7] final sampling std
    energy: torch.Tensor | None  # [] energy of `actions` (None when config.evaluate_plan is off)
    elite_energy: torch.Tensor  # [] mean energy of the last iteration's elites
    best_actions: torch.Tensor  # [H, 7] lowest-energy candidate sampled in any iteration
    best_energy: torch.Tensor  # [] its energy
    iterations: int  # iterations run
    stop_reason: str  # "iterations", "std", "energy" or "budget"
    elapsed_s: float  # wall time of plan(), s (device work included)


class CEMPlanner:
    """Samples action sequences, scores them with an injected energy function and refines a Gaussian over them."""

    def __init__(self, config: CEMConfig | None = None, device: torch.device | str = "cpu") -> None:
        """Precompute per-dimension bounds, momenta and the initial std on `device`."""
        self.config = config or CEMConfig()
        self.device = torch.device(device)
        cfg = self.config
        bound = [cfg.max_translation] * 3 + [cfg.max_rotation] * 3 + [cfg.max_gripper_delta]
        self._upper = torch.tensor(bound, device=self.device)  # [7]
        self._lower = -self._upper
        init_std = [cfg.max_translation] * 3 + [cfg.max_rotation] * 3 + [cfg.initial_gripper_std]
        self._initial_std = torch.tensor(init_std, device=self.device)  # [7], 0 for unsampled dims
        arm_g = [cfg.momentum_mean] * 6 + [cfg.momentum_mean_gripper]
        arm_s = [cfg.momentum_std] * 6 + [cfg.momentum_std_gripper]
        # (1 - m) is formed in float64 before the cast, as the official update multiplies by Python floats.
        self._keep_mean = torch.tensor(arm_g, device=self.device)
        self._new_mean = torch.tensor([1.0 - m for m in arm_g], device=self.device)
        self._keep_std = torch.tensor(arm_s, device=self.device)
        self._new_std = torch.tensor([1.0 - m for m in arm_s], device=self.device)
        self._sampled = torch.tensor(cfg.sampled_dims, device=self.device)

    def initial_distribution(self, warm_start: CEMResult | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std [H, 7]: zeros and the cold std, or the previous plan shifted one step (last step repeated)."""
        H = self.config.horizon
        std = self._initial_std.expand(H, ACTION_DIM).clone()  # [H, 7]
        if warm_start is None:
            return torch.zeros(H, ACTION_DIM, device=self.device), std
        previous = warm_start.mean.to(self.device)
        if previous.shape != (H, ACTION_DIM):
            raise ValueError(f"warm_start.mean: expected shape {(H, ACTION_DIM)}, got {tuple(previous.shape)}")
        mean = torch.cat([previous[1:], previous[-1:]], dim=0)  # [H, 7]
        return mean, std * self.config.warm_start_std_scale

    def sample(self, mean: torch.Tensor, std: torch.Tensor, unit_draws: torch.Tensor) -> torch.Tensor:
        """Candidates [S, H, 7] = clip(draw * std + mean) from standard-normal draws [H, S, len(sampled_dims)]."""
        H, S = unit_draws.shape[:2]
        draws = unit_draws.new_zeros(H, S, ACTION_DIM).index_copy_(2, self._sampled, unit_draws)  # [H, S, 7]
        candidates = draws * std[:, None] + mean[:, None]  # [H, S, 7]
        return torch.clamp(candidates, self._lower, self._upper).transpose(0, 1)  # [S, H, 7]

    def finalize(self, mean: torch.Tensor) -> torch.Tensor:
        """Plan [H, 7] from a mean: bounds applied, unsampled dims 0, gripper deltas below the deadband zeroed."""
        plan = torch.clamp(mean, self._lower, self._upper)
        gripper = plan[:, GRIPPER_DIM]
        plan[:, GRIPPER_DIM] = torch.where(gripper.abs() < self.config.gripper_deadband, 0.0, gripper)
        return plan

    def _draws(self, iteration: int, unit_draws: torch.Tensor | None, generator: torch.Generator | None):
        """Standard-normal draws [H, S, len(sampled_dims)] for one iteration: injected or from `generator`."""
        cfg = self.config
        shape = (cfg.horizon, cfg.samples, len(cfg.sampled_dims))
        if unit_draws is None:
            return torch.randn(shape, generator=generator, device=self.device)
        return unit_draws[iteration].to(self.device)

    def _check_draws(self, unit_draws: torch.Tensor) -> None:
        """Raise when injected draws do not cover every iteration with the configured shape."""
        cfg = self.config
        expected = (cfg.iterations, cfg.horizon, cfg.samples, len(cfg.sampled_dims))
        if tuple(unit_draws.shape) != expected:
            raise ValueError(
                f"unit_draws: expected shape [iterations, H, S, dims] = {expected}, got {tuple(unit_draws.shape)}"
            )

    def _reduce(self, step_energies: torch.Tensor, num_candidates: int) -> torch.Tensor:
        """Per-step energies [S, H] -> candidate energies [S] (final step or summed over the horizon)."""
        expected = (num_candidates, self.config.horizon)
        if tuple(step_energies.shape) != expected:
            raise ValueError(
                f"energy_fn: expected per-step energies of shape {expected}, got {tuple(step_energies.shape)}"
            )
        if self.config.energy_reduction == "sum":
            return step_energies.sum(dim=1)
        return step_energies[:, -1]

    def plan(
        self,
        energy_fn: EnergyFn,
        warm_start: CEMResult | None = None,
        generator: torch.Generator | None = None,
        unit_draws: torch.Tensor | None = None,
    ) -> CEMResult:
        """Run CEM on `energy_fn` and return the plan; `unit_draws` [iterations, H, S, dims] replaces the RNG."""
        cfg = self.config
        start = time.perf_counter()
        if unit_draws is not None:
            self._check_draws(unit_draws)
        mean, std = self.initial_distribution(warm_start)  # [H, 7] each
        cold_std = self._initial_std  # [7]; std_tolerance is relative to it
        best_energy = torch.full((), float("inf"), device=self.device)
        best_actions = mean.clone()
        previous_elite = float("inf")
        slowest_iteration = 0.0
        stop_reason = "iterations"
        iterations = 0
        for iteration in range(cfg.iterations):
            iteration_start = time.perf_counter()
            candidates = self.sample(mean, std, self._draws(iteration, unit_draws, generator))  # [S, H, 7]
            energies = self._reduce(energy_fn(candidates), cfg.samples)  # [S]
            elite_energies, elite_index = torch.topk(energies, cfg.top_k, largest=False, sorted=True)  # [k]
            elites = candidates[elite_index]  # [k, H, 7]
            mean = self._new_mean * elites.mean(dim=0) + self._keep_mean * mean
            std = self._new_std * elites.std(dim=0) + self._keep_std * std
            improved = elite_energies[0] < best_energy
            best_actions = torch.where(improved, elites[0], best_actions)
            best_energy = torch.minimum(elite_energies[0], best_energy)
            elite_energy = elite_energies.mean()
            iterations = iteration + 1
            if not cfg.uses_host_checks or iterations >= cfg.iterations:
                continue
            # One host sync per iteration, only when a stopping rule is enabled.
            ratio = torch.where(cold_std > 0, std / cold_std.clamp_min(1e-12), 0.0).amax()
            std_ratio, elite_now = torch.stack([ratio, elite_energy]).tolist()
            slowest_iteration = max(slowest_iteration, time.perf_counter() - iteration_start)
            if iterations < cfg.min_iterations:
                previous_elite = elite_now
                continue
            if cfg.std_tolerance > 0 and std_ratio < cfg.std_tolerance:
                stop_reason = "std"
                break
            if cfg.energy_tolerance > 0 and previous_elite - elite_now < cfg.energy_tolerance * abs(previous_elite):
                stop_reason = "energy"
                break
            if cfg.time_budget_s > 0 and time.perf_counter() - start + slowest_iteration > cfg.time_budget_s:
                stop_reason = "budget"
                break
            previous_elite = elite_now
        actions = self.finalize(mean)
        energy = self._reduce(energy_fn(actions[None]), 1)[0] if cfg.evaluate_plan else None
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # so elapsed_s includes the queued device work
        return CEMResult(
            actions=actions,
            mean=mean,
            std=std,
            energy=energy,
            elite_energy=elite_energy,
            best_actions=best_actions,
            best_energy=best_energy,
            iterations=iterations,
            stop_reason=stop_reason,
            elapsed_s=time.perf_counter() - start,
        )
