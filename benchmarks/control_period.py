"""The planner's control period (time between commands) against its planning time per step, in the simulated closed
loop: sim, perception and planner as separate processes (as `ros2 launch jepa_bringup demo.launch.py` runs them) and
composed in one process (`jepa_bringup.bringup`, what `make demo` runs).

Each mode resets the simulator to reach goals (seeds 0..goals-1) and sends each goal image to `plan_to_goal`; the
period is the gap between consecutive `planned_action` messages of a goal (each is published with its command),
compared with the `planning_time` they carry. Target (issue 24): p95 period <= p95 planning time + 100 ms.
Usage: scripts/run.sh python -m benchmarks.control_period [--goals 5] [--steps 10] [--modes processes composition]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from jepa_bringup.bringup import DEMO_NODES, DEMO_PARAMS_FILES, Composition, parameters_document
from jepa_bringup.demo import DemoClient
from jepa_msgs.action import PlanToGoal
from jepa_msgs.msg import PlannedAction
from jepa_ros_common.images import array_to_image_msg

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / os.environ.get("JEPA_INSTALL_BASE", "ros2_ws/install")
TARGET_MARGIN_S = 0.1
RESULT_TIMEOUT_S = 300.0
MODES = ("processes", "composition")


def node_processes(params_file: Path) -> list[subprocess.Popen]:
    """Start the demo's nodes as separate processes from the built workspace (console scripts, as launch does)."""
    processes = []
    for spec in DEMO_NODES:
        package, executable = spec.factory.split(".")[0], spec.name
        command = [str(INSTALL / package / "lib" / package / executable), "--ros-args", "--params-file",
                   str(params_file)]  # fmt: skip
        processes.append(subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    return processes


def measure(client: DemoClient, goals: int, steps: int) -> tuple[list[float], list[float]]:
    """Control periods and planning times (s) over `goals` reach goals of at most `steps` steps."""
    arrivals: list[tuple[float, float]] = []  # (monotonic receipt time, planning_time) of each planned_action
    client.node.create_subscription(PlannedAction, "planned_action",
                                    lambda msg: arrivals.append((time.monotonic(), msg.planning_time)), 10)  # fmt: skip
    client.wait_ready()
    periods, planning = [], []
    for seed in range(goals):
        image = client.reset("reach", seed).images[-1]
        start = len(arrivals)
        handle = client.send_goal(PlanToGoal.Goal(goal_image=array_to_image_msg(image, "rgb8"), max_steps=steps))
        result = client.wait(handle.get_result_async(), RESULT_TIMEOUT_S, "plan_to_goal result").result
        client.composition.spin_until(lambda start=start, n=result.steps: len(arrivals) - start >= n, 10.0)
        goal_arrivals = arrivals[start:]
        periods += list(np.diff([t for t, _ in goal_arrivals]))
        planning += [p for _, p in goal_arrivals[1:]]  # the step that ends each period planned during it
    return periods, planning


def run_mode(mode: str, goals: int, steps: int) -> tuple[list[float], list[float]]:
    """Measure one mode; the nodes are stopped afterwards."""
    if mode == "composition":
        with Composition(DEMO_NODES, [REPO / f for f in DEMO_PARAMS_FILES]) as composition:
            return measure(DemoClient(composition), goals, steps)
    document = parameters_document(DEMO_NODES, [REPO / f for f in DEMO_PARAMS_FILES], "")
    with tempfile.TemporaryDirectory(prefix="control_period_") as tmp:
        params_file = Path(tmp) / "parameters.yaml"
        params_file.write_text(yaml.safe_dump(document))
        processes = node_processes(params_file)
        try:
            with Composition([]) as composition:
                return measure(DemoClient(composition), goals, steps)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                _, stderr = process.communicate(timeout=10)
                if process.returncode != 0:
                    sys.stderr.write(stderr.decode(errors="replace")[-2000:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--goals", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="max_steps per goal")
    parser.add_argument(
        "--modes", nargs="+", default=["processes", "composition"], choices=["processes", "composition"]
    )
    args = parser.parse_args()
    print(f"{'mode':12} {'periods':>7} {'period p50/p95/max s':>22} {'planning p50/p95/max s':>24} {'p95 gap s':>9} ok")
    verdicts = []
    for mode in args.modes:
        periods, planning = (np.asarray(v) for v in run_mode(mode, args.goals, args.steps))
        gap = np.percentile(periods, 95) - np.percentile(planning, 95)
        ok = gap <= TARGET_MARGIN_S
        verdicts.append(f"{mode} p95 period {np.percentile(periods, 95):.3f} s vs planning "
                        f"{np.percentile(planning, 95):.3f} s ({'ok' if ok else 'MISSED'})")  # fmt: skip
        row = lambda v: "/".join(f"{x:.3f}" for x in (np.median(v), np.percentile(v, 95), v.max()))  # noqa: E731
        print(f"{mode:12} {periods.size:7d} {row(periods):>22} {row(planning):>24} {gap:9.3f} {'yes' if ok else 'NO'}")
    print("RESULT: " + "; ".join(verdicts) + f" (target: p95 period <= p95 planning + {TARGET_MARGIN_S} s)")


if __name__ == "__main__":
    main()
