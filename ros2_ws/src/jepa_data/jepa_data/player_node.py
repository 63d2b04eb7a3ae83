"""Player node: replays rosbag2 bags (MCAP or sqlite3) into ROS 2 with the recorded timing; no `ros2 bag play` needed.

    ros2 run jepa_data player bags/episode_0001 [bags/episode_0002 ...] [--rate 2] [--loop] [--clock]
        [--start-offset 5] [--duration 10] [--topics /camera/image_raw /ee_state] [--remap /ee_state:=/sim/ee_state]

Messages are published as the recorded CDR bytes (no deserialization), for every topic whose message type has a
Python package installed: the stack's interfaces, sensor_msgs, geometry_msgs, ...; topics of other types are listed
and skipped. Command topics (what a robot or the planner obeys: target_pose, gripper_command, goal_pose, actions,
services; jepa_core.data.topics.is_command) are played only when named with --topics, so a bag replayed into a
running stack never re-commands an arm. Before the first message the player waits (--subscriber-wait, 2 s at most)
until every played topic has a subscriber, so the first frames are not lost to discovery. Each topic gets the QoS it
was recorded with (best-effort stays best-effort; reliable, volatile, keep-last 10 when the bag has no QoS). --clock
publishes /clock with the recorded time, so nodes run with `use_sim_time:=true`. While playing:
`ros2 service call /replay/pause std_srvs/srv/Trigger`, `/replay/resume`, `/replay/step` (publish exactly the next
message, stay paused). SIGINT/SIGTERM stop cleanly (exit 0); a summary (messages per topic, achieved speed, lateness
against the recorded schedule) ends every run, and --stats writes it as JSON.
ROS arguments go after --ros-args (e.g. --ros-args -r __node:=replay2).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import rclpy
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from std_srvs.srv import Trigger
from tqdm import tqdm

from jepa_core.data.playback import NS, BagMessage, BagSource, PlaybackClock, PlaybackError
from jepa_core.data.topics import is_command
from jepa_data.bag_topics import message_class, qos_for
from jepa_data.replay_options import ReplayOptions, absolute, build_parser, options_from
from jepa_data.replay_stats import ReplayStats, print_summary
from jepa_ros_common.process import run_node
from jepa_ros_common.stamps import stamp_from_nanoseconds

SPIN_S = 0.002  # the last part of a wait is spent spinning on the clock, for sub-millisecond deadlines
SUBSCRIBER_POLL_S = 0.01  # how often the subscriber wait looks at the publishers' match counts


class BagPlayer(Node):
    """Publishes a BagSource's messages on schedule; serves ~/pause, ~/resume and ~/step (std_srvs/Trigger)."""

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
        self._playback: threading.Thread | None = None  # the console script's playback thread (start_playback)
        self.failure: Exception | None = None  # what ended that thread's playback early
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
            self.create_service(Trigger, f"~/{name}", handler)
        if options.start_paused:
            self.clock.pause(time.monotonic())

    @property
    def output_topics(self) -> list[str]:
        """Topics this player publishes on (after remapping), /clock excluded."""
        return [publisher.topic_name for publisher in self._topic_publishers.values()]

    def _select_topics(self) -> list[str]:
        """Recorded topics to play: --topics (each must exist, commands too) or all but the command topics."""
        if not self.options.topics:
            commands = sorted(name for name, info in self.source.topics.items() if is_command(name, info.msgtype))
            for name in commands:
                self.stats.skipped[name] = "a command topic: played only when named with --topics"
            if commands:
                self.get_logger().warning(
                    f"not playing the command topics {commands} (name them with --topics to play them)"
                )
            return sorted(set(self.source.topics) - set(commands))
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
    def _reply(self, response: Trigger.Response, what: str) -> Trigger.Response:
        """Success, with what happened and where playback stands (caller holds the lock)."""
        state = "paused" if self.clock.paused else "playing"
        bag_time_s = max(0, self.clock.position_ns(time.monotonic()) - self.source.start_ns) / NS
        published = sum(self.stats.published.values())
        response.success = True
        response.message = f"{what}; {state} at {bag_time_s:.3f} s of the recording, {published} messages published"
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
            self._clock_publisher.publish(Clock(clock=stamp_from_nanoseconds(position)))

    def _wait_for(self, message: BagMessage) -> bool:
        """Block until `message` is due (or a step releases it while paused); publishes /clock meanwhile.
        Returns False when stopping; True when due, with `self._stepping` telling whether a step released it."""
        period = 1.0 / self.options.clock_hz if self.options.clock_hz > 0 else float("inf")
        while True:
            with self._lock:
                now = time.monotonic()
                if not rclpy.ok(context=self.context):  # the context's owner shut it down under the playback
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

    def _wait_for_subscribers(self) -> None:
        """Wait (at most `subscriber_wait` s, until stopped) until every played topic has a subscriber, so that the
        first messages are not published before their subscriptions match; warns about topics still without one."""
        deadline = time.monotonic() + self.options.subscriber_wait
        while unmatched := [p.topic_name for p in self._topic_publishers.values() if p.get_subscription_count() == 0]:
            if time.monotonic() >= deadline or not rclpy.ok(context=self.context) or self._stop.wait(SUBSCRIBER_POLL_S):
                break
        if unmatched and self.options.subscriber_wait > 0 and not self._stop.is_set():
            waited = self.options.subscriber_wait
            self.get_logger().warning(f"playing with no subscriber on {unmatched} after waiting {waited:g} s")

    def play(self) -> ReplayStats:
        """Play the window once, or until stopped with --loop; returns the stats (also kept in `self.stats`)."""
        start_ns, stop_ns = self.window()
        total = self.source.count(self.topics, start_ns, stop_ns)
        if total == 0:
            raise PlaybackError(f"no messages of {self.topics} in the selected window")
        self._wait_for_subscribers()
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

    # ---- the console script's process (jepa_ros_common.process.run_node) -----------------------------------------
    def start_playback(self, stats_path: Path | None) -> None:
        """Play on a thread of its own while run_node's executor serves ~/pause, ~/resume and ~/step; the summary
        (and the --stats file) when it ends. What ended it early is kept in `failure`."""
        self._playback = threading.Thread(target=self._play_and_report, args=(stats_path,), name="playback",
                                          daemon=True)  # fmt: skip
        self._playback.start()

    def _play_and_report(self, stats_path: Path | None) -> None:
        try:
            self.play()
        except Exception as error:  # raised again by main once the node is down
            self.failure = error
        finally:
            print_summary(self.stats, self.options.rate)
            if stats_path:
                stats_path.write_text(json.dumps(self.stats.summary(), indent=2) + "\n")

    def on_stop_requested(self) -> None:
        """SIGINT/SIGTERM: the playback ends after the current message, reported as interrupted."""
        self.stats.interrupted = True
        self.stop()

    def stop_pending(self) -> bool:
        """True while the playback thread runs (it prints the summary last), so the stop waits for the summary."""
        return self._playback is not None and self._playback.is_alive()

    def finished(self) -> bool:
        """True once the playback thread ended (the end of the bags, or a failure): the process ends."""
        return self._playback is not None and not self._playback.is_alive()


def main(args: list[str] | None = None) -> None:
    """Console script `player`: parse options, play until the end or SIGINT/SIGTERM (exit 0), print the summary; a bad
    bag or option value exits with its reason (status 1)."""
    argv = list(sys.argv if args is None else args)
    split = argv.index("--ros-args") if "--ros-args" in argv else len(argv)
    parsed = build_parser(__doc__).parse_args(argv[1:split])
    try:
        options = options_from(parsed)
        source = BagSource(parsed.bags)
    except PlaybackError as error:
        sys.exit(f"replay: {error}")

    player: BagPlayer | None = None

    def build() -> BagPlayer:
        nonlocal player
        player = BagPlayer(source, options)
        player.start_playback(parsed.stats)
        return player

    try:
        run_node(build, [argv[0], *argv[split:]])  # rcl would read --remap OLD:=NEW as its own
        if player.failure is not None:  # run_node returns only when the playback ended without a stop signal
            raise player.failure
    except PlaybackError as error:
        sys.exit(f"replay: {error}")
    finally:
        source.close()
