"""jepa_core.transforms against an independent numpy reference (crop, bilinear resize, normalisation)."""

import numpy as np
import pytest
import torch

from jepa_core.transforms import center_square_crop_box, planning_transform, planning_transform_batch

MEAN_255 = np.array([0.485, 0.456, 0.406]) * 255.0
STD_255 = np.array([0.229, 0.224, 0.225]) * 255.0


def numpy_resize_bilinear(image: np.ndarray, size: int) -> np.ndarray:
    """Half-pixel-centre bilinear resize (no antialias) of float [H, W, C], written from the definition."""

    def axis_weights(in_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        source = np.maximum((np.arange(size) + 0.5) * (in_size / size) - 0.5, 0.0)
        low = np.floor(source).astype(int)
        high = np.minimum(low + 1, in_size - 1)
        return low, high, source - low

    rows_low, rows_high, row_frac = axis_weights(image.shape[0])
    cols_low, cols_high, col_frac = axis_weights(image.shape[1])
    top = image[rows_low] * (1 - row_frac)[:, None, None] + image[rows_high] * row_frac[:, None, None]
    return top[:, cols_low] * (1 - col_frac)[None, :, None] + top[:, cols_high] * col_frac[None, :, None]


def numpy_planning_transform(image: np.ndarray, size: int) -> np.ndarray:
    """Reference: centre square crop (floor offsets), bilinear resize, ImageNet mean/std in 0-255 units; [3, S, S]."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = image[top : top + side, left : left + side].astype(np.float64)
    resized = numpy_resize_bilinear(crop, size)
    return ((resized - MEAN_255) / STD_255).transpose(2, 0, 1)


@pytest.mark.parametrize(("height", "width"), [(333, 517), (480, 640), (257, 256), (640, 480), (256, 256), (64, 48)])
@pytest.mark.parametrize("size", [256, 64])
def test_matches_numpy_reference(height, width, size):
    image = np.random.default_rng(height * width).integers(0, 256, (height, width, 3), dtype=np.uint8)
    ours = planning_transform(image, size=size)
    assert ours.shape == (3, size, size) and ours.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), numpy_planning_transform(image, size), atol=2e-5, rtol=0)


def test_crop_happens_before_resize_and_is_centred():
    image = np.zeros((100, 300, 3), np.uint8)
    image[:, 100:200] = 255  # only the centre square is white
    out = planning_transform(image, size=32)
    white = (255.0 - MEAN_255) / STD_255
    np.testing.assert_allclose(out.numpy(), np.broadcast_to(white[:, None, None], (3, 32, 32)), atol=1e-5)
    assert center_square_crop_box(101, 300) == (0, 99, 101)
    assert center_square_crop_box(480, 640) == (0, 80, 480)
    assert center_square_crop_box(517, 333) == (92, 0, 333)


def test_no_antialias_when_downscaling():
    """Upstream resizes with F.interpolate without antialias: 4x downscaling samples between columns 4k+1 and 4k+2,
    so stripes on columns 4k vanish (an antialiased resize would average them to ~64)."""
    stripes = np.zeros((256, 256, 3), np.uint8)
    stripes[:, ::4] = 255
    pixels = planning_transform(stripes, size=64) * torch.tensor(STD_255).view(3, 1, 1) + torch.tensor(MEAN_255).view(
        3, 1, 1
    )
    assert pixels.abs().max() < 1e-3


def test_batch_matches_single_and_accepts_torch():
    images = np.random.default_rng(3).integers(0, 256, (3, 48, 80, 3), dtype=np.uint8)
    batch = planning_transform_batch(torch.from_numpy(images), size=32)
    assert batch.shape == (3, 3, 32, 32)
    for index in range(3):
        torch.testing.assert_close(batch[index], planning_transform(images[index], size=32))


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((8, 8, 3), np.float32),
        np.zeros((8, 8), np.uint8),
        np.zeros((8, 8, 4), np.uint8),
        np.zeros((0, 8, 3), np.uint8),
    ],
)
def test_bad_input_rejected(bad):
    with pytest.raises(ValueError, match="expected"):
        planning_transform(bad, size=16)
