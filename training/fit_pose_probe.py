"""Fit the goal-position probe of a checkpoint: flange xyz read from its encoder's frame tokens by a small MLP.

    scripts/run.sh python -m training.fit_pose_probe --checkpoint models/sim_manip.pt --data data/sim_play

Encodes every row of the DROID episodes under `--data` with the checkpoint's encoder (as planning does: each frame
alone, the checkpoint's camera views tiled, normalised tokens), measures the read-out of the recorded flange position
(`cartesian_position[:3]`) on the last `--holdout` fraction of the episodes after training on the rest, then trains on
all episodes and stores the probe under
`pose_probe` (plus `pose_probe_info`: settings, frames, held-out errors) in `--out` (default: the checkpoint itself,
rewritten atomically; every other key is kept). The planner uses it as a goal-position prior
(`jepa_core.planning.pose_prior`); official loaders ignore the extra keys. On a user's robot, fit it on their own
recorded episodes: it is specific to the camera placement.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from jepa_core.checkpoints import load_camera_views, load_encoder, read_checkpoint, write_checkpoint
from jepa_core.planning.pose_prior import DEFAULT_HIDDEN, POSITION_DIMS, PROBE_KEY, PoseProbe
from training.ac_clips import EncodedEpisode, encode_episodes, frozen_encoder_fn
from training.common.config import parse_config


@dataclass(frozen=True)
class FitPoseProbeConfig:
    """Checkpoint, data and training settings of the probe."""

    checkpoint: Path = field(default=Path("models/sim_manip.pt"), metadata={"help": "checkpoint with the encoder"})
    encoder_key: str = field(default="target_encoder", metadata={"help": "checkpoint key of the encoder"})
    data: tuple[Path, ...] = field(default=(Path("data/sim_play"),), metadata={"help": "DROID episode roots"})
    out: Path | None = field(default=None, metadata={"help": "write here (default: the checkpoint, in place)"})
    hidden: int = field(default=DEFAULT_HIDDEN, metadata={"help": "width of the probe MLP's two hidden layers"})
    steps: int = field(default=4000, metadata={"help": "AdamW steps (one-cycle learning rate)"})
    batch_size: int = field(default=256, metadata={"help": "frames per step"})
    lr: float = field(default=1e-3, metadata={"help": "peak learning rate"})
    weight_decay: float = field(default=1e-2, metadata={"help": "AdamW weight decay"})
    seed: int = field(default=0, metadata={"help": "seed of the initialisation and the batches"})
    holdout: float = field(default=0.15, metadata={"help": "fraction of episodes (the last) held out to measure"})
    fps: float = field(default=4.0, metadata={"help": "rows read per second of recording"})
    cpu_threads: int = field(default=0, metadata={"help": "torch CPU threads (0 = torch default)"})

    def __post_init__(self) -> None:
        """Reject settings that cannot work, naming the field."""
        if not 0.0 < self.holdout < 1.0:
            raise ValueError(f"holdout: expected a fraction in (0, 1), got {self.holdout}")
        for name in ("hidden", "steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr: expected > 0, got {self.lr}")


def stack(episodes: list[EncodedEpisode]) -> tuple[torch.Tensor, torch.Tensor]:
    """Every row's representation [M, N, D] (float32) and flange position [M, 3] of `episodes`."""
    reps = torch.cat([episode.reps.float() for episode in episodes])
    positions = torch.from_numpy(np.concatenate([episode.states[:, :POSITION_DIMS] for episode in episodes]))
    return reps, positions.float()


def train_probe(reps: torch.Tensor, positions: torch.Tensor, config: FitPoseProbeConfig) -> PoseProbe:
    """Train a PoseProbe on frames reps [M, N, D] and their flange positions [M, 3] (MSE on standardised positions)."""
    if reps.shape[0] < 2:
        raise ValueError(f"pose probe: needs at least 2 frames, got {reps.shape[0]}")
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    probe = PoseProbe(reps.shape[1], reps.shape[2], config.hidden)
    features = reps.reshape(reps.shape[0], -1).float()  # [M, N*D]
    probe.feature_mean.copy_(features.mean(0))
    probe.position_mean.copy_(positions.mean(0))
    probe.position_std.copy_(positions.std(0).clamp_min(1e-3))
    targets = (positions - probe.position_mean) / probe.position_std  # [M, 3]
    optimizer = torch.optim.AdamW(probe.net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=config.steps)
    probe.train()
    for _ in range(config.steps):
        batch = torch.randint(0, features.shape[0], (config.batch_size,), generator=generator)
        loss = (probe.net(features[batch] - probe.feature_mean) - targets[batch]).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    return probe.eval()


def position_errors(probe: PoseProbe, reps: torch.Tensor, positions: torch.Tensor) -> dict[str, float]:
    """Per-axis RMSE and the median / 90th percentile of the 3-D error, in metres."""
    with torch.no_grad():
        error = probe(reps) - positions  # [M, 3]
    distance = error.norm(dim=-1)
    rmse = error.pow(2).mean(0).sqrt().tolist()
    return {
        "rmse_x": rmse[0], "rmse_y": rmse[1], "rmse_z": rmse[2],
        "median_3d": float(distance.median()), "p90_3d": float(distance.quantile(0.9)),
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_config(FitPoseProbeConfig, argv, __doc__)
    if config.cpu_threads:
        torch.set_num_threads(config.cpu_threads)
    start = time.perf_counter()
    encoder = load_encoder(config.checkpoint, key=config.encoder_key)
    views = load_camera_views(config.checkpoint)
    episodes = encode_episodes(config.data, frozen_encoder_fn(encoder, torch.device("cpu")), config.fps, views)
    held = max(1, round(config.holdout * len(episodes)))
    if held >= len(episodes):
        raise ValueError(f"{len(episodes)} episode(s): too few to hold out {config.holdout:.0%} and fit on the rest")
    reps, positions = stack(episodes)
    split = sum(len(episode.states) for episode in episodes[:-held])  # rows of the training episodes
    fitted = train_probe(reps[:split], positions[:split], config)
    errors = position_errors(fitted, reps[split:], positions[split:])
    probe = train_probe(reps, positions, config)
    ckpt = read_checkpoint(config.checkpoint)
    ckpt[PROBE_KEY] = probe.state_dict()
    ckpt[f"{PROBE_KEY}_info"] = {
        "hidden": config.hidden,
        "steps": config.steps,
        "frames": int(reps.shape[0]),
        "episodes": len(episodes),
        "holdout_episodes": held,
        **{f"holdout_{name}_m": value for name, value in errors.items()},
    }
    out = write_checkpoint(ckpt, config.out or config.checkpoint)
    print(
        f"pose probe: {len(episodes)} episodes, {reps.shape[0]} frames, MLP {config.hidden} x {config.steps} steps; "
        f"held out ({held} episodes): RMSE x/y/z {errors['rmse_x'] * 100:.2f} / {errors['rmse_y'] * 100:.2f} / "
        f"{errors['rmse_z'] * 100:.2f} cm, 3-D median {errors['median_3d'] * 100:.2f} cm, 90th percentile "
        f"{errors['p90_3d'] * 100:.2f} cm; wrote {out} ({time.perf_counter() - start:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
