"""Encoder latency on CPU: torch fp32 vs torch bf16 autocast vs ONNX Runtime fp32 / int8, plus one ViT-L forward.

Cases: one frame (duplicated into one tubelet, the perception node's call) and an 8-frame clip, 256 px, batch 1, on a
small preset with random weights. torch and ONNX Runtime get the same thread count (--threads, default 1: on a
shared machine two OpenMP threads wait on each other and torch fp32 slows down 3-7x, which would flatter ORT).
Usage: scripts/run.sh python -m benchmarks.encoder [--preset vit_small_256] [--threads 2]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

from jepa_core.models.precision import autocast
from jepa_core.onnx_backend import OrtEncoder, export_encoder, quantize_int8
from jepa_core.presets import build_encoder


def best_ms(backends: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best-of-`repeats` wall time (ms) per backend after one warm-up call; backends run interleaved, round-robin,
    so load from other processes on a shared machine hits all of them alike (the minimum filters it out)."""
    for fn in backends.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in backends}
    for _ in range(repeats):
        for name, fn in backends.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: min(values) for name, values in times.items()}


def bench_case(encoder, frames: int, size: int, repeats: int, threads: int, workdir: Path) -> dict[str, float]:
    """Best-of ms per backend for one clip [1, 3, frames, size, size]."""
    clip = torch.randn(1, 3, frames, size, size)
    onnx_path = export_encoder(encoder, workdir / f"encoder_t{frames}.onnx", num_frames=frames, img_size=(size, size))
    ort_fp32 = OrtEncoder(onnx_path, intra_op_threads=threads)
    ort_int8 = OrtEncoder(quantize_int8(onnx_path, workdir / f"encoder_t{frames}_int8.onnx"), intra_op_threads=threads)

    def torch_bf16():
        with autocast("cpu", torch.bfloat16):
            return encoder(clip)

    backends = {
        "torch fp32": lambda: encoder(clip),
        "torch bf16 autocast": torch_bf16,
        "onnxruntime fp32": lambda: ort_fp32(clip),
        "onnxruntime int8": lambda: ort_int8(clip),
    }
    return best_ms(backends, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="vit_small_256")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    encoder = build_encoder(args.preset).eval()
    results: dict[str, dict[str, float]] = {}
    with torch.no_grad(), tempfile.TemporaryDirectory() as tmp:
        for label, frames, repeats in (("1 frame", 2, args.repeats), ("8-frame clip", 8, max(3, args.repeats // 2))):
            results[label] = bench_case(encoder, frames, args.size, repeats, args.threads, Path(tmp))
        vit_l = build_encoder("vit_large").eval()
        frame = torch.randn(1, 3, 2, args.size, args.size)
        vit_l_ms = best_ms({"vit_l": lambda: vit_l(frame)}, repeats=2)["vit_l"]

    print(f"\nencoder latency, preset {args.preset}, {args.size}px, batch 1, {torch.get_num_threads()} threads")
    print(f"{'case':<14} {'backend':<22} {'best ms':>9} {'speed-up vs torch fp32':>24}")
    for label, timings in results.items():
        base = timings["torch fp32"]
        for backend, ms in timings.items():
            print(f"{label:<14} {backend:<22} {ms:9.1f} {base / ms:23.2f}x")
    print(f"{'1 frame':<14} {'ViT-L torch fp32':<22} {vit_l_ms:9.1f} {'(303M params)':>24}")
    one = results["1 frame"]
    print(f"total benchmark time {time.perf_counter() - start:.0f} s")
    ort_speedup = one["torch fp32"] / one["onnxruntime fp32"]
    bf16_speedup = one["torch fp32"] / one["torch bf16 autocast"]
    print(f"RESULT ort_speedup={ort_speedup:.2f} bf16_speedup={bf16_speedup:.2f}")


if __name__ == "__main__":
    main()
