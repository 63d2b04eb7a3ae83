"""Crash-safe rosbag2 MCAP bags: chunk CRCs, chunks bounded in size and time and flushed as they close, a scan that
names damaged chunks, and repair of a crashed or damaged bag into a valid one holding every intact chunk.

The MCAP framing comes from the `mcap` library (rosbags' own MCAP writer stores chunk CRC 0, so no reader can detect
payload damage); metadata.yaml, connections, QoS and type hashes come from rosbags' Writer, into which the `mcap`
writer is plugged as the storage. Bags written here are read by rosbags' Reader like any other rosbag2 bag.
"""

from __future__ import annotations

import os
import sqlite3
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import version
from pathlib import Path

import yaml
from mcap.exceptions import McapError
from mcap.reader import make_reader
from mcap.records import Channel, Chunk, Footer, Message, MessageIndex, Schema
from mcap.stream_reader import CRCValidationError, StreamReader, breakup_chunk, get_chunk_data_stream
from mcap.writer import MCAP0_MAGIC as MCAP_MAGIC
from mcap.writer import CompressionType
from mcap.writer import Writer as McapWriter
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.rosbag2.enums import CompressionMode
from rosbags.rosbag2.errors import WriterError
from rosbags.rosbag2.metadata import parse_qos
from rosbags.typesys.store import Typestore

BAG_VERSION = 9  # rosbag2 metadata version (jazzy, kilted)
PROFILE = "ros2"
_RECORD_HEADER = 9  # MCAP record: opcode (1 byte) + length (8 bytes)


@dataclass(frozen=True)
class ChunkPolicy:
    """When an open MCAP chunk is written out: whichever bound is reached first."""

    max_bytes: int = 4 * 2**20  # uncompressed message bytes per chunk
    max_seconds: float = 0.5  # wall time a chunk stays in memory: bounds what a crash can lose
    fsync: bool = True  # fsync after each chunk so a power cut loses no more than a SIGKILL

    def __post_init__(self) -> None:
        """Reject bounds that cannot work (a writer thread would fail on them), naming the field."""
        for name in ("max_bytes", "max_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ChunkPolicy.{name}: expected > 0, got {getattr(self, name)}")


def fsync_path(path: Path) -> None:
    """Flush a file's or a directory's data and metadata to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _CrcMcapStorage:
    """rosbags storage plugin over the `mcap` writer: chunk CRCs on, uncompressed, chunks closed by ChunkPolicy."""

    def __init__(self, path: Path, compression: CompressionMode, policy: ChunkPolicy) -> None:
        if compression != CompressionMode.NONE:
            raise WriterError(f"{path}: compressed bags are not supported by the crash-safe writer")
        self.path = path / f"{path.name}.mcap"
        self.policy = policy
        self._file = self.path.open("xb")
        # chunk_size is never reached: this class closes chunks itself (size and age).
        self._mcap = McapWriter(self._file, chunk_size=2**62, compression=CompressionType.NONE, enable_crcs=True)
        self._mcap.start(profile=PROFILE, library=f"jepa-ros bags, mcap {version('mcap')}")
        self._schemas: dict[str, int] = {}
        self._channels: dict[int, int] = {}  # rosbags connection id -> mcap channel id
        self._chunk_bytes = 0
        self._chunk_opened: float | None = None  # monotonic time of the open chunk's first message

    def add_msgtype(self, connection) -> None:
        """Register the connection's message definition as an MCAP schema."""
        encoding = "ros2msg" if connection.msgdef.format.name == "MSG" else "ros2idl"
        schema = self._mcap.register_schema(connection.msgtype, encoding, connection.msgdef.data.encode())
        self._schemas[connection.msgtype] = schema

    def add_connection(self, connection, offered_qos_profiles: str) -> None:
        """Register an MCAP channel carrying the QoS and type hash, as rosbag2's MCAP plugin does."""
        metadata = {"offered_qos_profiles": offered_qos_profiles, "topic_type_hash": connection.digest}
        self._channels[connection.id] = self._mcap.register_channel(
            connection.topic, connection.ext.serialization_format, self._schemas[connection.msgtype], metadata
        )

    def write(self, connection, timestamp: int, data: bytes | memoryview) -> None:
        """Add a message to the open chunk; write the chunk out when it is full or old enough."""
        self._mcap.add_message(self._channels[connection.id], timestamp, bytes(data), timestamp)
        self._chunk_bytes += len(data)
        if self._chunk_opened is None:
            self._chunk_opened = time.monotonic()
        if self._chunk_bytes >= self.policy.max_bytes:
            self.flush()
        else:
            self.flush_if_due()

    def flush_if_due(self) -> None:
        """Write the open chunk out if it has been open for max_seconds (also called when no message arrives)."""
        if self._chunk_opened is not None and time.monotonic() - self._chunk_opened >= self.policy.max_seconds:
            self.flush()

    def flush(self) -> None:
        """Close the open chunk, write it with its CRC and message indexes, and (policy) fsync."""
        self._mcap.flush()
        if self.policy.fsync:
            os.fsync(self._file.fileno())
        self._chunk_bytes, self._chunk_opened = 0, None

    def close(self, version: int, metadata: str) -> None:
        """Write the last chunk, the rosbag2 metadata record and the summary with its footer; fsync."""
        self._mcap.add_metadata("rosbag2", {"serialized_metadata": metadata})
        self._mcap.finish()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def abort(self) -> None:
        """Close the file as it is (what a crash would leave)."""
        self._file.close()


