"""Round trips and rejections of jepa_ros_common.images for every supported encoding."""

import struct
import sys
import types
import zlib

import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image

from jepa_ros_common.images import (
    ENCODINGS,
    ImageConversionError,
    array_to_image_msg,
    array_to_rgb8,
    compressed_msg_to_rgb8,
    image_msg_to_array,
    image_msg_to_rgb8,
    rgb8_to_compressed_msg,
)

HEIGHT, WIDTH = 5, 8  # even width: YUV 4:2:2 pixel pairs share chroma


def random_pixels(encoding: str, rng: np.random.Generator) -> np.ndarray:
    """Random pixels covering the whole value range of `encoding`."""
    spec = ENCODINGS[encoding]
    shape = (HEIGHT, WIDTH) if spec.channels == 1 else (HEIGHT, WIDTH, spec.channels)
    if spec.dtype == np.float32:
        return rng.normal(0.0, 3.0, shape).astype(np.float32)
    return rng.integers(0, np.iinfo(spec.dtype).max + 1, shape, dtype=spec.dtype)


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("bigendian", [False, True])
@pytest.mark.parametrize("row_padding", [0, 3])
def test_round_trip_every_encoding(encoding, bigendian, row_padding):
    pixels = random_pixels(encoding, np.random.default_rng(0))
    msg = array_to_image_msg(pixels, encoding, bigendian=bigendian, row_padding=row_padding)
    assert msg.step == WIDTH * ENCODINGS[encoding].bytes_per_pixel + row_padding
    assert len(msg.data) == msg.step * HEIGHT
    decoded = image_msg_to_array(msg)
    assert decoded.dtype == pixels.dtype and decoded.dtype.isnative
    np.testing.assert_array_equal(decoded, pixels)
    decoded[0, 0] = 0  # the result is a writable copy, not a view of the message
    assert image_msg_to_rgb8(msg).shape == (HEIGHT, WIDTH, 3)


def test_bigendian_bytes_are_really_swapped():
    pixels = np.array([[0x0102]], np.uint16)
    assert bytes(array_to_image_msg(pixels, "mono16", bigendian=True).data) == b"\x01\x02"
    assert bytes(array_to_image_msg(pixels, "mono16", bigendian=False).data) == b"\x02\x01"


def test_hand_built_padded_message():
    msg = Image(height=2, width=2, encoding="bgr8", is_bigendian=0, step=8)
    msg.data = bytes([1, 2, 3, 4, 5, 6, 99, 99, 7, 8, 9, 10, 11, 12, 99, 99])
    np.testing.assert_array_equal(image_msg_to_rgb8(msg), [[[3, 2, 1], [6, 5, 4]], [[9, 8, 7], [12, 11, 10]]])


def test_colour_mapping():
    rgba = np.arange(HEIGHT * WIDTH * 4, dtype=np.uint8).reshape(HEIGHT, WIDTH, 4)
    np.testing.assert_array_equal(array_to_rgb8(rgba, "rgba8"), rgba[..., :3])
    np.testing.assert_array_equal(array_to_rgb8(rgba, "bgra8"), rgba[..., [2, 1, 0]])
    np.testing.assert_array_equal(array_to_rgb8(rgba[..., :3], "bgr8"), rgba[..., [2, 1, 0]])
    gray = rgba[..., 0]
    np.testing.assert_array_equal(array_to_rgb8(gray, "mono8"), np.stack([gray] * 3, axis=-1))


@pytest.mark.parametrize("encoding", ["mono16", "16UC1"])
def test_16bit_maps_by_dtype_range(encoding):
    pixels = np.array([[0, 128, 129, 257, 32767, 65535]], np.uint16)
    rgb = array_to_rgb8(pixels, encoding)
    np.testing.assert_array_equal(rgb[..., 0], [[0, 0, 1, 1, 127, 255]])
    np.testing.assert_array_equal(rgb[..., 0], np.rint(pixels * 255.0 / 65535.0).astype(np.uint8))


def test_float_maps_min_max_per_frame():
    rgb = array_to_rgb8(np.array([[-2.0, 0.0, 2.0]], np.float32), "32FC1")
    np.testing.assert_array_equal(rgb[..., 1], [[0, 128, 255]])
    assert not array_to_rgb8(np.full((2, 2), 7.5, np.float32), "32FC1").any()


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_float_nan_inf_rejected(bad_value):
    pixels = np.zeros((HEIGHT, WIDTH), np.float32)
    pixels[1, 2] = bad_value
    with pytest.raises(ImageConversionError, match="NaN/inf"):
        image_msg_to_rgb8(array_to_image_msg(pixels, "32FC1"))


