"""Bag playback without ROS: several rosbag2 bags (MCAP or sqlite3, read with rosbags) merged into one time-ordered
stream of raw CDR messages, and the wall-clock schedule that replays it at a rate with pause and single-step.

Raw bytes are never deserialized here, so any message type plays, whatever typestore the bag's writer had.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rosbags.interfaces import Connection, Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import Reader
from rosbags.rosbag2.errors import ReaderError

NS = 1_000_000_000


def offered_qos(best_effort: bool, depth: int) -> Qos:
    """A publisher's offered QoS as rosbag2 records it (volatile, keep-last `depth`, automatic liveliness, no
    deadline/lifespan): what writers pass as `offered_qos_profiles`, e.g. best effort for a camera driver."""
    zero = QosTime(0, 0)
    reliability = QosReliability.BEST_EFFORT if best_effort else QosReliability.RELIABLE
    return Qos(
        QosHistory.KEEP_LAST, depth, reliability, QosDurability.VOLATILE, zero, zero, QosLiveliness.AUTOMATIC, zero,
        False,
    )  # fmt: skip


class PlaybackError(ValueError):
    """A bag or a playback option that cannot work (names the bag/topic/option, the expected and the actual value)."""


@dataclass
class TopicInfo:
    """One recorded topic across every opened bag."""

    name: str
    msgtype: str  # "pkg/msg/Type"
    count: int = 0  # messages in the bags
    qos: list[Qos] = field(default_factory=list)  # offered QoS profiles as recorded (rosbag2 metadata v9)


@dataclass(frozen=True)
class BagMessage:
    """One message to play: recorded topic, receive time (ns since the epoch) and the CDR bytes as recorded."""

    topic: str
    time_ns: int
    data: bytes


class BagSource:
    """Opens rosbag2 bags (folders with metadata.yaml) and yields their messages merged in recorded-time order."""

    def __init__(self, paths: Sequence[str | Path]) -> None:
        if not paths:
            raise PlaybackError("no bag given: expected one or more rosbag2 folders (MCAP or sqlite3)")
        self.readers: list[Reader] = []
        for path in paths:
            try:
                reader = Reader(Path(path))
                reader.open()
            except (ReaderError, FileNotFoundError, NotADirectoryError) as error:
                self.close()
                raise PlaybackError(f"{path}: not a readable rosbag2 bag ({error})") from error
            self.readers.append(reader)
        if not self.message_count:
            self.close()
            raise PlaybackError(f"{', '.join(map(str, paths))}: no messages to play (an episode stopped at once?)")
        self.topics = self._collect_topics()

    def _collect_topics(self) -> dict[str, TopicInfo]:
        """Topic name -> TopicInfo over every bag; one type per topic."""
        topics: dict[str, TopicInfo] = {}
        for reader in self.readers:
            for connection in reader.connections:
                info = topics.setdefault(connection.topic, TopicInfo(connection.topic, connection.msgtype))
                if info.msgtype != connection.msgtype:
                    raise PlaybackError(
                        f"{reader.path}: topic {connection.topic} has type {connection.msgtype}, another bag has "
                        f"{info.msgtype}; play them separately or select topics with --topics"
                    )
                info.count += connection.msgcount
                info.qos += list(getattr(connection.ext, "offered_qos_profiles", []) or [])
        return topics

    @property
    def start_ns(self) -> int:
        """Earliest recorded time over every bag."""
        return min(reader.start_time for reader in self.readers if reader.message_count)

    @property
    def end_ns(self) -> int:
        """Latest recorded time over every bag (inclusive)."""
        return max(reader.end_time for reader in self.readers if reader.message_count)

    @property
    def message_count(self) -> int:
        return sum(reader.message_count for reader in self.readers)

    def messages(self, topics: Sequence[str], start_ns: int, stop_ns: int) -> Iterator[BagMessage]:
        """Messages of `topics` with start_ns <= time < stop_ns, merged over the bags in recorded-time order."""

        def stream(reader: Reader) -> Iterator[BagMessage]:
            connections: list[Connection] = [c for c in reader.connections if c.topic in topics]
            if not connections:
                return
            for connection, time_ns, data in reader.messages(connections, start=start_ns, stop=stop_ns):
                yield BagMessage(connection.topic, time_ns, bytes(data))

        yield from heapq.merge(*(stream(reader) for reader in self.readers), key=lambda message: message.time_ns)

    def count(self, topics: Sequence[str], start_ns: int, stop_ns: int) -> int:
        """Number of messages `messages` yields for the same arguments (reads the index, not the payloads when the
        window is the whole bag)."""
        if start_ns <= self.start_ns and stop_ns > self.end_ns:
            return sum(self.topics[name].count for name in topics)
        return sum(1 for _ in self.messages(topics, start_ns, stop_ns))

    def close(self) -> None:
        for reader in self.readers:
            reader.close()
        self.readers = []


class PlaybackClock:
    """Maps recorded times to wall-clock deadlines at `rate` (0 = as fast as possible), with pause, resume and step.

    Pausing freezes the recorded-time position; resuming shifts the schedule by the paused time, so the messages after
    it keep their recorded spacing. Times are seconds on a monotonic clock supplied by the caller.
    """

    def __init__(self, rate: float) -> None:
        if rate < 0:
            raise PlaybackError(f"--rate: expected a factor > 0 (or 0 = as fast as possible), got {rate}")
        self.rate = rate
        self._origin_wall = 0.0  # wall time of recorded time _origin_bag
        self._origin_bag = 0  # ns
        self._paused_at: float | None = None
        self._last_ns = 0  # recorded time of the last published message

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def start(self, bag_ns: int, now: float) -> None:
        """Anchor recorded time `bag_ns` at wall time `now` (start of playback or of a loop)."""
        self._origin_bag, self._origin_wall, self._last_ns = bag_ns, now, bag_ns
        if self._paused_at is not None:
            self._paused_at = now

    def deadline(self, bag_ns: int) -> float:
        """Wall time at which the message recorded at `bag_ns` is due (-inf when unthrottled)."""
        if self.rate == 0:
            return float("-inf")
        return self._origin_wall + (bag_ns - self._origin_bag) / NS / self.rate

    def position_ns(self, now: float) -> int:
        """Recorded time that corresponds to wall time `now` (frozen while paused), for /clock."""
        if self.rate == 0:
            return self._last_ns
        wall = self._paused_at if self._paused_at is not None else now
        return self._origin_bag + round((wall - self._origin_wall) * self.rate * NS)

    def pause(self, now: float) -> None:
        if self._paused_at is None:
            self._paused_at = now

    def resume(self, now: float) -> None:
        """Continue; the schedule moves by the time spent paused."""
        if self._paused_at is not None:
            self._origin_wall += now - self._paused_at
            self._paused_at = None

    def played(self, bag_ns: int) -> None:
        """Note the recorded time of the message just published (the /clock position when unthrottled)."""
        self._last_ns = bag_ns

    def stepped(self, bag_ns: int, now: float) -> None:
        """A message recorded at `bag_ns` was played by a step at `now`: re-anchor there and stay paused."""
        self._origin_bag, self._origin_wall, self._paused_at, self._last_ns = bag_ns, now, now, bag_ns
