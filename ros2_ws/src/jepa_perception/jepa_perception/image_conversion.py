"""sensor_msgs/Image and CompressedImage <-> numpy without cv_bridge, with strict validation.

Supported raw encodings: rgb8, bgr8, rgba8, bgra8, mono8, mono16, 16UC1, 32FC1 (row padding via `step` and
`is_bigendian` honoured). CompressedImage: JPEG and PNG, decoded with Pillow. Any other raw encoding is handed to
cv_bridge when it is importable, otherwise it is rejected.

Mapping to the model's RGB uint8 (`image_msg_to_rgb8`, `compressed_msg_to_rgb8`):
- colour encodings: channel reorder, alpha dropped;
- mono8: replicated to 3 channels;
- mono16 / 16UC1: scaled by the dtype range, round(v * 255 / 65535), the same for every frame so embeddings of
  different frames stay comparable (a depth image in millimetres therefore looks dark: 1 m -> 4);
- 32FC1: per-frame min-max to [0, 255] (floats have no natural range); a constant image maps to 0. NaN or inf is
  rejected, since there is no honest value to give those pixels.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from builtin_interfaces.msg import Time
from PIL import Image as PILImage
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header


class ImageConversionError(ValueError):
    """An image message that cannot be converted: unknown encoding, bad size/step/data length, NaN/inf pixels."""


@dataclass(frozen=True)
class EncodingSpec:
    """Pixel layout of one raw encoding: numpy dtype of a channel and the channel count."""

    dtype: np.dtype
    channels: int

    @property
    def bytes_per_pixel(self) -> int:
        """Bytes one pixel takes in a row."""
        return self.dtype.itemsize * self.channels


ENCODINGS: dict[str, EncodingSpec] = {
    "rgb8": EncodingSpec(np.dtype(np.uint8), 3),
    "bgr8": EncodingSpec(np.dtype(np.uint8), 3),
    "rgba8": EncodingSpec(np.dtype(np.uint8), 4),
    "bgra8": EncodingSpec(np.dtype(np.uint8), 4),
    "mono8": EncodingSpec(np.dtype(np.uint8), 1),
    "mono16": EncodingSpec(np.dtype(np.uint16), 1),
    "16UC1": EncodingSpec(np.dtype(np.uint16), 1),
    "32FC1": EncodingSpec(np.dtype(np.float32), 1),
}
COMPRESSED_FORMATS = ("JPEG", "PNG")


def _spec(encoding: str) -> EncodingSpec:
    """Layout of a supported encoding, or a clear error naming the supported ones."""
    try:
        return ENCODINGS[encoding]
    except KeyError:
        raise ImageConversionError(
            f"unsupported image encoding {encoding!r}; expected one of {sorted(ENCODINGS)}"
        ) from None


def image_msg_to_array(msg: Image) -> np.ndarray:
    """Pixels of a raw Image in its own encoding: [H, W] for one channel, else [H, W, C]; native byte order, a copy."""
    spec = _spec(msg.encoding)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise ImageConversionError(f"image {msg.encoding} has zero size: height={height}, width={width}")
    row_bytes = width * spec.bytes_per_pixel
    if step < row_bytes:
        raise ImageConversionError(
            f"image {msg.encoding} {width}x{height}: step {step} < width*bytes_per_pixel = {row_bytes}"
        )
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size != step * height:
        raise ImageConversionError(
            f"image {msg.encoding} {width}x{height}: data has {data.size} bytes, expected step*height = {step * height}"
        )
    rows = data.reshape(height, step)[:, :row_bytes]  # [H, W*bpp], drops the row padding
    dtype = spec.dtype.newbyteorder(">" if msg.is_bigendian else "<") if spec.dtype.itemsize > 1 else spec.dtype
    pixels = np.ascontiguousarray(rows).view(dtype).astype(spec.dtype)  # always a copy, native byte order
    return pixels.reshape((height, width) if spec.channels == 1 else (height, width, spec.channels))


def array_to_rgb8(pixels: np.ndarray, encoding: str) -> np.ndarray:
    """Pixels in `encoding` (as image_msg_to_array returns them) -> RGB uint8 [H, W, 3]; mapping in the module doc."""
    spec = _spec(encoding)
    expected_ndim = 2 if spec.channels == 1 else 3
    if pixels.ndim != expected_ndim or (spec.channels > 1 and pixels.shape[2] != spec.channels):
        raise ImageConversionError(
            f"{encoding} pixels must have shape {'[H, W]' if spec.channels == 1 else f'[H, W, {spec.channels}]'}, "
            f"got {list(pixels.shape)}"
        )
    if encoding in ("rgb8", "rgba8"):
        return np.ascontiguousarray(pixels[..., :3])
    if encoding in ("bgr8", "bgra8"):
        return np.ascontiguousarray(pixels[..., 2::-1])
    if encoding == "mono8":
        gray = pixels
    elif encoding in ("mono16", "16UC1"):
        gray = _uint16_to_uint8(pixels)
    else:
        gray = _float_to_uint8(pixels)
    return np.repeat(gray[..., None], 3, axis=2)


def _uint16_to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Scale by the dtype range: round(v * 255 / 65535), i.e. the nearest 8-bit level."""
    return ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _float_to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Per-frame min-max to [0, 255]; NaN/inf are rejected, a constant image maps to 0."""
    finite = np.isfinite(pixels)
    if not finite.all():
        bad = int(pixels.size - np.count_nonzero(finite))
        raise ImageConversionError(f"32FC1 image has {bad} NaN/inf pixel(s) of {pixels.size}; expected finite values")
    low, high = float(pixels.min()), float(pixels.max())
    if high == low:
        return np.zeros(pixels.shape, np.uint8)
    scaled = (pixels.astype(np.float64) - low) * (255.0 / (high - low))
    return np.rint(scaled).astype(np.uint8)


def image_msg_to_rgb8(msg: Image) -> np.ndarray:
    """RGB uint8 [H, W, 3] for the model from any supported raw Image (cv_bridge for other encodings when present)."""
    if msg.encoding not in ENCODINGS:
        return _cv_bridge_rgb8(msg)
    return array_to_rgb8(image_msg_to_array(msg), msg.encoding)


def _cv_bridge_rgb8(msg: Image) -> np.ndarray:
    """Encodings outside our table (e.g. yuv422, bayer) via cv_bridge, only when it is installed."""
    try:
        from cv_bridge import CvBridge
    except ImportError:
        raise ImageConversionError(
            f"unsupported image encoding {msg.encoding!r}; expected one of {sorted(ENCODINGS)} "
            "(other encodings need cv_bridge, which is not installed)"
        ) from None
    try:
        rgb = CvBridge().imgmsg_to_cv2(msg, desired_encoding="rgb8")
    except Exception as error:  # cv_bridge raises its own CvBridgeError and cv2.error types
        raise ImageConversionError(f"cv_bridge could not convert encoding {msg.encoding!r}: {error}") from error
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def compressed_msg_to_rgb8(msg: CompressedImage) -> np.ndarray:
    """RGB uint8 [H, W, 3] from a JPEG or PNG CompressedImage (16-bit PNG mapped like mono16)."""
    data = bytes(msg.data)
    if not data:
        raise ImageConversionError(f"compressed image (format {msg.format!r}) has no data")
    try:
        with PILImage.open(io.BytesIO(data)) as image:
            if image.format not in COMPRESSED_FORMATS:
                raise ImageConversionError(
                    f"compressed image format {image.format!r} (msg.format {msg.format!r}); "
                    f"expected one of {COMPRESSED_FORMATS}"
                )
            image.load()
            if image.mode.startswith("I"):  # 16/32-bit single channel PNG
                return array_to_rgb8(np.asarray(image).astype(np.uint16), "mono16")
            return np.array(image.convert("RGB"), dtype=np.uint8)  # a writable copy
    except ImageConversionError:
        raise
    except (OSError, ValueError, SyntaxError) as error:  # Pillow's decode errors
        raise ImageConversionError(f"cannot decode compressed image (format {msg.format!r}): {error}") from error


def _header(header: Header | None) -> Header:
    """The given header, or an empty one."""
    return header if header is not None else Header(stamp=Time(), frame_id="")


def array_to_image_msg(
    pixels: np.ndarray,
    encoding: str,
    header: Header | None = None,
    *,
    bigendian: bool = False,
    row_padding: int = 0,
) -> Image:
    """Image message from pixels in `encoding` ([H, W] or [H, W, C]); `row_padding` extra bytes per row in `step`."""
    spec = _spec(encoding)
    expected_ndim = 2 if spec.channels == 1 else 3
    if pixels.ndim != expected_ndim or (spec.channels > 1 and pixels.shape[2] != spec.channels):
        raise ImageConversionError(
            f"{encoding} needs pixels of shape {'[H, W]' if spec.channels == 1 else f'[H, W, {spec.channels}]'}, "
            f"got {list(pixels.shape)}"
        )
    if pixels.dtype != spec.dtype:
        raise ImageConversionError(f"{encoding} needs dtype {spec.dtype}, got {pixels.dtype}")
    if row_padding < 0:
        raise ImageConversionError(f"row_padding must be >= 0, got {row_padding}")
    height, width = pixels.shape[:2]
    ordered = pixels.astype(spec.dtype.newbyteorder(">" if bigendian else "<"), copy=False)
    rows = np.ascontiguousarray(ordered).view(np.uint8).reshape(height, width * spec.bytes_per_pixel)
    if row_padding:
        rows = np.concatenate([rows, np.zeros((height, row_padding), np.uint8)], axis=1)
    msg = Image()
    msg.header = _header(header)
    msg.height, msg.width, msg.encoding = height, width, encoding
    msg.is_bigendian = int(bigendian)
    msg.step = rows.shape[1]
    msg.data = rows.tobytes()
    return msg


def rgb8_to_compressed_msg(
    rgb: np.ndarray, image_format: str = "jpeg", header: Header | None = None, quality: int = 95
) -> CompressedImage:
    """CompressedImage (jpeg or png) from RGB uint8 [H, W, 3]."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageConversionError(f"expected RGB uint8 [H, W, 3], got {rgb.dtype} {list(rgb.shape)}")
    pil_format = {"jpeg": "JPEG", "png": "PNG"}.get(image_format)
    if pil_format is None:
        raise ImageConversionError(f"compressed format {image_format!r}; expected 'jpeg' or 'png'")
    buffer = io.BytesIO()
    options = {"quality": quality} if pil_format == "JPEG" else {}
    PILImage.fromarray(rgb).save(buffer, format=pil_format, **options)
    msg = CompressedImage()
    msg.header = _header(header)
    msg.format = image_format
    msg.data = buffer.getvalue()
    return msg
