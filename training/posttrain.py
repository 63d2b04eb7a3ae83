"""Post-train the action-conditioned (AC) predictor on DROID-format episodes, with the encoder frozen (official) or
trained jointly under SIGReg (end to end, LeWorldModel-style).

    scripts/run.sh python -m training.posttrain --data data/sim_droid --encoder-checkpoint runs/pretrain/final.pt
    scripts/run.sh python -m training.posttrain --data ... --encoder-checkpoint vjepa2-vitg.pt   # Meta's encoder
    scripts/run.sh python -m training.posttrain --data ... --recipe end_to_end --sigreg-weight 0.1
    torchrun --nproc-per-node 2 -m training.posttrain ...                                        # DDP

Loss (official AC step): L1 teacher forcing over all steps + L1 rollout of `auto_steps` (2) steps with ground-truth
states, on clips of 8 frames at ~4 fps, AdamW with weight decay 0.04. The encoder (`target_encoder` weights by default)
is frozen; with `--feature-cache` (default) every frame is encoded once before training. Without
`--encoder-checkpoint`, a randomly initialised encoder of `--encoder-preset` is used and saved. Checkpoints use the
official AC layout (`module.` keys: encoder, target_encoder, predictor, opt, ...), loadable with `load_encoder` and
`load_ac_predictor`.

`--recipe end_to_end`: the encoder (random init or `--encoder-checkpoint`) trains with the predictor, no EMA and no
stop-gradient: loss = AC loss (targets are the same encoder's layer-normed frame tokens) + `sigreg_weight` *
SIGReg(projector(tokens)) (`jepa_core.sigreg`; the projector is Linear-BatchNorm-GELU-Linear and is saved under
`projector` for resuming only). `--no-projector` applies SIGReg to the layer-normed tokens the planner compares: the
BatchNorm projector can whiten a shrinking spread of the tokens, which then collapse partly (model card). Frames are
preprocessed once and kept in memory; the planner later sees exactly the trained encoder's layer-normed tokens.
`--state-probe-weight w` adds w * the error of a linear read-out of the recorded flange position and gripper opening
from those tokens (`training.state_probe`; saved under `state_probe` for resuming only), so that the encoder keeps
what the planner must control precisely.

`--views exterior wrist` trains on frames of both cameras tiled side by side (`jepa_core.views`): a random-init
encoder is built for `image_size` x (views * image_size) px (64 x 128: a 4 x 8 token grid), the official architecture
and checkpoint layout unchanged; the checkpoint names its views under `camera_views` for the planner and evaluation.
`--view-encoding separate` (default) encodes each view alone (the exterior tokens are then exactly a single-view
encoder's), `joint` encodes the tiled frame as one image (attention across views).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from jepa_core.ac_losses import ac_training_loss
from jepa_core.checkpoints import AC_PREFIX, load_ac_predictor, load_encoder
from jepa_core.data.droid_dataset import ClipConfig, DroidClipDataset
from jepa_core.models.ac_predictor import VisionTransformerPredictorAC
from jepa_core.models.encoder import VisionTransformer
from jepa_core.models.representations import encode_clip_frames
from jepa_core.presets import build_ac_predictor, build_encoder
from jepa_core.sigreg import Projector, SIGRegConfig, sigreg
from jepa_core.transforms import planning_transform_views
from jepa_core.views import DEFAULT_VIEWS, VIEWS_KEY, view_count
from training.ac_clips import EncodedClipDataset, encode_episodes, frozen_encoder_fn, pixel_fn
from training.common.config import config_dict, parse_config
from training.common.dist import DistContext, setup_distributed, teardown_distributed, unwrap, wrap_ddp
from training.common.loop import LoopConfig, endless, make_loader, print_summary, run_training
from training.state_probe import StateProbe, state_statistics


@dataclass(frozen=True)
class PosttrainConfig(LoopConfig):
    """Post-training options: data, frozen encoder, predictor size, clip shape (plus the shared loop options)."""

    data: tuple[Path, ...] = field(default=(Path("data/sim_droid"),), metadata={"help": "DROID episode roots"})
    recipe: Literal["frozen", "end_to_end"] = field(
        default="frozen", metadata={"help": "frozen encoder (official) or encoder + predictor under SIGReg"}
    )
    sigreg_weight: float = field(default=0.1, metadata={"help": "end_to_end: lambda of the SIGReg term"})
    sigreg_directions: int = field(default=256, metadata={"help": "end_to_end: random projections per step"})
    projector: bool = field(
        default=True, metadata={"help": "end_to_end: SIGReg on projector outputs (LeWM); no = on the planner's tokens"}
    )
    projector_hidden: int = field(default=512, metadata={"help": "end_to_end: projector hidden width"})
    projector_dim: int = field(default=256, metadata={"help": "end_to_end: projector output width (SIGReg's space)"})
    state_probe_weight: float = field(
        default=0.0,
        metadata={"help": "end_to_end: weight of the linear state read-out loss on the planner's tokens; 0 = none"},
    )
    encoder_checkpoint: Path | None = field(
        default=None, metadata={"help": "frozen encoder checkpoint (ours or Meta's); none = random init of the preset"}
    )
    encoder_key: str = field(default="target_encoder", metadata={"help": "checkpoint key of the encoder weights"})
    encoder_preset: str = field(default="vit_tiny_128", metadata={"help": "encoder preset for a random-init encoder"})
    image_size: int = field(default=64, metadata={"help": "image size (per view) of a random-init encoder"})
    views: tuple[str, ...] = field(
        default=DEFAULT_VIEWS, metadata={"help": "cameras of each frame, tiled side by side (exterior, wrist)"}
    )
    view_encoding: str = field(
        default="separate",
        metadata={"help": "several views: separate = each view encoded alone, joint = the tiled frame as one image"},
    )
    encoder_depth: int | None = field(default=None, metadata={"help": "override the preset's encoder depth"})
    predictor_preset: str = field(default="vit_tiny_128", metadata={"help": "AC predictor preset"})
    predictor_depth: int | None = field(default=None, metadata={"help": "override the preset's predictor depth"})
    predictor_width: int | None = field(default=None, metadata={"help": "override the preset's predictor width"})
    init_checkpoint: Path | None = field(default=None, metadata={"help": "start the predictor from this checkpoint"})
    frames_per_clip: int = field(default=8, metadata={"help": "frames per clip"})
    fps: float = field(default=4.0, metadata={"help": "clip frame rate; stride = ceil(row_hz / fps)"})
    auto_steps: int = field(default=2, metadata={"help": "rollout steps of the loss"})
    feature_cache: bool = field(
        default=True, metadata={"help": "convert every frame once before training (frozen: encode; end_to_end: pixels)"}
    )
    lr: float = 4.25e-4
    weight_decay: float = 0.04
    run_dir: Path = Path("runs/posttrain")

    def __post_init__(self) -> None:
        if not self.state_probe_weight >= 0:
            raise ValueError(f"state_probe_weight must be >= 0, got {self.state_probe_weight}")
        if self.state_probe_weight > 0 and (self.recipe != "end_to_end" or not self.feature_cache):
            raise ValueError(
                "state_probe_weight > 0 needs --recipe end_to_end with the feature cache (it trains the encoder)"
            )


class ACLossModel(nn.Module):
    """The AC predictor and its training loss in one forward (teacher forcing + rollout: one DDP call per step)."""

    def __init__(self, predictor: VisionTransformerPredictorAC, auto_steps: int):
        super().__init__()
        self.predictor = predictor
        self.auto_steps = auto_steps

    def forward(self, reps: torch.Tensor, actions: torch.Tensor, states: torch.Tensor) -> dict[str, torch.Tensor]:
        """reps [B, T*N, D], actions [B, T-1, 7], states [B, T, 7] -> {"loss", "jloss", "sloss"}."""
        out = ac_training_loss(self.predictor, reps, actions, states, auto_steps=self.auto_steps)
        return {"loss": out.loss, "jloss": out.jloss, "sloss": out.sloss}


class EndToEndLossModel(nn.Module):
    """Encoder + AC predictor + projector: AC loss on the encoder's own tokens + weight * SIGReg(projector(tokens))."""

    def __init__(
        self,
        encoder: VisionTransformer,
        ac_model: ACLossModel,
        projector: nn.Module,
        config: PosttrainConfig,
        probe: StateProbe | None = None,
    ):
        super().__init__()
        self.encoder = encoder
        self.ac_model = ac_model
        self.projector = projector
        self.probe = probe
        self.weight = config.sigreg_weight
        self.probe_weight = config.state_probe_weight
        self.sigreg_config = SIGRegConfig(directions=config.sigreg_directions)

    def forward(self, frames: torch.Tensor, actions: torch.Tensor, states: torch.Tensor) -> dict[str, torch.Tensor]:
        """frames [B, T, 3, S, S], actions [B, T-1, 7], states [B, T, 7] -> {"loss", "jloss", "sloss", "sigreg"}
        (+ "probe" with a state probe)."""
        reps = encode_clip_frames(self.encoder, frames.transpose(1, 2))  # [B, T*N, D], with gradients
        out = self.ac_model(reps, actions, states)
        regulariser = sigreg(self.projector(reps), self.sigreg_config)  # over B*T*N token embeddings
        out = {**out, "loss": out["loss"] + self.weight * regulariser, "sigreg": regulariser}
        if self.probe is not None:
            probe = self.probe(reps, states)
            out = {**out, "loss": out["loss"] + self.probe_weight * probe, "probe": probe}
        return out


