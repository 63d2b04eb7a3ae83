"""One way to build a planning world model from checkpoints: the planner node, evaluation, check_bag and benchmarks.

Everything that plans loads through `build_world_model`, so all of them plan with the same energy: the AC predictor,
optionally its encoder, and the goal-position prior of the encoder's checkpoint (the probe reads that encoder's
tokens), on the configured device. Random weights are for tests and demos only and must be asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from jepa_core.checkpoints import NONFINITE_POLICIES, load_ac_predictor, load_encoder, load_goal_prior
from jepa_core.models.encoder import VisionTransformer
from jepa_core.planning.pose_prior import GoalPositionPrior
from jepa_core.planning.world_model import WorldModel, WorldModelConfig
from jepa_core.presets import build_ac_predictor, build_encoder


@dataclass(frozen=True)
class WorldModelSpec:
    """Where a world model's weights come from (checkpoints, presets, keys), its goal prior and where it runs.

    Presets "" or "auto" mean the checkpoint's stored config, else the preset its key shapes match."""

    predictor_checkpoint: Path | None = None  # AC predictor weights; None = random weights (allow_random_weights)
    predictor_preset: str = ""
    predictor_key: str = "predictor"
    with_encoder: bool = True  # False: goals and frames arrive encoded (e.g. by the perception node)
    encoder_checkpoint: Path | None = None  # None = predictor_checkpoint; also the file of the goal prior's probe
    encoder_preset: str = ""
    encoder_key: str = "target_encoder"  # EMA weights; official AC files plan with "encoder"
    allow_random_weights: bool = False  # tests/demos: without checkpoints, build the presets with random weights
    random_seed: int = 0
    nonfinite_weights: str = "refuse"  # checkpoints holding NaN/inf: "refuse" or "warn" and load
    pose_prior_weight: float = GoalPositionPrior.weight  # 0 = the official image energy
    pose_prior_dead_zone: float = GoalPositionPrior.dead_zone
    config: WorldModelConfig = field(default_factory=WorldModelConfig)  # device, autocast dtype, chunking, compile

    def __post_init__(self) -> None:
        """Reject values no load can use, naming the field."""
        if self.nonfinite_weights not in NONFINITE_POLICIES:
            raise ValueError(f"nonfinite_weights: expected one of {NONFINITE_POLICIES}, got {self.nonfinite_weights!r}")
        for name in ("pose_prior_weight", "pose_prior_dead_zone"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name}: expected >= 0, got {getattr(self, name)}")

    @property
    def encoder_source(self) -> Path | None:
        """The checkpoint of the encoder and of the goal prior's probe (None: random weights)."""
        return self.encoder_checkpoint or self.predictor_checkpoint


def build_world_model(spec: WorldModelSpec) -> WorldModel:
    """The AC predictor, the encoder (with_encoder) and the goal prior loaded onto `spec.config.device`, or random
    weights of the presets when no checkpoint is given and `allow_random_weights` is set (ValueError otherwise)."""
    device = spec.config.device
    if spec.predictor_checkpoint:
        predictor = load_ac_predictor(
            spec.predictor_checkpoint, spec.predictor_preset, spec.predictor_key, device,
            nonfinite=spec.nonfinite_weights,
        )  # fmt: skip
    elif spec.allow_random_weights and spec.predictor_preset:
        torch.manual_seed(spec.random_seed)
        predictor = build_ac_predictor(spec.predictor_preset, device=device)
    else:
        raise ValueError(
            "predictor_checkpoint: a checkpoint path is required (random weights need "
            "allow_random_weights and predictor_preset)"
        )
    encoder = _encoder(spec) if spec.with_encoder else None
    prior = None
    if spec.encoder_source:
        prior = load_goal_prior(spec.encoder_source, predictor, spec.pose_prior_weight, spec.pose_prior_dead_zone)
    return WorldModel(predictor, encoder, spec.config, goal_prior=prior)


def _encoder(spec: WorldModelSpec) -> VisionTransformer:
    """The encoder of `spec.encoder_source`, or random weights of `encoder_preset` when allowed and no file is given."""
    if spec.encoder_source:
        return load_encoder(
            spec.encoder_source, spec.encoder_preset, spec.encoder_key, spec.config.device,
            nonfinite=spec.nonfinite_weights,
        )  # fmt: skip
    if spec.allow_random_weights and spec.encoder_preset:
        return build_encoder(spec.encoder_preset, device=spec.config.device)
    raise ValueError(
        "encoder_checkpoint: a local encoder needs a checkpoint (random weights need allow_random_weights and "
        "encoder_preset)"
    )
