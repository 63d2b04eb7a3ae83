"""Planning time per control step of a one-camera and a multi-camera world model at several CEM sample counts, in one
run (issue 26's budget: <= 0.5 s per step; CEM 5 iterations, horizon 1, as the evaluation).

Each model plans --steps steps towards a reach goal of the simulator (seeds 0..), rendered with the model's own
cameras, from the reset scene: the same MPCController the planner node and training.evaluate run, one CPU thread.
`random-two-view` stands for a random-weight exterior | wrist model of the bundled sizes (timing depends on the
architecture only).
Usage: scripts/run.sh python -m benchmarks.views_planning [--checkpoints models/sim_manip.pt models/sim_views.pt]
       [--samples 100 60]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from jepa_core.checkpoints import load_camera_views, save_checkpoint
from jepa_core.planning.cem import CEMConfig
from jepa_core.planning.loading import WorldModelSpec, build_world_model
from jepa_core.planning.mpc import MPCConfig, MPCController
from jepa_core.presets import build_ac_predictor
from jepa_sim.env import FrankaSimEnv, SimConfig
from training.posttrain import PosttrainConfig, build_encoder_for

RANDOM_TWO_VIEW = "random-two-view"


def random_two_view_checkpoint(folder: Path) -> Path:
    """A random-weight exterior | wrist checkpoint: posttrain's encoder (each view alone) and a depth-2 predictor."""
    encoder = build_encoder_for(PosttrainConfig(views=("exterior", "wrist")))
    predictor = build_ac_predictor("vit_tiny_128", img_size=encoder.img_size, depth=2)
    return save_checkpoint(folder / "two_views.pt", encoder=encoder, target_encoder=encoder, predictor=predictor,
                           camera_views=["exterior", "wrist"])  # fmt: skip


def step_times(checkpoint: Path, samples: int, seeds: int, steps: int) -> tuple[tuple[str, ...], int, list[float]]:
    """(views, tokens per frame, planning seconds of every step) of `checkpoint` planning with `samples` CEM samples
    on reach seeds 0..seeds-1."""
    views = load_camera_views(checkpoint)
    world_model = build_world_model(WorldModelSpec(predictor_checkpoint=checkpoint, pose_prior_weight=0.0))
    env = FrankaSimEnv(SimConfig(views=views))
    times = []
    try:
        for seed in range(seeds):
            observation = env.reset("reach", seed)
            mpc = MPCController(world_model, MPCConfig(cem=CEMConfig(samples=samples, iterations=5), seed=seed))
            mpc.set_goal(world_model.encode_images(env.goal_image()[None])[0])
            for _ in range(steps):
                frame = world_model.encode_images(observation.image[None])[0]  # [N, D]
                start = time.perf_counter()
                decision = mpc.step(frame, torch.as_tensor(observation.ee_state))
                times.append(time.perf_counter() - start)
                observation = env.step(decision.target_state.numpy())
    finally:
        env.close()
    return views, world_model.predictor.tokens_per_frame, times


def main() -> None:
    """Print the table and the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkpoints", nargs="+", default=["models/sim_manip.pt", "models/sim_views.pt"],
        help=f"AC checkpoints to compare ({RANDOM_TWO_VIEW}: random weights, two views)",
    )  # fmt: skip
    parser.add_argument("--samples", type=int, nargs="+", default=[100, 60], help="CEM samples per iteration to time")
    parser.add_argument("--seeds", type=int, default=3, help="reach seeds 0..seeds-1")
    parser.add_argument("--steps", type=int, default=5, help="planned steps per seed")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        paths = [
            random_two_view_checkpoint(Path(folder)) if c == RANDOM_TWO_VIEW else Path(c) for c in args.checkpoints
        ]
        rows = [
            (name, samples, *step_times(path, samples, args.seeds, args.steps))
            for name, path in zip(args.checkpoints, paths, strict=True)
            for samples in args.samples
        ]
    print(f"{'checkpoint':40s} {'views':18s} {'tokens':>6s} {'samples':>7s} {'median s/step':>13s} {'p90':>6s}")
    medians = []
    for name, samples, views, tokens, times in rows:
        medians.append(statistics.median(times))
        p90 = float(np.percentile(times, 90))
        print(f"{name:40s} {'|'.join(views):18s} {tokens:6d} {samples:7d} {medians[-1]:13.3f} {p90:6.3f}")
    print("RESULT " + " ".join(f"s_per_step_{i}={m:.3f}" for i, m in enumerate(medians))
          + f" ratio_last_to_first={medians[-1] / medians[0]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