class CrcBagWriter(Writer):
    """rosbags' rosbag2 Writer (version 9, MCAP) with the crash-safe storage: use like rosbags' Writer."""

    def __init__(self, path: Path | str, policy: ChunkPolicy = ChunkPolicy()) -> None:
        super().__init__(path, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
        self.STORAGE_PLUGINS = {StoragePlugin.MCAP: partial(_CrcMcapStorage, policy=policy)}

    def flush_if_due(self) -> None:
        """Write the open chunk out if it is older than the policy allows."""
        if self.storage is not None:
            self.storage.flush_if_due()

    def close(self) -> None:
        """Close as rosbags does (metadata.yaml written by rename), then fsync metadata.yaml and the folder."""
        super().close()
        fsync_path(self.metapath)
        fsync_path(self.path)


# ---------------------------------------------------------------------------------------------------------- scanning


@dataclass
class ChunkReport:
    """One MCAP chunk: where it is, what it holds and what is wrong with it ('' = intact)."""

    offset: int  # byte offset of the chunk record
    start_ns: int
    end_ns: int
    channel_ids: set[int] = field(default_factory=set)
    problem: str = ""
    checked: bool = True  # False: the writer stored CRC 0 (rosbags' writer), payload damage is undetectable


@dataclass
class BagScan:
    """What a scan of one bag file found; `problems` lists every defect in words."""

    path: Path
    chunks: list[ChunkReport] = field(default_factory=list)
    schemas: dict[int, Schema] = field(default_factory=dict)  # met outside chunks or in the first intact chunk
    channels: dict[int, Channel] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    has_footer: bool = False
    end_of_data: int = 0  # byte offset after the last record read in file order

    @property
    def damaged(self) -> list[ChunkReport]:
        """Chunks that fail their CRC or cannot be decompressed."""
        return [chunk for chunk in self.chunks if chunk.problem]

    @property
    def unchecked(self) -> int:
        """Chunks without a CRC (written by a writer that stores 0)."""
        return sum(not chunk.checked for chunk in self.chunks)

    def describe(self, chunk: ChunkReport) -> str:
        """'chunk at byte N (topics /a, /b; log time 1.200-1.700 s after the first message): problem'."""
        first = min((c.start_ns for c in self.chunks), default=chunk.start_ns)
        names = {i: c.topic for i, c in self.channels.items()}
        topics = ", ".join(sorted(names.get(i, f"channel {i}") for i in chunk.channel_ids)) or "unknown topics"
        return (
            f"chunk at byte {chunk.offset} (topics {topics}; log time {(chunk.start_ns - first) / 1e9:.3f}-"
            f"{(chunk.end_ns - first) / 1e9:.3f} s after the first message, stamps {chunk.start_ns}-{chunk.end_ns} "
            f"ns): {chunk.problem}"
        )


def _chunk_problem(chunk: Chunk) -> str:
    """'' when the payload decompresses and matches its CRC (if it has one), else what is wrong in words."""
    try:
        get_chunk_data_stream(chunk, validate_crc=True)  # decompresses and checks; records are not parsed
    except CRCValidationError:
        return "fails its CRC check (payload bytes changed on disk)"
    except Exception as error:  # zstd/lz4 errors on a damaged compressed payload
        return f"payload does not decompress ({type(error).__name__}: {error})"
    return ""


def _remember(records, schemas: dict[int, Schema], channels: dict[int, Channel]) -> None:
    """Keep the schema and channel definitions among `records`."""
    for record in records:
        if isinstance(record, Schema):
            schemas[record.id] = record
        elif isinstance(record, Channel):
            channels[record.id] = record


def _records(file, size: int) -> Iterator[tuple[int, object]]:
    """(offset, record) of each MCAP record after the magic, chunks whole; (offset, None) marks a record whose length
    runs past the end of the file (cut by a crash, or a damaged header), after which nothing is read. Garbled
    records raise."""
    if file.read(len(MCAP_MAGIC)) != MCAP_MAGIC:
        raise McapError("no MCAP magic at the start of the file")
    reader = iter(StreamReader(file, skip_magic=True, emit_chunks=True, record_size_limit=size).records)
    while True:
        offset = file.tell()
        head = file.read(_RECORD_HEADER)
        file.seek(offset)
        if not head:
            return
        if len(head) < _RECORD_HEADER or offset + _RECORD_HEADER + int.from_bytes(head[1:], "little") > size:
            yield offset, None
            return
        try:
            record = next(reader)
        except StopIteration:
            return
        yield offset, record
        if isinstance(record, Footer):
            return


def read_chunk(file, offset: int) -> Chunk:
    """The chunk record at a byte offset."""
    file.seek(offset)
    limit = os.fstat(file.fileno()).st_size  # a damaged length field cannot make it read (or allocate) more
    record = next(iter(StreamReader(file, skip_magic=True, emit_chunks=True, record_size_limit=limit).records))
    if not isinstance(record, Chunk):
        raise McapError(f"no chunk record at byte {offset}")
    return record


def _add_chunk(scan: BagScan, offset: int, chunk: Chunk, channel_ids=()) -> None:
    """Check one chunk and add its report; the first intact chunk's definitions are kept (a recorder's are there)."""
    problem = _chunk_problem(chunk)
    report = ChunkReport(offset, chunk.message_start_time, chunk.message_end_time, set(channel_ids), problem)
    report.checked = chunk.uncompressed_crc != 0
    if not problem and not scan.channels:
        _remember(breakup_chunk(chunk), scan.schemas, scan.channels)
    scan.chunks.append(report)


def _walk(scan: BagScan, file, size: int) -> str:
    """Read the file's records in order; returns '' at the footer, else why the walk stopped."""
    try:
        for offset, record in _records(file, size):
            if record is None:
                return "cut"
            scan.end_of_data = file.tell()
            if isinstance(record, Chunk):
                _add_chunk(scan, offset, record)
            elif isinstance(record, MessageIndex) and scan.chunks:
                scan.chunks[-1].channel_ids.add(record.channel_id)
            elif isinstance(record, Footer):
                scan.has_footer = True
                return ""
            else:
                _remember([record], scan.schemas, scan.channels)
    except (McapError, struct.error, ValueError, KeyError, UnicodeDecodeError) as error:
        return f"{type(error).__name__}: {error}"
    return "cut"


def _resume_from_summary(scan: BagScan, file) -> bool:
    """After a damaged record, check the chunks the summary indexes beyond it; False when there is no usable summary."""
    try:
        file.seek(0)
        summary = make_reader(file).get_summary()
    except Exception:  # no footer / damaged summary: nothing to resume from
        return False
    if summary is None:
        return False
    scan.has_footer = True
    scan.schemas.update(summary.schemas)
    scan.channels.update(summary.channels)
    seen = {chunk.offset for chunk in scan.chunks}
    for index in summary.chunk_indexes:
        if index.chunk_start_offset in seen or index.chunk_start_offset < scan.end_of_data:
            continue
        channel_ids = index.message_index_offsets.keys()
        try:
            _add_chunk(scan, index.chunk_start_offset, read_chunk(file, index.chunk_start_offset), channel_ids)
        except (McapError, struct.error, ValueError, KeyError, UnicodeDecodeError) as error:
            scan.chunks.append(
                ChunkReport(
                    index.chunk_start_offset,
                    index.message_start_time,
                    index.message_end_time,
                    set(channel_ids),
                    f"chunk record unreadable ({type(error).__name__}: {error})",
                )
            )
    return True


def scan_mcap(path: Path) -> BagScan:
    """Read every record of an MCAP file: check each chunk's CRC, note truncation and damaged records. Past a damaged
    record, the chunks are found through the summary (chunk indexes) when the file has an intact footer."""
    scan = BagScan(Path(path))
    size = scan.path.stat().st_size
    with scan.path.open("rb") as file:
        stopped = _walk(scan, file, size)
        if stopped and scan.end_of_data == 0 and not scan.chunks:
            scan.problems.append(f"not an MCAP file ({stopped})")
        elif stopped and _resume_from_summary(scan, file):
            scan.problems.append(
                f"damaged record after byte {scan.end_of_data} of {size} ({stopped}); chunks found through the summary"
            )
        elif stopped == "cut":
            scan.problems.append(
                f"truncated: no MCAP footer; the last complete record ends at byte {scan.end_of_data} of {size} "
                "(a crashed or unfinished recording?)"
            )
        elif stopped:
            scan.problems.append(
                f"damaged record after byte {scan.end_of_data} of {size} ({stopped}); no summary to read past it"
            )
    scan.problems.extend(scan.describe(chunk) for chunk in scan.damaged)
    return scan


def bag_files(bag: Path) -> tuple[str, list[Path]]:
    """(storage identifier, data files) of a rosbag2 folder, from its metadata.yaml (or the files present)."""
    bag = Path(bag)
    meta = bag / "metadata.yaml"
    if meta.is_file():
        info = yaml.load(meta.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        info = info["rosbag2_bagfile_information"]
        return str(info["storage_identifier"]), [bag / name for name in info["relative_file_paths"]]
    mcaps = sorted(bag.glob("*.mcap"))
    return ("mcap", mcaps) if mcaps else ("sqlite3", sorted(bag.glob("*.db3")))


def is_bag_folder(path: Path) -> bool:
    """A rosbag2 folder: finished (metadata.yaml) or crashed (only its .mcap / .db3 files)."""
    path = Path(path)
    return (path / "metadata.yaml").is_file() or any(path.glob("*.mcap")) or any(path.glob("*.db3"))


def verify_bag(bag: Path) -> list[str]:
    """Every defect of a bag folder in words, each naming the bag (empty list = intact and checksummed)."""
    bag = Path(bag)
    try:
        storage, files = bag_files(bag)
    except (OSError, KeyError, TypeError, ValueError) as error:
        return [f"{bag}: unreadable metadata.yaml ({type(error).__name__}: {error})"]
    problems: list[str] = []
    for file in files:
        if not file.is_file():
            problems.append(f"{bag}: {file.name}: missing")
        elif storage == "mcap":
            problems.extend(f"{bag}: {file.name}: {problem}" for problem in scan_mcap(file).problems)
        else:
            problems.extend(f"{bag}: {file.name}: {problem}" for problem in _sqlite_problems(file))
    return problems


def _sqlite_problems(path: Path) -> list[str]:
    """SQLite's own page checks of a .db3 file."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            rows = [row[0] for row in connection.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as error:
        return [f"not a readable SQLite database ({error})"]
    return [] if rows == ["ok"] else [f"SQLite integrity check: {'; '.join(rows[:5])}"]


# ------------------------------------------------------------------------------------------------------------ repair


@dataclass
class RepairSummary:
    """What bag_repair recovered and what was lost."""

    output: Path
    recovered_messages: dict[str, int] = field(default_factory=dict)  # per topic
    recovered_chunks: int = 0
    lost_chunks: list[str] = field(default_factory=list)  # descriptions of damaged chunks
    crashed: bool = False  # the source had no footer: what was still in memory at the crash is gone
    lost_tail_bytes: int = 0  # bytes after the last complete record (a chunk cut short by the crash)
    first_message_ns: int | None = None
    last_message_ns: int | None = None

    @property
    def recovered_seconds(self) -> float:
        """Log-time span of the recovered messages."""
        return ((self.last_message_ns or 0) - (self.first_message_ns or 0)) / 1e9

    @property
    def message_count(self) -> int:
        """Messages in the repaired bag."""
        return sum(self.recovered_messages.values())


def repair_mcap(source: Path, output: Path, typestore: Typestore, policy: ChunkPolicy = ChunkPolicy()) -> RepairSummary:
    """Write a new bag at `output` (a folder, must not exist) holding every intact chunk's messages of `source`."""
    scan = scan_mcap(source)
    summary = RepairSummary(Path(output), lost_chunks=[scan.describe(c) for c in scan.damaged])
    summary.crashed = not scan.has_footer
    summary.lost_tail_bytes = source.stat().st_size - scan.end_of_data if summary.crashed else 0
    schemas, channels = dict(scan.schemas), dict(scan.channels)
    connections: dict[int, object] = {}
    writer = CrcBagWriter(output, policy)
    writer.open()
    try:
        with source.open("rb") as file:
            for report in sorted((c for c in scan.chunks if not c.problem), key=lambda c: c.offset):
                summary.recovered_chunks += 1
                for record in breakup_chunk(read_chunk(file, report.offset)):
                    if not isinstance(record, Message):
                        _remember([record], schemas, channels)
                        continue
                    if record.channel_id not in connections:
                        connections[record.channel_id] = _connection(writer, channels, schemas, record, typestore)
                    writer.write(connections[record.channel_id], record.log_time, record.data)
                    topic = channels[record.channel_id].topic
                    summary.recovered_messages[topic] = summary.recovered_messages.get(topic, 0) + 1
                    summary.first_message_ns = min(summary.first_message_ns or record.log_time, record.log_time)
                    summary.last_message_ns = max(summary.last_message_ns or record.log_time, record.log_time)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return summary


def _connection(writer: CrcBagWriter, channels, schemas, message: Message, typestore: Typestore):
    """A rosbags connection for an MCAP channel, with its recorded definition, QoS and type hash."""
    channel = channels.get(message.channel_id)
    if channel is None or channel.schema_id not in schemas:
        raise ValueError(f"channel {message.channel_id}: its definition was in a lost chunk; cannot rebuild the bag")
    schema = schemas[channel.schema_id]
    msgtype = schema.name
    rihs01 = channel.metadata.get("topic_type_hash") or (
        typestore.hash_rihs01(msgtype) if msgtype in typestore.types else ""
    )
    if not rihs01:
        raise ValueError(f"{channel.topic}: type {msgtype} has no recorded type hash and is unknown to the typestore")
    qos_text = channel.metadata.get("offered_qos_profiles", "")
    return writer.add_connection(
        channel.topic,
        msgtype,
        msgdef=schema.data.decode(),
        rihs01=rihs01,
        serialization_format=channel.message_encoding,
        offered_qos_profiles=parse_qos(qos_text) if qos_text.strip() not in ("", "[]") else (),
    )
