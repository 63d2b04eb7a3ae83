"""Episode recorder node: subscribes to the stack's topics (raw, by type) and writes one MCAP rosbag2 bag per episode.

Episodes start and stop through the `start_recording` / `stop_recording` services (jepa_msgs/srv/StartRecording,
StopRecording). Callbacks only enqueue serialized bytes; a writer thread does the disk work (see EpisodeWriter).
MCAP chunks carry CRCs and are written out every `chunk_max_s`: after a crash, `python -m training.bag_repair
<output_dir>` recovers every chunk on disk. SIGINT/SIGTERM (once or more) close an open episode, kept, and exit 0.
Run: scripts/run.sh ros2 run jepa_data recorder --ros-args --params-file launch/config/record.yaml
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from jepa_core.data.bags import ChunkPolicy
from jepa_core.data.episode_writer import EpisodeSummary, EpisodeWriter
from jepa_core.data.topics import RECORDED_TOPICS, topic_type
from jepa_core.data.typestore import stack_typestore
from jepa_data.bag_topics import message_class
from jepa_msgs.srv import StartRecording, StopRecording
from jepa_ros_common.parameters import Param, declare_table, finite_positive
from jepa_ros_common.process import run_node

SUBSCRIPTION_DEPTH = 200  # messages buffered per topic by the middleware while the executor is busy
STORAGES = ("mcap", "sqlite3")


def _storage(value: str) -> str | None:
    return None if value in STORAGES else f"expected one of {STORAGES}, got {value!r}"


# All read-only: they shape the episodes' bags and subscriptions, which are made once (launch/config/record.yaml).
PARAMETERS = (
    Param("output_dir", "bags", "folder receiving one bag folder per episode (created if missing)"),
    Param("storage", "mcap", "rosbag2 storage plugin: mcap (crash-safe, checksummed) or sqlite3", validate=_storage),
    Param("chunk_max_mb", 4.0, "MCAP chunk size bound, MiB of messages", validate=finite_positive),
    Param("chunk_max_s", 0.5, "an MCAP chunk is written out at least this often, s", validate=finite_positive),
    Param("topics", [t.name for t in RECORDED_TOPICS], "topics to record (names of jepa_core.data.topics)"),
    Param("discovery_period_s", 0.2, "how often to look for publishers of topics, s", validate=finite_positive),
    Param("autostart_episode", "", "non-empty: record this episode from start-up to shutdown"),
)


def default_episode_name() -> str:
    """A UTC timestamped episode name, e.g. episode_20260101T120000_123456."""
    return datetime.now(UTC).strftime("episode_%Y%m%dT%H%M%S_%f")


class EpisodeRecorder(Node):
    """Subscribes to the recorded topics once their publishers appear and records episodes on request."""

    def __init__(self, **node_kwargs) -> None:
        super().__init__("episode_recorder", **node_kwargs)
        values = declare_table(self, PARAMETERS)
        self._output_dir = Path(values["output_dir"])
        self._storage = values["storage"]
        self._chunks = ChunkPolicy(max_bytes=int(values["chunk_max_mb"] * 2**20), max_seconds=values["chunk_max_s"])
        self._topics = {self.resolve_topic_name(name): topic_type(name) for name in values["topics"]}
        self._typestore = stack_typestore()
        self._topic_subscriptions: dict[str, object] = {}
        self._lock = threading.Lock()  # guards _episode between callbacks and services
        self._episode: EpisodeWriter | None = None
        self.received: Counter[str] = Counter()  # messages enqueued into the current episode, per topic
        self.create_service(StartRecording, "start_recording", self._on_start)
        self.create_service(StopRecording, "stop_recording", self._on_stop)
        self.create_timer(values["discovery_period_s"], self._subscribe_discovered)
        self._subscribe_discovered()
        if values["autostart_episode"]:
            # Opened by the first spin, not here: a stop signal abandons a node still being built, so an episode is
            # only ever open in a node that spins and is destroyed (which closes and keeps the episode).
            self._autostart = self.create_timer(0.0, lambda: self._start_once(values["autostart_episode"]))

    @property
    def subscribed_topics(self) -> set[str]:
        """Fully qualified names of the topics subscribed so far."""
        return set(self._topic_subscriptions)

    @property
    def recording(self) -> bool:
        """True while an episode is open."""
        return self._episode is not None

    def _subscribe_discovered(self) -> None:
        """Subscribe to each pending topic whose publishers are known, matching their reliability."""
        for topic, msgtype in self._topics.items():
            if topic in self._topic_subscriptions:
                continue
            publishers = self.get_publishers_info_by_topic(topic)
            if not publishers:
                continue
            wrong = {p.topic_type for p in publishers} - {msgtype}
            if wrong:
                self.get_logger().error(f"{topic}: expected type {msgtype}, publishers offer {sorted(wrong)}")
                continue
            reliable = all(p.qos_profile.reliability == ReliabilityPolicy.RELIABLE for p in publishers)
            qos = QoSProfile(
                history=HistoryPolicy.KEEP_LAST,
                depth=SUBSCRIPTION_DEPTH,
                reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
                durability=DurabilityPolicy.VOLATILE,
            )
            self._topic_subscriptions[topic] = self.create_subscription(
                message_class(msgtype), topic, lambda data, t=topic: self._on_message(t, data), qos, raw=True
            )
            self.get_logger().info(f"recording {topic} ({msgtype}, {'reliable' if reliable else 'best effort'})")

    def _on_message(self, topic: str, data: bytes) -> None:
        """Enqueue a serialized message into the open episode, stamped with its receive time (as rosbag2 does)."""
        with self._lock:
            if self._episode is None:
                return
            try:
                self._episode.write(topic, time.time_ns(), data)
            except RuntimeError as error:  # the writer thread failed (disk full, ...): stop_recording reports it
                self.get_logger().error(str(error), throttle_duration_sec=5.0)
                return
            self.received[topic] += 1

    def _start_once(self, episode: str) -> None:
        """Timer callback: start the autostart episode, once."""
        self.destroy_timer(self._autostart)
        self.start_episode(episode)

    def start_episode(self, episode: str = "") -> Path:
        """Open a new episode bag; raises when one is already open or the name is taken."""
        with self._lock:
            if self._episode is not None:
                raise RuntimeError(f"already recording {self._episode.final_path}")
            self._episode = EpisodeWriter(
                self._output_dir,
                episode or default_episode_name(),
                self._topics,
                self._typestore,
                self._storage,
                self._chunks,
            )
            self.received.clear()
            self.get_logger().info(f"recording episode {self._episode.final_path}")
            return self._episode.final_path

    def stop_episode(self, discard: bool = False) -> EpisodeSummary:
        """Close the open episode: every message received before this call is in the bag."""
        with self._lock:
            episode, self._episode = self._episode, None
        if episode is None:
            raise RuntimeError("not recording")
        summary = episode.close(discard=discard)
        self.get_logger().info(f"episode closed: {summary.path or 'discarded'}, {summary.message_count} messages")
        return summary

    def _on_start(self, request: StartRecording.Request, response: StartRecording.Response):
        """Service: start an episode."""
        try:
            response.bag_path = str(self.start_episode(request.episode))
            response.success = True
        except (RuntimeError, ValueError, OSError) as error:
            response.success, response.message = False, str(error)
        return response

    def _on_stop(self, request: StopRecording.Request, response: StopRecording.Response):
        """Service: stop the current episode."""
        try:
            summary = self.stop_episode(discard=request.discard)
            response.bag_path = str(summary.path or "")
            response.message_count = summary.message_count
            response.success = True
        except (RuntimeError, OSError) as error:
            response.success, response.message = False, str(error)
        return response

    def destroy_node(self) -> None:
        """Keep an open episode (closed normally) when the node goes away."""
        if self._episode is not None:
            self.stop_episode()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    """Console script `recorder`: record until SIGINT/SIGTERM (once or more), close an open episode (kept), exit 0."""
    argv = list(sys.argv if args is None else args)
    # Only ROS arguments are accepted; --help explains them instead of starting the node.
    own = argv[1 : argv.index("--ros-args")] if "--ros-args" in argv else argv[1:]
    argparse.ArgumentParser(
        prog="ros2 run jepa_data recorder",
        description=__doc__,
        epilog="Parameters (set with --ros-args -p NAME:=VALUE or --params-file): see launch/config/record.yaml.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).parse_args(own)
    run_node(EpisodeRecorder, argv)
