"""The goal-position prior on the evaluation's goal images: how well the pose probe reads them, and what it costs.

The probe (`training.fit_pose_probe`) is fitted on play-data frames; the planner applies it to goal images the
simulator renders for the evaluation (seeds 0..episodes-1, every sub-goal of reach, grasp and pick_place). Per task
and sub-goal: the error between the decoded and the shown flange position. Then the planning energy of one CEM
iteration's candidates with and without the prior (same world model, CPU, 1 thread): the prior's cost as a ratio.
Usage: scripts/run.sh python -m benchmarks.goal_prior [--checkpoint models/sim_manip.pt] [--episodes 20]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from jepa_core.planning.loading import WorldModelSpec, build_world_model
from jepa_core.planning.world_model import WorldModel
from jepa_sim.env import FrankaSimEnv, SimConfig

TASKS = ("reach", "grasp", "pick_place")


def decode_errors(world_model: WorldModel, episodes: int) -> dict[tuple[str, str], list[float]]:
    """(task, sub-goal name) -> decoded-vs-shown flange position errors (m) over the seeds."""
    errors: dict[tuple[str, str], list[float]] = defaultdict(list)
    env = FrankaSimEnv(SimConfig())
    try:
        for task in TASKS:
            for seed in range(episodes):
                env.reset(task=task, seed=seed)
                images = np.stack(env.subgoal_images())
                decoded = world_model.goal_prior.probe(world_model.encode_images(images))  # [G, 3]
                for subgoal, position in zip(env.episode.subgoals, decoded, strict=True):
                    error = np.linalg.norm(position.detach().numpy() - subgoal.flange_state[:3])
                    errors[(task, subgoal.name)].append(float(error))
    finally:
        env.close()
    return errors


def energy_seconds(world_model: WorldModel, samples: int, repeats: int) -> float:
    """Median wall time of one energy call on `samples` horizon-1 candidates from a random frame (s)."""
    generator = torch.Generator().manual_seed(0)
    shape = (world_model.tokens_per_frame, world_model.embed_dim)
    frame = torch.nn.functional.layer_norm(torch.randn(1, *shape, generator=generator), shape[-1:])
    goal = torch.nn.functional.layer_norm(torch.randn(*shape, generator=generator), shape[-1:])
    state = torch.tensor([[0.45, 0.0, 0.4, 3.14159, 0.0, 0.0, 0.0]])
    energy = world_model.energy_fn(world_model.make_context(frame, state), goal)
    candidates = 0.05 * torch.randn(samples, 1, 7, generator=generator)
    energy(candidates)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        energy(candidates)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    """Print both tables and the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--checkpoint", type=Path, default=Path("models/sim_manip.pt"), help="checkpoint with a pose_probe"
    )
    parser.add_argument("--episodes", type=int, default=20, help="seeds per task")
    parser.add_argument("--samples", type=int, default=100, help="CEM candidates per energy call")
    parser.add_argument("--repeats", type=int, default=30, help="timed energy calls per variant")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with_prior = build_world_model(WorldModelSpec(predictor_checkpoint=args.checkpoint))  # the planner's energy
    if with_prior.goal_prior is None:
        raise SystemExit(f"{args.checkpoint}: no pose_probe (fit one with training.fit_pose_probe)")
    errors = decode_errors(with_prior, args.episodes)
    print(f"decoded goal flange position vs the one shown, {args.episodes} seeds per task ({args.checkpoint})")
    print("| task | sub-goal | images | median (cm) | 90th pct (cm) | max (cm) |")
    print("|---|---|---|---|---|---|")
    for (task, name), values in errors.items():
        cm = 100 * np.asarray(values)
        print(f"| {task} | {name} | {len(cm)} | {np.median(cm):.2f} | {np.percentile(cm, 90):.2f} | {cm.max():.2f} |")
    plain = WorldModel(with_prior.predictor, with_prior.encoder)  # the same models, the official energy
    base = energy_seconds(plain, args.samples, args.repeats)
    prior = energy_seconds(with_prior, args.samples, args.repeats)
    print(f"\nenergy of {args.samples} candidates (horizon 1, CPU, 1 thread), median of {args.repeats} calls")
    print("| energy | ms | ratio |")
    print("|---|---|---|")
    print(f"| image energy (official) | {1e3 * base:.2f} | 1.00 |")
    print(f"| + goal-position prior | {1e3 * prior:.2f} | {prior / base:.2f} |")
    every = 100 * np.concatenate([np.asarray(v) for v in errors.values()])
    print(
        f"RESULT decoded goal error median {np.median(every):.2f} cm, 90th pct {np.percentile(every, 90):.2f} cm, "
        f"max {every.max():.2f} cm; prior costs x{prior / base:.2f}"
    )


if __name__ == "__main__":
    main()
