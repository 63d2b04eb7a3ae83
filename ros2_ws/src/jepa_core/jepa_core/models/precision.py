"""Mixed-precision inference: one context manager for fp32 / bf16 / fp16 on any device."""

from __future__ import annotations

import contextlib

import torch

REDUCED_DTYPES = (torch.bfloat16, torch.float16)


def autocast(device: str | torch.device, dtype: torch.dtype = torch.float32) -> contextlib.AbstractContextManager:
    """torch.autocast for bf16/fp16 on `device` (weights stay fp32, matmuls run reduced); fp32 -> no-op context."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    if dtype not in REDUCED_DTYPES:
        raise ValueError(f"autocast dtype must be float32, bfloat16 or float16, got {dtype}")
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)
