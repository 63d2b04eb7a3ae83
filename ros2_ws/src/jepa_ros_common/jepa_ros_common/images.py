"""sensor_msgs/Image and CompressedImage <-> numpy without cv_bridge, with strict validation.

Supported raw encodings: rgb8, bgr8, rgba8, bgra8, mono8, mono16, 16UC1, 32FC1, the YUV 4:2:2 encodings of USB
cameras (yuv422 = uyvy, yuv422_yuy2 = yuyv) and the Bayer mosaics of machine-vision cameras (bayer_rggb8/bggr8/gbrg8/
grbg8 and their 16-bit twins); row padding via `step` and `is_bigendian` honoured. YUV and Bayer are converted with
OpenCV (cvtColor: BT.601 video range, bilinear demosaicing). CompressedImage: JPEG and PNG; the header is read with
Pillow (format and size, so an oversized image is refused before any pixel is decoded), the pixels are decoded with
OpenCV straight to RGB (identical pixels; JPEG ~1.3x faster than Pillow, PNG on par: benchmarks/perception.py
--decode-only). Any other raw encoding is handed to cv_bridge when it is importable, otherwise it is rejected.

Every image is bounded to `max_pixels` (width x height) before decoding: a 70-byte PNG can declare 20000x20000 px.

Mapping to the model's RGB uint8 (`image_msg_to_rgb8`, `compressed_msg_to_rgb8`):
- colour encodings: channel reorder, alpha dropped;
- mono8: replicated to 3 channels;
- mono16 / 16UC1 (and 16-bit Bayer after demosaicing): scaled by the dtype range, round(v * 255 / 65535), the same
  for every frame so embeddings of different frames stay comparable (a depth image in millimetres therefore looks
  dark: 1 m -> 4);
- 32FC1: per-frame min-max to [0, 255] (floats have no natural range); a constant image maps to 0. NaN or inf is
  rejected, since there is no honest value to give those pixels.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from builtin_interfaces.msg import Time
from PIL import Image as PILImage
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

BAYER_PATTERNS = ("rggb", "bggr", "gbrg", "grbg")  # colour of the top-left 2x2 cell, row-major


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
    # YUV 4:2:2, two bytes per pixel as [H, W, 2]: (chroma, luma) pairs; ROS's yuv422 is UYVY byte order
    "yuv422": EncodingSpec(np.dtype(np.uint8), 2),
    "uyvy": EncodingSpec(np.dtype(np.uint8), 2),
    "yuv422_yuy2": EncodingSpec(np.dtype(np.uint8), 2),
    "yuyv": EncodingSpec(np.dtype(np.uint8), 2),
    **{
        f"bayer_{pattern}{bits}": EncodingSpec(np.dtype(dtype), 1)
        for pattern in BAYER_PATTERNS
        for bits, dtype in ((8, np.uint8), (16, np.uint16))
    },
}
COMPRESSED_FORMATS = ("JPEG", "PNG")
DEFAULT_MAX_PIXELS = 7680 * 4320  # 8K UHD; a larger camera frame is almost surely a malformed or hostile message
YUV422_CODES = {
    "yuv422": cv2.COLOR_YUV2RGB_UYVY,
    "uyvy": cv2.COLOR_YUV2RGB_UYVY,
    "yuv422_yuy2": cv2.COLOR_YUV2RGB_YUYV,
    "yuyv": cv2.COLOR_YUV2RGB_YUYV,
}
BAYER_CODES = {pattern: getattr(cv2, f"COLOR_Bayer{pattern.upper()}2RGB") for pattern in BAYER_PATTERNS}


def _spec(encoding: str) -> EncodingSpec:
    """Layout of a supported encoding, or a clear error naming the supported ones."""
    try:
        return ENCODINGS[encoding]
    except KeyError:
        raise ImageConversionError(
            f"unsupported image encoding {encoding!r}; expected one of {sorted(ENCODINGS)}"
        ) from None


def check_size(width: int, height: int, max_pixels: int, what: str) -> None:
    """Refuse an image larger than `max_pixels` (width x height) before any of it is decoded or copied."""
    if width * height > max_pixels:
        raise ImageConversionError(
            f"{what} is {width}x{height} = {width * height} px; at most max_image_pixels = {max_pixels} px allowed"
        )


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
    if encoding in YUV422_CODES:
        return _yuv422_to_rgb8(pixels, encoding)
    if encoding.startswith("bayer_"):
        return _bayer_to_rgb8(pixels, encoding)
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


def _yuv422_to_rgb8(pixels: np.ndarray, encoding: str) -> np.ndarray:
    """[H, W, 2] (chroma, luma) pairs -> RGB; two neighbouring pixels share one U and one V, so W must be even."""
    if pixels.shape[1] % 2:
        raise ImageConversionError(f"{encoding} needs an even width (pixel pairs share chroma), got {pixels.shape[1]}")
    return cv2.cvtColor(np.ascontiguousarray(pixels), YUV422_CODES[encoding])


def _bayer_to_rgb8(pixels: np.ndarray, encoding: str) -> np.ndarray:
    """Bayer mosaic [H, W] -> RGB by bilinear demosaicing; 16-bit mosaics scaled like mono16 afterwards."""
    if min(pixels.shape) < 2:
        raise ImageConversionError(f"{encoding} needs at least one 2x2 cell, got {pixels.shape[1]}x{pixels.shape[0]}")
    pattern = encoding.removeprefix("bayer_").rstrip("0123456789")
    rgb = cv2.cvtColor(np.ascontiguousarray(pixels), BAYER_CODES[pattern])
    return rgb if rgb.dtype == np.uint8 else _uint16_to_uint8(rgb)


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


def image_msg_to_rgb8(msg: Image, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """RGB uint8 [H, W, 3] for the model from any supported raw Image (cv_bridge for other encodings when present);
    images over `max_pixels` are refused first."""
    check_size(int(msg.width), int(msg.height), max_pixels, f"image {msg.encoding}")
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


def compressed_msg_to_rgb8(msg: CompressedImage, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """RGB uint8 [H, W, 3] from a JPEG or PNG CompressedImage (16-bit PNG mapped like mono16); the header is checked
    (format, at most `max_pixels`) before any pixel is decoded, and every decoder failure is an ImageConversionError."""
    data = bytes(msg.data)
    if not data:
        raise ImageConversionError(f"compressed image (format {msg.format!r}) has no data")
    try:
        with PILImage.open(io.BytesIO(data)) as image:  # reads the header only
            image_format, mode, (width, height) = image.format, image.mode, image.size
    except Exception as error:  # Pillow: OSError, ValueError, SyntaxError, DecompressionBombError, ...
        raise ImageConversionError(
            f"cannot decode compressed image (format {msg.format!r}): {type(error).__name__}: {error}"
        ) from error
    if image_format not in COMPRESSED_FORMATS:
        raise ImageConversionError(
            f"compressed image format {image_format!r} (msg.format {msg.format!r}); "
            f"expected one of {COMPRESSED_FORMATS}"
        )
    check_size(width, height, max_pixels, f"compressed {image_format} image")
    sixteen_bit = mode.startswith("I")  # 16-bit single-channel PNG: keep the values, map them like mono16
    # Like Pillow, pixels are taken as stored: no EXIF rotation. OpenCV converts gray, palette and alpha to RGB.
    flags = cv2.IMREAD_UNCHANGED if sixteen_bit else cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION
    try:
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), flags)  # [H, W] uint16 or [H, W, 3] RGB uint8
    except cv2.error as error:
        raise ImageConversionError(f"cannot decode compressed {image_format} image: {error}") from error
    if pixels is None or pixels.shape[:2] != (height, width):
        raise ImageConversionError(
            f"cannot decode compressed {image_format} image of {len(data)} bytes (format {msg.format!r}): "
            "corrupt or truncated"
        )
    return array_to_rgb8(pixels.astype(np.uint16, copy=False), "mono16") if sixteen_bit else pixels


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
