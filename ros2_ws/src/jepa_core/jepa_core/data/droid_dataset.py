"""Torch dataset of clips from raw DROID episode folders (ours and real DROID downloads) for AC post-training.

A clip is N frames taken every `stride = ceil(source_fps / target_fps)` rows (the official loader's rule), with the
states [N, 7] of those rows and actions [N-1, 7] = poses_to_diffs(states) computed in float64. Start rows follow the
official sampler by default: an episode needs N * stride rows, one exactly that long gives the single start 0, and a
longer one draws starts from [0, rows - N * stride) (the last start is never drawn); `last_start="inclusive"` also
allows it. `frameskip` keeps every frameskip-th state (and extrinsics) of the clip, as the official option: the
official class defaults to 2 (its tubelet size); ours to 1 because our trainer encodes each frame on its own.
`source_fps` is the physical row rate (metadata `row_hz`, else DROID's 15 Hz) or, to reproduce the official loader on
real DROID MP4s (which declare 60 fps for 15 Hz content), the video container's declared rate. `views` (e.g.
("exterior", "wrist")) returns frames of those cameras tiled side by side (`jepa_core.views`) instead of `camera_key`'s.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from jepa_core import geometry
from jepa_core.data import droid_format as fmt
from jepa_core.data.video import decode_all, decode_frames, probe_mp4

TRAJECTORY_CACHE_SIZE = 256  # episodes whose states/extrinsics stay in memory per dataset copy (per worker)


@dataclass(frozen=True)
class ClipConfig:
    """How clips are cut from episodes."""

    frames_per_clip: int = 8
    target_fps: float = 4.0
    camera_key: str = fmt.LEFT_MP4_KEY  # metadata key of the camera video (and extrinsics)
    views: tuple[str, ...] = ()  # named views tiled per frame (fmt.VIEW_CAMERA_KEYS); () = camera_key's video alone
    source_fps: Literal["rows", "container"] = "rows"
    random_start: bool = True  # one random clip per episode per access (as the official loader); else every start
    start_step: int = 0  # with random_start=False: rows between clip starts (0 = one clip span, no overlap)
    last_start: Literal["official", "inclusive"] = "official"  # whether start rows - span may be drawn (see above)
    frameskip: int = 1  # states/extrinsics kept: every frameskip-th of the N frames (official option)
    frame_cache_dir: Path | None = None  # pre-decode each video once to a memory-mapped .npy here
    dtype: torch.dtype = torch.float32  # of states/actions/extrinsics (computed in float64, then cast)


@dataclass(frozen=True)
class _Episode:
    path: Path
    rows: int


def clip_stride(source_fps: float, target_fps: float) -> int:
    """Rows between consecutive clip frames: ceil(source_fps / target_fps), at least 1."""
    if source_fps <= 0 or target_fps <= 0:
        raise ValueError(f"fps must be positive, got source {source_fps}, target {target_fps}")
    return max(1, math.ceil(source_fps / target_fps))


def _row_count(episode: Path) -> int:
    """Number of trajectory rows, read from the h5 dataset shape only."""
    path = episode / fmt.TRAJECTORY_FILE
    try:
        with h5py.File(path, "r") as h5:
            return int(h5[fmt.CARTESIAN_POSITION].shape[0])
    except (OSError, KeyError) as error:
        raise ValueError(f"{path}: cannot read {fmt.CARTESIAN_POSITION} ({error})") from error


class DroidClipDataset(Dataset):
    """Clips (frames, states, actions, extrinsics) from DROID episodes; episodes shorter than a clip are skipped."""

    def __init__(
        self,
        roots: list[Path] | Path,
        config: ClipConfig | None = None,
        transform: Callable[[np.ndarray], object] | None = None,
    ) -> None:
        self.config = config or ClipConfig()
        if self.config.frameskip < 1 or self.config.frames_per_clip < 1:
            raise ValueError(f"frameskip and frames_per_clip must be >= 1, got {self.config}")
        self.transform = transform
        paths = fmt.find_episodes([roots] if isinstance(roots, str | Path) else list(roots))
        if not paths:
            raise ValueError(f"no DROID episodes (folders with {fmt.TRAJECTORY_FILE}) under {roots}")
        self._strides: dict[Path, int] = {}
        self._trajectories: OrderedDict[Path, fmt.EpisodeTrajectory] = OrderedDict()  # LRU
        self.episodes: list[_Episode] = []
        self.skipped: list[Path] = []  # shorter than one clip
        for path in paths:
            rows = _row_count(path)
            if rows >= self._span(path):
                self.episodes.append(_Episode(path, rows))
            else:
                self.skipped.append(path)
        if not self.episodes:
            raise ValueError(f"all {len(paths)} episodes are shorter than one clip ({self.config})")
        self._index = self._enumerate_starts()

    def _stride(self, episode: Path) -> int:
        """Frame stride of an episode from its source rate (cached: reading metadata/probing once per episode)."""
        if episode not in self._strides:
            if self.config.source_fps == "container":
                mp4 = fmt.camera_mp4_name(fmt.read_metadata(episode), self.config.camera_key, episode)
                source = probe_mp4(episode / fmt.MP4_DIR / mp4).fps
            else:
                source = float(fmt.read_metadata(episode).get(fmt.ROW_HZ_KEY, fmt.ROW_HZ))
            self._strides[episode] = clip_stride(source, self.config.target_fps)
        return self._strides[episode]

    def _span(self, episode: Path) -> int:
        """Rows covered by one clip: frames_per_clip * stride (the official `nframes`)."""
        return self.config.frames_per_clip * self._stride(episode)

    def _start_count(self, episode: _Episode) -> int:
        """How many start rows the sampler may draw (official: the last one only for a one-clip episode)."""
        starts = episode.rows - self._span(episode.path) + 1
        return starts - 1 if self.config.last_start == "official" and starts > 1 else starts

    def _enumerate_starts(self) -> list[tuple[int, int]]:
        """(episode index, start row) per item; start -1 = drawn at random on access."""
        if self.config.random_start:
            return [(i, -1) for i in range(len(self.episodes))]
        items = []
        for i, episode in enumerate(self.episodes):
            step = self.config.start_step or self._span(episode.path)
            items.extend((i, start) for start in range(0, self._start_count(episode), step))
        return items

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, index: int) -> dict:
        """frames uint8 [N, H, V*W, 3] (or transform output), states [S, 7], actions [S-1, 7], extrinsics [S, 6]
        with S = ceil(N / frameskip) (S = N by default), rows [N] (the frames' rows)."""
        episode_index, start = self._index[index]
        episode = self.episodes[episode_index]
        stride, span = self._stride(episode.path), self._span(episode.path)
        if start < 0:  # uniform over the allowed starts (official: [0, rows - span), 0 for a one-clip episode)
            start = int(torch.randint(self._start_count(episode), ()).item())
        rows = np.arange(start, start + span, stride)  # [N]
        state_rows = rows[:: self.config.frameskip]  # [S = ceil(N / frameskip)]
        trajectory = self._trajectory(episode.path)
        states = trajectory.states[state_rows]  # [S, 7] f64
        actions = geometry.poses_to_diffs(states)  # [S-1, 7] f64
        videos = fmt.view_videos(episode.path, self.config.views) if self.config.views else [trajectory.video]
        frames = np.concatenate([self._frames(video, rows) for video in videos], axis=2)  # [N, H, V*W, 3] uint8
        return {
            "frames": self.transform(frames) if self.transform else torch.from_numpy(frames),
            "states": torch.from_numpy(states).to(self.config.dtype),
            "actions": torch.from_numpy(actions).to(self.config.dtype),
            "extrinsics": torch.from_numpy(trajectory.extrinsics[state_rows]).to(self.config.dtype),
            "rows": torch.from_numpy(rows),
            "episode": str(episode.path),
        }

    def _trajectory(self, episode: Path) -> fmt.EpisodeTrajectory:
        """States and extrinsics of an episode, read once and kept in a small LRU cache."""
        if episode in self._trajectories:
            self._trajectories.move_to_end(episode)
        else:
            self._trajectories[episode] = fmt.load_trajectory(episode, self.config.camera_key)
            if len(self._trajectories) > TRAJECTORY_CACHE_SIZE:
                self._trajectories.popitem(last=False)
        return self._trajectories[episode]

    def _frames(self, video: Path, rows: np.ndarray) -> np.ndarray:
        """Decode only the needed frames, or read them from the pre-decoded cache."""
        if self.config.frame_cache_dir is None:
            return decode_frames(video, rows)
        return np.ascontiguousarray(cached_frames(video, Path(self.config.frame_cache_dir))[rows])


def cached_frames(video: Path, cache_dir: Path) -> np.ndarray:
    """All frames of a video as a read-only memory map [T, H, W, 3], decoded once into `cache_dir` (atomic write)."""
    stat = video.stat()
    key = hashlib.sha1(f"{video.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:20]
    path = cache_dir / f"{key}.npy"
    if not path.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f".{key}.{os.getpid()}.npy"
        np.save(tmp, decode_all(video))
        tmp.replace(path)
    return np.load(path, mmap_mode="r")
