"""Process-group setup shared by the trainers: one process, or one per rank under `torchrun` (gloo on CPU, nccl on GPU).

`torchrun` sets RANK / WORLD_SIZE / LOCAL_RANK; without them training runs in a single process with no process group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: rank, world size and its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """True on the process that writes checkpoints, logs and plots."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    """Integer environment variable set by torchrun, with a clear error when malformed."""
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"environment variable {name}: expected an integer, got {text!r}") from None


def setup_distributed(device: str = "auto", cpu_threads: int = 0) -> DistContext:
    """Initialise the process group when launched by torchrun and pick this rank's device ("auto", "cpu", "cuda");
    cpu_threads > 0 sets torch's intra-op threads (oversubscribed cores slow small models down many times)."""
    if cpu_threads < 0:
        raise ValueError(f"cpu_threads: expected >= 0, got {cpu_threads}")
    if cpu_threads:
        torch.set_num_threads(cpu_threads)
    world_size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' requested but torch.cuda.is_available() is False")
        torch_device = torch.device("cuda", local_rank)
        torch.cuda.set_device(torch_device)
    elif device == "cpu":
        torch_device = torch.device("cpu")
    else:
        raise ValueError(f"device: expected 'auto', 'cpu' or 'cuda', got {device!r}")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch_device.type == "cuda" else "gloo")
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=torch_device)


def wrap_ddp(module: nn.Module, ctx: DistContext) -> nn.Module:
    """DistributedDataParallel around `module` when running with several processes, else the module itself."""
    if not ctx.distributed:
        return module
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=device_ids)


def unwrap(module: nn.Module) -> nn.Module:
    """The plain module inside a DDP wrapper (for checkpoints and EMA)."""
    return module.module if isinstance(module, DistributedDataParallel) else module


def mean_across_ranks(value: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """All-reduced mean of a scalar tensor (itself when single-process), for logging the global loss."""
    if not ctx.distributed:
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / ctx.world_size


def barrier(ctx: DistContext) -> None:
    """Wait for every rank (no-op single-process)."""
    if ctx.distributed:
        dist.barrier()


def teardown_distributed(ctx: DistContext) -> None:
    """Destroy the process group if this run created one."""
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()
