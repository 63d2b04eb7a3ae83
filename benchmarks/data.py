"""Data pipeline: recording writers, crash recovery, bag -> DROID conversion speed and clip loading rate.

1. Recording writers: 30 s of 256x256 images at 15 Hz written with rosbags' MCAP writer (chunk CRC 0), the crash-safe
   writer (mcap library, CRCs, chunks <= 4 MiB / 0.5 s, fsync per chunk) and rosbags' sqlite3 writer, each read back
   with rosbags' Reader.
2. Crash drill (jepa_core.data.crash_drill): a 15 Hz recording SIGKILLed at random moments, repaired by
   training.bag_repair; recovered_fraction = rows back / rows handed to the writer before the kill.
3. Conversion: a synthetic 30 s episode (256x256, 30 Hz camera, 50 Hz states, 5 Hz commands) as MCAP and sqlite3
   bags, converted with each codec on one worker; then 4 episodes through the CLI's pool with 1 and 2 workers.
4. Loading: 8-frame clips at 4 fps (stride 4 rows) by seeking the MP4 or from the pre-decoded cache.
Run: scripts/run.sh python benchmarks/data.py  (a few minutes on 2 cores)
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from jepa_core.data.bag_to_droid import ConversionConfig, convert_bag
from jepa_core.data.bags import BAG_VERSION, ChunkPolicy, CrcBagWriter
from jepa_core.data.crash_drill import DrillConfig, count_recovered, run_and_kill
from jepa_core.data.droid_dataset import ClipConfig, DroidClipDataset
from jepa_core.data.synthetic import SyntheticEpisode, synthetic_frame, write_synthetic_bag
from jepa_core.data.typestore import stack_typestore
from jepa_core.data.video import VideoEncoding
from training.bag_repair import main as repair_main
from training.bag_to_droid import convert_many

EPISODE = SyntheticEpisode(seconds=30.0, height=256, width=256)
CLIPS = 60
DRILLS = 3
POOL_EPISODES = 4


def _timed(function) -> tuple[float, object]:
    """Wall seconds of one call and its result."""
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def conversion_rows(root: Path) -> tuple[list[tuple[str, float, float]], Path]:
    """(setting, best-of-2 seconds, x real time) per storage/codec, and the default-converted episode folder."""
    write_synthetic_bag(root / "warmup", replace(EPISODE, seconds=1.0))
    convert_bag(root / "warmup", root / "warmup_droid")  # one-time codec and library start-up, not timed
    rows, default_episode = [], None
    for storage in ("mcap", "sqlite3"):
        bag = root / f"bag_{storage}"
        write_synthetic_bag(bag, EPISODE, storage=storage)
        for codec in ("libx264", "mpeg4"):
            config = ConversionConfig(video=replace(VideoEncoding(), codec=codec))
            out = root / f"droid_{storage}_{codec}"
            runs = [_timed(lambda bag=bag, out=out, config=config: convert_bag(bag, out, config, force=True))]
            runs.append(_timed(lambda bag=bag, out=out, config=config: convert_bag(bag, out, config, force=True)))
            seconds, episode = min(runs, key=lambda run: run[0])
            rows.append((f"{storage} + {codec}", seconds, EPISODE.seconds / seconds))
            if storage == "mcap" and codec == "libx264":
                default_episode = episode
    return rows, default_episode


def writer_rows(root: Path) -> list[tuple[str, float, int]]:
    """(writer, MB/s of CDR payload written, messages read back by rosbags' Reader) for each recording writer."""
    store = stack_typestore()
    t = store.types
    image_cls, header_cls, time_cls = (
        t[name] for name in ("sensor_msgs/msg/Image", "std_msgs/msg/Header", "builtin_interfaces/msg/Time")
    )
    payloads = []
    for i in range(int(EPISODE.seconds * 15)):
        frame = synthetic_frame(i, 256, 256).ravel()
        image = image_cls(header_cls(time_cls(i, 0), "camera"), 256, 256, "rgb8", 0, 768, frame)
        payloads.append(store.serialize_cdr(image, "sensor_msgs/msg/Image"))
    writers = {
        "rosbags mcap (CRC 0)": lambda path: Writer(path, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP),
        "mcap lib, CRC, no fsync": lambda path: CrcBagWriter(path, ChunkPolicy(fsync=False)),
        "mcap lib, CRC, fsync/chunk": CrcBagWriter,
        "rosbags sqlite3": lambda path: Writer(path, version=BAG_VERSION, storage_plugin=StoragePlugin.SQLITE3),
    }
    rows = []
    for name, make in writers.items():
        path = root / f"writer_{len(rows)}"

        def write(path=path, make=make) -> None:
            with make(path) as writer:
                connection = writer.add_connection("/camera/image_raw", "sensor_msgs/msg/Image", typestore=store)
                for i, payload in enumerate(payloads):
                    writer.write(connection, i * 66_666_667, payload)
            os.sync()

        seconds, _ = _timed(write)
        with Reader(path) as reader:
            read_back = sum(1 for _ in reader.messages())
        rows.append((name, sum(map(len, payloads)) / seconds / 1e6, read_back))
    return rows


def drill_rows(root: Path) -> list[tuple[int, int, int, int]]:
    """Per SIGKILLed recording: (rows handed to the writer, rows recovered, rows >= 1 s old, of those recovered)."""
    rows = []
    for seed in range(DRILLS):
        killed = run_and_kill(root / f"drill{seed}", DrillConfig(), seed=seed)
        with contextlib.redirect_stdout(io.StringIO()):
            repair_main([str(root / f"drill{seed}")])
        result = count_recovered(killed, root / f"drill{seed}" / "crashed")
        rows.append((result.enqueued, result.recovered, result.old, result.old_recovered))
    return rows


def pool_rows(root: Path) -> list[tuple[int, float]]:
    """(workers, seconds) to convert POOL_EPISODES bags through the CLI's worker pool."""
    bags = []
    for i in range(POOL_EPISODES):
        write_synthetic_bag(root / "pool" / f"ep{i}", EPISODE)
        bags.append(root / "pool" / f"ep{i}")
    rows = []
    for workers in (1, 2):
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            seconds, _ = _timed(lambda w=workers: convert_many(bags, root / f"pool_out{w}", workers=w))
        rows.append((workers, seconds))
    return rows


def loading_rows(episode: Path, cache: Path) -> list[tuple[str, float]]:
    """(mode, clips per second) for seek-decoding and the memory-mapped cache (cold and warm)."""
    torch.manual_seed(0)
    seek = DroidClipDataset([episode] * CLIPS, ClipConfig())
    cached = DroidClipDataset([episode] * CLIPS, ClipConfig(frame_cache_dir=cache))
    rows = []
    for name, dataset in (("seek + decode needed frames", seek), ("cache, first pass (decodes)", cached)):
        seconds, _ = _timed(lambda dataset=dataset: [dataset[i] for i in range(len(dataset))])
        rows.append((name, len(dataset) / seconds))
    seconds, _ = _timed(lambda: [cached[i] for i in range(len(cached))])
    rows.append(("cache, warm (memory map)", len(cached) / seconds))
    return rows


def main() -> None:
    """Print the tables and the RESULT line (default settings: MCAP + libx264, seek decoding)."""
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        writers = writer_rows(root)
        drills = drill_rows(root)
        conversion, episode = conversion_rows(root)
        pool = pool_rows(root)
        loading = loading_rows(episode, root / "cache")
    print(f"recording writers, {EPISODE.seconds:.0f} s of 256x256 rgb8 images at 15 Hz (write + os.sync):")
    print(f"{'writer':<28} {'MB/s':>8} {'read back by rosbags':>21}")
    for name, rate, read_back in writers:
        print(f"{name:<28} {rate:>8.0f} {read_back:>21}")
    print(
        f"\nSIGKILL at a random moment of a 15 Hz recording (30 s of stamps at {DrillConfig.speedup:.0f}x), repaired:"
    )
    print(f"{'drill':<6} {'handed to writer':>17} {'recovered':>10} {'>= 1 s old':>11} {'of those back':>14}")
    for i, (enqueued, recovered, old, old_back) in enumerate(drills):
        print(f"{i:<6} {enqueued:>17} {recovered:>10} {old:>11} {old_back:>14}")
    recovered_fraction = sum(d[1] for d in drills) / sum(d[0] for d in drills)
    print()
    baseline = conversion[0][1]
    print(f"bag -> DROID, one {EPISODE.seconds:.0f} s episode ({EPISODE.width}x{EPISODE.height}, 30 Hz camera):")
    print(f"{'setting':<20} {'seconds':>8} {'x real time':>12} {'vs mcap+libx264':>16}")
    for name, seconds, realtime in conversion:
        print(f"{name:<20} {seconds:>8.2f} {realtime:>12.1f} {baseline / seconds:>15.2f}x")
    print(f"\n{POOL_EPISODES} episodes through the converter CLI's worker pool:")
    print(f"{'workers':<8} {'seconds':>8} {'x real time':>12}")
    for workers, seconds in pool:
        print(f"{workers:<8} {seconds:>8.2f} {POOL_EPISODES * EPISODE.seconds / seconds:>12.1f}")
    print(f"\nclips of 8 frames at 4 fps ({CLIPS} clips, one process, 1 torch thread):")
    print(f"{'mode':<30} {'clips/s':>8} {'vs seek':>8}")
    for name, rate in loading:
        print(f"{name:<30} {rate:>8.1f} {rate / loading[0][1]:>7.2f}x")
    print(
        f"RESULT convert_x_realtime={conversion[0][2]:.1f} clips_per_s={loading[0][1]:.1f} "
        f"recovered_fraction={recovered_fraction:.3f}"
    )


if __name__ == "__main__":
    main()
