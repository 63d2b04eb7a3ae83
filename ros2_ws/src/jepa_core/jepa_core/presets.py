"""Named model sizes: the official V-JEPA 2 variants, the parity-fixture sizes and small CPU sizes for sim training.

Each preset is a typed config whose fields are the model constructor's (official) hyper-parameter names. Encoder and
predictor presets with the same name belong together; `AC_ENCODER_OF` names the encoder of each AC predictor preset.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass

import torch
from torch import nn

from jepa_core.models.ac_predictor import VisionTransformerPredictorAC
from jepa_core.models.encoder import VisionTransformer
from jepa_core.models.modules import init_vit_weights, rescale_residual_projections
from jepa_core.models.predictor import VisionTransformerPredictor


@dataclass(frozen=True)
class EncoderConfig:
    """Hyper-parameters of `VisionTransformer` (video encoder)."""

    img_size: tuple[int, int] = (256, 256)
    patch_size: int = 16
    num_frames: int = 64
    tubelet_size: int = 2
    embed_dim: int = 1024
    depth: int = 24
    num_heads: int = 16
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    use_rope: bool = True


@dataclass(frozen=True)
class PredictorConfig:
    """Hyper-parameters of `VisionTransformerPredictor` (pretraining mask-token predictor)."""

    img_size: tuple[int, int] = (256, 256)
    patch_size: int = 16
    num_frames: int = 64
    tubelet_size: int = 2
    embed_dim: int = 1024
    predictor_embed_dim: int = 384
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    num_mask_tokens: int = 10
    use_rope: bool = True


@dataclass(frozen=True)
class ACPredictorConfig:
    """Hyper-parameters of `VisionTransformerPredictorAC` (action-conditioned predictor)."""

    img_size: tuple[int, int] = (256, 256)
    patch_size: int = 16
    num_frames: int = 64
    tubelet_size: int = 2
    embed_dim: int = 1408
    predictor_embed_dim: int = 1024
    depth: int = 24
    num_heads: int = 16
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    action_embed_dim: int = 7
    use_extrinsics: bool = False
    is_frame_causal: bool = True
    use_rope: bool = True


ENCODER_PRESETS: dict[str, EncoderConfig] = {
    "vit_large": EncoderConfig(embed_dim=1024, depth=24, num_heads=16),
    "vit_huge": EncoderConfig(embed_dim=1280, depth=32, num_heads=16),
    "vit_giant_xformers": EncoderConfig(embed_dim=1408, depth=40, num_heads=22, mlp_ratio=48 / 11),
    "parity_tiny": EncoderConfig(img_size=(64, 64), num_frames=16, embed_dim=192, depth=2, num_heads=3),
    "vit_tiny_128": EncoderConfig(img_size=(128, 128), num_frames=16, embed_dim=192, depth=4, num_heads=3),
    "vit_small_256": EncoderConfig(img_size=(256, 256), num_frames=16, embed_dim=384, depth=6, num_heads=6),
}

PREDICTOR_PRESETS: dict[str, PredictorConfig] = {
    "vit_large": PredictorConfig(embed_dim=1024),
    "vit_huge": PredictorConfig(embed_dim=1280),
    "vit_giant_xformers": PredictorConfig(embed_dim=1408),
    "parity_tiny": PredictorConfig(
        img_size=(64, 64), num_frames=16, embed_dim=192, predictor_embed_dim=96, depth=1, num_heads=3
    ),
    "vit_tiny_128": PredictorConfig(
        img_size=(128, 128), num_frames=16, embed_dim=192, predictor_embed_dim=96, depth=2, num_heads=3
    ),
    "vit_small_256": PredictorConfig(
        img_size=(256, 256), num_frames=16, embed_dim=384, predictor_embed_dim=192, depth=4, num_heads=6
    ),
}

AC_PREDICTOR_PRESETS: dict[str, ACPredictorConfig] = {
    "vit_ac_giant": ACPredictorConfig(),
    "parity_tiny": ACPredictorConfig(
        img_size=(64, 64), num_frames=16, embed_dim=192, predictor_embed_dim=192, depth=2, num_heads=3
    ),
    "vit_tiny_128": ACPredictorConfig(
        img_size=(128, 128), num_frames=16, embed_dim=192, predictor_embed_dim=192, depth=4, num_heads=3
    ),
    "vit_small_256": ACPredictorConfig(
        img_size=(256, 256), num_frames=16, embed_dim=384, predictor_embed_dim=384, depth=6, num_heads=6
    ),
}

# Encoder preset each AC predictor preset was made for (hub: vjepa2-ac-vitg.pt pairs ViT-g with vit_ac_giant).
AC_ENCODER_OF: dict[str, str] = {
    "vit_ac_giant": "vit_giant_xformers",
    "parity_tiny": "parity_tiny",
    "vit_tiny_128": "vit_tiny_128",
    "vit_small_256": "vit_small_256",
}


def _lookup(presets: dict, name: str, kind: str):
    """Preset by name, or a ValueError listing the known names."""
    if name not in presets:
        raise ValueError(f"unknown {kind} preset {name!r}; known: {sorted(presets)}")
    return presets[name]


def _build(model_cls, config, device: str | torch.device | None, overrides: dict):
    """Instantiate model_cls from config + overrides (any constructor argument); on `device` ("meta": no weights)."""
    kwargs = {**asdict(config), **overrides}
    with torch.device(device) if device is not None else contextlib.nullcontext():
        return model_cls(**kwargs)


def build_encoder(name: str, device: str | torch.device | None = None, **overrides) -> VisionTransformer:
    """Encoder of preset `name` (ENCODER_PRESETS) with overrides, e.g. build_encoder("vit_large", device="meta")."""
    return _build(VisionTransformer, _lookup(ENCODER_PRESETS, name, "encoder"), device, overrides)


def build_predictor(name: str, device: str | torch.device | None = None, **overrides) -> VisionTransformerPredictor:
    """Pretraining predictor of preset `name` (PREDICTOR_PRESETS) with field overrides."""
    return _build(VisionTransformerPredictor, _lookup(PREDICTOR_PRESETS, name, "predictor"), device, overrides)


def build_ac_predictor(
    name: str, device: str | torch.device | None = None, **overrides
) -> VisionTransformerPredictorAC:
    """Action-conditioned predictor of preset `name` (AC_PREDICTOR_PRESETS) with field overrides."""
    return _build(VisionTransformerPredictorAC, _lookup(AC_PREDICTOR_PRESETS, name, "AC predictor"), device, overrides)


def materialize(
    model: VisionTransformer | VisionTransformerPredictorAC,
    device: str | torch.device = "cpu",
    seed: int = 0,
    init_std: float = 0.02,
) -> nn.Module:
    """Allocate an encoder or AC predictor built on the meta device on `device` with the constructor's random
    initialisation (seeded): full-size models get their memory once, where they run, without a CPU copy first."""
    if not isinstance(model, VisionTransformer | VisionTransformerPredictorAC):
        raise TypeError(f"materialize: expected a VisionTransformer or VisionTransformerPredictorAC, got {type(model)}")
    model = model.to_empty(device=device)
    blocks = model.blocks if isinstance(model, VisionTransformer) else model.predictor_blocks
    generator_devices = [torch.device(device)] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=generator_devices), torch.no_grad():
        torch.manual_seed(seed)
        init_vit_weights(model, init_std)
        rescale_residual_projections(blocks)
    return model.eval()
