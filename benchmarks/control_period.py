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
import bisect
import itertools
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from jepa_bringup.bringup import DEMO_NODES, DEMO_PARAMS_FILES, Composition, parameters_document
from jepa_bringup.demo import DemoClient
from jepa_msgs.action import PlanToGoal
from jepa_msgs.msg import Embedding, PlannedAction
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


@dataclass
class Periods:
    """Per control period (s): its length, the planning time of the step that ends it, and where the time went: the
    sim's step (command -> its camera image), encoding (image -> embedding) and the planner (embedding -> command)."""

    period: list[float] = field(default_factory=list)
    planning: list[float] = field(default_factory=list)
    sim: list[float] = field(default_factory=list)
    encode: list[float] = field(default_factory=list)
    planner: list[float] = field(default_factory=list)


def first_after(times: list[float], t: float) -> float:
    """The first of the sorted receipt `times` after t (nan if none)."""
    index = bisect.bisect_right(times, t)
    return times[index] if index < len(times) else math.nan


def measure(client: DemoClient, goals: int, steps: int) -> Periods:
    """Control periods over `goals` reach goals of at most `steps` steps, split by the receipt times of the camera
    image and the embedding that follow each command."""
    arrivals: list[tuple[float, float]] = []  # (monotonic receipt time, planning_time) of each planned_action
    images, embeddings = [], []  # monotonic receipt times
    node = client.node
    node.create_subscription(PlannedAction, "planned_action",
                             lambda msg: arrivals.append((time.monotonic(), msg.planning_time)), 10)  # fmt: skip
    node.create_subscription(Image, "camera/image_raw", lambda _: images.append(time.monotonic()),
                             qos_profile_sensor_data)  # fmt: skip
    node.create_subscription(Embedding, "encoder_node/embedding", lambda _: embeddings.append(time.monotonic()), 10)
    client.wait_ready()
    out = Periods()
    for seed in range(goals):
        image = client.reset("reach", seed).images[-1]
        start = len(arrivals)
        handle = client.send_goal(PlanToGoal.Goal(goal_image=array_to_image_msg(image, "rgb8"), max_steps=steps))
        result = client.wait(handle.get_result_async(), RESULT_TIMEOUT_S, "plan_to_goal result").result
        client.composition.spin_until(lambda start=start, n=result.steps: len(arrivals) - start >= n, 10.0)
        goal_arrivals = arrivals[start:]
        for (commanded, _), (next_command, planning) in itertools.pairwise(goal_arrivals):
            imaged = first_after(images, commanded)
            encoded = first_after(embeddings, imaged)
            out.period.append(next_command - commanded)
            out.planning.append(planning)  # the step that ends the period planned during it
            out.sim.append(imaged - commanded)
            out.encode.append(encoded - imaged)
            out.planner.append(next_command - encoded)
    return out


def run_mode(mode: str, goals: int, steps: int) -> Periods:
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
    row = lambda v: "/".join(f"{x:.3f}" for x in (np.median(v), np.percentile(v, 95), v.max()))  # noqa: E731
    print(f"{'mode':12} {'periods':>7} {'period p50/p95/max':>20} {'planning p50/p95/max':>20} {'p95 gap':>7} ok  "
          f"{'sim step p50/p95':>16} {'encode p50/p95':>14} {'planner p50/p95':>15}   (s)")  # fmt: skip
    verdicts = []
    for mode in args.modes:
        measured = run_mode(mode, args.goals, args.steps)
        period, planning = np.asarray(measured.period), np.asarray(measured.planning)
        gap = np.percentile(period, 95) - np.percentile(planning, 95)
        ok = gap <= TARGET_MARGIN_S
        verdicts.append(f"{mode} p95 period {np.percentile(period, 95):.3f} s vs planning "
                        f"{np.percentile(planning, 95):.3f} s ({'ok' if ok else 'MISSED'})")  # fmt: skip
        split = ["/".join(f"{np.nanpercentile(getattr(measured, name), q):.3f}" for q in (50, 95))
                 for name in ("sim", "encode", "planner")]  # fmt: skip
        print(f"{mode:12} {period.size:7d} {row(period):>20} {row(planning):>20} {gap:7.3f} {'yes' if ok else 'NO ':3} "
              f"{split[0]:>16} {split[1]:>14} {split[2]:>15}")  # fmt: skip
    print("RESULT: " + "; ".join(verdicts) + f" (target: p95 period <= p95 planning + {TARGET_MARGIN_S} s)")


if __name__ == "__main__":
    main()
