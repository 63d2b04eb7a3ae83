"""Perception node latency: image message published -> Embedding message received, torch vs ONNX Runtime.

A real EncoderNode (rclpy, in this process) encodes 640x480 rgb8 frames with a small random-weight preset at 256 px;
a peer node publishes one frame at a time and waits for its embedding (so no frame is dropped and each latency is
the full path: DDS, conversion, planning transform, encoder, layer_norm, message, DDS). Both backends get the same
thread count (--threads, default 1, as benchmarks/encoder.py: fair on a shared machine). The ONNX export on first
use is timed separately. Usage: scripts/run.sh python -m benchmarks.perception [--preset vit_small_256] [--frames 30]
"""

from __future__ import annotations

import argparse
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
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from jepa_msgs.msg import Embedding
from jepa_perception.encoder_node import EncoderNode
from jepa_perception.image_conversion import array_to_image_msg


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

    peer.create_subscription(Embedding, "embedding", on_embedding, 10)
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
    args = parser.parse_args()
    os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))  # never meet other runs on this machine
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    logging.getLogger("torch").setLevel(logging.ERROR)
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
