"""What `make demo` leaves behind per episode: a GIF of the camera next to the goal, a plot, and the summary table.

ROS-free: the demo (jepa_bringup.demo) records plain numbers and RGB frames into `EpisodeRecord`s and hands them here.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator
from PIL import Image, ImageDraw

matplotlib.use("Agg")  # files only, never a window

CAPTION_HEIGHT = 18  # px of the text strip above each GIF frame
MIN_GIF_HEIGHT = 192  # smaller camera images are enlarged (nearest) so the captions fit beside each other
GIF_FRAME_MS = 400  # display time of one control step in the GIF
GIF_LAST_FRAME_MS = 2000  # the final frame stays up a little longer


@dataclass
class EpisodeRecord:
    """One demo episode: its setup, the per-step series and how it ended."""

    index: int
    task: str
    seed: int
    tolerance_m: float = math.nan  # success threshold on distance (task_status.tolerance)
    energies: list[float] = field(default_factory=list)  # plan energy per control step (action feedback)
    best_energies: list[float] = field(default_factory=list)  # lowest energy so far, per step
    planning_times_s: list[float] = field(default_factory=list)  # CEM wall time per step
    distances_m: list[float] = field(default_factory=list)  # task distance per observation (reset first)
    success: bool = False  # the simulator's task_status reported success during the episode
    first_success_step: int | None = None  # first observation index (0 = start) whose task_status said success
    steps: int = 0  # control steps executed (action result)
    outcome: str = ""  # planner outcome name (SUCCEEDED, MAX_STEPS, CANCELED, ...)
    reason: str = ""  # planner's explanation of the outcome
    wall_time_s: float = 0.0  # reset to final observation
    subgoal_names: list[str] = field(default_factory=list)  # the goal sequence sent ([] = one goal image)
    subgoal_indices: list[int] = field(default_factory=list)  # per control step: the sub-goal it planned towards

    @property
    def final_distance_m(self) -> float:
        """Distance to the goal at the end (NaN when no task_status arrived)."""
        return self.distances_m[-1] if self.distances_m else math.nan

    @property
    def final_subgoal(self) -> str:
        """Name of the sub-goal active at the last step ("" for a single goal or before any step)."""
        if not self.subgoal_names or not self.subgoal_indices:
            return ""
        return self.subgoal_names[self.subgoal_indices[-1]]

    def frame_subgoal(self, index: int) -> int:
        """Sub-goal shown beside observation `index`: the one its step planned towards (the first for the start)."""
        if index == 0 or not self.subgoal_indices:
            return 0
        return self.subgoal_indices[min(index, len(self.subgoal_indices)) - 1]

    @property
    def name(self) -> str:
        """File stem of this episode's outputs."""
        return f"episode_{self.index:02d}_{self.task}_seed{self.seed}"


def side_by_side(frame: np.ndarray, goal: np.ndarray, caption: str, goal_caption: str = "goal") -> Image.Image:
    """One GIF frame: camera [H, W, 3] | goal [H', W', 3] (resized to H) under a caption strip."""
    camera = Image.fromarray(frame)
    if camera.height < MIN_GIF_HEIGHT:
        scale = math.ceil(MIN_GIF_HEIGHT / camera.height)
        camera = camera.resize((camera.width * scale, camera.height * scale), Image.Resampling.NEAREST)
    goal_image = Image.fromarray(goal)
    if goal_image.height != camera.height:
        width = round(goal_image.width * camera.height / goal_image.height)
        goal_image = goal_image.resize((width, camera.height), Image.Resampling.BILINEAR)
    canvas = Image.new("RGB", (camera.width + goal_image.width, camera.height + CAPTION_HEIGHT), "white")
    canvas.paste(camera, (0, CAPTION_HEIGHT))
    canvas.paste(goal_image, (camera.width, CAPTION_HEIGHT))
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 3), caption, fill="black")
    draw.text((camera.width + 4, 3), goal_caption, fill="black")
    return canvas


def frame_caption(record: EpisodeRecord, index: int) -> str:
    """Caption of observation `index`: step number and, when known, distance to the goal."""
    text = "start" if index == 0 else f"step {index}"
    if index < len(record.distances_m):
        text += f"  {100 * record.distances_m[index]:.1f} cm"
    return text


def write_gif(path: Path, frames: list[np.ndarray], goals: np.ndarray | Sequence[np.ndarray], record: EpisodeRecord):
    """Animated GIF of the camera frames (one per observation) beside the goal image, or beside the sub-goal image
    each step planned towards when `goals` is the sequence (one image per `record.subgoal_names` entry)."""
    if not frames:
        raise ValueError(f"{path}: no camera frames were received for {record.name}")
    goals = [goals] if isinstance(goals, np.ndarray) else list(goals)
    names = record.subgoal_names
    if len(goals) != max(1, len(names)):
        raise ValueError(f"{path}: {len(goals)} goal image(s) for the sub-goals {names}")
    images = []
    for i, frame in enumerate(frames):
        active = record.frame_subgoal(i)
        label = f"goal {active + 1}/{len(names)}: {names[active]}" if names else "goal"
        images.append(side_by_side(frame, goals[active], frame_caption(record, i), label))
    durations = [GIF_FRAME_MS] * (len(images) - 1) + [GIF_LAST_FRAME_MS]
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0, optimize=True)


