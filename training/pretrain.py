"""V-JEPA 2 masked video pretraining of an encoder on DROID episodes or a folder of MP4 videos.

    scripts/run.sh python -m training.pretrain --data data/sim_droid --run-dir runs/pretrain --steps 2000
    torchrun --nproc-per-node 2 -m training.pretrain ...          # DistributedDataParallel

Each clip is masked twice (8 small blocks of scale 0.15; 2 large blocks of scale 0.7; all tubelets); the context
encoder sees the unmasked tokens, the predictor fills the masked ones, the target is the layer-normed output of the
EMA (target) encoder on the whole clip, and the loss is L1. Checkpoints use the official pretraining layout
(`module.backbone.` keys: encoder, predictor, target_encoder, opt, ...), loadable with `load_encoder`.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from jepa_core.checkpoints import PRETRAIN_PREFIX, load_encoder, load_predictor
from jepa_core.models.encoder import VisionTransformer, gather_tokens
from jepa_core.models.predictor import VisionTransformerPredictor
from jepa_core.presets import build_encoder, build_predictor
from training.common.config import config_dict, parse_config
from training.common.dist import DistContext, setup_distributed, teardown_distributed, unwrap, wrap_ddp
from training.common.loop import LoopConfig, endless, make_loader, print_summary, run_training
from training.common.optim import ema_update
from training.masks import ClipMasks, MaskConfig, sample_masks
from training.video_clips import VideoClipDataset, discover_videos


@dataclass(frozen=True)
class PretrainConfig(LoopConfig):
    """Pretraining options: data, model sizes, masking and EMA (plus the shared loop options)."""

    data: tuple[Path, ...] = field(default=(Path("data/sim_droid"),), metadata={"help": "DROID roots or mp4 folders"})
    encoder_preset: str = field(default="vit_tiny_128", metadata={"help": "jepa_core.presets encoder/predictor name"})
    image_size: int = field(default=64, metadata={"help": "square input size in pixels (multiple of 16)"})
    frames_per_clip: int = field(default=4, metadata={"help": "frames per clip (multiple of the tubelet, 2)"})
    fps: float = field(default=4.0, metadata={"help": "clip frame rate; stride = ceil(source fps / fps)"})
    init_checkpoint: Path | None = field(default=None, metadata={"help": "start from this pretraining checkpoint"})
    ema_momentum: float = field(default=0.99925, metadata={"help": "EMA momentum of the target encoder"})
    small_blocks: int = field(default=8, metadata={"help": "blocks in the small-block masking"})
    small_scale: float = field(default=0.15, metadata={"help": "spatial scale of each small block"})
    large_blocks: int = field(default=2, metadata={"help": "blocks in the large-block masking"})
    large_scale: float = field(default=0.7, metadata={"help": "spatial scale of each large block"})
    aspect_ratio: tuple[float, float] = field(default=(0.75, 1.5), metadata={"help": "block aspect-ratio range"})
    lr: float = 3e-4
    weight_decay: float = 0.04
    run_dir: Path = Path("runs/pretrain")

    def mask_configs(self) -> tuple[MaskConfig, ...]:
        return (
            MaskConfig(self.small_blocks, self.small_scale, aspect_ratio=self.aspect_ratio),
            MaskConfig(self.large_blocks, self.large_scale, aspect_ratio=self.aspect_ratio),
        )


class MaskedVideoModel(nn.Module):
    """Context encoder + mask-token predictor run over several maskings in one forward (one DDP call per step)."""

    def __init__(self, encoder: VisionTransformer, predictor: VisionTransformerPredictor):
        super().__init__()
        self.encoder = encoder
        self.predictor = predictor

    def forward(self, clips: torch.Tensor, masks: list[ClipMasks]) -> list[torch.Tensor]:
        """clips [B, 3, T, H, W] -> per masking the predicted target tokens [B, Kt, D]."""
        predictions = []
        for index, mask in enumerate(masks):
            context = self.encoder(clips, masks=mask.context)  # [B, Kc, D]
            predictions.append(self.predictor(context, mask.context, mask.target, mask_index=index))
        return predictions


class PretrainTask:
    """Loss and EMA of V-JEPA pretraining, plugged into the shared loop."""

    loss_names: ClassVar[list[str]] = ["loss", "loss_small", "loss_large"]
    checkpoint_prefix = PRETRAIN_PREFIX

    def __init__(self, config: PretrainConfig, ctx: DistContext, encoder, predictor, target_encoder):
        self.config = config
        self.ctx = ctx
        self.mask_configs = config.mask_configs()
        for unused in list(predictor.mask_tokens)[len(self.mask_configs) :]:  # one mask token per masking is used
            unused.requires_grad_(False)
        self.model = wrap_ddp(MaskedVideoModel(encoder, predictor).to(ctx.device), ctx)
        self.target_encoder = target_encoder.to(ctx.device).requires_grad_(False)
        self.generator = torch.Generator().manual_seed(config.seed + 1000 * ctx.rank)
        self.grid = encoder.grid((1, 3, config.frames_per_clip, config.image_size, config.image_size))

    def trainable_modules(self) -> list[nn.Module]:
        return [self.model]

    def train_mode(self) -> None:
        self.model.train()
        self.target_encoder.eval()

    def compute_losses(self, clips: torch.Tensor) -> dict[str, torch.Tensor]:
        clips = clips.to(self.ctx.device, non_blocking=True)  # [B, 3, T, S, S]
        B = clips.shape[0]
        masks = [sample_masks(cfg, B, self.grid, self.generator) for cfg in self.mask_configs]
        masks = [ClipMasks(m.context.to(self.ctx.device), m.target.to(self.ctx.device)) for m in masks]
        with torch.no_grad():
            targets = self.target_encoder(clips)  # [B, N, D]
            targets = F.layer_norm(targets, (targets.shape[-1],))
        predictions = self.model(clips, masks)
        losses = [
            (prediction.float() - gather_tokens(targets, [mask.target]).float()).abs().mean()
            for prediction, mask in zip(predictions, masks, strict=True)
        ]
        return {"loss": sum(losses) / len(losses), "loss_small": losses[0], "loss_large": losses[1]}

    def after_optimizer_step(self, step: int) -> None:
        ema_update(self.target_encoder, unwrap(self.model).encoder, self.config.ema_momentum)

    def checkpoint_models(self) -> dict[str, nn.Module]:
        model = unwrap(self.model)
        return {"encoder": model.encoder, "predictor": model.predictor, "target_encoder": self.target_encoder}

    def extra_modules(self) -> dict[str, nn.Module]:
        """None: every pretraining module is in the official layout."""
        return {}


def build_models(config: PretrainConfig) -> tuple[VisionTransformer, VisionTransformerPredictor, VisionTransformer]:
    """(encoder, predictor, target encoder): from a checkpoint, or a preset at the configured image/clip size."""
    if config.init_checkpoint is not None:
        encoder = load_encoder(config.init_checkpoint, key="encoder")
        predictor = load_predictor(config.init_checkpoint)
        target_encoder = load_encoder(config.init_checkpoint, key="target_encoder")
        expected = {"img_size": [config.image_size, config.image_size], "num_frames": config.frames_per_clip}
        stored = {key: predictor.hparams[key] for key in expected}
        if stored != expected:
            raise ValueError(
                f"{config.init_checkpoint}: predictor was built for {stored}, but this run uses {expected} "
                "(--image-size / --frames-per-clip)"
            )
        return encoder.train(), predictor.train(), target_encoder
    size = (config.image_size, config.image_size)
    encoder = build_encoder(config.encoder_preset, img_size=size, num_frames=config.frames_per_clip)
    predictor = build_predictor(
        config.encoder_preset, img_size=size, num_frames=config.frames_per_clip, embed_dim=encoder.embed_dim
    )
    return encoder, predictor, copy.deepcopy(encoder)


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_config(PretrainConfig, argv, __doc__)
    ctx = setup_distributed(config.device, config.cpu_threads)
    try:
        torch.manual_seed(config.seed)
        encoder, predictor, target_encoder = build_models(config)
        dataset = VideoClipDataset(discover_videos(config.data), config.frames_per_clip, config.fps, config.image_size)
        if ctx.is_main:
            print(f"pretrain: {len(dataset)} clips from {len(dataset.sources)} videos; {ctx.world_size} process(es)")
        task = PretrainTask(config, ctx, encoder, predictor, target_encoder)
        batches = endless(make_loader(dataset, config, ctx))
        extra = {"batch_size": config.batch_size, "lr": config.lr, "train_config": config_dict(config)}
        summary = run_training(config, ctx, task, batches, extra, title="pretrain")
        print_summary(summary, ctx, "pretrain")
    finally:
        teardown_distributed(ctx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