class PosttrainTask:
    """AC predictor (and, end to end, the encoder) plugged into the shared loop."""

    checkpoint_prefix = AC_PREFIX

    def __init__(self, config: PosttrainConfig, ctx: DistContext, encoder, predictor, probe: StateProbe | None = None):
        self.config = config
        self.ctx = ctx
        self.end_to_end = config.recipe == "end_to_end"
        if not predictor.use_extrinsics:  # in the checkpoint, never used: DDP requires every trained weight to be used
            predictor.extrinsics_encoder.requires_grad_(False)
        ac_model = ACLossModel(predictor, config.auto_steps)
        self.loss_names = ["loss", "jloss", "sloss"]
        if self.end_to_end:
            self.encoder = encoder.to(ctx.device).requires_grad_(True)
            projector = (
                Projector(encoder.embed_dim, config.projector_hidden, config.projector_dim)
                if config.projector
                else nn.Flatten(0, -2)  # [..., D] -> [n, D]: SIGReg on the layer-normed tokens themselves
            )
            model = EndToEndLossModel(self.encoder, ac_model, projector, config, probe)
            self.model = wrap_ddp(model.to(ctx.device), ctx)
            self.loss_names.append("sigreg")
            if probe is not None:
                self.loss_names.append("probe")
        else:
            self.encoder = encoder.to(ctx.device).eval().requires_grad_(False)
            self.model = wrap_ddp(ac_model.to(ctx.device), ctx)

    def trainable_modules(self) -> list[nn.Module]:
        return [self.model]

    def train_mode(self) -> None:
        self.model.train()
        if not self.end_to_end:
            self.encoder.eval()

    def compute_losses(self, batch) -> dict[str, torch.Tensor]:
        device = self.ctx.device
        if self.end_to_end:
            if self.config.feature_cache:
                frames, actions, states = batch  # frames [B, T, 3, S, S]
            else:
                frames, actions, states = batch["frames"], batch["actions"], batch["states"]
            frames, actions, states = (t.to(device, non_blocking=True) for t in (frames, actions, states))
            return {name: value.float() for name, value in self.model(frames, actions, states).items()}
        if self.config.feature_cache:
            reps, actions, states = (t.to(device, non_blocking=True) for t in batch)
        else:
            clips = batch["frames"].to(device).transpose(1, 2)  # [B, T, 3, S, S] -> [B, 3, T, S, S]
            with torch.no_grad():
                reps = encode_clip_frames(self.encoder, clips)  # [B, T*N, D]
            actions, states = batch["actions"].to(device), batch["states"].to(device)
        return {name: value.float() for name, value in self.model(reps, actions, states).items()}

    def after_optimizer_step(self, step: int) -> None:
        """Nothing: no EMA in either recipe."""

    def checkpoint_models(self) -> dict[str, nn.Module]:
        model = unwrap(self.model)
        predictor = model.ac_model.predictor if self.end_to_end else model.predictor
        return {"encoder": self.encoder, "target_encoder": self.encoder, "predictor": predictor}

    def extra_modules(self) -> dict[str, nn.Module]:
        """Training-only modules saved (as state dicts) for resuming: the SIGReg projector and the state probe."""
        if not self.end_to_end:
            return {}
        model = unwrap(self.model)
        return {"projector": model.projector, **({"state_probe": model.probe} if model.probe is not None else {})}


