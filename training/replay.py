"""CLI: replay rosbag2 bags (MCAP or sqlite3) into ROS 2 with the recorded timing; no `ros2 bag play` needed.

    scripts/run.sh python -m training.replay bags/episode_0001 [bags/episode_0002 ...] [--rate 2] [--loop] [--clock]
        [--start-offset 5] [--duration 10] [--topics /camera/image_raw /ee_state] [--remap /ee_state:=/sim/ee_state]

Messages are published as the recorded CDR bytes (no deserialization), for every topic whose message type has a
Python package installed: the stack's interfaces, sensor_msgs, geometry_msgs, ...; topics of other types are listed
and skipped. Each topic gets the QoS it was recorded with (best-effort stays best-effort; reliable, volatile,
keep-last 10 when the bag has no QoS). --clock publishes /clock with the recorded time, so nodes run with
`use_sim_time:=true`. While playing: `ros2 service call /replay/pause jepa_msgs/srv/ReplayControl`, `/replay/resume`,
`/replay/step` (publish exactly the next message, stay paused). Ctrl-C stops cleanly; a summary (messages per topic,
achieved speed, lateness against the recorded schedule) ends every run, and --stats writes it as JSON.
ROS arguments go after --ros-args (e.g. --ros-args -r __node:=replay2).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosbags.interfaces import QosDurability, QosHistory, QosReliability
from rosgraph_msgs.msg import Clock
from tqdm import tqdm

from jepa_core.data.playback import NS, BagMessage, BagSource, PlaybackClock, PlaybackError, TopicInfo
from jepa_msgs.srv import ReplayControl
from training.record import message_class

DEFAULT_DEPTH = 10  # keep-last depth when the recording has none (rosbag2's default)
SPIN_S = 0.002  # the last part of a wait is spent spinning on the clock, for sub-millisecond deadlines


@dataclass(frozen=True)
class ReplayOptions:
    """What to play and how (the CLI's options)."""

    rate: float = 1.0  # recorded time per wall time; 0 = as fast as possible
    start_offset: float = 0.0  # s of recorded time skipped at the start
    duration: float = 0.0  # s of recorded time played from there; 0 = to the end
    loop: bool = False  # start again at the end until stopped
    topics: tuple[str, ...] = ()  # recorded topics to play; empty = all
    remaps: tuple[tuple[str, str], ...] = ()  # (recorded name, published name)
    clock_hz: float = 0.0  # /clock publications per wall second; 0 = no /clock
    delay: float = 0.0  # s to wait after creating the publishers (discovery) before the first message
    start_paused: bool = False  # wait for /replay/resume or /replay/step before the first message
    progress: bool = True  # progress bar on stderr

    def __post_init__(self) -> None:
        """Reject values that cannot work, naming the option."""
        for name in ("start_offset", "duration", "clock_hz", "delay"):
            if getattr(self, name) < 0:
                raise PlaybackError(f"--{name.replace('_', '-')}: expected >= 0, got {getattr(self, name)}")
        if self.rate < 0:
            raise PlaybackError(f"--rate: expected a factor > 0 (or 0 = as fast as possible), got {self.rate}")


def absolute(topic: str) -> str:
    """Topic name with a leading slash (bags store absolute names)."""
    return topic if topic.startswith("/") else f"/{topic}"


def parse_remap(text: str) -> tuple[str, str]:
    """'old:=new' -> ('/old', '/new')."""
    old, sep, new = text.partition(":=")
    if not sep or not old or not new:
        raise PlaybackError(f"--remap: expected OLD:=NEW (e.g. /camera/image_raw:=/cam/image), got {text!r}")
    return absolute(old), absolute(new)


def qos_for(info: TopicInfo) -> QoSProfile:
    """Publisher QoS from the profiles the topic was recorded with: best effort if any publisher offered it,
    transient-local only if all did, keep-all if any did, else keep-last with the largest recorded depth."""
    profiles = info.qos
    if not profiles:
        return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=DEFAULT_DEPTH)
    best_effort = any(p.reliability == QosReliability.BEST_EFFORT for p in profiles)
    transient = all(p.durability == QosDurability.TRANSIENT_LOCAL for p in profiles)
    keep_all = any(p.history == QosHistory.KEEP_ALL for p in profiles)
    return QoSProfile(
        history=HistoryPolicy.KEEP_ALL if keep_all else HistoryPolicy.KEEP_LAST,
        depth=max([DEFAULT_DEPTH if keep_all else 1, *(p.depth for p in profiles)]),
        reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if transient else DurabilityPolicy.VOLATILE,
    )


