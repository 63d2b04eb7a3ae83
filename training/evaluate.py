"""Closed-loop evaluation in the simulator: the planner's own MPC/CEM code drives FrankaSimEnv to image goals.

    scripts/run.sh python -m training.evaluate --checkpoint models/sim_manip.pt --tasks reach --episodes 50

Per task and seed (0..episodes-1): reset, encode the goal images, then each control step encode the camera frame, plan
with `jepa_core.planning.mpc.MPCController` (WorldModel + CEMPlanner, the code the planner node runs) and execute the
target pose for one control period. With `--subgoals` (default) the planner follows the task's sub-goal sequence
(`jepa_core.planning.subgoals`: grasp = pregrasp, approach, grasp, lift; pick_place = pregrasp, approach, grasp, carry,
place; each sub-goal but the last for its step budget from the simulator, or until the observed energy is below
`--subgoal-threshold`), as the V-JEPA 2 paper does for pick-and-place; `--no-subgoals` plans to the final goal image
only. Each sub-goal commands the gripper its image shows (open or closed; a sub-goal that only closes the fingers does
so in place) because the bundled 64 px models cannot see the fingers (models/README.md); `--no-subgoal-grippers` lets
the CEM plan the gripper as in the paper. A checkpoint with a pose probe (training.fit_pose_probe) plans with its
goal-position prior (`--pose-prior-weight`, `--pose-prior-dead-zone`; 0 = the official image energy). An episode ends
on success (the simulator's rule, e.g. reach within 4 cm) or after `--max-steps` (default per task: reach 20, grasp
30, pick_place 40). The simulator renders the cameras the checkpoint names (`camera_views`, e.g. exterior and wrist
tiled side by side; none: the exterior camera alone); `--scene-variations heldout` draws each episode's appearance
(table, light, camera offsets, distractor) from the set no training data uses (`train`: the play data's set; `none`:
the unvaried scene). Writes episodes.csv, summary.csv/summary.md (success rate, final distance, steps), eval.png and
one GIF per episode ([camera frame | active goal] side by side, every view shown).
"""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from jepa_core.checkpoints import load_camera_views
from jepa_core.planning.cem import CEMConfig
from jepa_core.planning.loading import WorldModelSpec, build_world_model
from jepa_core.planning.mpc import MPCConfig, MPCController
from jepa_core.planning.pose_prior import GoalPositionPrior, describe_prior
from jepa_core.planning.subgoals import SubGoal, SubGoalController
from jepa_core.planning.world_model import WorldModel, WorldModelConfig
from jepa_sim.env import FrankaSimEnv, SimConfig
from jepa_sim.scene import CAMERAS, CameraName
from jepa_sim.tasks import EPISODE_STEPS
from jepa_sim.variations import VariationSet
from training.common.config import parse_config


