"""Perception node latency: image message published -> Embedding message received, torch vs ONNX Runtime.

A real EncoderNode (rclpy, in this process) encodes 640x480 rgb8 frames with a small random-weight preset at 256 px;
a peer node publishes one frame at a time and waits for its embedding (so no frame is dropped and each latency is
the full path: DDS, conversion, planning transform, encoder, layer_norm, message, DDS). Both backends get the same
thread count (--threads, default 1, as benchmarks/encoder.py: fair on a shared machine). The ONNX export on first
use is timed separately. First, a table of compressed-image decoding: Pillow (decode + convert, what the node used
before) against the node's path (Pillow header check, OpenCV decode), JPEG and PNG at two camera sizes.
Usage: scripts/run.sh python -m benchmarks.perception [--preset vit_small_256] [--frames 30] [--decode-only]
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import rclpy
import torch
from PIL import Image as PILImage
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from jepa_msgs.msg import Embedding
from jepa_perception.encoder_node import EncoderNode
from jepa_ros_common.images import array_to_image_msg, compressed_msg_to_rgb8, rgb8_to_compressed_msg

DECODE_SIZES = ((480, 640), (720, 1280))  # camera frames, (height, width)


def camera_like(height: int, width: int) -> np.ndarray:
    """RGB uint8 [H, W, 3]: smooth gradients plus sensor noise, so JPEG/PNG sizes resemble real frames."""
    rows, columns = np.mgrid[0:height, 0:width]
    image = np.stack([columns * 255 / width, rows * 255 / height, (rows + columns) % 64 * 4], axis=-1)
    noise = np.random.default_rng(0).normal(0.0, 8.0, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def pillow_decode(data: bytes) -> np.ndarray:
    """The previous decoder: Pillow decode and RGB conversion."""
    with PILImage.open(io.BytesIO(data)) as image:
        image.load()
        return np.array(image.convert("RGB"), dtype=np.uint8)


def median_ms(function, repeats: int) -> float:
    """Median wall time of `function()` over `repeats` calls after one warm-up, ms."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def decode_table(repeats: int) -> dict[str, tuple[float, float]]:
    """Print Pillow vs node decode times per format and size; (pillow_ms, node_ms) by 'FORMAT HxW'."""
    results = {}
    print(f"{'image':<16} {'bytes':>8} {'pillow ms':>10} {'node ms':>8} {'speedup':>8} {'same pixels':>12}")
    for height, width in DECODE_SIZES:
        rgb = camera_like(height, width)
        for image_format in ("jpeg", "png"):
            msg = rgb8_to_compressed_msg(rgb, image_format, quality=90)
            data = bytes(msg.data)
            same = np.array_equal(pillow_decode(data), compressed_msg_to_rgb8(msg))
            pillow_ms = median_ms(lambda d=data: pillow_decode(d), repeats)
            node_ms = median_ms(lambda m=msg: compressed_msg_to_rgb8(m), repeats)
            name = f"{image_format.upper()} {height}x{width}"
            results[name] = (pillow_ms, node_ms)
            speedup = pillow_ms / node_ms
            print(f"{name:<16} {len(data):8d} {pillow_ms:10.2f} {node_ms:8.2f} {speedup:7.2f}x {same!s:>12}")
    return results


