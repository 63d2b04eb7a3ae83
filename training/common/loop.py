"""The optimisation loop both trainers share: schedule, autocast, DDP-aware logging, checkpoints, resume, plot, summary.

A trainer supplies a `TrainTask` (its models, its loss on one batch, what to do after each optimiser step and which
modules go into the checkpoint); `run_training` does the rest identically for pretraining and post-training.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, Protocol

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from jepa_core.checkpoints import clean_state_dict, read_checkpoint, save_checkpoint
from training.common.dist import DistContext, barrier, mean_across_ranks
from training.common.metrics import LOSS_PLOT, MetricsLogger, plot_losses
from training.common.optim import ScheduleConfig, adamw, learning_rate, set_learning_rate

LATEST = "latest.pt"
FINAL = "final.pt"


@dataclass(frozen=True)
class LoopConfig:
    """Options every trainer has (its own config adds model and data fields)."""

    run_dir: Path = field(default=Path("runs/train"), metadata={"help": "output folder: checkpoints, metrics, plots"})
    steps: int = field(default=1000, metadata={"help": "optimiser steps in total"})
    batch_size: int = field(default=8, metadata={"help": "clips per step and process"})
    lr: float = field(default=5e-4, metadata={"help": "peak learning rate"})
    start_lr: float = field(default=1e-5, metadata={"help": "learning rate at the start of the warmup"})
    final_lr: float = field(default=1e-6, metadata={"help": "learning rate at the end of the cooldown"})
    warmup_steps: int = field(default=100, metadata={"help": "linear warmup steps"})
    cooldown_steps: int = field(default=100, metadata={"help": "linear cooldown steps at the end"})
    weight_decay: float = field(default=0.04, metadata={"help": "AdamW weight decay (matrices only)"})
    grad_clip: float = field(default=1.0, metadata={"help": "max gradient norm; 0 = no clipping"})
    precision: Literal["fp32", "bf16"] = field(default="fp32", metadata={"help": "bf16 = autocast to bfloat16"})
    device: Literal["auto", "cpu", "cuda"] = field(default="auto", metadata={"help": "compute device"})
    cpu_threads: int = field(default=1, metadata={"help": "torch CPU threads per process; 0 = torch default"})
    seed: int = field(default=0, metadata={"help": "random seed (each rank adds its rank)"})
    num_workers: int = field(default=0, metadata={"help": "DataLoader worker processes"})
    log_every: int = field(default=10, metadata={"help": "steps between metric rows"})
    checkpoint_every: int = field(default=200, metadata={"help": "steps between checkpoints (latest.pt)"})
    resume: bool = field(default=True, metadata={"help": "continue from run_dir/latest.pt when it exists"})
    tensorboard: bool = field(default=True, metadata={"help": "also log to TensorBoard (run_dir/tensorboard)"})

    def schedule(self) -> ScheduleConfig:
        return ScheduleConfig(
            lr=self.lr,
            start_lr=self.start_lr,
            final_lr=self.final_lr,
            warmup_steps=min(self.warmup_steps, self.steps),
            cooldown_steps=min(self.cooldown_steps, self.steps - min(self.warmup_steps, self.steps)),
            total_steps=self.steps,
        )


class TrainTask(Protocol):
    """What a trainer plugs into `run_training`."""

    loss_names: ClassVar[list[str]]  # first entry is the optimised total

    def trainable_modules(self) -> list[nn.Module]:
        """Modules whose parameters the optimiser updates (DDP-wrapped ones included)."""

    def train_mode(self) -> None:
        """Put trainable modules in train mode and frozen ones in eval mode."""

    def compute_losses(self, batch) -> dict[str, torch.Tensor]:
        """Forward one batch -> {name: 0-d tensor} for every name in loss_names."""

    def after_optimizer_step(self, step: int) -> None:
        """Per-step extra work (the EMA update of pretraining)."""

    def checkpoint_models(self) -> dict[str, nn.Module]:
        """save_checkpoint keyword arguments (encoder / predictor / target_encoder) with plain (unwrapped) modules."""

    def extra_modules(self) -> dict[str, nn.Module]:
        """Training-only modules (e.g. a projector) stored as state dicts under their names, for resuming."""

    checkpoint_prefix: str


@dataclass
class TrainSummary:
    """Outcome of a run, printed at the end."""

    first_step: int
    steps_done: int
    final_losses: dict[str, float]
    wall_s: float
    checkpoint: Path | None
    plot: Path | None


def autocast_context(precision: str, device: torch.device):
    """bf16 autocast on the run's device, or nothing for fp32."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    if precision != "fp32":
        raise ValueError(f"precision: expected 'fp32' or 'bf16', got {precision!r}")
    return contextlib.nullcontext()