@dataclass(frozen=True)
class EvalConfig:
    """Models, tasks, episodes and the planner settings of the evaluation."""

    checkpoint: Path = field(default=Path("models/sim_manip.pt"), metadata={"help": "AC checkpoint (predictor)"})
    encoder_checkpoint: Path | None = field(default=None, metadata={"help": "encoder from another file (optional)"})
    encoder_key: str = field(default="target_encoder", metadata={"help": "checkpoint key of the encoder"})
    out: Path = field(default=Path("runs/eval"), metadata={"help": "output folder"})
    tasks: tuple[str, ...] = field(default=("reach",), metadata={"help": "simulator tasks to evaluate"})
    task_object: str = field(default="cube", metadata={"help": "object of grasp / pick_place"})
    episodes: int = field(default=50, metadata={"help": "seeded episodes per task (seeds first_seed..)"})
    first_seed: int = field(default=0, metadata={"help": "seed of the first episode"})
    seeds: tuple[int, ...] = field(default=(), metadata={"help": "explicit seeds (replace --episodes/--first-seed)"})
    max_steps: int = field(
        default=0, metadata={"help": "control steps per episode; 0 = per task (reach 20, grasp 30, pick_place 40)"}
    )
    stop_on_success: bool = field(default=True, metadata={"help": "end an episode once the task succeeds"})
    subgoals: bool = field(default=True, metadata={"help": "follow the task's sub-goal images (else the final goal)"})
    subgoal_threshold: float = field(
        default=0.05,
        metadata={"help": "leave a sub-goal (not the last) once the observed energy is below this (0 = budgets only; "
                  "the planner's energy_threshold measured for the bundled models)"},
    )  # fmt: skip
    subgoal_grippers: bool = field(
        default=True,
        metadata={"help": "each sub-goal commands the gripper its image shows (open/closed); no = the CEM plans it"},
    )
    render_size: int = field(default=256, metadata={"help": "square camera image side, px (the model resizes)"})
    camera: CameraName = field(
        default="exterior", metadata={"help": "named simulator camera (jepa_sim.scene.CAMERAS), as in training"}
    )
    scene_variations: VariationSet = field(
        default="none",
        metadata={"help": "appearance set per episode seed: none, train or heldout (jepa_sim.variations)"},
    )
    control_period: float = field(default=0.25, metadata={"help": "seconds of simulation per control step"})
    samples: int = field(default=100, metadata={"help": "CEM samples per iteration"})
    top_k: int = field(default=10, metadata={"help": "CEM elites"})
    iterations: int = field(default=5, metadata={"help": "CEM iterations"})
    horizon: int = field(default=1, metadata={"help": "planning horizon (actions)"})
    max_translation: float = field(default=0.075, metadata={"help": "per-axis |dxyz| bound, m"})
    context_steps: int = field(default=1, metadata={"help": "observed frames the predictor sees"})
    warm_start: bool = field(default=True, metadata={"help": "warm-start CEM from the previous plan"})
    pose_prior_weight: float = field(
        default=GoalPositionPrior.weight,
        metadata={"help": "energy per m of the goal-position prior (the checkpoint's pose_probe; 0 = off)"},
    )
    pose_prior_dead_zone: float = field(
        default=GoalPositionPrior.dead_zone,
        metadata={"help": "no prior pull within this distance of the decoded goal, m"},
    )
    view_weights: tuple[float, ...] = field(
        default=WorldModelConfig.view_weights,
        metadata={"help": "energy weight of each camera view (checkpoint order, e.g. exterior wrist); one value = "
                  "every view alike (the official energy)"},
    )  # fmt: skip
    gifs: bool = field(default=True, metadata={"help": "write one GIF per episode"})
    gif_size: int = field(default=128, metadata={"help": "pixels per GIF panel"})
    cpu_threads: int = field(default=1, metadata={"help": "torch CPU threads (0 = torch default)"})

    def episode_seeds(self) -> list[int]:
        return list(self.seeds) if self.seeds else [self.first_seed + i for i in range(self.episodes)]

    def mpc_config(self, seed: int) -> MPCConfig:
        cem = CEMConfig(
            samples=self.samples,
            top_k=self.top_k,
            iterations=self.iterations,
            horizon=self.horizon,
            max_translation=self.max_translation,
        )
        return MPCConfig(cem=cem, context_steps=self.context_steps, warm_start=self.warm_start, seed=seed)

    def world_model_spec(self) -> WorldModelSpec:
        """The checkpoint(s) on CPU, fp32, with the encoder checkpoint's goal-position prior: the planner's energy."""
        return WorldModelSpec(
            predictor_checkpoint=self.checkpoint,
            encoder_checkpoint=self.encoder_checkpoint,
            encoder_key=self.encoder_key,
            pose_prior_weight=self.pose_prior_weight,
            pose_prior_dead_zone=self.pose_prior_dead_zone,
            config=WorldModelConfig(view_weights=self.view_weights),
        )


@dataclass
class EpisodeResult:
    """One evaluated episode."""

    task: str
    seed: int
    success: bool
    steps: int
    initial_distance: float
    final_distance: float
    min_distance: float
    final_energy: float
    mean_planning_s: float
    final_subgoal: str  # the sub-goal active at the end ("" for a single goal)
    gif: str


