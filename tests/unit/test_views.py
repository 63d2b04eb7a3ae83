"""Multi-camera frames (jepa_core.views): tiling, the per-view planning transform, view counts of encoder inputs."""

import numpy as np
import pytest
import torch

from jepa_core.transforms import planning_transform_batch, planning_transform_views
from jepa_core.views import frame_of, tile_views, view_count, view_token_weights

RNG = np.random.default_rng(0)


def views(count: int, height: int = 40, width: int = 48) -> list[np.ndarray]:
    return [RNG.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count)]


def test_one_view_is_its_own_frame_and_several_are_side_by_side():
    exterior, wrist = views(2)
    assert tile_views([exterior]) is exterior
    frame = frame_of({"wrist": wrist, "exterior": exterior}, ("exterior", "wrist"))
    assert frame.shape == (40, 96, 3)
    np.testing.assert_array_equal(frame[:, 48:], wrist)


def test_tiling_refuses_missing_or_mismatched_views():
    with pytest.raises(KeyError, match="wrist"):
        frame_of({"exterior": views(1)[0]}, ("exterior", "wrist"))
    with pytest.raises(ValueError, match="same shape"):
        tile_views([*views(1), *views(1, width=40)])
    with pytest.raises(ValueError, match="at least one"):
        tile_views([])


def test_view_count_of_encoder_inputs():
    assert view_count((64, 64)) == 1
    assert view_count((64, 128)) == 2
    with pytest.raises(ValueError, match="whole number"):
        view_count((64, 96))


def test_one_view_transform_is_the_official_transform_exactly():
    frames = np.stack(views(3, 50, 70))
    torch.testing.assert_close(
        planning_transform_views(frames, 32, 1), planning_transform_batch(frames, 32), rtol=0, atol=0
    )


def test_each_view_is_transformed_alone_then_tiled():
    exterior, wrist = views(2, 50, 70)
    frames = tile_views([exterior, wrist])[None]
    pixels = planning_transform_views(frames, 32, 2)
    assert pixels.shape == (1, 3, 32, 64)
    torch.testing.assert_close(pixels[..., :32], planning_transform_batch(exterior[None], 32), rtol=0, atol=0)
    torch.testing.assert_close(pixels[..., 32:], planning_transform_batch(wrist[None], 32), rtol=0, atol=0)
    with pytest.raises(ValueError, match="3 views"):
        planning_transform_views(frames, 32, 3)


def test_view_token_weights_weigh_each_views_tokens_with_mean_1():
    weights = view_token_weights((4, 8), (1.0, 0.0))  # two 4x4 views side by side, row-major tokens
    grid = weights.reshape(4, 8)
    np.testing.assert_array_equal(grid[:, :4], 2.0)
    np.testing.assert_array_equal(grid[:, 4:], 0.0)
    assert view_token_weights((4, 8), (1.0, 3.0)).mean() == pytest.approx(1.0)
    assert view_token_weights((4, 8), (0.5, 0.5)) is None and view_token_weights((4, 8), (2.0,)) is None


@pytest.mark.parametrize(
    ("weights", "match"),
    [((1.0, 1.0, 1.0), "hold 2 view"), ((1.0, -1.0), ">= 0"), ((0.0, 0.0), "not all 0"),
     ((float("nan"), 1.0), "finite"), ((), "not all 0")],
)  # fmt: skip
def test_view_token_weights_refuse_what_no_frame_can_use(weights, match):
    with pytest.raises(ValueError, match=match):
        view_token_weights((4, 8), weights)