def make_loader(dataset: Dataset, config: LoopConfig, ctx: DistContext, collate_fn=None) -> DataLoader:
    """Shuffled DataLoader; each rank gets its own shard under DDP."""
    if len(dataset) == 0:
        raise ValueError("training dataset is empty")
    sampler = None
    if ctx.distributed:
        sampler = DistributedSampler(dataset, num_replicas=ctx.world_size, rank=ctx.rank, seed=config.seed)
    generator = torch.Generator().manual_seed(config.seed + ctx.rank)
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        drop_last=len(dataset) >= config.batch_size * ctx.world_size,
        num_workers=config.num_workers,
        collate_fn=collate_fn,
        generator=generator,
        persistent_workers=config.num_workers > 0,
    )


def endless(loader: DataLoader, first_epoch: int = 0) -> Iterator:
    """Cycle over a DataLoader forever, advancing the DistributedSampler's epoch on each pass."""
    epoch = first_epoch
    while True:
        if isinstance(loader.sampler, DistributedSampler):
            loader.sampler.set_epoch(epoch)
        yielded = False
        for batch in loader:
            yielded = True
            yield batch
        if not yielded:
            raise ValueError("the DataLoader yielded no batch (dataset smaller than one batch with drop_last?)")
        epoch += 1


def _parameters(modules: Iterable[nn.Module]) -> list[nn.Parameter]:
    return [p for m in modules for p in m.parameters() if p.requires_grad]


def resume_state(run_dir: Path, task: TrainTask, optimizer: torch.optim.Optimizer) -> int:
    """Load run_dir/latest.pt into the task's modules and the optimiser; returns the step to continue from."""
    path = Path(run_dir) / LATEST
    ckpt = read_checkpoint(path)
    for key, module in task.checkpoint_models().items():
        if key not in ckpt:
            raise KeyError(f"{path}: resume needs key {key!r}; found {sorted(ckpt)}")
        module.load_state_dict(clean_state_dict(ckpt[key]), strict=True)
    for key, module in task.extra_modules().items():
        if key not in ckpt:
            raise KeyError(f"{path}: resume needs key {key!r}; found {sorted(ckpt)}")
        module.load_state_dict(ckpt[key], strict=True)
    if ckpt.get("opt") is None:
        raise KeyError(f"{path}: no optimiser state under 'opt'; cannot resume")
    optimizer.load_state_dict(ckpt["opt"])
    if "step" not in ckpt:
        raise KeyError(f"{path}: no 'step' entry; cannot resume")
    return int(ckpt["step"])


def write_checkpoint(path: Path, task: TrainTask, optimizer, step: int, loss: float, ctx: DistContext, extra: dict):
    """save_checkpoint in the official layout plus step/loss/batch info for resuming."""
    return save_checkpoint(
        path,
        **task.checkpoint_models(),
        prefix=task.checkpoint_prefix,
        opt=optimizer.state_dict(),
        scaler=None,
        epoch=step,
        step=step,
        loss=loss,
        world_size=ctx.world_size,
        **{name: module.state_dict() for name, module in task.extra_modules().items()},
        **extra,
    )


