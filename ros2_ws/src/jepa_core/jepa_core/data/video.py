"""MP4 writing and reading with PyAV: constant frame rate, one encoded frame per DROID row, random-access decoding."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class VideoEncoding:
    """How DROID episode videos are encoded."""

    codec: str = "libx264"  # "libx264" (h264) or "mpeg4"
    fps: int = 15  # container rate = DROID row rate, so playback time is real time
    crf: int = 18  # libx264 quality (lower = better)
    gop: int = 15  # keyframe interval in frames: bounds the decode work of a random seek
    preset: str = "veryfast"


def _check_frame(frame: np.ndarray, shape: tuple[int, ...] | None, index: int, path: Path) -> None:
    """Raise naming the file and frame index when a frame is not uint8 [H, W, 3] of the video's size."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"{path}: frame {index}: expected uint8 [H, W, 3], got {frame.dtype} {frame.shape}")
    if shape is not None and frame.shape != shape:
        raise ValueError(f"{path}: frame {index}: expected shape {shape} like frame 0, got {frame.shape}")


def _yuv_frames(frames: Iterable[np.ndarray], path: Path) -> Iterator[av.VideoFrame]:
    """Checked uint8 RGB frames converted to the encoder's yuv420p (the conversion the encoder would do itself)."""
    shape = None
    for index, frame in enumerate(frames):
        _check_frame(frame, shape, index, path)
        if shape is None:
            shape = frame.shape
            if shape[0] % 2 or shape[1] % 2:
                raise ValueError(f"{path}: frame size {shape[:2]} must be even for yuv420p")
        yield av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p")


def write_mp4(path: Path, frames: Iterable[np.ndarray], encoding: VideoEncoding = VideoEncoding()) -> int:
    """Encode uint8 RGB frames [H, W, 3] at a constant rate, frame i at pts i; returns the number written.
    The frames are produced and colour-converted in a background thread while the encoder works."""
    if encoding.codec not in av.codecs_available:
        raise ValueError(f"video codec {encoding.codec!r} is not available in this PyAV build")
    count = 0
    with av.open(str(path), mode="w") as container:
        stream = None
        for video_frame in prefetched(_yuv_frames(frames, path)):
            if stream is None:
                stream = container.add_stream(encoding.codec, rate=encoding.fps)
                stream.width, stream.height, stream.pix_fmt = video_frame.width, video_frame.height, "yuv420p"
                stream.time_base = Fraction(1, encoding.fps)
                stream.codec_context.gop_size = encoding.gop
                if encoding.codec == "libx264":
                    stream.options = {"crf": str(encoding.crf), "preset": encoding.preset}
                else:
                    stream.codec_context.qscale = 2
                    stream.codec_context.flags |= av.codec.context.Flags.qscale
            video_frame.pts = count
            container.mux(stream.encode(video_frame))
            count += 1
        if stream is not None:
            container.mux(stream.encode())
    return count


def prefetched(items: Iterable, depth: int = 16) -> Iterator:
    """The items of `items`, produced by a background thread up to `depth` ahead, so that producing them (reading a
    bag, converting colours) overlaps the consumer's work (encoding, which releases the GIL); the producer's
    exception is re-raised in the consumer."""
    buffer: queue.Queue = queue.Queue(depth)
    done, stop = object(), threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                buffer.put(item)
            buffer.put(done)
        except BaseException as error:  # handed to the consumer
            buffer.put(error)

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while (item := buffer.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full buffer
            with contextlib.suppress(queue.Empty):
                buffer.get(timeout=0.05)
        thread.join()


@dataclass(frozen=True)
class VideoInfo:
    """What a video container says about itself."""

    frames: int  # frame count stored in the container (0 when unknown)
    fps: float  # average frame rate of the container
    height: int
    width: int


def probe_mp4(path: Path) -> VideoInfo:
    """Frame count, rate and size of a video without decoding it."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return VideoInfo(int(stream.frames), float(stream.average_rate or 0), stream.height, stream.width)


def count_decoded_frames(path: Path) -> int:
    """Number of frames that actually decode (slower than probe_mp4, but does not trust the container)."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def decode_all(path: Path) -> np.ndarray:
    """Every frame of a video as uint8 RGB [T, H, W, 3]."""
    with av.open(str(path)) as container:
        container.streams.video[0].thread_type = "AUTO"
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def decode_frames(path: Path, indices: np.ndarray) -> np.ndarray:
    """Frames at sorted-or-not frame indices as uint8 RGB [len(indices), H, W, 3], decoding only from the nearest
    keyframe before the first one to the last one (frame index = round(pts time * average rate))."""
    indices = np.asarray(indices, dtype=np.int64)
    wanted = set(indices.tolist())
    first, last = int(indices.min()), int(indices.max())
    found: dict[int, np.ndarray] = {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate, time_base = stream.average_rate, stream.time_base
        start_pts = stream.start_time or 0
        seek_pts = start_pts + round(first / rate / time_base)
        container.seek(seek_pts, stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            index = round((frame.pts - start_pts) * time_base * rate)
            if index in wanted:
                found[index] = frame.to_ndarray(format="rgb24")
            if index >= last:
                break
    missing = sorted(wanted - found.keys())
    if missing:
        raise ValueError(f"{path}: frames {missing[:5]} not found (video has fewer frames or a broken index)")
    return np.stack([found[int(i)] for i in indices])