def measure(backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    """Start a node with `backend`, send args.warmup + args.frames images one by one; latency stats in ms."""
    context = rclpy.Context()
    rclpy.init(context=context)
    parameters = {
        "preset": args.preset,
        "allow_random_weights": True,
        "image_size": args.size,
        "backend": backend,
        "onnx_path": str(workdir / f"{args.preset}_{args.size}.onnx"),
        "num_threads": args.threads,
        "qos_reliability": "reliable",
    }
    start = time.perf_counter()
    node = EncoderNode(context=context, parameter_overrides=[Parameter(k, value=v) for k, v in parameters.items()])
    startup_s = time.perf_counter() - start
    peer = rclpy.create_node("perception_bench_peer", context=context)
    publisher = peer.create_publisher(
        Image, "camera/image_raw", QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
    )
    arrived = threading.Condition()
    received_at: dict[int, float] = {}

    def on_embedding(msg: Embedding) -> None:
        with arrived:
            received_at[msg.header.stamp.sec] = time.perf_counter()
            arrived.notify_all()

    peer.create_subscription(Embedding, "encoder_node/embedding", on_embedding, 10)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    executor.add_node(peer)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        while publisher.get_subscription_count() == 0:
            time.sleep(0.01)
        rgb = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
        latencies = []
        for index in range(args.warmup + args.frames):
            msg = array_to_image_msg(rgb, "rgb8", Header(frame_id="camera"))
            msg.header.stamp.sec = index
            sent = time.perf_counter()
            publisher.publish(msg)
            with arrived:
                done = arrived.wait_for(lambda i=index: i in received_at, timeout=30.0)
            if not done:
                raise RuntimeError(f"{backend}: no embedding for frame {index} within 30 s")
            if index >= args.warmup:
                latencies.append((received_at[index] - sent) * 1e3)
        node_stats = node.stats.snapshot()
    finally:
        executor.shutdown(timeout_sec=5.0)
        spinner.join(timeout=5.0)
        node.destroy_node()
        peer.destroy_node()
        rclpy.shutdown(context=context)
    p50, p95 = np.percentile(latencies, [50, 95])
    return {"p50": p50, "p95": p95, "node_p50": node_stats.latency_ms_p50, "startup_s": startup_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="vit_tiny_128", help="encoder preset (random weights)")
    parser.add_argument("--size", type=int, default=256, help="model image size, px")
    parser.add_argument("--frames", type=int, default=30, help="timed frames per backend")
    parser.add_argument("--warmup", type=int, default=3, help="untimed frames per backend")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch and ONNX Runtime")
    parser.add_argument("--decode-repeats", type=int, default=30, help="timed decodes per format and size")
    parser.add_argument("--decode-only", action="store_true", help="only the decoding table, no node")
    args = parser.parse_args()
    os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))  # never meet other runs on this machine
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    logging.getLogger("torch").setLevel(logging.ERROR)
    print(f"compressed image decoding, median of {args.decode_repeats}:")
    decoded = decode_table(args.decode_repeats)
    pillow_ms, node_ms = decoded["JPEG 480x640"]
    png_pillow_ms, png_node_ms = decoded["PNG 480x640"]
    print(
        f"RESULT jpeg_640x480_decode_ms={node_ms:.2f} pillow_jpeg_ms={pillow_ms:.2f} "
        f"png_640x480_decode_ms={png_node_ms:.2f} pillow_png_ms={png_pillow_ms:.2f}"
    )
    if args.decode_only:
        return
    print(f"perception node latency: {args.preset} at {args.size} px, 640x480 rgb8 in, {args.threads} thread(s)")
    with tempfile.TemporaryDirectory() as tmp:
        results = {backend: measure(backend, args, Path(tmp)) for backend in ("torch", "onnxruntime")}
    reference = results["torch"]["p50"]
    print(f"{'backend':<12} {'p50 ms':>8} {'p95 ms':>8} {'node p50':>9} {'vs torch':>9} {'startup s':>10}")
    for backend, r in results.items():
        print(
            f"{backend:<12} {r['p50']:8.1f} {r['p95']:8.1f} {r['node_p50']:9.1f} {r['p50'] / reference:8.2f}x "
            f"{r['startup_s']:10.1f}"
        )
    print("(p50/p95: publish -> embedding received; node p50: image receipt -> publish inside the node; ")
    print(" onnxruntime startup includes the one-time ONNX export)")
    torch_result, ort_result = results["torch"], results["onnxruntime"]
    print(
        f"RESULT p50_ms={torch_result['p50']:.1f} p95_ms={torch_result['p95']:.1f} ort_p50_ms={ort_result['p50']:.1f}"
    )


if __name__ == "__main__":
    main()