def run_training(
    config: LoopConfig,
    ctx: DistContext,
    task: TrainTask,
    batches: Iterator,
    extra_checkpoint: dict | None = None,
    title: str = "training",
) -> TrainSummary:
    """Optimise `task` on `batches` for config.steps steps (resuming from latest.pt), logging and checkpointing."""
    run_dir = Path(config.run_dir)
    extra = dict(extra_checkpoint or {})
    optimizer = adamw(task.trainable_modules(), config.weight_decay)
    schedule = config.schedule()
    first_step = 0
    if config.resume and (run_dir / LATEST).exists():
        first_step = resume_state(run_dir, task, optimizer)
    logger = None
    if ctx.is_main:
        logger = MetricsLogger(run_dir, [*task.loss_names, "lr", "step_s"], first_step, config.tensorboard)
    params = _parameters(task.trainable_modules())
    task.train_mode()
    start = time.perf_counter()
    running: dict[str, float] = {}
    losses: dict[str, float] = {}
    last_tick = start
    steps_since_log = 0
    progress = tqdm(
        range(first_step, config.steps), initial=first_step, total=config.steps, desc=title, disable=not ctx.is_main
    )
    for step in progress:
        lr = learning_rate(schedule, step)
        set_learning_rate(optimizer, lr)
        batch = next(batches)
        with autocast_context(config.precision, ctx.device):
            parts = task.compute_losses(batch)
        total = parts[task.loss_names[0]]
        if not torch.isfinite(total):
            raise FloatingPointError(f"{title}: loss is {total.item()} at step {step}")
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
        optimizer.step()
        task.after_optimizer_step(step)
        for name in task.loss_names:
            running[name] = running.get(name, 0.0) + float(mean_across_ranks(parts[name].detach().float(), ctx))
        steps_since_log += 1
        done = step + 1
        if done % config.log_every == 0 or done == config.steps:
            losses = {name: value / steps_since_log for name, value in running.items()}
            now = time.perf_counter()
            if logger is not None:
                logger.log(done, {**losses, "lr": lr, "step_s": (now - last_tick) / steps_since_log})
            progress.set_postfix({k: f"{v:.4f}" for k, v in losses.items()})
            running, steps_since_log, last_tick = {}, 0, now
        if done % config.checkpoint_every == 0 and done < config.steps:
            if ctx.is_main:
                write_checkpoint(
                    run_dir / LATEST, task, optimizer, done, losses.get(task.loss_names[0], math.nan), ctx, extra
                )
            barrier(ctx)
    progress.close()
    checkpoint = plot = None
    if ctx.is_main:
        loss_value = losses.get(task.loss_names[0], math.nan)
        checkpoint = write_checkpoint(run_dir / FINAL, task, optimizer, config.steps, loss_value, ctx, extra)
        write_checkpoint(run_dir / LATEST, task, optimizer, config.steps, loss_value, ctx, extra)
        logger.close()
        plot = plot_losses(run_dir / "metrics.csv", run_dir / LOSS_PLOT, task.loss_names, title)
    barrier(ctx)
    return TrainSummary(
        first_step=first_step,
        steps_done=config.steps - first_step,
        final_losses=losses,
        wall_s=time.perf_counter() - start,
        checkpoint=checkpoint,
        plot=plot,
    )


def print_summary(summary: TrainSummary, ctx: DistContext, title: str) -> None:
    """The end-of-run summary (main rank)."""
    if not ctx.is_main:
        return
    losses = ", ".join(f"{k}={v:.4f}" for k, v in summary.final_losses.items()) or "no steps run"
    per_step = summary.wall_s / summary.steps_done if summary.steps_done else 0.0
    print(
        f"{title}: steps {summary.first_step}->{summary.first_step + summary.steps_done} on {ctx.world_size} "
        f"process(es) in {summary.wall_s:.1f} s ({per_step:.3f} s/step); last losses {losses}\n"
        f"  checkpoint: {summary.checkpoint}\n  loss plot:  {summary.plot}"
    )