def percentile(values: list[float], q: float) -> float:
    """q-th percentile (0-100, linear interpolation); NaN for no values."""
    return float(np.percentile(values, q)) if values else float("nan")


@dataclass
class ReplayStats:
    """What a replay did: counts, wall and recorded time, and lateness of each message against its deadline."""

    published: Counter = field(default_factory=Counter)  # published topic -> messages
    lateness_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # throttled messages only
    wall_s: float = 0.0
    bag_s: float = 0.0  # recorded time covered (summed over loops)
    loops: int = 0
    interrupted: bool = False
    skipped: dict[str, str] = field(default_factory=dict)  # recorded topic -> why it was not played

    def summary(self) -> dict:
        """JSON-ready summary: totals, achieved speed, lateness p50/p99/max in ms overall and per topic."""
        everything = [value for values in self.lateness_s.values() for value in values]

        def lateness(values: list[float]) -> dict[str, float]:
            return {key: percentile(values, q) * 1e3 for key, q in (("p50_ms", 50), ("p99_ms", 99), ("max_ms", 100))}

        return {
            "published": sum(self.published.values()),
            "per_topic": dict(self.published),
            "wall_s": self.wall_s,
            "bag_s": self.bag_s,
            "speed": self.bag_s / self.wall_s if self.wall_s > 0 else float("nan"),
            "loops": self.loops,
            "interrupted": self.interrupted,
            "lateness": lateness(everything),
            "lateness_per_topic": {topic: lateness(values) for topic, values in self.lateness_s.items()},
            "skipped": self.skipped,
        }


