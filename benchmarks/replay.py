"""Replay timing: how closely `ros2 run jepa_data player` keeps a recording's schedule, and how fast it can go.

A 30 s recording (--seconds) of a 15 Hz 256x256 rgb8 camera (best effort, as recorded) and the 15 Hz end-effector
state is written to an MCAP bag, then played by the player in its own process at --rate 1, 2, 5 and as fast as
possible (rate 0), while this process subscribes to the camera. Per message:
  - player lateness: publish time minus the message's deadline on the player's schedule (from its --stats JSON);
  - receiver lateness (camera): receive time minus the recorded schedule, anchored at the earliest-arriving frame
    (so it includes DDS delivery of 196 KB images, and is 0 for the best-case frame);
  - achieved speed: recorded seconds played per wall second.
Targets (issue 15): p99 lateness <= 5 ms at rate 1; >= 20x real time unthrottled.
Usage: scripts/run.sh python benchmarks/replay.py [--seconds 30] [--rates 1 2 5 0]
A bare Python sleep loop is measured first: the timer jitter floor of this (shared, loaded) machine at that time.
Last line: RESULT p99_ms_rate1=<player p99 ms> receiver_p99_ms_rate1=<ms> speed_unthrottled=<x> floor_p99_ms=<ms>
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import rclpy
from ament_index_python.packages import get_package_prefix
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message
from rosbags.rosbag2 import StoragePlugin, Writer
from sensor_msgs.msg import Image

from jepa_core.data.playback import NS, offered_qos
from jepa_core.data.typestore import stack_typestore
from jepa_msgs.msg import EndEffectorState
from jepa_ros_common.stamps import stamp_from_nanoseconds, stamp_nanoseconds

REPO_ROOT = Path(__file__).resolve().parents[1]
PLAYER = Path(get_package_prefix("jepa_data")) / "lib" / "jepa_data" / "player"  # where `ros2 run` finds it
T0 = 1_700_000_000 * NS
HZ, SIZE = 15, 256
CAMERA = "/camera/image_raw"


def write_recording(path: Path, seconds: float) -> int:
    """Camera + state at 15 Hz for `seconds`; header stamps = recorded times. Returns the number of frames."""
    frames = int(seconds * HZ)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (4, SIZE, SIZE, 3), dtype=np.uint8)  # a few distinct frames, cycled
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        store = stack_typestore()
        camera = writer.add_connection(
            CAMERA,
            "sensor_msgs/msg/Image",
            typestore=store,
            offered_qos_profiles=[offered_qos(best_effort=True, depth=5)],
        )
        state = writer.add_connection("/ee_state", "jepa_msgs/msg/EndEffectorState", typestore=store)
        for index in range(frames):
            t = T0 + index * NS // HZ
            image = Image(height=SIZE, width=SIZE, encoding="rgb8", step=3 * SIZE, data=pixels[index % 4].tobytes())
            image.header.stamp = stamp_from_nanoseconds(t)
            writer.write(camera, t, serialize_message(image))
            writer.write(state, t + NS // 1000, serialize_message(EndEffectorState(gripper=0.5)))
    return frames


class CameraListener:
    """Receive time and recorded stamp of every camera frame (best effort, deep queue)."""

    def __init__(self) -> None:
        self.node = rclpy.create_node("replay_benchmark_listener")
        self.frames: list[tuple[float, int]] = []
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.node.create_subscription(Image, CAMERA, self._on_image, qos)

    def _on_image(self, msg: Image) -> None:
        stamp = stamp_nanoseconds(msg.header.stamp)
        if T0 <= stamp < T0 + 3600 * NS:  # our recording's frames only
            self.frames.append((time.monotonic(), stamp))


def receiver_lateness_ms(frames: list[tuple[float, int]], rate: float) -> np.ndarray:
    """Receive time minus the recorded schedule at `rate`, anchored at the earliest-arriving frame, ms."""
    received = np.array([r for r, _ in frames])
    scheduled = np.array([(t - T0) / NS / rate for _, t in frames])
    offsets = received - scheduled
    return (offsets - offsets.min()) * 1e3


def timer_floor_ms(seconds: float) -> np.ndarray:
    """Lateness of a bare Python sleep loop at 30 Hz on this machine now: the scheduler's floor for any player, ms."""
    late, start = [], time.monotonic()
    for index in range(int(seconds * 2 * HZ)):
        deadline = start + index / (2 * HZ)
        while (remaining := deadline - time.monotonic()) > 0:
            if remaining > 0.002:
                time.sleep(remaining - 0.002)
        late.append(time.monotonic() - deadline)
    return np.array(late) * 1e3


