"""Multi-camera frames as one tiled image: the views side by side, so the official encoder and AC predictor take them.

A frame of V named views (e.g. `exterior`, `wrist`) is the uint8 image [H, V*W, 3] of its views in a fixed order,
each [H, W, 3]. Its planning transform (`jepa_core.transforms.planning_transform_views`) transforms each view alone
(the official centre crop and resize to S x S) and puts the results side by side: [3, S, V*S], which an encoder built
for S x V*S pixels turns into V token grids side by side (64 x 128 px, patch 16: a 4 x 8 grid), encoding each view
alone (`separate_views`) or the frame as one image. An encoder built for square images has one view, and its
transform is exactly the official one. Checkpoints name their views under
VIEWS_KEY (none: DEFAULT_VIEWS). The planning energy can weigh the views (`view_token_weights`). NumPy only: the
simulator and the robot-side nodes tile frames without torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

VIEWS_KEY = "camera_views"  # checkpoint entry: the view names of a tiled-frame encoder, in tile order
DEFAULT_VIEWS = ("exterior",)


def tile_views(images: Sequence[np.ndarray]) -> np.ndarray:
    """Views [H, W, 3] uint8 (all the same shape) -> the frame [H, V*W, 3]; one view is returned as it is."""
    if not images:
        raise ValueError("tile_views: expected at least one view")
    shapes = {image.shape for image in images}
    if len(shapes) != 1:
        raise ValueError(f"tile_views: every view must have the same shape, got {sorted(shapes)}")
    return images[0] if len(images) == 1 else np.concatenate(images, axis=1)


def frame_of(views: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """The tiled frame of the views called `names` (in that order) out of a name -> image mapping."""
    missing = [name for name in names if name not in views]
    if missing:
        raise KeyError(f"frame_of: views {missing} missing; have {sorted(views)}")
    return tile_views([views[name] for name in names])


def view_count(img_size: tuple[int, int]) -> int:
    """Views of an encoder built for (height, width) pixels: width / height (1 for square inputs)."""
    height, width = img_size
    if width % height:
        raise ValueError(f"encoder input {height}x{width}: the width must be a whole number of square views")
    return width // height


def check_view_weights(weights: Sequence[float]) -> None:
    """ValueError unless `weights` are energy weights of views: at least one, finite, >= 0, not all 0."""
    if not weights or not all(math.isfinite(w) and w >= 0 for w in weights) or not sum(weights) > 0:
        raise ValueError(f"view weights: expected finite values >= 0, not all 0; got {list(weights)}")


def view_token_weights(grid: tuple[int, int], weights: Sequence[float]) -> np.ndarray | None:
    """Energy weight of each token [rows * cols] of a frame's token grid (rows, cols; row-major, views side by side)
    from one weight per view, scaled to mean 1; None (the official uniform mean) for a single value or equal ones."""
    rows, cols = grid
    views = view_count((rows, cols))
    check_view_weights(weights)
    if len(weights) not in (1, views):
        raise ValueError(f"view weights: frames of {rows}x{cols} tokens hold {views} view(s); expected one weight "
                         f"per view or a single value, got {list(weights)}")  # fmt: skip
    if len(set(weights)) == 1:
        return None
    per_view = np.asarray(weights, np.float64) * views / sum(weights)  # [V], mean 1
    return np.tile(np.repeat(per_view, cols // views), rows).astype(np.float32)  # [rows * cols]
