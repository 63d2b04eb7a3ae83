"""The official V-JEPA 2-AC planning image transform: uint8 RGB [H, W, 3] -> normalised float [3, S, S].

What the official code does (facebookresearch/vjepa2; `src/...` read in that repository, the notebook and
`app/vjepa_droid/transforms.py` in public forks that carry them, with only import paths changed): the planning notebook
(`notebooks/energy_landscape_example.ipynb`, wrapped by `notebooks/utils/world_model_wrapper.py`) builds
`app/vjepa_droid/transforms.py::make_transforms(random_horizontal_flip=False, random_resize_aspect_ratio=(1., 1.),
random_resize_scale=(1., 1.), reprob=0., auto_augment=False, motion_shift=False, crop_size=256)`. Its
`VideoTransform.__call__` converts the uint8 frames to float32 (no /255), then calls
`src/datasets/utils/video/transforms.py::random_resized_crop`, which
1. picks the crop with `_get_param_spatial_crop(scale=(1, 1), ratio=(1, 1))`: the random try wants a square of side
   round(sqrt(H*W)); that fits only when it equals min(H, W) (near-square images, |H - W| <~ 1), where the offset is
   random; otherwise the fallback takes the square of side min(H, W) at offset ((H - s) // 2, (W - s) // 2);
2. crops *before* resizing, then `torch.nn.functional.interpolate(mode="bilinear", align_corners=False)` to S x S,
   without antialiasing (the F.interpolate default);
3. normalises with mean (0.485, 0.456, 0.406) * 255 and std (0.229, 0.224, 0.225) * 255 (`_tensor_normalize_inplace`).
We do the same except that near-square images also get the deterministic centre offset (a random crop has no place
in planning); for square images and for every |H - W| >= 2 the result is identical.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_IMAGE_SIZE = 256


def center_square_crop_box(height: int, width: int) -> tuple[int, int, int]:
    """(top, left, side) of the centred square of side min(height, width), offsets rounded down as upstream."""
    side = min(height, width)
    return (height - side) // 2, (width - side) // 2, side


def _as_uint8_batch(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Validate RGB uint8 [B, H, W, 3] (numpy or torch) and return it as a torch tensor (no copy for torch input)."""
    if isinstance(images, np.ndarray):
        tensor = torch.from_numpy(np.require(images, requirements=("C_CONTIGUOUS", "WRITEABLE")))
    else:
        tensor = images
    if tensor.dtype != torch.uint8 or tensor.ndim != 4 or tensor.shape[-1] != 3:
        raise ValueError(f"expected RGB uint8 images [B, H, W, 3], got {tensor.dtype} {list(tensor.shape)}")
    if tensor.shape[1] == 0 or tensor.shape[2] == 0:
        raise ValueError(f"expected non-empty images, got shape {list(tensor.shape)}")
    return tensor


def host_to_device(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Move pixels to `device`; host-to-CUDA copies are staged in page-locked memory so they run asynchronously
    (a copy from pageable memory blocks the host until the GPU has finished its queued work)."""
    if device.type == "cuda" and batch.device.type == "cpu":
        batch = batch.pin_memory()
    return batch.to(device, non_blocking=True)


@functools.cache
def _pixel_normalisation(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """ImageNet mean and std on the 0-255 pixel scale, [1, 3, 1, 1] each, made once per device (no copy per frame)."""
    with torch.inference_mode(False):  # normal tensors even when first asked for under inference_mode
        mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32, device=device).mul(255.0).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, dtype=torch.float32, device=device).mul(255.0).view(1, 3, 1, 1)
    return mean, std


def planning_transform_batch(
    images: np.ndarray | torch.Tensor, size: int = DEFAULT_IMAGE_SIZE, device: torch.device | str | None = None
) -> torch.Tensor:
    """RGB uint8 [B, H, W, 3] -> float32 [B, 3, S, S]: centre square crop, bilinear resize, ImageNet mean/std * 255.

    `device` moves the uint8 pixels first (cheapest transfer), so the float work runs there.
    """
    batch = _as_uint8_batch(images)
    if device is not None:
        batch = host_to_device(batch, torch.device(device))
    top, left, side = center_square_crop_box(batch.shape[1], batch.shape[2])
    crop = batch[:, top : top + side, left : left + side].permute(0, 3, 1, 2).to(torch.float32)  # [B, 3, s, s]
    if side != size:
        crop = F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
    mean, std = _pixel_normalisation(crop.device)
    return (crop - mean) / std  # [B, 3, S, S]


def planning_transform(
    image: np.ndarray | torch.Tensor, size: int = DEFAULT_IMAGE_SIZE, device: torch.device | str | None = None
) -> torch.Tensor:
    """One RGB uint8 image [H, W, 3] -> float32 [3, S, S] (see planning_transform_batch)."""
    return planning_transform_batch(image[None], size=size, device=device)[0]


def planning_transform_views(
    images: np.ndarray | torch.Tensor, size: int, views: int, device: torch.device | str | None = None
) -> torch.Tensor:
    """Tiled frames uint8 [B, H, V*W, 3] -> float32 [B, 3, S, V*S]: each view through the official planning transform
    (centre crop, bilinear resize to S, ImageNet normalisation), side by side. views=1 is the official transform."""
    if views == 1:
        return planning_transform_batch(images, size=size, device=device)
    width = images.shape[2]
    if width % views:
        raise ValueError(f"frames {list(images.shape)}: width {width} is not {views} views side by side")
    step = width // views
    tiles = [planning_transform_batch(images[:, :, k * step : (k + 1) * step], size, device) for k in range(views)]
    return torch.cat(tiles, dim=-1)