def make_msg(**fields) -> Image:
    msg = array_to_image_msg(np.zeros((HEIGHT, WIDTH, 3), np.uint8), "rgb8")
    for name, value in fields.items():
        setattr(msg, name, value)
    return msg


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"encoding": "nv21"}, "unsupported image encoding 'nv21'"),
        ({"encoding": ""}, "unsupported image encoding ''"),
        ({"height": 0, "data": b""}, "zero size"),
        ({"width": 0}, "zero size"),
        ({"step": WIDTH * 3 - 1}, "step 23 < width"),
        ({"data": bytes(WIDTH * 3 * HEIGHT - 1)}, "data has 119 bytes, expected step\\*height = 120"),
        ({"data": bytes(WIDTH * 3 * HEIGHT + 1)}, "data has 121 bytes"),
        ({"step": WIDTH * 3 + 1}, "expected step\\*height = 125"),
    ],
)
def test_inconsistent_messages_rejected(fields, message):
    with pytest.raises(ImageConversionError, match=message):
        image_msg_to_rgb8(make_msg(**fields))


def test_array_to_image_msg_validates():
    with pytest.raises(ImageConversionError, match="dtype uint16"):
        array_to_image_msg(np.zeros((2, 2), np.uint8), "mono16")
    with pytest.raises(ImageConversionError, match=r"\[H, W, 3\]"):
        array_to_image_msg(np.zeros((2, 2), np.uint8), "rgb8")
    with pytest.raises(ImageConversionError, match="unsupported"):
        array_to_image_msg(np.zeros((2, 2), np.uint8), "8UC1")


def test_png_round_trip_is_exact_and_jpeg_is_close():
    rgb = np.random.default_rng(1).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    np.testing.assert_array_equal(compressed_msg_to_rgb8(rgb8_to_compressed_msg(rgb, "png")), rgb)
    smooth = np.broadcast_to(np.linspace(0, 255, 24, dtype=np.uint8)[None, :, None], (16, 24, 3)).copy()
    decoded = compressed_msg_to_rgb8(rgb8_to_compressed_msg(smooth, "jpeg", quality=100))
    assert decoded.shape == smooth.shape and np.abs(decoded.astype(int) - smooth).max() <= 4


def test_16bit_png_maps_like_mono16():
    import io

    from PIL import Image as PILImage

    pixels = np.array([[0, 257, 65535]], np.uint16)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    msg = CompressedImage(format="16UC1; png")
    msg.data = buffer.getvalue()
    np.testing.assert_array_equal(compressed_msg_to_rgb8(msg)[..., 0], [[0, 1, 255]])


@pytest.mark.parametrize(("data", "message"), [(b"", "no data"), (b"not an image", "cannot decode")])
def test_bad_compressed_rejected(data, message):
    msg = CompressedImage(format="jpeg")
    msg.data = data
    with pytest.raises(ImageConversionError, match=message):
        compressed_msg_to_rgb8(msg)


def test_compressed_format_other_than_jpeg_png_rejected():
    import io

    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.fromarray(np.zeros((4, 4, 3), np.uint8)).save(buffer, format="BMP")
    msg = CompressedImage(format="bmp")
    msg.data = buffer.getvalue()
    with pytest.raises(ImageConversionError, match="format 'BMP'"):
        compressed_msg_to_rgb8(msg)


def test_other_encodings_go_to_cv_bridge_when_importable(monkeypatch):
    calls = []

    class FakeBridge:
        def imgmsg_to_cv2(self, msg, desired_encoding):
            calls.append((msg.encoding, desired_encoding))
            return np.ones((msg.height, msg.width, 3), np.uint8)

    monkeypatch.setitem(sys.modules, "cv_bridge", types.SimpleNamespace(CvBridge=FakeBridge))
    rgb = image_msg_to_rgb8(make_msg(encoding="nv21"))
    assert calls == [("nv21", "rgb8")] and rgb.shape == (HEIGHT, WIDTH, 3)