VIEW_ENCODINGS = ("separate", "joint")


def build_encoder_for(config: PosttrainConfig) -> VisionTransformer:
    """The frozen encoder: loaded from a checkpoint, or a seeded random init of the preset at image_size."""
    if config.encoder_checkpoint is not None:
        return load_encoder(config.encoder_checkpoint, key=config.encoder_key)
    torch.manual_seed(config.seed)
    if config.view_encoding not in VIEW_ENCODINGS:
        raise ValueError(f"view_encoding must be one of {VIEW_ENCODINGS}, got {config.view_encoding!r}")
    views = len(config.views)
    overrides = {} if config.encoder_depth is None else {"depth": config.encoder_depth}
    if views > 1 and config.view_encoding == "separate":
        overrides["separate_views"] = views
    size = (config.image_size, views * config.image_size)
    return build_encoder(config.encoder_preset, img_size=size, num_frames=2, **overrides)


def build_predictor_for(config: PosttrainConfig, encoder: VisionTransformer) -> VisionTransformerPredictorAC:
    """The AC predictor: from a checkpoint, or the preset sized for the encoder (width, image size, clip length)."""
    if config.init_checkpoint is not None:
        return load_ac_predictor(config.init_checkpoint).train()
    overrides: dict = {
        "img_size": encoder.img_size,
        "embed_dim": encoder.embed_dim,
        "num_frames": max(16, 2 * config.frames_per_clip),
        "patch_size": encoder.patch_size,
    }
    if config.predictor_depth is not None:
        overrides["depth"] = config.predictor_depth
    if config.predictor_width is not None:
        overrides["predictor_embed_dim"] = config.predictor_width
    return build_ac_predictor(config.predictor_preset, **overrides)


