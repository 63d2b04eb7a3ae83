"""Post-training clips from memory: every frame of every DROID episode is converted once (frozen-encoder
representations, or preprocessed pixels for end-to-end training), clips then come from memory with their states and
actions, which makes small-model post-training on CPU fast.

Clip frames are `clip_stride(row_hz, fps)` rows apart (the official loader's rule) and every start row gives a clip;
actions are `poses_to_diffs` of the clip's states (float64, then float32), as `DroidClipDataset` returns them. A frame
of several views (`views`, e.g. exterior and wrist) tiles each row's images of those cameras side by side
(`jepa_core.views`), as the planner sees them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from jepa_core import geometry
from jepa_core.data.droid_dataset import clip_stride
from jepa_core.data.droid_format import find_episodes, load_trajectory, view_videos
from jepa_core.data.video import decode_all
from jepa_core.models.encoder import VisionTransformer
from jepa_core.models.representations import encode_frames
from jepa_core.transforms import planning_transform_views
from jepa_core.views import DEFAULT_VIEWS, view_count

# uint8 frames [T, H, V*W, 3] -> per-frame tensors [T, ...] (representations [T, N, D] or pixels [T, 3, S, V*S])
FrameFn = Callable[[np.ndarray], torch.Tensor]


@dataclass
class EncodedEpisode:
    """One episode's per-row frame tensors (representations or pixels) and states."""

    path: Path
    reps: torch.Tensor  # [rows, N, D] or [rows, 3, S, V*S] (storage dtype, e.g. float16)
    states: np.ndarray  # [rows, 7] float64
    stride: int  # rows between clip frames


@torch.inference_mode()
def encode_video(encoder: VisionTransformer, frames: np.ndarray, chunk: int, device: torch.device) -> torch.Tensor:
    """uint8 frames [T, H, V*W, 3] -> normalised representations [T, N, D] (float32, CPU), `chunk` frames at a time,
    each through the planning transform of the encoder's input (V views of S x S)."""
    reps = []
    for start in range(0, len(frames), chunk):
        pixels = planning_transform_views(
            frames[start : start + chunk], encoder.img_size[0], view_count(encoder.img_size), device
        )
        reps.append(encode_frames(encoder, pixels).float().cpu())  # [chunk, N, D]
    return torch.cat(reps)


def frozen_encoder_fn(encoder: VisionTransformer, device: torch.device, chunk: int = 64) -> FrameFn:
    """FrameFn of the frozen encoder: normalised representations [T, N, D]."""
    encoder = encoder.to(device).eval()
    return lambda frames: encode_video(encoder, frames, chunk, device)


def pixel_fn(img_size: tuple[int, int]) -> FrameFn:
    """FrameFn of end-to-end training: the planning transform's pixels [T, 3, S, V*S] for an encoder input
    (S, V*S) (the encoder runs per step)."""
    return lambda frames: planning_transform_views(frames, img_size[0], view_count(img_size))


def decode_views(episode: Path, views: tuple[str, ...], rows: int) -> np.ndarray:
    """The episode's first `rows` frames [rows, H, V*W, 3] uint8: each view's video decoded, tiled per row."""
    videos = view_videos(episode, views)
    decoded = [decode_all(video) for video in videos]  # each [T, H, W, 3]
    for video, frames in zip(videos, decoded, strict=True):
        if len(frames) < rows:
            raise ValueError(f"{video}: {len(frames)} frames for {rows} trajectory rows")
    return np.concatenate([frames[:rows] for frames in decoded], axis=2)


def encode_episodes(
    roots: tuple[Path, ...],
    frame_fn: FrameFn,
    fps: float,
    views: tuple[str, ...] = DEFAULT_VIEWS,
    storage_dtype: torch.dtype = torch.float16,
    show_progress: bool = True,
) -> list[EncodedEpisode]:
    """Convert every row's frame (the tiled `views`) of every episode under `roots` with `frame_fn` (once)."""
    paths = find_episodes(list(roots))
    if not paths:
        raise ValueError(f"no DROID episodes under {[str(r) for r in roots]}")
    episodes = []
    for path in tqdm(paths, desc="encode episodes", disable=not show_progress):
        trajectory = load_trajectory(path)
        reps = frame_fn(decode_views(path, views, len(trajectory.states)))
        stride = clip_stride(trajectory.row_hz, fps)
        episodes.append(EncodedEpisode(path, reps.to(storage_dtype), trajectory.states, stride))
    return episodes


class EncodedClipDataset(Dataset):
    """Every clip of `frames_per_clip` frames of the encoded episodes.

    Items: (reps [T*N, D] (flatten_frames) or frames [T, ...], actions [T-1, 7], states [T, 7]), float32."""

    def __init__(self, episodes: list[EncodedEpisode], frames_per_clip: int, flatten_frames: bool = True):
        if frames_per_clip < 2:
            raise ValueError(f"frames_per_clip must be >= 2 (one action), got {frames_per_clip}")
        self.episodes = episodes
        self.frames_per_clip = frames_per_clip
        self.flatten_frames = flatten_frames
        self.index: list[tuple[int, int]] = []  # (episode, start row)
        for number, episode in enumerate(episodes):
            span = (frames_per_clip - 1) * episode.stride + 1
            self.index.extend((number, start) for start in range(len(episode.states) - span + 1))
        if not self.index:
            raise ValueError(f"no episode is long enough for a clip of {frames_per_clip} frames")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        number, start = self.index[item]
        episode = self.episodes[number]
        rows = start + episode.stride * np.arange(self.frames_per_clip)  # [T]
        reps = episode.reps[torch.from_numpy(rows)].float()  # [T, N, D] or [T, 3, S, S]
        if self.flatten_frames:
            reps = reps.flatten(0, 1)  # [T*N, D]
        states = episode.states[rows]  # [T, 7] float64
        actions = geometry.poses_to_diffs(states)  # [T-1, 7] float64
        return reps, torch.from_numpy(actions).float(), torch.from_numpy(states).float()
