"""Data pipeline speed: bag -> DROID conversion as a multiple of real time, and clip loading rate of the dataset.

Synthetic 256x256 episodes (30 Hz camera, 50 Hz states, 5 Hz commands) are written as MCAP and sqlite3 bags and
converted with each codec; the dataset then serves 8-frame clips at 4 fps (stride 4 rows) by seeking the MP4 or from
the pre-decoded cache. Run: scripts/run.sh python benchmarks/data.py  (about a minute on 2 cores)
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from jepa_core.data.bag_to_droid import ConversionConfig, convert_bag
from jepa_core.data.droid_dataset import ClipConfig, DroidClipDataset
from jepa_core.data.synthetic import SyntheticEpisode, write_synthetic_bag
from jepa_core.data.video import VideoEncoding

EPISODE = SyntheticEpisode(seconds=20.0, height=256, width=256)
CLIPS = 60


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
    """Print both tables and the RESULT line (default settings: MCAP + libx264, seek decoding)."""
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        conversion, episode = conversion_rows(root)
        loading = loading_rows(episode, root / "cache")
    baseline = conversion[0][1]
    print(f"bag -> DROID, one {EPISODE.seconds:.0f} s episode ({EPISODE.width}x{EPISODE.height}, 30 Hz camera):")
    print(f"{'setting':<20} {'seconds':>8} {'x real time':>12} {'vs mcap+libx264':>16}")
    for name, seconds, realtime in conversion:
        print(f"{name:<20} {seconds:>8.2f} {realtime:>12.1f} {baseline / seconds:>15.2f}x")
    print(f"\nclips of 8 frames at 4 fps ({CLIPS} clips, one process, 1 torch thread):")
    print(f"{'mode':<30} {'clips/s':>8} {'vs seek':>8}")
    for name, rate in loading:
        print(f"{name:<30} {rate:>8.1f} {rate / loading[0][1]:>7.2f}x")
    print(f"RESULT convert_x_realtime={conversion[0][2]:.1f} clips_per_s={loading[0][1]:.1f}")


if __name__ == "__main__":
    main()
