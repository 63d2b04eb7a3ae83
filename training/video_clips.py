"""Video clips for pretraining: windows of frames sampled at ~4 fps from DROID episodes or a folder of MP4 files.

Each item is one clip, decoded on demand (only the frames it needs) and preprocessed with the planning transform
(centre square crop, bilinear resize, ImageNet normalisation) to [3, T, S, S].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from jepa_core.data.droid_format import TRAJECTORY_FILE, find_episodes, load_trajectory
from jepa_core.data.video import decode_frames, probe_mp4
from jepa_core.transforms import planning_transform_batch


@dataclass(frozen=True)
class VideoSource:
    """One video with its frame rate and usable frame count."""

    path: Path
    fps: float
    frames: int


def frame_stride(source_fps: float, target_fps: float) -> int:
    """Frames to skip between clip frames, as the official DROID loader: ceil(source_fps / target_fps)."""
    if source_fps <= 0 or target_fps <= 0:
        raise ValueError(f"frame rates must be positive, got source {source_fps}, target {target_fps}")
    return max(1, math.ceil(source_fps / target_fps - 1e-9))


def discover_videos(roots: tuple[Path, ...]) -> list[VideoSource]:
    """DROID episode folders (their left camera, at the episode's row rate) and *.mp4 files under `roots`."""
    sources: list[VideoSource] = []
    for root in map(Path, roots):
        if not root.exists():
            raise FileNotFoundError(f"data root {root} does not exist")
        has_episodes = (root / TRAJECTORY_FILE).is_file() or any(root.rglob(TRAJECTORY_FILE))
        if has_episodes:
            for episode in find_episodes([root]):
                trajectory = load_trajectory(episode)
                info = probe_mp4(trajectory.video)
                frames = min(len(trajectory.states), info.frames) if info.frames else len(trajectory.states)
                sources.append(VideoSource(trajectory.video, trajectory.row_hz, frames))
        else:
            files = [root] if root.suffix == ".mp4" else sorted(root.rglob("*.mp4"))
            for path in files:
                info = probe_mp4(path)
                if info.frames <= 0 or info.fps <= 0:
                    raise ValueError(f"{path}: container reports {info.frames} frames at {info.fps} fps")
                sources.append(VideoSource(path, info.fps, info.frames))
    if not sources:
        raise ValueError(f"no DROID episodes or .mp4 files found under {[str(r) for r in roots]}")
    return sources


class VideoClipDataset(Dataset):
    """Every window of `frames_per_clip` frames (stride from the fps ratio) of every source -> [3, T, S, S]."""

    def __init__(self, sources: list[VideoSource], frames_per_clip: int, target_fps: float, image_size: int):
        self.sources = sources
        self.frames_per_clip = frames_per_clip
        self.image_size = image_size
        self.windows: list[tuple[int, int, int]] = []  # (source index, first frame, stride)
        for index, source in enumerate(sources):
            stride = frame_stride(source.fps, target_fps)
            span = (frames_per_clip - 1) * stride + 1
            self.windows.extend((index, start, stride) for start in range(source.frames - span + 1))
        if not self.windows:
            raise ValueError(
                f"no video is long enough for a clip of {frames_per_clip} frames at {target_fps} fps "
                f"({len(sources)} source(s), longest {max(s.frames for s in sources)} frames)"
            )

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, item: int) -> torch.Tensor:
        source_index, start, stride = self.windows[item]
        indices = start + stride * np.arange(self.frames_per_clip)
        frames = decode_frames(self.sources[source_index].path, indices)  # [T, H, W, 3] uint8
        clip = planning_transform_batch(frames, size=self.image_size)  # [T, 3, S, S]
        return clip.transpose(0, 1).contiguous()  # [3, T, S, S]