def write_gif(path: Path, frames: list[np.ndarray], goals: list[np.ndarray], size: int, period_s: float) -> Path:
    """GIF of [camera frame | goal] panels `size` px high (a frame of V views is V * size wide), one per control step;
    goals[i] is the goal active at frames[i]."""
    images = []
    height, width = frames[0].shape[:2]
    panel = (round(size * width / height), size)
    for frame, goal in zip(frames, goals, strict=True):
        canvas = Image.new("RGB", (2 * panel[0], size))
        canvas.paste(Image.fromarray(frame).resize(panel, Image.BILINEAR), (0, 0))
        canvas.paste(Image.fromarray(goal).resize(panel, Image.BILINEAR), (panel[0], 0))
        images.append(canvas)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(period_s * 1000), loop=0)
    return path


def episode_subgoals(env: FrankaSimEnv, config: EvalConfig) -> tuple[list[np.ndarray], list[SubGoal]]:
    """Goal images and sub-goals of the current episode: its sub-goal sequence, or only its final goal."""
    count = len(env.episode.subgoals)
    first = 0 if config.subgoals else count - 1
    scenes = env.episode.subgoals[first:]
    images = [env.subgoal_image(index) for index in range(first, count)]
    last = len(scenes) - 1
    threshold = config.subgoal_threshold
    return images, [
        SubGoal(
            s.name,
            0 if i == last else s.steps,
            0.0 if i == last else threshold,  # the simulator judges success: the last one runs to success or the end
            s.gripper_command if config.subgoal_grippers else None,
        )
        for i, s in enumerate(scenes)
    ]


def run_episode(env: FrankaSimEnv, world_model: WorldModel, config: EvalConfig, task: str, seed: int):
    """Plan and act until success or max_steps; returns the result and the per-step distances."""
    obs = env.reset(task, seed)
    goal_images, subgoals = episode_subgoals(env, config)
    goals = list(world_model.encode_images(np.stack(goal_images)))  # each [N, D]
    runner = SubGoalController(MPCController(world_model, config.mpc_config(seed)), goals, subgoals)
    initial = env.task_status().distance
    frames, distances, energies, planning = [obs.image], [initial], [], []
    shown = [goal_images[0]]  # the goal active at each frame
    status = env.task_status()
    for _ in range(config.max_steps or EPISODE_STEPS[task]):
        representation = world_model.encode_images(obs.image[None])[0]
        runner.observe(representation)  # may switch to the next sub-goal
        decision, _ = runner.step(representation, torch.from_numpy(obs.ee_state))
        obs = env.step(decision.target_state.numpy())
        status = env.task_status()
        frames.append(obs.image)
        shown.append(goal_images[runner.sequence.index])
        distances.append(status.distance)
        energies.append(decision.energy)
        planning.append(decision.planning_time)
        if status.success and config.stop_on_success:
            break
    gif = ""
    if config.gifs:
        gif = str(write_gif(config.out / "gifs" / f"{task}_{seed:03d}.gif", frames, shown, config.gif_size,
                            config.control_period))  # fmt: skip
    result = EpisodeResult(
        task=task,
        seed=seed,
        success=bool(status.success),
        steps=len(distances) - 1,
        initial_distance=initial,
        final_distance=status.distance,
        min_distance=float(min(distances)),
        final_energy=energies[-1] if energies else float("nan"),
        mean_planning_s=float(np.mean(planning)) if planning else 0.0,
        final_subgoal=runner.sequence.active.name if len(subgoals) > 1 else "",
        gif=gif,
    )
    return result, distances


def summarize(results: list[EpisodeResult]) -> list[dict]:
    """Per task: episodes, success rate, mean/median final distance, mean steps (all / successful), planning time."""
    rows = []
    for task in dict.fromkeys(r.task for r in results):
        mine = [r for r in results if r.task == task]
        wins = [r for r in mine if r.success]
        rows.append(
            {
                "task": task,
                "episodes": len(mine),
                "success_rate": len(wins) / len(mine),
                "mean_final_distance_m": float(np.mean([r.final_distance for r in mine])),
                "median_final_distance_m": float(np.median([r.final_distance for r in mine])),
                "mean_initial_distance_m": float(np.mean([r.initial_distance for r in mine])),
                "mean_steps": float(np.mean([r.steps for r in mine])),
                "mean_steps_successful": float(np.mean([r.steps for r in wins])) if wins else float("nan"),
                "mean_planning_s_per_step": float(np.mean([r.mean_planning_s for r in mine])),
            }
        )
    return rows


