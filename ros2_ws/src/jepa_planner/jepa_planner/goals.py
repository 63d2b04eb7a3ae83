"""Goal library on disk: named goal images (PNG) with JSON metadata, filled by `capture_goal` and RViz goals.

Layout: `<root>/<name>.png` (RGB) and `<root>/<name>.json` ({"name", "created", "height", "width", ...extra}).
Images are stored, not embeddings, so a library stays valid when the encoder or checkpoint changes.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
from PIL import Image

GOAL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class GoalLibraryError(ValueError):
    """A goal name, file or image that cannot be used; the message names it."""


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

    def load(self, name: str) -> tuple[np.ndarray, dict]:
        """RGB uint8 image [H, W, 3] and metadata of goal `name`."""
        image_path, meta_path = self._paths(name)
        if not image_path.is_file() or not meta_path.is_file():
            missing = f"{image_path} / {meta_path} not found"
            raise GoalLibraryError(f"unknown goal {name!r}: {missing}; known: {self.names()}")
        with Image.open(image_path) as stored:
            image = np.asarray(stored.convert("RGB"))
        try:
            metadata = json.loads(meta_path.read_text())
        except json.JSONDecodeError as error:
            raise GoalLibraryError(f"{meta_path}: invalid JSON ({error})") from None
        return image, metadata
