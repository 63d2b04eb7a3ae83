"""The planner's two per-observation signals on a model, measured in the simulator: where to put the thresholds.

For reach episodes driven by the planner's own controller (MPCController: what the planner node runs), each step
records the flange distance to the goal, the observed frame's energy to the goal (the success rule,
`energy_threshold`), the plan energy and the surprise of the previous action (`surprise_stop_threshold`). Then the
same episodes again with a disturbance after the plan of step 1 (the arm blocked for one step, the cube knocked to
(0.3, 0.3)) to see how much the surprise of that step rises. Prints a table, the suggested energy threshold (the
lowest observed energy of any step outside the sim's success tolerance, rounded down) and a RESULT line.
Usage: scripts/run.sh python -m benchmarks.planner_signals [--checkpoint models/sim_manip.pt] [--episodes 20]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from jepa_core.planning.cem import CEMConfig
from jepa_core.planning.loading import WorldModelSpec, build_world_model
from jepa_core.planning.mpc import MPCConfig, MPCController
from jepa_sim.env import FrankaSimEnv, SimConfig

DISTURBED_STEP = 1
CANDIDATE_THRESHOLDS = (0.04, 0.045, 0.05, 0.055, 0.06, 0.07)
DISTURBANCES = {
    "arm blocked": lambda env: env.block_arm(True),
    "cube knocked": lambda env: env.move_object("cube", [0.3, 0.3, 0.025]),
}


def episode(env, world_model, cem: CEMConfig, seed: int, steps: int, disturb=None) -> list[tuple[float, ...]]:
    """Rows (distance m, observed energy, plan energy, surprise or NaN) of one reach episode of `steps` steps."""
    obs = env.reset("reach", seed)
    controller = MPCController(world_model, MPCConfig(cem=cem, seed=seed))
    controller.set_goal(world_model.encode_images(env.goal_image()[None])[0])
    rows = []
    for step in range(steps):
        representation = world_model.encode_images(obs.image[None])[0]  # [N, D]
        surprise = controller.surprise(representation)
        observed = controller.goal_energy(representation)
        decision = controller.step(representation, torch.from_numpy(obs.ee_state))
        rows.append((env.task_status().distance, observed, decision.energy, math.nan if surprise is None else surprise))
        if step == DISTURBED_STEP and disturb is not None:
            disturb(env)
        obs = env.step(decision.target_state.numpy())
        env.block_arm(False)
    return rows


def stats(values: np.ndarray) -> str:
    """'min / median / p99 / max' of a 1-D array ('-' when empty)."""
    if values.size == 0:
        return "-"
    return " / ".join(f"{v:.3f}" for v in (values.min(), np.median(values), np.percentile(values, 99), values.max()))


def episodes_below(table: np.ndarray, steps: int, threshold: float) -> str:
    """'k/n': episodes (consecutive blocks of `steps` rows) with an observed energy below `threshold`."""
    episodes = table[:, 1].reshape(-1, steps)  # [episodes, steps]
    return f"{int((episodes < threshold).any(axis=1).sum())}/{len(episodes)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=Path("models/sim_manip.pt"), help="AC checkpoint")
    parser.add_argument("--episodes", type=int, default=20, help="reach episodes (seeds 0..n-1)")
    parser.add_argument("--steps", type=int, default=25, help="control steps per episode (no early stop)")
    parser.add_argument("--samples", type=int, default=100, help="CEM samples (the demo's 100 x 5)")
    parser.add_argument("--iterations", type=int, default=5, help="CEM iterations")
    args = parser.parse_args()
    torch.set_num_threads(1)
    world_model = build_world_model(WorldModelSpec(predictor_checkpoint=args.checkpoint))  # the planner's energy
    cem = CEMConfig(samples=args.samples, top_k=10, iterations=args.iterations)
    env = FrankaSimEnv(SimConfig())
    start = time.perf_counter()
    try:
        rows = []
        for seed in tqdm(range(args.episodes), desc="episodes"):
            rows += episode(env, world_model, cem, seed, args.steps)
        base = np.array([  # surprise of the step after DISTURBED_STEP, undisturbed: the same for every disturbance
            episode(env, world_model, cem, seed, DISTURBED_STEP + 2)[-1][3]
            for seed in tqdm(range(args.episodes), desc="undisturbed")
        ])  # fmt: skip
        after = {
            name: np.array([episode(env, world_model, cem, seed, DISTURBED_STEP + 2, disturb)[-1][3]
                            for seed in tqdm(range(args.episodes), desc=name)])
            for name, disturb in DISTURBANCES.items()
        }  # fmt: skip
        gains = {name: disturbed - base for name, disturbed in after.items()}
        tolerance = env.task_status().tolerance
    finally:
        env.close()
    table = np.array(rows)  # [steps, 4]
    near, far = table[table[:, 0] < tolerance], table[table[:, 0] >= tolerance]
    surprise = table[:, 3][~np.isnan(table[:, 3])]
    threshold = math.floor(far[:, 1].min() * 200) / 200 if len(far) else math.nan  # rounded down to 0.005
    elapsed = time.perf_counter() - start
    print(f"\n{args.checkpoint}: {args.episodes} reach episodes x {args.steps} steps, CEM {args.samples}x"
          f"{args.iterations}, success tolerance {100 * tolerance:.0f} cm, {elapsed:.0f} s\n")  # fmt: skip
    print("| signal | steps | min / median / p99 / max |\n|---|---|---|")
    print(f"| observed energy, within tolerance | {len(near)} | {stats(near[:, 1])} |")
    print(f"| observed energy, outside tolerance | {len(far)} | {stats(far[:, 1])} |")
    print(f"| plan energy, within tolerance | {len(near)} | {stats(near[:, 2])} |")
    print(f"| plan energy, outside tolerance | {len(far)} | {stats(far[:, 2])} |")
    print(f"| surprise, undisturbed steps | {len(surprise)} | {stats(surprise)} |")
    for name in DISTURBANCES:
        print(f"| surprise, step after '{name}' | {args.episodes} | {stats(after[name])} |")
        print(f"| gain over the same step undisturbed, '{name}' | {args.episodes} | {stats(gains[name])} |")
    print("\n| energy_threshold | steps below it outside the tolerance | farthest step below it (cm) "
          "| episodes below it within the steps |\n|---|---|---|---|")  # fmt: skip
    for candidate in sorted({threshold, *CANDIDATE_THRESHOLDS}):
        below = table[table[:, 1] < candidate]
        farthest = f"{100 * below[:, 0].max():.1f}" if len(below) else "-"
        outside = int((below[:, 0] >= tolerance).sum())
        print(f"| {candidate:.3f} | {outside} | {farthest} | {episodes_below(table, args.steps, candidate)} |")
    reached = episodes_below(table, args.steps, threshold)
    print(f"\nenergy_threshold {threshold:.3f}: no step outside the tolerance is below it; {reached} episodes get "
          f"below it within {args.steps} steps")  # fmt: skip
    print(
        f"RESULT energy_threshold={threshold:.3f} surprise_p99={np.percentile(surprise, 99):.3f} "
        f"surprise_gain_blocked={np.median(gains['arm blocked']):.3f} "
        f"surprise_gain_knocked={np.median(gains['cube knocked']):.3f}"
    )


if __name__ == "__main__":
    main()
