"""Offline check of a world model on a recorded episode, before it is allowed to move the robot (no robot needed).

Per step t of the recording (frames and states at the model's step rate):
- surprise: the planning energy (mean |prediction - observation|) between the predictor's next representation given
  the recorded action (the executed pose difference, the DROID convention) and the observed next frame's;
- the same for a shuffled action (another step's action of the same recording) and a zero action: a model that uses
  the action is clearly more surprised by them; and a no-change baseline |z_{t+1} - z_t| that a model must beat;
- the planner (MPCController: WorldModel + CEM, as the planner node) plans toward the recorded final frame; its first
  action is compared with the action actually taken and with the direction to the final pose.
The verdict, over the steps where the arm or gripper moves, needs all three: surprise below the no-change baseline,
action shuffles/zeroing raising it, and plans that head for the final pose. `training.check_bag` is its command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import torch

from jepa_core import geometry
from jepa_core.planning.cem import CEMConfig
from jepa_core.planning.mpc import MPCConfig, MPCController
from jepa_core.planning.world_model import WorldModel

VARIANTS = ("recorded", "shuffled", "zero")  # action variants whose surprise is compared


@dataclass(frozen=True)
class VerdictThresholds:
    """What a model must show on a recording to pass."""

    max_surprise_ratio: float = 0.9  # mean surprise / mean no-change baseline must be below this
    min_action_gain: float = 1.1  # mean surprise of shuffled and of zero actions / recorded must reach this
    min_goal_cosine: float = 0.3  # mean cosine(planned dxyz, direction to the final pose) must reach this (72 deg)
    min_moving_steps: int = 3  # moving steps (and plans far enough from the final pose) needed to judge


@dataclass(frozen=True)
class CheckConfig:
    """How the check runs: planner settings, which steps are planned, batching and the verdict thresholds."""

    cem: CEMConfig = field(default_factory=lambda: CEMConfig(samples=100, top_k=10, iterations=5))
    plan_every: int = 1  # plan at every n-th step (planning dominates the run time); 0 = no planning
    encode_batch: int = 32  # frames per encoder call
    seed: int = 0  # seeds the action shuffle and the CEM draws
    min_move_m: float = 0.005  # arm steps shorter than this are "not moving" (no direction to compare)
    min_gripper_move: float = 0.05  # gripper changes below this are "not moving"
    min_goal_distance_m: float = 0.04  # steps closer than this to the final pose (arrived) are not compared
    thresholds: VerdictThresholds = field(default_factory=VerdictThresholds)

    def __post_init__(self) -> None:
        """Reject impossible settings naming the field."""
        if self.plan_every < 0 or self.encode_batch < 1:
            raise ValueError(
                f"CheckConfig: expected plan_every >= 0 and encode_batch >= 1, got {self.plan_every}, "
                f"{self.encode_batch}"
            )


@dataclass
class EpisodeCheck:
    """Per-step results over T-1 transitions (arrays indexed by step t: frame t -> frame t+1)."""

    surprise: dict[str, np.ndarray]  # variant -> [T-1] mean L1 between predicted and observed next representation
    no_change: np.ndarray  # [T-1] mean L1 between consecutive observed representations
    token_surprise: np.ndarray  # [T-1, grid_h, grid_w] recorded-action surprise per patch token
    taken: np.ndarray  # [T-1, 7] executed actions (pose differences of consecutive states)
    to_goal: np.ndarray  # [T-1, 3] final xyz - current xyz
    planned: np.ndarray  # [T-1, 7] planner's first action toward the final frame; NaN where not planned
    plan_energy: np.ndarray  # [T-1] energy of the plan; NaN where not planned
    planning_s: float  # total planning time, s
    cos_taken: np.ndarray  # [T-1] cosine(planned dxyz, taken dxyz); NaN where undefined
    cos_goal: np.ndarray  # [T-1] cosine(planned dxyz, to_goal); NaN where undefined

    @property
    def steps(self) -> int:
        """Number of transitions T-1."""
        return len(self.no_change)


@dataclass(frozen=True)
class Verdict:
    """Summary numbers, the pass/fail decision and one line that states both."""

    surprise: dict[str, float]  # variant -> mean over steps
    no_change: float
    surprise_ratio: float  # recorded surprise / no-change baseline
    action_gain: dict[str, float]  # shuffled / zero -> mean surprise over recorded surprise
    cos_taken: float  # mean over defined steps (NaN when none)
    cos_goal: float
    judged_steps: int  # steps the surprise numbers are over (the moving ones, or all when too few move)
    judged_plans: int  # steps where cos_goal is defined
    status: str  # "PASS", "FAIL" or "INCONCLUSIVE"
    reasons: tuple[str, ...]  # failed criteria (or why the recording cannot judge)
    line: str


def derangement(count: int, rng: np.random.Generator) -> np.ndarray:
    """A random permutation of range(count) with no fixed point (count >= 2): a random cycle over all indices."""
    if count < 2:
        raise ValueError(f"shuffling actions needs at least 2 steps, got {count}")
    order = rng.permutation(count)
    result = np.empty(count, dtype=np.int64)
    result[order] = np.roll(order, -1)
    return result


def encode_in_batches(world_model: WorldModel, frames: np.ndarray, batch: int) -> torch.Tensor:
    """RGB uint8 frames [T, H, W, 3] -> representations [T, N, D], `batch` frames per encoder call."""
    return torch.cat([world_model.encode_images(frames[i : i + batch]) for i in range(0, len(frames), batch)])


def _cosine(a: np.ndarray, b: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Row-wise cosine of [T, 3] vectors where `valid` (and both norms > 0), NaN elsewhere."""
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    valid = valid & (norms > 0)
    out = np.full(len(a), np.nan)
    out[valid] = np.sum(a[valid] * b[valid], axis=1) / norms[valid]
    return out


