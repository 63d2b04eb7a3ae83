"""Scripted exploration in the ROS-free simulator, written straight to DROID-format episodes (no ROS, no bags).

    scripts/run.sh python -m training.sim_episodes --out data/sim_droid --episodes 200 --steps 40

One row per control step (`--control-period`, 0.25 s = 4 Hz, recorded as the metadata `row_hz`), so clips at 4 fps
use every row. `--policy play` (default) is `jepa_sim.scripted.PlayPolicy`: noisy approach / descend / close / lift /
carry / lower-or-drop / open sequences on the cube and the cup (successful and failed grasps, drops, re-grasps), random
waypoints and idle gripper toggles, per-axis steps up to `--max-translation` (the planner's CEM bound).
`--policy waypoints` is the reach-only exploration the earlier `sim_reach.pt` was trained on: random waypoints plus
random gripper commands. Each episode's metadata records the fraction of rows with an object in hand, lifted and
moving; the summary reports them over the whole output folder. `--views exterior wrist` records one MP4 per camera
(DROID's `ext1_mp4_path` / `left_mp4_path` and `wrist_mp4_path`, per-row extrinsics of each); `--scene-variations
train` draws each episode's appearance from the training set of `jepa_sim.variations` (the held-out set is for
evaluation).
Files are written with `jepa_core.data` (`write_trajectory`, `write_mp4`); `training.collect_sim` is the full
record -> bag -> DROID path of the same idea.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm import tqdm

from jepa_core.data import droid_format as fmt
from jepa_core.data.bag_to_droid import clean_stale_temporaries, publish_folder, temporary_name
from jepa_core.data.video import VideoEncoding, write_mp4
from jepa_sim.env import FrankaSimEnv, Observation, SimConfig
from jepa_sim.scene import CAMERA_NAME, CAMERAS, OBJECTS, WRIST_CAMERA_NAME, CameraName, ViewName
from jepa_sim.scripted import PlayConfig, PlayPolicy, in_hand, lifted
from jepa_sim.variations import VariationSet
from training.common.config import parse_config

MIX_KEYS = ("in_hand", "lifted", "moved")  # per-row flags of the manipulation mix
MOVED_M = 0.005  # an object counts as moving when it shifted more than this since the previous row


@dataclass(frozen=True)
class ExplorationConfig:
    """Where, how many and how the exploration episodes move."""

    out: Path = field(default=Path("data/sim_droid"), metadata={"help": "output root of the DROID episodes"})
    episodes: int = field(default=200, metadata={"help": "episodes to write"})
    steps: int = field(default=40, metadata={"help": "control steps per episode (rows = steps + 1)"})
    first_seed: int = field(default=100000, metadata={"help": "seed of the first episode (evaluation uses 0..)"})
    task: str = field(default="reach", metadata={"help": "task whose reset (start pose, objects) episodes start from"})
    policy: Literal["play", "waypoints"] = field(
        default="play", metadata={"help": "play = manipulation mix (PlayPolicy); waypoints = reach-only exploration"}
    )
    render_size: int = field(default=256, metadata={"help": "square camera image side, px"})
    camera: CameraName = field(default="exterior", metadata={"help": "named simulator camera (jepa_sim.scene.CAMERAS)"})
    views: tuple[ViewName, ...] = field(default=(CAMERA_NAME,), metadata={"help": "cameras recorded, one MP4 each"})
    scene_variations: VariationSet = field(
        default="none", metadata={"help": "appearance set drawn per episode seed (none, train; heldout is for eval)"}
    )
    control_period: float = field(default=0.25, metadata={"help": "seconds per step = 1 / row rate"})
    max_translation: float = field(default=0.075, metadata={"help": "per-axis step bound, m"})
    noise: float = field(default=0.04, metadata={"help": "uniform per-axis noise added to the waypoint step, m"})
    waypoint_gain: float = field(default=0.5, metadata={"help": "waypoints: fraction of the offset moved per step"})
    waypoint_steps: tuple[int, int] = field(default=(4, 10), metadata={"help": "steps between new waypoints"})
    waypoint_min: tuple[float, float, float] = field(default=(0.3, -0.3, 0.18), metadata={"help": "waypoint box min"})
    waypoint_max: tuple[float, float, float] = field(default=(0.7, 0.3, 0.6), metadata={"help": "waypoint box max"})
    gripper_change_prob: float = field(default=0.1, metadata={"help": "chance per step of a new gripper command"})
    overwrite: bool = field(default=False, metadata={"help": "replace existing episode folders"})


class ExplorationPolicy:
    """Reach-only waypoint-seeking random steps: clip(gain * (waypoint - xyz) + noise), occasional gripper changes."""

    def __init__(self, config: ExplorationConfig, rng: np.random.Generator):
        self.config = config
        self.rng = rng
        self.waypoint = np.zeros(3)
        self.steps_left = 0
        self.gripper = 0.0

    def action(self, state: np.ndarray) -> np.ndarray:
        """[7] DROID action for the current state [7]: xyz step, no rotation, gripper delta to the command."""
        cfg = self.config
        if self.steps_left <= 0:
            self.waypoint = self.rng.uniform(cfg.waypoint_min, cfg.waypoint_max)
            self.steps_left = int(self.rng.integers(cfg.waypoint_steps[0], cfg.waypoint_steps[1] + 1))
        self.steps_left -= 1
        step = cfg.waypoint_gain * (self.waypoint - state[:3]) + self.rng.uniform(-cfg.noise, cfg.noise, 3)
        if self.rng.random() < cfg.gripper_change_prob:
            self.gripper = float(self.rng.choice([0.0, 1.0, self.rng.uniform()]))
        action = np.zeros(7)
        action[:3] = np.clip(step, -cfg.max_translation, cfg.max_translation)
        action[6] = self.gripper - state[6]
        return action


def mix_flags(obs: Observation, previous: Observation | None) -> tuple[bool, bool, bool]:
    """(an object in hand, an object lifted, an object moved since the previous row) for one row."""
    flange = obs.ee_state[:3]
    held = any(in_hand(p, OBJECTS[name], flange) for name, p in obs.object_positions.items())
    up = any(lifted(p, OBJECTS[name]) for name, p in obs.object_positions.items())
    moved = previous is not None and any(
        np.linalg.norm(p - previous.object_positions[name]) > MOVED_M for name, p in obs.object_positions.items()
    )
    return held, up, moved


def make_policy(config: ExplorationConfig, obs: Observation, rng: np.random.Generator):
    """Callable observation -> target state [7] of the configured exploration policy."""
    if config.policy == "play":
        play_config = PlayConfig(max_speed=config.max_translation / config.control_period)
        play = PlayPolicy(obs.ee_state, obs.object_positions, config.control_period, rng, play_config)
        return lambda o: play.act(o.ee_state, o.object_positions)
    waypoints = ExplorationPolicy(config, rng)

    def waypoint_target(o: Observation) -> np.ndarray:
        action = waypoints.action(o.ee_state)
        target = o.ee_state.copy()
        target[:3] += action[:3]
        target[6] = np.clip(target[6] + action[6], 0.0, 1.0)
        return target

    return waypoint_target


def serial_of(view: str) -> str:
    """Camera serial (MP4 file name) of a simulator view."""
    return f"sim_{view}"


def record_episode(env: FrankaSimEnv, config: ExplorationConfig, seed: int) -> dict:
    """Run one exploration episode; returns per view its frames and camera poses, and per row the states, joints,
    commanded targets and mix flags."""
    rng = np.random.default_rng(seed)
    obs = env.reset(config.task, seed)
    policy = make_policy(config, obs, rng)
    views = config.views
    frames = {view: [obs.views[view]] for view in views}
    extrinsics = {view: [env.camera_extrinsics(view)] for view in views}  # [6] DROID optical-frame pose, base frame
    states, joints, commands = [obs.ee_state], [obs.joint_positions], []
    flags = [mix_flags(obs, None)]
    for _ in range(config.steps):
        target = policy(obs)
        commands.append(target)
        previous, obs = obs, env.step(target)
        for view in views:
            frames[view].append(obs.views[view])
            extrinsics[view].append(env.camera_extrinsics(view))
        states.append(obs.ee_state)
        joints.append(obs.joint_positions)
        flags.append(mix_flags(obs, previous))
    commands.append(states[-1].copy())  # no command after the last row: hold
    return {
        "frames": frames,  # view -> [rows] of [H, W, 3]
        "extrinsics": {view: np.stack(poses) for view, poses in extrinsics.items()},  # view -> [rows, 6]
        "states": np.stack(states),
        "joints": np.stack(joints),
        "commands": np.stack(commands),
        "mix": dict(zip(MIX_KEYS, np.asarray(flags, dtype=bool).T, strict=True)),  # key -> [rows] bool
        "variation": None if env.variation is None else asdict(env.variation),
    }


def write_episode(folder: Path, episode: dict, config: ExplorationConfig, seed: int) -> None:
    """Lay out one episode in the raw DROID format (trajectory.h5, MP4, metadata JSON) atomically."""
    tmp = folder.parent / temporary_name(folder.name)  # matched by its own name, cleaned if this process dies
    (tmp / fmt.MP4_DIR).mkdir(parents=True)
    rows = len(episode["states"])
    row_hz = 1.0 / config.control_period
    stamps = (np.arange(rows) * config.control_period * 1e9).astype(np.int64)
    video = VideoEncoding(fps=max(1, round(row_hz)))
    states, commands = episode["states"], episode["commands"]
    datasets = {
        fmt.CARTESIAN_POSITION: states[:, :6],
        fmt.GRIPPER_POSITION: states[:, 6],
        fmt.JOINT_POSITIONS: episode["joints"],
        fmt.ACTION_CARTESIAN_POSITION: commands[:, :6],
        fmt.ACTION_GRIPPER_POSITION: commands[:, 6],
        fmt.ROBOT_TIMESTAMP_NS: stamps,
        fmt.CONTROL_STEP_START_NS: stamps,
    }
    for view, frames in episode["frames"].items():
        serial = serial_of(view)
        written = write_mp4(tmp / fmt.mp4_relative_path(serial), frames, video)
        if written != rows:
            raise RuntimeError(f"{folder}: wrote {written} {view} frames for {rows} rows")
        datasets[fmt.camera_timestamp_key(serial)] = stamps
        datasets[fmt.extrinsics_key(serial)] = episode["extrinsics"][view]
    fmt.write_trajectory(tmp / fmt.TRAJECTORY_FILE, datasets)
    exterior = [serial_of(view) for view in config.views if view != WRIST_CAMERA_NAME]
    wrist = serial_of(WRIST_CAMERA_NAME) if WRIST_CAMERA_NAME in config.views else None
    episode_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"jepa-ros:sim:{folder.name}"))
    metadata = {
        "uuid": episode_uuid,
        "episode": folder.name,
        "trajectory_length": rows,
        "hdf5_path": fmt.TRAJECTORY_FILE,
        **fmt.camera_metadata(exterior, wrist),  # one exterior camera: right = left (the official loader needs both)
        fmt.ROW_HZ_KEY: row_hz,
        "mp4_fps": video.fps,
        "mp4_codec": video.codec,
        "timestamp_unit": "ns",
        "extrinsics_known": True,
        "action_semantics": "commanded target pose executed between this row and the next",
        "current_task": f"{config.policy} exploration ({config.task} reset)",
        "seed": seed,
        "sim_camera": config.camera,  # jepa_sim.scene.CAMERAS name: evaluate with the same camera
        "sim_views": list(config.views),
        "scene_variation": episode["variation"],  # jepa_sim.variations.SceneVariation fields, None = unvaried
        "mix_fractions": {key: float(np.mean(flags)) for key, flags in episode["mix"].items()},
    }
    (tmp / f"metadata_{episode_uuid}.json").write_text(json.dumps(metadata, indent=2))
    publish_folder(tmp, folder)


def mix_summary(root: Path) -> dict[str, float]:
    """Row-weighted fractions of the manipulation mix over every episode under `root` (from their metadata)."""
    totals = dict.fromkeys(MIX_KEYS, 0.0)
    rows = 0
    for path in sorted(root.glob("*/metadata_*.json")):
        metadata = json.loads(path.read_text())
        fractions = metadata.get("mix_fractions")
        if fractions is None:
            continue
        length = int(metadata["trajectory_length"])
        rows += length
        for key in MIX_KEYS:
            totals[key] += fractions[key] * length
    return {key: value / rows for key, value in totals.items()} if rows else {}


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_config(ExplorationConfig, argv, __doc__)
    sim_config = SimConfig(
        render_size=(config.render_size, config.render_size),
        camera=CAMERAS[config.camera],
        views=config.views,
        scene_variations=config.scene_variations,
        control_period=config.control_period,
    )
    env = FrankaSimEnv(sim_config)
    config.out.mkdir(parents=True, exist_ok=True)
    for stale in clean_stale_temporaries(config.out):  # half-written episodes of a killed run
        print(f"sim_episodes: removed {stale.name} (left by a run that died)")
    start, written, skipped = time.perf_counter(), 0, 0
    try:
        for number in tqdm(range(config.episodes), desc="sim episodes"):
            seed = config.first_seed + number
            folder = config.out / f"sim_{config.task}_{seed:07d}"
            if folder.exists() and not config.overwrite:
                skipped += 1
                continue
            write_episode(folder, record_episode(env, config, seed), config, seed)
            written += 1
    finally:
        env.close()
    print(
        f"sim_episodes: wrote {written} episode(s) of {config.steps + 1} rows to {config.out} "
        f"({skipped} existing skipped) in {time.perf_counter() - start:.1f} s"
    )
    mix = mix_summary(config.out)
    if mix:
        print("  data mix (fraction of rows): " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in mix.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
