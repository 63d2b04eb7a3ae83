"""How precisely a world model brings the gripper to the grasp-approach pose, the step a grasp depends on.

For grasp seeds 0..episodes-1 the planner (`training.evaluate`'s CEM 100 x 5) gets the episode's approach image alone
(fingers open around the cube) for --steps steps, without early stop. A top-down grasp of the 5 cm cube needs the
flange within ~1.5 cm in xy and ~2 cm in height with the fingers open; the reach task only asks for 4 cm.
Usage: scripts/run.sh python -m benchmarks.approach_precision [--checkpoint models/sim_manip.pt] [--episodes 20]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from jepa_core.planning.loading import build_world_model
from jepa_core.planning.mpc import MPCController
from jepa_core.planning.subgoals import SubGoal, SubGoalController
from jepa_sim.env import FrankaSimEnv, SimConfig
from jepa_sim.scene import CAMERAS
from training.evaluate import EvalConfig

XY_TOLERANCE, Z_TOLERANCE, OPEN_BELOW = 0.015, 0.02, 0.3  # m, m, gripper command (0 open, 1 closed)


def approach(env: FrankaSimEnv, world_model, config: EvalConfig, seed: int, steps: int) -> tuple[float, float, float]:
    """(xy error m, |z error| m, gripper) after `steps` planned steps towards the approach image of grasp `seed`."""
    obs = env.reset("grasp", seed)
    index = env.episode.subgoal_index("approach")
    target = env.episode.subgoals[index].flange_state
    goal = world_model.encode_images(env.subgoal_image(index)[None])[0]
    runner = SubGoalController(MPCController(world_model, config.mpc_config(seed)), [goal], [SubGoal("approach")])
    for _ in range(steps):
        representation = world_model.encode_images(obs.image[None])[0]
        runner.observe(representation)
        decision, _ = runner.step(representation, torch.from_numpy(obs.ee_state))
        obs = env.step(decision.target_state.numpy())
    error = obs.ee_state[:3] - target[:3]
    return float(np.linalg.norm(error[:2])), float(abs(error[2])), float(obs.ee_state[6])


def main() -> None:
    """Print the per-seed table and the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=Path("models/sim_manip.pt"), help="AC checkpoint")
    parser.add_argument("--episodes", type=int, default=20, help="grasp seeds 0..episodes-1")
    parser.add_argument("--steps", type=int, default=20, help="planned steps per episode")
    parser.add_argument("--camera", choices=sorted(CAMERAS), default="exterior", help="the camera the model saw")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = EvalConfig(checkpoint=args.checkpoint, gifs=False)
    world_model = build_world_model(config.world_model_spec())
    env = FrankaSimEnv(SimConfig(camera=CAMERAS[args.camera]))
    try:
        rows = np.array([approach(env, world_model, config, seed, args.steps) for seed in range(args.episodes)])
    finally:
        env.close()
    print(f"{'seed':>4s} {'xy error cm':>12s} {'z error cm':>11s} {'gripper':>8s}")
    for seed, (xy, z, gripper) in enumerate(rows):
        print(f"{seed:4d} {100 * xy:12.1f} {100 * z:11.1f} {gripper:8.2f}")
    placed = (rows[:, 0] < XY_TOLERANCE) & (rows[:, 1] < Z_TOLERANCE)
    opened = rows[:, 2] < OPEN_BELOW
    print(f"RESULT xy_median_cm={100 * np.median(rows[:, 0]):.1f} within_tolerance={placed.mean():.2f} "
          f"fingers_open={opened.mean():.2f} both={(placed & opened).mean():.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
