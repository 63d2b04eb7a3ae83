"""Writes one episode's serialized messages into a rosbag2 bag from a background thread, finalised atomically.

The caller (a ROS callback) only enqueues bytes, so it never blocks on disk. The bag is written under
`<output_dir>/.partial/<episode>/` and renamed to `<output_dir>/<episode>/` once closed and fsynced: a bag in its final
place is always complete. MCAP bags are crash-safe (jepa_core.data.bags: checksummed chunks written out at least every
ChunkPolicy.max_seconds), so a crash leaves a partial folder that `python -m training.bag_repair` turns into a bag.
sqlite3 bags (rosbags commits at close) lose everything in a crash: record MCAP.
"""

from __future__ import annotations

import queue
import shutil
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys.store import Typestore

from jepa_core.data.bags import BAG_VERSION, ChunkPolicy, CrcBagWriter, fsync_path

PARTIAL_DIR = ".partial"
_STOP = object()  # queue sentinel: flush and close


@dataclass(frozen=True)
class EpisodeSummary:
    """What a closed episode bag holds."""

    path: Path | None  # final bag folder, None when discarded
    message_count: int
    per_topic: dict[str, int]


class EpisodeWriter:
    """One episode bag: `write()` is thread-safe and non-blocking; `close()` flushes, closes and renames."""

    def __init__(
        self,
        output_dir: Path,
        episode: str,
        topics: dict[str, str],
        typestore: Typestore,
        storage: str = "mcap",
        chunks: ChunkPolicy | None = None,
    ) -> None:
        if not episode or "/" in episode or episode.startswith("."):
            raise ValueError(f"episode name: expected a plain folder name, got {episode!r}")
        try:
            plugin = StoragePlugin[storage.upper()]
        except KeyError:
            raise ValueError(f"storage: expected 'mcap' or 'sqlite3', got {storage!r}") from None
        self.final_path = Path(output_dir) / episode
        if self.final_path.exists():
            raise FileExistsError(f"episode bag {self.final_path} exists already")
        self._partial_path = Path(output_dir) / PARTIAL_DIR / episode
        if self._partial_path.exists():
            raise FileExistsError(
                f"{self._partial_path}: a crashed recording of episode {episode!r} is there; recover it with "
                f"`python -m training.bag_repair {self._partial_path}` or delete it"
            )
        self._partial_path.parent.mkdir(parents=True, exist_ok=True)
        self._topics, self._typestore, self._plugin = dict(topics), typestore, plugin
        self._chunks = chunks or ChunkPolicy()
        self._counts: Counter[str] = Counter()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._opened = threading.Event()
        # The writer thread owns the bag from open to close (sqlite3 connections are bound to their thread).
        self._thread = threading.Thread(target=self._run, name=f"bag-writer-{episode}", daemon=True)
        self._thread.start()
        self._opened.wait()
        if self._error is not None:
            self._thread.join()
            raise RuntimeError(f"cannot open bag {self._partial_path}: {self._error}") from self._error

    def write(self, topic: str, timestamp_ns: int, data: bytes) -> None:
        """Enqueue one serialized (CDR) message; raises if the writer thread has failed."""
        if self._error is not None:
            raise RuntimeError(f"bag writer for {self.final_path} failed: {self._error}") from self._error
        if topic not in self._topics:
            raise KeyError(f"topic {topic!r} was not declared for episode {self.final_path.name}")
        self._queue.put((topic, timestamp_ns, data))

    def _run(self) -> None:
        """Writer thread: open the bag, write queued messages in arrival order until the stop sentinel, close."""
        try:
            if self._plugin == StoragePlugin.MCAP:
                writer = CrcBagWriter(self._partial_path, self._chunks)
            else:
                writer = Writer(self._partial_path, version=BAG_VERSION, storage_plugin=self._plugin)
            writer.open()
            connections = {
                name: writer.add_connection(name, msgtype, typestore=self._typestore)
                for name, msgtype in self._topics.items()
            }
        except BaseException as error:  # reported by the constructor
            self._error = error
            return
        finally:
            self._opened.set()
        try:
            while (item := self._next(writer)) is not _STOP:
                topic, timestamp_ns, data = item
                if self._error is not None:
                    continue  # keep draining so close() returns; the error is reported there
                try:
                    writer.write(connections[topic], timestamp_ns, data)
                    self._counts[topic] += 1
                except BaseException as error:  # reported by write()/close(), never swallowed
                    self._error = error
        except BaseException as error:  # the loop itself failed: close() must not finalise an unfinished bag
            self._error = self._error or error
        try:
            writer.close()
        except BaseException as error:
            self._error = self._error or error

    def _next(self, writer: Writer):
        """The next queued item; while none arrives, the open MCAP chunk is still written out on time."""
        while True:
            try:
                return self._queue.get(timeout=self._chunks.max_seconds / 2)
            except queue.Empty:
                if isinstance(writer, CrcBagWriter) and self._error is None:
                    try:
                        writer.flush_if_due()
                    except BaseException as error:  # disk full, ...: reported by write()/close()
                        self._error = error

    def close(self, discard: bool = False) -> EpisodeSummary:
        """Flush every queued message, close the bag and move it to its final place (or delete it)."""
        self._queue.put(_STOP)
        self._thread.join()
        summary_counts = dict(self._counts)
        if self._error is not None:
            raise RuntimeError(
                f"bag writer for {self.final_path} failed; partial bag kept at {self._partial_path}"
            ) from self._error
        if discard:
            shutil.rmtree(self._partial_path)
            return EpisodeSummary(None, sum(summary_counts.values()), summary_counts)
        for path in [*self._partial_path.iterdir(), self._partial_path]:  # sqlite3 bags too: on disk before the rename
            fsync_path(path)
        self._partial_path.rename(self.final_path)
        fsync_path(self.final_path.parent)  # the rename itself survives a power cut
        return EpisodeSummary(self.final_path, sum(summary_counts.values()), summary_counts)