def write_plot(path: Path, record: EpisodeRecord, start: np.ndarray, end: np.ndarray, goal: np.ndarray) -> None:
    """PNG: start / final / goal images on top; energy per step and distance to the goal below."""
    figure = plt.figure(figsize=(9.0, 6.0), dpi=80)
    grid = figure.add_gridspec(2, 3, height_ratios=(1.0, 1.1))
    for column, (image, title) in enumerate(((start, "start"), (end, "final"), (goal, "goal image"))):
        axis = figure.add_subplot(grid[0, column])
        axis.imshow(image)
        axis.set_title(title, fontsize=10)
        axis.axis("off")
    energy_axis = figure.add_subplot(grid[1, :2])
    steps = np.arange(1, len(record.energies) + 1)
    energy_axis.plot(steps, record.energies, "o-", label="plan energy")
    energy_axis.plot(steps, record.best_energies, "--", color="grey", label="best so far")
    for step, (before, after) in enumerate(itertools.pairwise(record.subgoal_indices), start=2):
        if after != before:  # the step that first planned towards the next sub-goal
            energy_axis.axvline(step - 0.5, color="C1", linestyle=":")
            energy_axis.annotate(record.subgoal_names[after], (step - 0.5, 1.0), xycoords=("data", "axes fraction"),
                                 fontsize=8, color="C1", ha="left", va="top")  # fmt: skip
    energy_axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    energy_axis.set_xlabel("control step")
    energy_axis.set_ylabel("energy (mean L1 to goal)")
    energy_axis.grid(alpha=0.3)
    energy_axis.legend(fontsize=8)
    distance_axis = figure.add_subplot(grid[1, 2])
    distance_axis.plot(np.arange(len(record.distances_m)), 100 * np.asarray(record.distances_m), "o-", color="C2")
    if math.isfinite(record.tolerance_m):
        distance_axis.axhline(100 * record.tolerance_m, color="C3", linestyle=":", label="success")
        distance_axis.legend(fontsize=8)
    distance_axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    distance_axis.set_xlabel("control step (0 = start)")
    distance_axis.set_ylabel("distance to goal (cm)")
    distance_axis.grid(alpha=0.3)
    verdict = "success" if record.success else "failure"
    figure.suptitle(
        f"{record.task}, seed {record.seed}: {verdict} after {record.steps} steps, "
        f"final distance {100 * record.final_distance_m:.1f} cm"
    )
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


@dataclass(frozen=True)
class Summary:
    """Aggregate of a demo run."""

    task: str
    episodes: int
    successes: int
    mean_steps: float
    mean_final_distance_m: float
    mean_planning_time_s: float
    wall_time_s: float

    @property
    def success_rate(self) -> float:
        """Fraction of episodes the simulator judged successful."""
        return self.successes / self.episodes if self.episodes else 0.0

    def line(self) -> str:
        """The one-line result printed at the end of the demo."""
        return (
            f"demo summary: {self.task} {self.successes}/{self.episodes} episodes succeeded "
            f"({100 * self.success_rate:.0f}%), mean {self.mean_steps:.1f} steps, mean final distance "
            f"{100 * self.mean_final_distance_m:.1f} cm, {self.mean_planning_time_s:.2f} s planning per step, "
            f"{self.wall_time_s:.0f} s in total"
        )


def summarize(task: str, records: list[EpisodeRecord], wall_time_s: float) -> Summary:
    """Success count and means over the episodes."""
    planning = [t for record in records for t in record.planning_times_s]
    return Summary(
        task=task,
        episodes=len(records),
        successes=sum(record.success for record in records),
        mean_steps=float(np.mean([r.steps for r in records])) if records else math.nan,
        mean_final_distance_m=float(np.nanmean([r.final_distance_m for r in records])) if records else math.nan,
        mean_planning_time_s=float(np.mean(planning)) if planning else math.nan,
        wall_time_s=wall_time_s,
    )


def markdown_table(records: list[EpisodeRecord], summary: Summary, header_lines: list[str]) -> str:
    """Summary table (markdown): one row per episode, the setup above it and the summary line below."""
    lines = ["# Demo run", "", *header_lines, ""]
    lines += [
        "| episode | task | seed | success | reached at step | steps | final distance (cm) | first energy | "
        "last energy | planner outcome | time (s) | GIF | plot | final sub-goal |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        first, last = (f"{r.energies[0]:.4f}", f"{r.energies[-1]:.4f}") if r.energies else ("-", "-")
        lines.append(
            f"| {r.index} | {r.task} | {r.seed} | {'yes' if r.success else 'no'} | "
            f"{'-' if r.first_success_step is None else r.first_success_step} | {r.steps} | "
            f"{100 * r.final_distance_m:.1f} | {first} | {last} | {r.outcome} | {r.wall_time_s:.1f} | "
            f"[gif]({r.name}.gif) | [png]({r.name}.png) | {r.final_subgoal or '-'} |"
        )
    lines += ["", f"**{summary.line()}**", ""]
    return "\n".join(lines)


def write_summary(output: Path, records: list[EpisodeRecord], summary: Summary, header_lines: list[str]) -> None:
    """summary.md (for people) and summary.json (for scripts and tests) in the output folder."""
    (output / "summary.md").write_text(markdown_table(records, summary, header_lines))
    document = {
        "summary": asdict(summary) | {"success_rate": summary.success_rate},
        "setup": header_lines,
        "episodes": [asdict(r) | {"final_distance_m": r.final_distance_m, "name": r.name} for r in records],
    }
    (output / "summary.json").write_text(json.dumps(document, indent=2, allow_nan=True) + "\n")