@torch.inference_mode()
def _surprises(world_model: WorldModel, reps: torch.Tensor, states: torch.Tensor, actions: dict[str, torch.Tensor]):
    """Per step, one rollout of the variants' actions from the observed frame: [V, T-1] surprises, [T-1, N] tokens."""
    steps = reps.shape[0] - 1
    variants = torch.stack([actions[name] for name in VARIANTS], dim=1)  # [T-1, V, 7]
    surprise = torch.empty(len(VARIANTS), steps)
    tokens = torch.empty(steps, world_model.tokens_per_frame)
    for t in range(steps):
        context = world_model.make_context(reps[t : t + 1], states[t : t + 1])
        predicted, _ = world_model.rollout(context, variants[t][:, None])  # [V, 1, N, D]
        surprise[:, t] = world_model.step_energies(predicted, reps[t + 1])[:, 0].cpu()
        tokens[t] = (predicted[0, 0] - reps[t + 1]).abs().mean(dim=-1).cpu()
    return surprise, tokens


def check_episode(
    world_model: WorldModel, frames: np.ndarray, states: np.ndarray, config: CheckConfig | None = None, progress=None
) -> EpisodeCheck:
    """Run the check on RGB uint8 frames [T, H, W, 3] with their states [T, 7], one model step apart.

    `progress`, when given, is called once per planned step (see `planned_steps`).
    """
    config = config or CheckConfig()
    states = np.asarray(states, dtype=np.float64)
    if len(frames) != len(states) or len(states) < 3 or states.shape[1:] != (geometry.STATE_DIM,):
        raise ValueError(
            f"check_episode: expected frames [T, H, W, 3] and states [T, 7] with T >= 3, got "
            f"{tuple(np.shape(frames))} and {tuple(states.shape)}"
        )
    rng = np.random.default_rng(config.seed)
    taken = geometry.poses_to_diffs(states)  # [T-1, 7] float64
    actions = {
        "recorded": torch.from_numpy(taken).float(),
        "shuffled": torch.from_numpy(taken[derangement(len(taken), rng)]).float(),
        "zero": torch.zeros(len(taken), geometry.STATE_DIM),
    }
    reps = encode_in_batches(world_model, np.asarray(frames), config.encode_batch)  # [T, N, D]
    state_tensor = torch.from_numpy(states).float()  # [T, 7]
    surprise, tokens = _surprises(world_model, reps, state_tensor, actions)
    no_change = (reps[1:] - reps[:-1]).abs().mean(dim=(-2, -1)).cpu().numpy()  # [T-1]
    planned, energy, planning_s = _plans(world_model, reps, states, config, progress)
    to_goal = states[-1, :3] - states[:-1, :3]  # [T-1, 3]
    planned_xyz = np.nan_to_num(planned[:, :3])
    was_planned = ~np.isnan(planned[:, 0])
    moved = np.linalg.norm(taken[:, :3], axis=1) >= config.min_move_m
    far = np.linalg.norm(to_goal, axis=1) >= config.min_goal_distance_m
    predictor = world_model.predictor
    return EpisodeCheck(
        surprise={name: surprise[i].numpy().astype(np.float64) for i, name in enumerate(VARIANTS)},
        no_change=no_change.astype(np.float64),
        token_surprise=tokens.numpy().reshape(-1, predictor.grid_height, predictor.grid_width),
        taken=taken,
        to_goal=to_goal,
        planned=planned,
        plan_energy=energy,
        planning_s=planning_s,
        cos_taken=_cosine(planned_xyz, taken[:, :3], was_planned & moved),
        cos_goal=_cosine(planned_xyz, to_goal, was_planned & far),
    )


def planned_steps(transitions: int, config: CheckConfig) -> int:
    """How many of `transitions` steps the planner runs on."""
    return len(range(0, transitions, config.plan_every)) if config.plan_every else 0