def write_tables(out: Path, results: list[EpisodeResult], summary: list[dict]) -> tuple[Path, Path]:
    """episodes.csv, summary.csv and summary.md under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "episodes.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asdict(results[0])))
        writer.writeheader()
        writer.writerows(asdict(r) for r in results)
    with (out / "summary.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(summary[0]))
        writer.writeheader()
        writer.writerows(summary)
    lines = [
        "| task | episodes | success | mean final dist (cm) | median final dist (cm) | mean start dist (cm) "
        "| mean steps | steps (successes) | planning s/step |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summary:
        lines.append(
            f"| {row['task']} | {row['episodes']} | {100 * row['success_rate']:.0f}% "
            f"| {100 * row['mean_final_distance_m']:.1f} | {100 * row['median_final_distance_m']:.1f} "
            f"| {100 * row['mean_initial_distance_m']:.1f} | {row['mean_steps']:.1f} "
            f"| {row['mean_steps_successful']:.1f} | {row['mean_planning_s_per_step']:.2f} |"
        )
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    return out / "summary.csv", out / "summary.md"


def plot_results(out: Path, results: list[EpisodeResult], curves: list[list[float]], tolerance: float) -> Path:
    """eval.png: success rate per task, steps histogram, distance-to-goal curves per episode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(r.task for r in results))
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), dpi=100)
    rates = [np.mean([r.success for r in results if r.task == t]) for t in tasks]
    axes[0].bar(tasks, [100 * r for r in rates], color="tab:green")
    axes[0].set_ylim(0, 100)
    axes[0].set_ylabel("success (%)")
    axes[0].set_title("success rate")
    for task in tasks:
        axes[1].hist([r.steps for r in results if r.task == task], bins=20, alpha=0.6, label=task)
    axes[1].set_xlabel("steps")
    axes[1].set_title("episode length")
    axes[1].legend()
    for result, curve in zip(results, curves, strict=True):
        axes[2].plot(100 * np.asarray(curve), color="tab:green" if result.success else "tab:red", alpha=0.4)
    axes[2].axhline(100 * tolerance, color="black", linestyle="--", label=f"tolerance {100 * tolerance:.0f} cm")
    axes[2].set_xlabel("step")
    axes[2].set_ylabel("distance to goal (cm)")
    axes[2].set_title("distance per step (green = success)")
    axes[2].legend()
    fig.tight_layout()
    path = out / "eval.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_config(EvalConfig, argv, __doc__)
    if config.cpu_threads:
        torch.set_num_threads(config.cpu_threads)
    world_model = build_world_model(config.world_model_spec())
    views = load_camera_views(config.encoder_checkpoint or config.checkpoint)
    print(f"goal-position prior: {describe_prior(world_model.goal_prior, config.pose_prior_weight)}")
    weights = f" (energy weights {' | '.join(f'{w:g}' for w in config.view_weights)})" if len(views) > 1 else ""
    print(f"camera views: {' | '.join(views)}{weights}; scene variations: {config.scene_variations}")
    sim_config = SimConfig(
        render_size=(config.render_size, config.render_size),
        camera=CAMERAS[config.camera],
        views=views,
        scene_variations=config.scene_variations,
        control_period=config.control_period,
        task_object=config.task_object,
    )
    env = FrankaSimEnv(sim_config)
    results, curves, tolerance = [], [], 0.0
    start = time.perf_counter()
    try:
        jobs = [(task, seed) for task in config.tasks for seed in config.episode_seeds()]
        progress = tqdm(jobs, desc="evaluate")
        for task, seed in progress:
            result, distances = run_episode(env, world_model, config, task, seed)
            tolerance = env.task_status().tolerance
            results.append(result)
            curves.append(distances)
            done = [r for r in results if r.task == task]
            progress.set_postfix(task=task, success=f"{np.mean([r.success for r in done]):.2f}")
    finally:
        env.close()
    summary = summarize(results)
    _, md_path = write_tables(config.out, results, summary)
    plot = plot_results(config.out, results, curves, tolerance)
    print(md_path.read_text(), end="")
    goals = "sub-goal sequences" if config.subgoals else "final goal images only"
    print(f"evaluate: {len(results)} episodes ({goals}) in {time.perf_counter() - start:.1f} s; table {md_path}, "
          f"plot {plot}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