class BagPlayer(Node):
    """Publishes a BagSource's messages on schedule; serves ~/pause, ~/resume and ~/step (jepa_msgs/ReplayControl)."""

    def __init__(self, source: BagSource, options: ReplayOptions, **node_kwargs) -> None:
        super().__init__("replay", **node_kwargs)
        self.source, self.options = source, options
        self.clock = PlaybackClock(options.rate)
        self.stats = ReplayStats()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._steps = 0  # step requests not yet served
        self._stepped = threading.Condition(self._lock)
        self._stepping = False  # the message being published was released by a step
        self._next_clock = 0.0  # wall time of the next /clock publication
        self.topics = self._select_topics()
        remaps = dict(options.remaps)
        unknown = sorted(set(remaps) - set(source.topics))
        if unknown:
            raise PlaybackError(f"--remap: {unknown} not in the bags; recorded topics: {sorted(source.topics)}")
        self._topic_publishers = {}
        for name in self.topics:
            info = source.topics[name]
            try:
                msg_class = message_class(info.msgtype)
            except (ImportError, AttributeError, ValueError) as error:
                self.stats.skipped[name] = f"{info.msgtype}: no Python package for this type ({error})"
                continue
            self._topic_publishers[name] = self.create_publisher(msg_class, remaps.get(name, name), qos_for(info))
        self.topics = [name for name in self.topics if name in self._topic_publishers]
        if not self.topics:
            raise PlaybackError(f"nothing to play: every selected topic was skipped ({self.stats.skipped})")
        self._clock_publisher = self.create_publisher(Clock, "/clock", 10) if options.clock_hz > 0 else None
        for name, handler in (("pause", self._on_pause), ("resume", self._on_resume), ("step", self._on_step)):
            self.create_service(ReplayControl, f"~/{name}", handler)
        if options.start_paused:
            self.clock.pause(time.monotonic())

    @property
    def output_topics(self) -> list[str]:
        """Topics this player publishes on (after remapping), /clock excluded."""
        return [publisher.topic_name for publisher in self._topic_publishers.values()]

    def _select_topics(self) -> list[str]:
        """Recorded topics to play: --topics (each must exist) or all."""
        if not self.options.topics:
            return sorted(self.source.topics)
        wanted = [absolute(topic) for topic in self.options.topics]
        missing = [topic for topic in wanted if topic not in self.source.topics]
        if missing:
            raise PlaybackError(f"--topics: {missing} not in the bags; recorded topics: {sorted(self.source.topics)}")
        return list(dict.fromkeys(wanted))

    def window(self) -> tuple[int, int]:
        """Recorded-time window [start, stop) in ns from --start-offset and --duration."""
        start = self.source.start_ns + round(self.options.start_offset * NS)
        if start > self.source.end_ns:
            length = (self.source.end_ns - self.source.start_ns) / NS
            raise PlaybackError(f"--start-offset: {self.options.start_offset} s is past the bags' {length:.3f} s")
        stop = start + round(self.options.duration * NS) if self.options.duration > 0 else self.source.end_ns + 1
        return start, stop

    # ---- services (executor thread) ---------------------------------------------------------------------------------
    def _reply(self, response: ReplayControl.Response, message: str) -> ReplayControl.Response:
        response.success, response.message, response.paused = True, message, self.clock.paused
        response.published = sum(self.stats.published.values())
        response.bag_time_s = max(0, self.clock.position_ns(time.monotonic()) - self.source.start_ns) / NS
        return response

    def _on_pause(self, request, response):
        with self._lock:
            self.clock.pause(time.monotonic())
            self._wake.set()
            return self._reply(response, "paused")

    def _on_resume(self, request, response):
        with self._lock:
            self.clock.resume(time.monotonic())
            self._wake.set()
            return self._reply(response, "playing")

    def _on_step(self, request, response):
        """Pause if playing, then wait (up to 2 s) until the playback thread published exactly one more message."""
        with self._lock:
            self.clock.pause(time.monotonic())
            before = sum(self.stats.published.values())
            self._steps += 1
            self._wake.set()
            done = self._stepped.wait_for(lambda: self._steps == 0 or self._stop.is_set(), timeout=2.0)
            published = sum(self.stats.published.values()) - before
            response = self._reply(response, f"stepped {published} message(s)" if done else "step timed out")
            response.success = done and published == 1
            return response

    # ---- playback (calling thread) ----------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask `play` to return after the current message (any thread)."""
        self._stop.set()
        self._wake.set()

    def _publish_clock(self, now: float) -> None:
        if self._clock_publisher is not None:
            position = self.clock.position_ns(now)
            self._clock_publisher.publish(Clock(clock=Time(sec=position // NS, nanosec=position % NS)))

    def _wait_for(self, message: BagMessage) -> bool:
        """Block until `message` is due (or a step releases it while paused); publishes /clock meanwhile.
        Returns False when stopping; True when due, with `self._stepping` telling whether a step released it."""
        period = 1.0 / self.options.clock_hz if self.options.clock_hz > 0 else float("inf")
        while True:
            with self._lock:
                now = time.monotonic()
                if not rclpy.ok(context=self.context):  # SIGINT/SIGTERM: rclpy shut the context down
                    self.stats.interrupted = True
                    self._stop.set()  # ends a --loop run too
                    return False
                if self._stop.is_set():
                    return False
                if self._steps and self.clock.paused:
                    self._stepping = True
                    return True
                paused = self.clock.paused
                remaining = float("inf") if paused else self.clock.deadline(message.time_ns) - now
                self._wake.clear()
            if now >= self._next_clock:
                self._publish_clock(now)
                self._next_clock = now + period
            if remaining <= 0:
                self._stepping = False
                return True
            until_clock = self._next_clock - now
            if remaining > SPIN_S or until_clock < remaining:
                self._wake.wait(min(remaining - SPIN_S if remaining > SPIN_S else remaining, until_clock, 0.5))
            else:
                deadline = now + remaining
                while time.monotonic() < deadline:  # sub-millisecond precision for the last stretch
                    pass

    def _publish(self, message: BagMessage) -> None:
        """Publish one message and account for it (lateness only for scheduled, throttled messages)."""
        now = time.monotonic()
        self._topic_publishers[message.topic].publish(message.data)  # the recorded CDR bytes
        topic = self._topic_publishers[message.topic].topic_name
        with self._lock:
            self.stats.published[topic] += 1
            if self._stepping:
                self._steps = 0
                self.clock.stepped(message.time_ns, now)
                self._stepped.notify_all()
            else:
                self.clock.played(message.time_ns)
                if self.options.rate > 0:
                    self.stats.lateness_s[topic].append(now - self.clock.deadline(message.time_ns))

    def play(self) -> ReplayStats:
        """Play the window once, or until stopped with --loop; returns the stats (also kept in `self.stats`)."""
        start_ns, stop_ns = self.window()
        total = self.source.count(self.topics, start_ns, stop_ns)
        if total == 0:
            raise PlaybackError(f"no messages of {self.topics} in the selected window")
        if self.options.delay:
            self._stop.wait(self.options.delay)
        started = time.monotonic()
        progress = tqdm(total=total, unit="msg", disable=not self.options.progress, dynamic_ncols=True)
        try:
            while not self._stop.is_set():
                progress.reset(total)
                progress.set_description(f"replay x{self.options.rate:g} loop {self.stats.loops + 1}")
                with self._lock:
                    self.clock.start(start_ns, time.monotonic())
                last_ns = start_ns
                try:
                    for message in self.source.messages(self.topics, start_ns, stop_ns):
                        if not self._wait_for(message):
                            break
                        self._publish(message)
                        last_ns = message.time_ns
                        progress.update()
                    else:
                        self.stats.loops += 1
                finally:  # also for the partial loop of an interrupted run
                    self.stats.bag_s += (last_ns - start_ns) / NS
                if not self.options.loop:
                    break
        finally:
            progress.close()
            self.stats.wall_s = time.monotonic() - started
            with self._lock:
                self._stepped.notify_all()
        return self.stats


def print_summary(stats: ReplayStats, rate: float) -> None:
    """Human-readable end-of-run summary."""
    summary = stats.summary()
    state = "interrupted" if stats.interrupted else f"done ({stats.loops} loop(s))"
    print(
        f"replay {state}: {summary['published']} messages in {summary['wall_s']:.2f} s wall for "
        f"{summary['bag_s']:.2f} s recorded ({summary['speed']:.2f}x real time, rate {rate:g})"
    )
    for topic, count in sorted(summary["per_topic"].items()):
        late = summary["lateness_per_topic"].get(topic)
        timing = f", lateness p50 {late['p50_ms']:.2f} / p99 {late['p99_ms']:.2f} ms" if late else ""
        print(f"  {topic}: {count}{timing}")
    for topic, reason in stats.skipped.items():
        print(f"  skipped {topic}: {reason}")


def serve(executor: SingleThreadedExecutor) -> None:
    """Spin the services until the executor is shut down or Ctrl-C shuts the context down."""
    with contextlib.suppress(ExternalShutdownException):
        executor.spin()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.replay", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("bags", nargs="+", help="rosbag2 bag folders (MCAP or sqlite3); several play merged in time")
    parser.add_argument("--rate", type=float, default=1.0, help="playback speed factor; 0 = as fast as possible")
    parser.add_argument("--start-offset", type=float, default=0.0, help="skip this many recorded seconds first")
    parser.add_argument("--duration", type=float, default=0.0, help="play this many recorded seconds; 0 = to the end")
    parser.add_argument("--loop", action="store_true", help="start again at the end until Ctrl-C")
    parser.add_argument("--topics", nargs="+", default=[], help="recorded topics to play (default: all)")
    parser.add_argument("--remap", action="append", default=[], help="OLD:=NEW topic rename (repeatable)")
    parser.add_argument(
        "--clock", type=float, nargs="?", const=40.0, default=0.0, help="publish /clock at this rate, Hz (default 40)"
    )
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before playing (discovery)")
    parser.add_argument("--start-paused", action="store_true", help="wait for ~/resume or ~/step before playing")
    parser.add_argument("--stats", type=Path, help="write the summary as JSON to this file")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(args: list[str] | None = None) -> None:
    """Parse options, play, print the summary; a bad bag or option value exits with its reason (status 1)."""
    argv = list(sys.argv if args is None else args)
    split = argv.index("--ros-args") if "--ros-args" in argv else len(argv)
    parsed = build_parser().parse_args(argv[1:split])
    try:
        options = ReplayOptions(
            rate=parsed.rate,
            start_offset=parsed.start_offset,
            duration=parsed.duration,
            loop=parsed.loop,
            topics=tuple(parsed.topics),
            remaps=tuple(parse_remap(text) for text in parsed.remap),
            clock_hz=parsed.clock,
            delay=parsed.delay,
            start_paused=parsed.start_paused,
            progress=not parsed.no_progress,
        )
        source = BagSource(parsed.bags)
    except PlaybackError as error:
        sys.exit(f"replay: {error}")
    rclpy.init(args=[argv[0], *argv[split:]])  # rcl would read our --remap OLD:=NEW as its own (deprecated) rule
    player, executor, spinner = None, None, None
    try:
        player = BagPlayer(source, options)
        executor = SingleThreadedExecutor()
        executor.add_node(player)
        spinner = threading.Thread(target=serve, args=(executor,), daemon=True)
        spinner.start()
        player.play()
    except PlaybackError as error:
        sys.exit(f"replay: {error}")
    except (KeyboardInterrupt, ExternalShutdownException):
        if player is not None:
            player.stats.interrupted = True
    finally:
        if player is not None:
            player.stop()
            print_summary(player.stats, options.rate)
            if parsed.stats:
                parsed.stats.write_text(json.dumps(player.stats.summary(), indent=2) + "\n")
        if executor is not None:
            executor.shutdown(timeout_sec=5.0)
            spinner.join(timeout=5.0)
        if player is not None:
            player.destroy_node()
        source.close()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