def play(bag: Path, rate: float, listener: CameraListener, stats_path: Path) -> dict:
    """Run the player process at `rate` while `listener` records; the player's summary plus receiver numbers."""
    listener.frames.clear()
    command = [sys.executable, str(PLAYER), str(bag), "--rate", str(rate)]  # waits for the camera subscriber
    command += ["--stats", str(stats_path), "--no-progress"]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, env=os.environ)
    if result.returncode != 0:
        raise RuntimeError(f"player failed ({result.returncode}): {result.stderr[-2000:]}")
    time.sleep(0.2)  # last deliveries
    summary = json.loads(stats_path.read_text())
    summary["process_s"] = time.perf_counter() - start
    summary["received"] = len(listener.frames)
    if rate > 0 and listener.frames:
        late = receiver_lateness_ms(listener.frames, rate)
        summary["receiver_p50_ms"], summary["receiver_p99_ms"] = np.percentile(late, [50, 99])
    return summary


def main() -> None:
    """Write the recording, play it at each rate, print the table and the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="recording length (default 30 s)")
    parser.add_argument("--rates", type=float, nargs="+", default=[1.0, 2.0, 5.0, 0.0], help="0 = unthrottled")
    args = parser.parse_args()
    # A domain of our own (inherited by the player process): other stacks on this machine publish cameras too.
    os.environ["ROS_DOMAIN_ID"] = str(101 + os.getpid() % 100)
    floor = timer_floor_ms(min(args.seconds, 10.0))
    floor_text = f"{np.percentile(floor, 50):.2f} / {np.percentile(floor, 99):.2f}"
    load = os.getloadavg()[0]
    print(
        f"machine: load average {load:.1f} on {os.cpu_count()} CPUs; bare sleep loop at 30 Hz: p50/p99 {floor_text} ms"
    )
    rclpy.init()
    listener = CameraListener()
    executor = SingleThreadedExecutor()
    executor.add_node(listener.node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    rows = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bag = Path(tmp) / "recording"
            frames = write_recording(bag, args.seconds)
            print(f"recording: {args.seconds:g} s, {frames} camera frames {SIZE}x{SIZE} rgb8 + {frames} states, MCAP")
            for rate in args.rates:
                print(f"== rate {rate:g}" + (" (as fast as possible)" if rate == 0 else ""), flush=True)
                rows[rate] = play(bag, rate, listener, Path(tmp) / f"stats_{rate:g}.json")
    finally:
        executor.shutdown()
        listener.node.destroy_node()
        rclpy.try_shutdown()

    print(
        f"\n{'rate':>6} {'speed':>8} {'player p50/p99 ms':>18} {'camera p50/p99 ms':>18} "
        f"{'receiver p50/p99 ms':>20} {'frames':>8}"
    )
    for rate, row in rows.items():
        camera = row["lateness_per_topic"].get(CAMERA, {})
        player = f"{row['lateness']['p50_ms']:.2f} / {row['lateness']['p99_ms']:.2f}" if rate else "-"
        camera_text = f"{camera['p50_ms']:.2f} / {camera['p99_ms']:.2f}" if rate and camera else "-"
        receiver = f"{row['receiver_p50_ms']:.2f} / {row['receiver_p99_ms']:.2f}" if "receiver_p99_ms" in row else "-"
        print(
            f"{rate or 'max':>6} {row['speed']:>7.1f}x {player:>18} {camera_text:>18} {receiver:>20} "
            f"{row['received']:>4}/{row['per_topic'].get(CAMERA, 0):<4}"
        )
    print(f"{'floor':>6} {'':>8} {floor_text:>18}  bare Python sleep loop on this machine (load {load:.1f})")
    print(
        "player: publish time - deadline on its schedule; receiver: camera receive time - recorded schedule, anchored"
    )
    first = rows.get(1.0)
    fastest = rows.get(0.0)
    print(
        f"RESULT p99_ms_rate1={first['lateness']['p99_ms'] if first else float('nan'):.2f} "
        f"receiver_p99_ms_rate1={first.get('receiver_p99_ms', float('nan')) if first else float('nan'):.2f} "
        f"speed_unthrottled={fastest['speed'] if fastest else float('nan'):.1f} "
        f"floor_p99_ms={np.percentile(floor, 99):.2f}"
    )


if __name__ == "__main__":
    main()
