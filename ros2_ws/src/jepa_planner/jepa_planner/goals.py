"""Goal library on disk: named goal images (PNG) with JSON metadata, filled by `capture_goal` and RViz goals.

Layout: `<root>/<name>.png` (RGB) and `<root>/<name>.json` ({"name", "created", "height", "width", ...extra}; a
capture adds "state" [7], the robot state it was taken at, an RViz goal rendered in simulation "position" [3]).
Images are stored, not embeddings, so a library stays valid when the encoder or checkpoint changes.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

GOAL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class GoalLibraryError(ValueError):
    """A goal name, file or image that cannot be used; the message names it."""


@dataclass(frozen=True)
class GoalRecord:
    """What the library knows of one goal besides its image: capture time and where the flange was."""

    name: str
    created: float  # unix time the goal was stored, s
    state: np.ndarray | None  # [7] robot state at capture (base frame), None when unknown
    position: np.ndarray | None  # [3] flange position: the state's, else a stored "position", else None

    @classmethod
    def from_metadata(cls, metadata: dict) -> GoalRecord:
        """The record of a goal's JSON metadata."""
        state = metadata.get("state")
        state = None if state is None else np.asarray(state, dtype=np.float64)
        position = state[:3] if state is not None else metadata.get("position")
        position = None if position is None else np.asarray(position, dtype=np.float64)
        return cls(str(metadata["name"]), float(metadata["created"]), state, position)


def nearest_goal(records: list[GoalRecord], point: np.ndarray, axes: slice) -> tuple[GoalRecord, float] | None:
    """The record whose position is nearest `point` [3] over `axes` (e.g. slice(0, 2): horizontally) and that
    distance, m; None when no record has a position."""
    located = [(r, float(np.linalg.norm(r.position[axes] - point[axes]))) for r in records if r.position is not None]
    return min(located, key=lambda pair: pair[1], default=None)


class GoalLibrary:
    """Named goal images in one folder."""

    def __init__(self, root: str | Path) -> None:
        """Use (and create) the folder `root`; `~` is expanded."""
        self.root = Path(root).expanduser()
        self.root.mkdir(parents=True, exist_ok=True)

    def _paths(self, name: str) -> tuple[Path, Path]:
        """Image and metadata paths of a validated goal name."""
        if not GOAL_NAME.match(name):
            raise GoalLibraryError(f"goal name {name!r}: expected letters, digits, '_', '.', '-' (max 128 chars)")
        return self.root / f"{name}.png", self.root / f"{name}.json"

    def names(self) -> list[str]:
        """Sorted names of stored goals (those with both files)."""
        return sorted(p.stem for p in self.root.glob("*.png") if p.with_suffix(".json").is_file())

    def records(self) -> list[GoalRecord]:
        """The record of every stored goal, sorted by name."""
        return [GoalRecord.from_metadata(self.load_metadata(name)) for name in self.names()]

    def remove(self, name: str) -> None:
        """Delete goal `name` (image and metadata)."""
        image_path, meta_path = self._existing(name)
        image_path.unlink()
        meta_path.unlink()

    def save(self, name: str, image: np.ndarray, overwrite: bool = False, **metadata: object) -> Path:
        """Store an RGB uint8 image [H, W, 3] under `name` with extra JSON-serialisable metadata; returns the PNG."""
        image_path, meta_path = self._paths(name)
        if image_path.exists() and not overwrite:
            raise GoalLibraryError(f"goal {name!r} already exists at {image_path}; pass overwrite=True to replace it")
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise GoalLibraryError(f"goal {name!r}: expected RGB uint8 [H, W, 3], got {image.dtype} {image.shape}")
        record = {"name": name, "created": time.time(), "height": image.shape[0], "width": image.shape[1], **metadata}
        Image.fromarray(image).save(image_path)
        meta_path.write_text(json.dumps(record, indent=2))
        return image_path

    def _existing(self, name: str) -> tuple[Path, Path]:
        """Image and metadata paths of a stored goal; GoalLibraryError naming the known goals otherwise."""
        image_path, meta_path = self._paths(name)
        if not image_path.is_file() or not meta_path.is_file():
            missing = f"{image_path} / {meta_path} not found"
            raise GoalLibraryError(f"unknown goal {name!r}: {missing}; known: {self.names()}")
        return image_path, meta_path

    def load_metadata(self, name: str) -> dict:
        """Metadata of goal `name`."""
        _, meta_path = self._existing(name)
        try:
            metadata = json.loads(meta_path.read_text())
        except json.JSONDecodeError as error:
            raise GoalLibraryError(f"{meta_path}: invalid JSON ({error})") from None
        if not isinstance(metadata, dict) or not {"name", "created"} <= set(metadata):
            raise GoalLibraryError(f"{meta_path}: expected an object with 'name' and 'created', got {metadata!r:.200}")
        return metadata

    def load(self, name: str) -> tuple[np.ndarray, dict]:
        """RGB uint8 image [H, W, 3] and metadata of goal `name`."""
        image_path, _ = self._existing(name)
        metadata = self.load_metadata(name)
        with Image.open(image_path) as stored:
            image = np.asarray(stored.convert("RGB"))
        return image, metadata
