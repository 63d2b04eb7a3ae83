"""Sub-goal sequences vs one final goal image, with a perfect world model: grasp and pick-and-place success.

The planner's own MPC/CEM code (`jepa_core.planning.subgoals.SubGoalController`) drives the MuJoCo simulator with the
oracle world model `jepa_core.planning.oracle.StateWorldModel` (representations are true end-effector states,
predictions are exact), so the table shows what the sub-goal machinery, the CEM's gripper dimension (deadband 0.25)
and the simulator's gripper achieve when the model is perfect about the arm: the upper bound for a trained model.
Each episode runs until the simulator reports success or --max-steps (default per task: jepa_sim.tasks.EPISODE_STEPS).
Usage: scripts/run.sh python -m benchmarks.subgoals [--episodes 20] [--max-steps 0] [--samples 100]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from jepa_core.planning.cem import CEMConfig
from jepa_core.planning.mpc import MPCConfig, MPCController
from jepa_core.planning.oracle import StateWorldModel
from jepa_core.planning.subgoals import SubGoal, SubGoalController
from jepa_sim.env import FrankaSimEnv, SimConfig
from jepa_sim.tasks import EPISODE_STEPS


def run_episode(env: FrankaSimEnv, task: str, seed: int, sequence: bool, args: argparse.Namespace) -> tuple[bool, int]:
    """One seeded episode: (success, steps). `sequence`: the episode's sub-goals, else its final goal only."""
    world_model = StateWorldModel()
    obs = env.reset(task, seed)
    scenes = env.episode.subgoals if sequence else env.episode.subgoals[-1:]
    goals = [world_model.encode(torch.from_numpy(scene.flange_state)) for scene in scenes]
    subgoals = [SubGoal(scene.name, 0 if i == len(scenes) - 1 else scene.steps) for i, scene in enumerate(scenes)]
    config = MPCConfig(cem=CEMConfig(samples=args.samples, iterations=args.iterations), seed=seed)
    runner = SubGoalController(MPCController(world_model, config), goals, subgoals)
    max_steps = args.max_steps or EPISODE_STEPS[task]
    for step in range(1, max_steps + 1):
        state = torch.from_numpy(obs.ee_state)
        representation = world_model.encode(state)  # [1, 7]
        runner.observe(representation)
        decision, _ = runner.step(representation, state)
        obs = env.step(decision.target_state.numpy())
        if env.task_status().success:
            return True, step
    return False, max_steps


def main() -> None:
    """Print the table and the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20, help="seeds 0..episodes-1 per task and mode")
    parser.add_argument("--max-steps", type=int, default=0, help="control steps per episode; 0 = per task")
    parser.add_argument("--samples", type=int, default=100, help="CEM samples per iteration")
    parser.add_argument("--iterations", type=int, default=5, help="CEM iterations")
    args = parser.parse_args()
    torch.set_num_threads(1)
    env = FrankaSimEnv(SimConfig(render_observations=False))
    rows = []
    try:
        for task in ("grasp", "pick_place"):
            for sequence in (True, False):
                start = time.perf_counter()
                outcomes = [run_episode(env, task, seed, sequence, args) for seed in range(args.episodes)]
                wins = [steps for success, steps in outcomes if success]
                rows.append((task, sequence, len(wins), np.mean(wins) if wins else float("nan"),
                             time.perf_counter() - start))  # fmt: skip
                print(f"  {task} {'sub-goals' if sequence else 'final goal'}: {len(wins)}/{args.episodes}", flush=True)
    finally:
        env.close()
    print(f"{'task':12s} {'goals':24s} {'success':>9s} {'steps (successes)':>18s} {'wall s':>8s}")
    for task, sequence, wins, steps, seconds in rows:
        goals = "sub-goal sequence" if sequence else "final goal image only"
        print(f"{task:12s} {goals:24s} {wins:4d}/{args.episodes:<4d} {steps:18.1f} {seconds:8.1f}")
    rates = {(task, sequence): wins / args.episodes for task, sequence, wins, _, _ in rows}
    print(f"RESULT oracle_grasp_subgoals={rates['grasp', True]:.2f} oracle_grasp_final={rates['grasp', False]:.2f} "
          f"oracle_pick_place_subgoals={rates['pick_place', True]:.2f} "
          f"oracle_pick_place_final={rates['pick_place', False]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
