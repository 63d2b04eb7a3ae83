"""Crash drill: a child process records a 15 Hz episode (camera images + gripper commands, 30 s of stamps, paced
faster than real time) through the recorder's EpisodeWriter and is SIGKILLed at a random moment; the repaired bag is
then compared with what the child had handed to the writer. Used by the crash test and benchmarks/data.py.

Child: python -m jepa_core.data.crash_drill OUTPUT_DIR [--config JSON]  (prints each message index once enqueued)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rosbags.rosbag2 import Reader

from jepa_core.data import topics
from jepa_core.data.episode_writer import EpisodeWriter
from jepa_core.data.synthetic import synthetic_frame
from jepa_core.data.typestore import stack_typestore

EPISODE = "crashed"
START_NS = 1_700_000_000_000_000_000  # stamp of row 0
DRILL_TOPICS = {f"/{topics.CAMERA_IMAGE.name}": topics.CAMERA_IMAGE.msgtype, "/gripper_command": "std_msgs/msg/Float64"}


@dataclass(frozen=True)
class DrillConfig:
    """The recording that gets killed."""

    seconds: float = 30.0  # of stamps
    row_hz: float = 15.0
    speedup: float = 10.0  # stamps advance this many times faster than the wall clock
    size: int = 64  # image height and width
    max_age_s: float = 1.0  # every message enqueued at least this long (wall time) before the kill must come back


@dataclass
class KilledRecording:
    """When each message was enqueued (parent's monotonic clock, as reported by the child) and when the kill came."""

    output_dir: Path
    enqueued_at: dict[int, float] = field(default_factory=dict)  # message index -> time its line arrived
    killed_at: float = 0.0
    returncode: int = 0

    @property
    def partial(self) -> Path:
        """The partial bag folder the kill left."""
        return self.output_dir / ".partial" / EPISODE


@dataclass(frozen=True)
class DrillResult:
    """What came back after repair."""

    enqueued: int  # row indices handed to the writer before the kill
    recovered: int  # rows with both messages in the repaired bag
    old: int  # rows enqueued at least max_age_s before the kill
    old_recovered: int

    @property
    def recovered_fraction(self) -> float:
        """Share of the enqueued rows that survived the kill."""
        return self.recovered / max(self.enqueued, 1)


def record_child(output_dir: Path, config: DrillConfig) -> None:
    """The child: write rows on the 15 Hz stamp grid, paced at `speedup` x real time, printing each index."""
    store = stack_typestore()
    image_cls, header_cls = store.types["sensor_msgs/msg/Image"], store.types["std_msgs/msg/Header"]
    time_cls, float_cls = store.types["builtin_interfaces/msg/Time"], store.types["std_msgs/msg/Float64"]
    writer = EpisodeWriter(output_dir, EPISODE, DRILL_TOPICS, store)
    start = time.monotonic()
    image_topic, gripper_topic = DRILL_TOPICS
    for index in range(int(config.seconds * config.row_hz)):
        time.sleep(max(0.0, start + index / (config.row_hz * config.speedup) - time.monotonic()))
        stamp = START_NS + round(index * 1e9 / config.row_hz)
        header = header_cls(time_cls(stamp // 1_000_000_000, stamp % 1_000_000_000), "drill_camera")
        frame = synthetic_frame(index, config.size, config.size)
        image = image_cls(header, config.size, config.size, "rgb8", 0, config.size * 3, frame.ravel())
        writer.write(image_topic, stamp, store.serialize_cdr(image, "sensor_msgs/msg/Image"))
        writer.write(gripper_topic, stamp, store.serialize_cdr(float_cls(float(index)), "std_msgs/msg/Float64"))
        print(index, flush=True)
    writer.close()


def run_and_kill(output_dir: Path, config: DrillConfig = DrillConfig(), seed: int = 0) -> KilledRecording:
    """Start the child, SIGKILL it at a random moment of its recording, return what it had enqueued by then."""
    output_dir = Path(output_dir)
    command = [
        sys.executable,
        "-m",
        "jepa_core.data.crash_drill",
        str(output_dir),
        "--config",
        json.dumps(asdict(config)),
    ]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    killed = KilledRecording(output_dir)
    first_line = threading.Event()

    def read_lines() -> None:
        for line in child.stdout:
            killed.enqueued_at[int(line)] = time.monotonic()
            first_line.set()

    reader = threading.Thread(target=read_lines, daemon=True)
    reader.start()
    if not first_line.wait(60.0):
        child.kill()
        raise RuntimeError(f"crash drill child printed nothing in 60 s (exit code {child.poll()})")
    duration = config.seconds / config.speedup
    time.sleep(config.max_age_s + random.Random(seed).uniform(0.1, 0.95) * (duration - config.max_age_s))
    killed.killed_at = time.monotonic()
    os.kill(child.pid, signal.SIGKILL)
    killed.returncode = child.wait()
    reader.join(5.0)
    return killed


def count_recovered(killed: KilledRecording, bag: Path, config: DrillConfig = DrillConfig()) -> DrillResult:
    """Compare the repaired bag (read with rosbags' Reader) with the rows the child had enqueued."""
    store = stack_typestore()
    per_topic: dict[str, set[int]] = {topic: set() for topic in DRILL_TOPICS}
    with Reader(bag) as reader:
        for connection, stamp, raw in reader.messages():
            if connection.topic == "/gripper_command":
                per_topic[connection.topic].add(int(store.deserialize_cdr(raw, connection.msgtype).data))
            else:
                per_topic[connection.topic].add(round((stamp - START_NS) * config.row_hz / 1e9))
    recovered = set.intersection(*per_topic.values())
    old = {i for i, at in killed.enqueued_at.items() if at <= killed.killed_at - config.max_age_s}
    enqueued = set(killed.enqueued_at)
    return DrillResult(len(enqueued), len(recovered & enqueued), len(old), len(old & recovered))


def main(argv: list[str] | None = None) -> None:
    """Child entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--config", type=json.loads, default={}, help="DrillConfig fields as JSON (default: defaults)")
    args = parser.parse_args(argv)
    record_child(args.output_dir, DrillConfig(**args.config))


if __name__ == "__main__":
    main()
