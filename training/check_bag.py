"""Check a world model on recorded episodes before it moves the robot: nothing is moved, only predicted.

    scripts/run.sh python -m training.check_bag --checkpoint models/sim_manip.pt RECORDING [RECORDING...]

A RECORDING is an episode bag (rosbag2 MCAP or sqlite3, as the recorder node writes; read by the project's bag -> DROID
conversion into a temporary folder), a DROID-format episode folder (training.bag_to_droid / training.sim_episodes),
or a folder of either. Frames are taken at the model's step rate (--fps, 4 as in post-training). Per step: the
*surprise* (the planning energy between the predicted and the observed next representation) with the recorded action,
a shuffled one and a zero one, against the no-change baseline; and the planner's first action toward the recording's
final frame (with the planner's energy: the encoder checkpoint's goal-position prior where it has a pose probe,
--pose-prior-weight 0 = the image energy alone) against the action taken and the direction to the final pose.
Writes per-step CSVs, one plot per recording (surprise over time with the worst frames and where in them the model was
surprised), summary.md, and a VERDICT line over all recordings. PASS needs, over the steps where the arm or gripper
moves: surprise below the no-change baseline (--max-surprise-ratio), clearly more surprise for the shuffled and zero
actions (--min-action-gain) and plans that head for the final pose (--min-goal-cosine); too little motion is
INCONCLUSIVE. Several recordings give a steadier verdict than one. Exit status: 0 PASS, 1 FAIL or INCONCLUSIVE, 2 a
recording could not be read.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from jepa_core.data import droid_format as fmt
from jepa_core.data.bag_to_droid import BagConversionError, ConversionConfig, convert_bag
from jepa_core.data.droid_dataset import clip_stride
from jepa_core.data.video import decode_frames
from jepa_core.planning.cem import CEMConfig
from jepa_core.planning.loading import WorldModelSpec, build_world_model
from jepa_core.planning.model_check import (
    VARIANTS,
    CheckConfig,
    EpisodeCheck,
    VerdictThresholds,
    check_episode,
    judge,
    merge_checks,
    moving_steps,
    planned_steps,
)
from jepa_core.planning.pose_prior import GoalPositionPrior, describe_prior
from jepa_core.planning.world_model import WorldModelConfig
from training.bag_to_droid import find_bags


@dataclass
class Recording:
    """One episode at the model's step rate: frames [T, H, W, 3] uint8, states [T, 7] and the source rows [T]."""

    name: str
    frames: np.ndarray
    states: np.ndarray
    rows: np.ndarray
    step_s: float  # seconds between consecutive frames