def build_dataset(config: PosttrainConfig, encoder: VisionTransformer, ctx: DistContext):
    """Clips of frames_per_clip frames: from memory (feature cache: encoded frames, or preprocessed pixels end to end)
    or streamed pixel clips (DroidClipDataset)."""
    if view_count(encoder.img_size) != len(config.views):
        raise ValueError(f"views {config.views}: the encoder reads {encoder.img_size} px frames (one S x S per view)")
    if config.feature_cache:
        end_to_end = config.recipe == "end_to_end"
        frame_fn = pixel_fn(encoder.img_size) if end_to_end else frozen_encoder_fn(encoder, ctx.device)
        episodes = encode_episodes(config.data, frame_fn, config.fps, config.views, show_progress=ctx.is_main)
        return EncodedClipDataset(episodes, config.frames_per_clip, flatten_frames=not end_to_end)
    clip_config = ClipConfig(frames_per_clip=config.frames_per_clip, target_fps=config.fps, views=config.views)
    size, views = encoder.img_size[0], len(config.views)
    return DroidClipDataset(
        list(config.data), clip_config, transform=lambda f: planning_transform_views(f, size=size, views=views)
    )


def build_probe_for(config: PosttrainConfig, predictor: VisionTransformerPredictorAC, dataset) -> StateProbe | None:
    """The state probe of `--state-probe-weight` over the frame tokens the predictor reads (standardised by the
    training data's states), else None."""
    if config.state_probe_weight == 0:
        return None
    mean, std = state_statistics([episode.states for episode in dataset.episodes])
    torch.manual_seed(config.seed + 2)
    return StateProbe(predictor.tokens_per_frame, predictor.embed_dim, mean, std)


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_config(PosttrainConfig, argv, __doc__)
    ctx = setup_distributed(config.device, config.cpu_threads)
    try:
        encoder = build_encoder_for(config)
        torch.manual_seed(config.seed + 1)
        predictor = build_predictor_for(config, encoder)
        dataset = build_dataset(config, encoder, ctx)
        if ctx.is_main:
            params = sum(p.numel() for p in predictor.parameters()) / 1e6
            print(
                f"posttrain ({config.recipe}): {len(dataset)} clips; predictor {params:.2f} M parameters; "
                f"{ctx.world_size} process(es)"
            )
        task = PosttrainTask(config, ctx, encoder, predictor, build_probe_for(config, predictor, dataset))
        batches = endless(make_loader(dataset, config, ctx))
        extra = {
            "batch_size": config.batch_size,
            "lr": config.lr,
            "train_config": config_dict(config),
            VIEWS_KEY: list(config.views),
        }
        summary = run_training(config, ctx, task, batches, extra, title="posttrain")
        print_summary(summary, ctx, "posttrain")
    finally:
        teardown_distributed(ctx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