# ---- issue 13 item 9: decompression bombs and decoder errors -------------------------------------------------------


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height RGB pixels but whose data stream is empty."""

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bit, colour type 2 (RGB)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def compressed(data: bytes, image_format: str = "png") -> CompressedImage:
    msg = CompressedImage(format=image_format)
    msg.data = data
    return msg


def test_decompression_bomb_is_a_conversion_error():
    bomb = png_declaring(20000, 20000)
    assert len(bomb) < 80
    with pytest.raises(ImageConversionError, match="DecompressionBombError"):
        compressed_msg_to_rgb8(compressed(bomb))


def test_oversized_images_are_refused_before_decoding():
    with pytest.raises(ImageConversionError, match="4000x3000 = 12000000 px; at most max_image_pixels = 1000000"):
        compressed_msg_to_rgb8(compressed(png_declaring(4000, 3000)), max_pixels=1_000_000)
    raw = Image(height=3000, width=4000, encoding="rgb8", step=12000)  # data never looked at
    with pytest.raises(ImageConversionError, match="image rgb8 is 4000x3000"):
        image_msg_to_rgb8(raw, max_pixels=1_000_000)
    small = rgb8_to_compressed_msg(np.zeros((10, 10, 3), np.uint8), "png")
    assert compressed_msg_to_rgb8(small, max_pixels=100).shape == (10, 10, 3)
    with pytest.raises(ImageConversionError, match="at most max_image_pixels = 99"):
        compressed_msg_to_rgb8(small, max_pixels=99)


@pytest.mark.parametrize("image_format", ["png", "jpeg"])
def test_corrupt_bodies_are_conversion_errors(image_format):
    data = bytes(rgb8_to_compressed_msg(np.full((32, 32, 3), 77, np.uint8), image_format).data)
    for broken in (data[: len(data) // 2], data[:40] + bytes(len(data) - 40), png_declaring(64, 64)):
        with pytest.raises(ImageConversionError):
            compressed_msg_to_rgb8(compressed(broken, image_format))


def test_compressed_decode_matches_pillow_for_every_mode():
    import io

    from PIL import Image as PILImage

    rgb = np.random.default_rng(2).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    for mode in ("RGB", "RGBA", "L", "LA", "P", "1"):
        buffer = io.BytesIO()
        PILImage.fromarray(rgb).convert(mode).save(buffer, format="PNG")
        with PILImage.open(io.BytesIO(buffer.getvalue())) as image:
            expected = np.asarray(image.convert("RGB"))
        np.testing.assert_array_equal(compressed_msg_to_rgb8(compressed(buffer.getvalue())), expected, err_msg=mode)


# ---- issue 13 item 10: YUV 4:2:2 and Bayer without cv_bridge -------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "order"), [("yuv422", "uyvy"), ("uyvy", "uyvy"), ("yuv422_yuy2", "yuyv"), ("yuyv", "yuyv")]
)
def test_yuv422_encodings_convert_without_cv_bridge(monkeypatch, encoding, order):
    monkeypatch.setitem(sys.modules, "cv_bridge", None)  # `import cv_bridge` fails
    luma = np.array([[16, 235, 126, 126]], np.uint8)  # video range: black, white, mid grey
    u = np.array([[128, 128]], np.uint8)
    v = np.array([[128, 255]], np.uint8)  # second pair: strong red chroma
    pairs = np.empty((1, 4, 2), np.uint8)
    pairs[..., 1] = luma
    pairs[0, 0::2, 0], pairs[0, 1::2, 0] = u[0], v[0]  # chroma of each pair: U with the first pixel, V the second
    if order == "yuyv":  # bytes Y0 U Y1 V: luma first
        pairs = pairs[..., ::-1]
    msg = Image(height=1, width=4, encoding=encoding, is_bigendian=0, step=8)
    msg.data = pairs.tobytes()
    rgb = image_msg_to_rgb8(msg).astype(int)
    np.testing.assert_array_equal(rgb[0, 0], [0, 0, 0])
    np.testing.assert_array_equal(rgb[0, 1], [255, 255, 255])
    red, green, blue = rgb[0, 2]
    assert red > 200 and green < 90 and 110 < blue < 150, rgb[0, 2]  # V high, U neutral: red, never blue


def test_yuv422_needs_even_width():
    with pytest.raises(ImageConversionError, match="even width"):
        array_to_rgb8(np.zeros((2, 3, 2), np.uint8), "yuyv")


@pytest.mark.parametrize("pattern", ["rggb", "bggr", "gbrg", "grbg"])
@pytest.mark.parametrize("bits", [8, 16])
def test_bayer_mosaics_demosaic_to_their_colour(monkeypatch, pattern, bits):
    monkeypatch.setitem(sys.modules, "cv_bridge", None)
    colour = {"r": 200, "g": 100, "b": 30}
    dtype, scale = (np.uint8, 1) if bits == 8 else (np.uint16, 257)
    mosaic = np.zeros((6, 8), dtype)
    for letter, (row, column) in zip(pattern, [(0, 0), (0, 1), (1, 0), (1, 1)], strict=True):
        mosaic[row::2, column::2] = colour[letter] * scale
    msg = array_to_image_msg(mosaic, f"bayer_{pattern}{bits}", bigendian=bits == 16)
    rgb = image_msg_to_rgb8(msg)
    assert rgb.dtype == np.uint8 and rgb.shape == (6, 8, 3)
    np.testing.assert_array_equal(rgb[2:4, 2:6].reshape(-1, 3), [[200, 100, 30]] * 8)  # interior: exact colour