def find_recordings(paths: Sequence[Path]) -> list[Path]:
    """Bag folders and DROID episode folders given directly or found under the given folders (a folder holding both
    kinds gives its DROID episodes, which are usually the conversions of its bags; the bags are named as left out)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: expected a bag folder, a DROID episode folder or a folder of them")
        if (path / fmt.TRAJECTORY_FILE).is_file() or (path / "metadata.yaml").is_file():
            found.append(path)
            continue
        episodes = fmt.find_episodes([path])
        try:
            bags = find_bags([path])
        except FileNotFoundError:
            bags = []
        if not episodes and not bags:
            raise FileNotFoundError(f"{path}: no bag (metadata.yaml) or DROID episode ({fmt.TRAJECTORY_FILE}) under it")
        if episodes and bags:
            print(f"check_bag: {path}: checking its {len(episodes)} DROID episodes; its {len(bags)} bags are left out")
        found.extend(episodes or bags)
    return found


def unique_names(paths: Sequence[Path]) -> list[str]:
    """Output names of the recordings: folder names, with the parent folder prepended where two are alike."""
    names = [path.name for path in paths]
    return [f"{path.parent.name}_{path.name}" if names.count(path.name) > 1 else path.name for path in paths]


def read_episode(episode: Path, fps: float, name: str, source: Path) -> Recording:
    """Frames and states of a DROID episode folder every ceil(row_hz / fps) rows (the post-training clip stride);
    `source` (the bag or the episode) names the recording in errors."""
    trajectory = fmt.load_trajectory(episode)
    stride = clip_stride(trajectory.row_hz, fps)
    rows = np.arange(0, len(trajectory.states), stride)
    if len(rows) < 3:
        raise ValueError(
            f"{source}: {len(trajectory.states)} rows at {trajectory.row_hz} Hz give {len(rows)} frames at {fps} fps; "
            "the check needs at least 3"
        )
    frames = decode_frames(trajectory.video, rows)  # [T, H, W, 3]
    return Recording(name, frames, trajectory.states[rows], rows, stride / trajectory.row_hz)


def load_recording(path: Path, name: str, fps: float, conversion: ConversionConfig) -> Recording:
    """A DROID episode folder as is; a bag through the bag -> DROID conversion into a temporary folder."""
    if (path / fmt.TRAJECTORY_FILE).is_file():
        return read_episode(path, fps, name, path)
    with tempfile.TemporaryDirectory(prefix="check_bag_") as tmp:
        episode = convert_bag(path, Path(tmp), conversion)
        return read_episode(episode, fps, name, path)


def world_model_spec(args: argparse.Namespace) -> WorldModelSpec:
    """The checkpoint(s) on --device with the encoder checkpoint's goal-position prior: the planner's energy."""
    return WorldModelSpec(
        predictor_checkpoint=args.checkpoint,
        encoder_checkpoint=args.encoder_checkpoint,
        encoder_key=args.encoder_key,
        pose_prior_weight=args.pose_prior_weight,
        pose_prior_dead_zone=args.pose_prior_dead_zone,
        config=WorldModelConfig(device=args.device),
    )


def write_steps_csv(path: Path, recording: Recording, check: EpisodeCheck) -> Path:
    """One row per step: surprises, baseline, taken / planned actions, cosines, distance to the final pose."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["step", "row", *(f"surprise_{v}" for v in VARIANTS), "no_change", "taken_dx", "taken_dy", "taken_dz",
             "taken_dgripper", "planned_dx", "planned_dy", "planned_dz", "planned_dgripper", "plan_energy",
             "cos_plan_taken", "cos_plan_final", "final_distance_m"]
        )  # fmt: skip
        for t in range(check.steps):
            writer.writerow(
                [t, int(recording.rows[t]), *(f"{check.surprise[v][t]:.5f}" for v in VARIANTS),
                 f"{check.no_change[t]:.5f}", *(f"{x:.4f}" for x in check.taken[t, [0, 1, 2, 6]]),
                 *(f"{x:.4f}" for x in check.planned[t, [0, 1, 2, 6]]), f"{check.plan_energy[t]:.5f}",
                 f"{check.cos_taken[t]:.3f}", f"{check.cos_goal[t]:.3f}", f"{np.linalg.norm(check.to_goal[t]):.4f}"]
            )  # fmt: skip
    return path


def worst_steps(check: EpisodeCheck, count: int) -> np.ndarray:
    """Indices of the `count` steps with the highest recorded-action surprise, in time order."""
    return np.sort(np.argsort(check.surprise["recorded"])[::-1][:count])


