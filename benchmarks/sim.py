"""Simulator speed on CPU: ms per rendered frame and per control step (4 Hz planning and 15 Hz recording periods).

Rows: one 256x256 frame (fast settings vs MuJoCo's default shadows/reflections/MSAA for comparison), one control step
with and without rendering at both periods, render_at_pose, reset. Times are best-of-N (the machine's cores are
shared, the minimum filters other processes' load out); "x real time" is simulated seconds per wall second.
Usage: scripts/run.sh python -m benchmarks.sim [--repeats 20]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import mujoco
import numpy as np

from jepa_sim.env import FrankaSimEnv, SimConfig


def best_ms(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of fn() in ms over `repeats` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return min(times)


def wandering_step(env: FrankaSimEnv) -> Callable[[], object]:
    """A step towards a target 5 cm away that alternates direction, so every step moves the arm."""
    direction = [1.0]

    def step():
        target = env.ee_state()
        target[0] += 0.05 * direction[0]
        direction[0] = -direction[0]
        return env.step(target)

    return step


def default_quality_frame_ms(env: FrankaSimEnv, repeats: int) -> float:
    """One frame with MuJoCo's default quality (4 shadow-casting-capable lights on, reflections, 4x MSAA)."""
    env.model.vis.quality.offsamples = 4
    env.model.vis.quality.shadowsize = 4096
    width, height = env.config.render_size
    renderer = mujoco.Renderer(env.model, height, width)
    env.model.light_castshadow[:] = 1

    def frame():
        renderer.update_scene(env.data, camera="exterior")
        return renderer.render()

    ms = best_ms(frame, repeats)
    renderer.close()
    return ms


def main() -> None:
    """Print the table and the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rows: list[tuple[str, float, float | None]] = []  # name, ms, simulated seconds covered
    planning = FrankaSimEnv(SimConfig(control_period=0.25))
    planning.reset("pick_place", seed=0)
    frame_ms = best_ms(planning.render, args.repeats)
    rows.append(("frame 256x256, fast settings (default)", frame_ms, None))
    step_ms = best_ms(wandering_step(planning), args.repeats)
    rows.append(("control step 0.25 s + frame", step_ms, 0.25))
    goal = planning.episode.goal_state
    rows.append(("render_at_pose (IK + frame)", best_ms(lambda: planning.render_at_pose(goal), args.repeats), None))
    rows.append(("reset (IK, settle, first frame)", best_ms(lambda: planning.reset("reach", 1), args.repeats), None))
    blind = FrankaSimEnv(SimConfig(control_period=0.25, render_observations=False))
    blind.reset("pick_place", seed=0)
    rows.append(("control step 0.25 s, no frame", best_ms(wandering_step(blind), args.repeats), 0.25))
    recording = FrankaSimEnv(SimConfig(control_period=1 / 15))
    recording.reset("pick_place", seed=0)
    rows.append(("control step 1/15 s + frame", best_ms(wandering_step(recording), args.repeats), 1 / 15))
    rows.append(("frame 256x256, MuJoCo default quality", default_quality_frame_ms(recording, 5), None))
    for env in (planning, blind, recording):
        env.close()

    print(f"{'case':42s} {'ms':>9s} {'vs fast frame':>14s} {'x real time':>12s}")
    for name, ms, simulated in rows:
        realtime = f"{simulated / (ms / 1e3):11.1f}x" if simulated else f"{'-':>12s}"
        print(f"{name:42s} {ms:9.2f} {ms / frame_ms:13.2f}x {realtime}")
    print(f"RESULT ms_per_frame={frame_ms:.2f} ms_per_control_step={step_ms:.2f}")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