def merge_checks(checks: list[EpisodeCheck]) -> EpisodeCheck:
    """The steps of several recordings as one check (for a verdict over all of them)."""
    if not checks:
        raise ValueError("merge_checks: no checks to merge")
    per_step = [f.name for f in fields(EpisodeCheck) if f.name not in ("surprise", "planning_s")]
    arrays = {name: np.concatenate([getattr(check, name) for check in checks]) for name in per_step}
    surprise = {v: np.concatenate([check.surprise[v] for check in checks]) for v in VARIANTS}
    return EpisodeCheck(surprise=surprise, planning_s=sum(check.planning_s for check in checks), **arrays)


def _plans(world_model: WorldModel, reps: torch.Tensor, states: np.ndarray, config: CheckConfig, progress):
    """First planned action [T-1, 7] and its energy [T-1] toward the final frame at every plan_every-th step."""
    steps = reps.shape[0] - 1
    planned = np.full((steps, geometry.STATE_DIM), np.nan)
    energy = np.full(steps, np.nan)
    if config.plan_every == 0:
        return planned, energy, 0.0
    # Each step plans afresh from the recorded observation: one observed frame, no warm start from another state.
    controller = MPCController(
        world_model, MPCConfig(cem=config.cem, context_steps=1, warm_start=False, seed=config.seed)
    )
    controller.set_goal(reps[-1])
    total = 0.0
    for t in range(0, steps, config.plan_every):
        controller.reset_history()
        decision = controller.step(reps[t], torch.from_numpy(states[t]))
        planned[t] = decision.action.numpy()
        energy[t] = decision.energy
        total += decision.planning_time
        if progress is not None:
            progress(1)
    return planned, energy, total


def _mean(values: np.ndarray) -> float:
    """Mean of the defined (non-NaN) values; NaN when there are none."""
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else float("nan")


def moving_steps(check: EpisodeCheck, config: CheckConfig) -> np.ndarray:
    """[T-1] bool: steps where the arm moved at least min_move_m or the gripper at least min_gripper_move."""
    arm = np.linalg.norm(check.taken[:, :3], axis=1) >= config.min_move_m
    return arm | (np.abs(check.taken[:, 6]) >= config.min_gripper_move)


def judge(check: EpisodeCheck, config: CheckConfig | None = None) -> Verdict:
    """Pass/fail over the steps that move: better than no-change, action-sensitive, planning toward the final pose.

    Steps where nothing moves say nothing about actions and make the no-change baseline perfect, so they are left out;
    a recording with fewer than min_moving_steps moving steps (or judged plans) is INCONCLUSIVE, never a PASS.
    """
    config = config or CheckConfig()
    limits = config.thresholds
    moving = moving_steps(check, config)
    enough = int(moving.sum()) >= limits.min_moving_steps
    steps = moving if enough else np.ones_like(moving)
    surprise = {name: float(values[steps].mean()) for name, values in check.surprise.items()}
    no_change = float(check.no_change[steps].mean())
    ratio = surprise["recorded"] / max(no_change, 1e-12)
    gain = {name: surprise[name] / max(surprise["recorded"], 1e-12) for name in ("shuffled", "zero")}
    cos_taken, cos_goal = _mean(check.cos_taken), _mean(check.cos_goal)
    judged = int(np.sum(~np.isnan(check.cos_goal)))
    plans_expected = not np.all(np.isnan(check.planned[:, 0]))
    failed, unjudgeable = [], []
    if not enough:
        unjudgeable.append(f"only {int(moving.sum())} of {check.steps} steps move the arm or gripper")
    else:
        if ratio >= limits.max_surprise_ratio:
            failed.append(f"surprise/no-change {ratio:.2f} >= {limits.max_surprise_ratio}")
        if min(gain.values()) < limits.min_action_gain:
            failed.append(f"action gain {min(gain.values()):.2f} < {limits.min_action_gain}")
    if plans_expected and judged < limits.min_moving_steps:
        unjudgeable.append(f"only {judged} planned steps start >= {config.min_goal_distance_m} m from the final pose")
    elif plans_expected and not cos_goal >= limits.min_goal_cosine:
        failed.append(f"plan-to-final cosine {cos_goal:.2f} < {limits.min_goal_cosine}")
    status = "FAIL" if failed else ("INCONCLUSIVE" if unjudgeable else "PASS")
    reasons = tuple(failed + unjudgeable)
    numbers = (
        f"over {int(steps.sum())} of {check.steps} steps, surprise {surprise['recorded']:.3f} = {ratio:.2f}x the "
        f"no-change baseline {no_change:.3f}; shuffled action {gain['shuffled']:.2f}x, zero action "
        f"{gain['zero']:.2f}x the recorded surprise"
    )
    if plans_expected:
        numbers += f"; over {judged} plans, cos to the final-pose direction {cos_goal:.2f}"
        numbers += f", to the taken action {cos_taken:.2f}"
    line = f"VERDICT {status}: {numbers}" + (f" ({'; '.join(reasons)})" if reasons else "")
    return Verdict(
        surprise, no_change, ratio, gain, cos_taken, cos_goal, int(steps.sum()), judged, status, reasons, line
    )