def plot_check(path: Path, recording: Recording, check: EpisodeCheck, config: CheckConfig, worst: int) -> Path:
    """Surprise over time (recorded / shuffled / zero action, no-change baseline), planner agreement, and the worst
    steps: frame t, and frame t+1 with the per-patch surprise over it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    verdict = judge(check, config)
    chosen = worst_steps(check, worst)
    columns = max(len(chosen), 1)
    fig = plt.figure(figsize=(2.4 * max(columns, 4), 9), dpi=80)
    grid = fig.add_gridspec(4, columns, height_ratios=[1.3, 0.8, 1.1, 1.1])
    seconds = np.arange(check.steps) * recording.step_s
    ax = fig.add_subplot(grid[0, :])
    styles = {"recorded": ("tab:blue", "-"), "shuffled": ("tab:orange", "--"), "zero": ("tab:red", ":")}
    for variant, (color, style) in styles.items():
        ax.plot(seconds, check.surprise[variant], style, color=color, label=f"{variant} action")
    ax.plot(seconds, check.no_change, color="grey", alpha=0.7, label="no-change baseline")
    for t in np.flatnonzero(~moving_steps(check, config)):  # left out of the verdict
        ax.axvspan(seconds[t] - recording.step_s / 2, seconds[t] + recording.step_s / 2, color="grey", alpha=0.15)
    ax.scatter(seconds[chosen], check.surprise["recorded"][chosen], color="black", zorder=3, label="worst steps")
    ax.set_ylabel("surprise (L1)")
    ax.set_ylim(bottom=0)
    ax.set_title(
        f"{recording.name} {verdict.status}: surprise {verdict.surprise_ratio:.2f}x no-change, shuffled action "
        f"{verdict.action_gain['shuffled']:.2f}x, zero action {verdict.action_gain['zero']:.2f}x (grey: still steps)",
        fontsize=10,
    )
    ax.legend(fontsize=7, ncol=5, loc="upper right")
    ax2 = fig.add_subplot(grid[1, :], sharex=ax)
    ax2.plot(seconds, check.cos_goal, "o-", color="tab:green", label="plan vs final-pose direction")
    ax2.plot(seconds, check.cos_taken, "s--", color="tab:purple", alpha=0.7, label="plan vs taken action")
    ax2.axhline(0, color="black", linewidth=0.5)
    ax2.set_ylim(-1.05, 1.05)
    ax2.set_ylabel("cosine (xyz)")
    ax2.set_xlabel("time (s)")
    ax2.legend(fontsize=7, ncol=2, loc="lower left")
    for column, t in enumerate(chosen):
        before, after = fig.add_subplot(grid[2, column]), fig.add_subplot(grid[3, column])
        before.imshow(recording.frames[t])
        before.set_title(f"t={seconds[t]:.2f}s  {check.surprise['recorded'][t]:.3f}", fontsize=8)
        after.imshow(recording.frames[t + 1])
        height, width = recording.frames[t + 1].shape[:2]
        after.imshow(check.token_surprise[t], cmap="magma", alpha=0.45, extent=(0, width, height, 0))
        after.set_title("next frame (bright: surprised)", fontsize=8)
        for image_axis in (before, after):
            image_axis.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def summary_table(rows: list[tuple[str, EpisodeCheck]], config: CheckConfig) -> str:
    """Markdown table: one line per recording and one over all of them (means over the moving steps, as the verdict)."""
    lines = [
        "| recording | steps | moving | surprise | shuffled | zero | no-change | surprise/no-change | plans "
        "| plan-final cos | plan-taken cos | planning s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, check in rows:
        verdict = judge(check, config)
        lines.append(
            f"| {name} | {check.steps} | {verdict.judged_steps} | {verdict.surprise['recorded']:.3f} "
            f"| {verdict.surprise['shuffled']:.3f} | {verdict.surprise['zero']:.3f} | {verdict.no_change:.3f} "
            f"| {verdict.surprise_ratio:.2f} | {verdict.judged_plans} | {verdict.cos_goal:.2f} "
            f"| {verdict.cos_taken:.2f} | {check.planning_s:.1f} |"
        )
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    defaults, limits = CheckConfig(), VerdictThresholds()
    parser = argparse.ArgumentParser(
        prog="python -m training.check_bag", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("recordings", nargs="+", type=Path, help="bag folders, DROID episode folders, or folders holding them")
    add("--checkpoint", type=Path, required=True, help="AC checkpoint (predictor, and the encoder unless given)")
    add("--encoder-checkpoint", type=Path, help="encoder from another file (default: --checkpoint)")
    add("--encoder-key", default="target_encoder", help="checkpoint key of the encoder ('encoder' for Meta's AC file)")
    add("--out", type=Path, default=Path("runs/check_bag"), help="output folder (default: %(default)s)")
    add("--fps", type=float, default=4.0, help="model steps per second: frames are taken every ceil(row_hz/fps) rows")
    add("--device", default="cpu", help="torch device (default: %(default)s)")
    add("--pose-prior-weight", type=float, default=GoalPositionPrior.weight, help="goal-position prior, per m; 0 = off")
    add("--pose-prior-dead-zone", type=float, default=GoalPositionPrior.dead_zone, help="no prior pull within this, m")
    add("--cpu-threads", type=int, default=1, help="torch CPU threads, 0 = torch default (default: %(default)s)")
    add("--samples", type=int, default=defaults.cem.samples, help="CEM samples (default: %(default)s)")
    add("--iterations", type=int, default=defaults.cem.iterations, help="CEM iterations (default: %(default)s)")
    add("--top-k", type=int, default=defaults.cem.top_k, help="CEM elites (default: %(default)s)")
    add("--max-translation", type=float, default=defaults.cem.max_translation, help="per-axis |dxyz| bound, m")
    add("--plan-every", type=int, default=defaults.plan_every, help="plan at every n-th step; 0 = no planning")
    add("--seed", type=int, default=defaults.seed, help="seed of the action shuffle and the CEM draws")
    add("--worst", type=int, default=4, help="worst steps shown in each plot (default: %(default)s)")
    add("--image-topic", action="append", help="bags: camera topic(s), the first defines the rows")
    add("--max-surprise-ratio", type=float, default=limits.max_surprise_ratio, help="PASS: surprise/no-change below")
    add("--min-action-gain", type=float, default=limits.min_action_gain, help="PASS: shuffled, zero / recorded above")
    add("--min-goal-cosine", type=float, default=limits.min_goal_cosine, help="PASS: plan-final cosine above")
    return parser.parse_args(argv)


def check_config(args: argparse.Namespace) -> CheckConfig:
    """The check's settings from the command line."""
    cem = CEMConfig(
        samples=args.samples, top_k=args.top_k, iterations=args.iterations, max_translation=args.max_translation
    )
    limits = VerdictThresholds(
        max_surprise_ratio=args.max_surprise_ratio,
        min_action_gain=args.min_action_gain,
        min_goal_cosine=args.min_goal_cosine,
    )
    return CheckConfig(cem=cem, plan_every=args.plan_every, seed=args.seed, thresholds=limits)


def main(argv: Sequence[str] | None = None) -> int:
    """Check every recording, write CSVs, plots and summary.md, print the table and the verdict; exit 1 unless PASS."""
    args = parse_args(argv)
    if args.cpu_threads:
        torch.set_num_threads(args.cpu_threads)
    start = time.perf_counter()
    config = check_config(args)
    conversion = ConversionConfig(image_topics=tuple(args.image_topic or ConversionConfig.image_topics))
    try:
        recordings = find_recordings(args.recordings)  # a wrong path fails before the checkpoint is loaded
    except FileNotFoundError as error:
        print(f"check_bag: {error}", file=sys.stderr)
        return 2
    world_model = build_world_model(world_model_spec(args))
    print(f"check_bag: goal-position prior {describe_prior(world_model.goal_prior, args.pose_prior_weight)}")
    args.out.mkdir(parents=True, exist_ok=True)
    results: list[tuple[str, EpisodeCheck]] = []
    names = unique_names(recordings)
    for path, name in zip(tqdm(recordings, desc="check_bag", unit="recording"), names, strict=True):
        try:
            recording = load_recording(path, name, args.fps, conversion)
        except (BagConversionError, ValueError) as error:
            print(f"check_bag: cannot read {path}: {error}", file=sys.stderr)
            return 2
        total = planned_steps(len(recording.frames) - 1, config)
        steps = tqdm(total=total, desc=f"  plan {recording.name}", unit="step", leave=False)
        check = check_episode(world_model, recording.frames, recording.states, config, progress=steps.update)
        steps.close()
        write_steps_csv(args.out / f"{recording.name}_steps.csv", recording, check)
        plot_check(args.out / f"{recording.name}.png", recording, check, config, args.worst)
        results.append((recording.name, check))
    if len(results) > 1:
        results.append(("all", merge_checks([check for _, check in results])))
    verdict = judge(results[-1][1], config)
    table = summary_table(results, config)
    (args.out / "summary.md").write_text(f"{table}\n{verdict.line}\n")
    print(table, end="")
    print(f"check_bag: {len(recordings)} recording(s) in {time.perf_counter() - start:.1f} s -> {args.out}")
    print(verdict.line)
    return 0 if verdict.status == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
