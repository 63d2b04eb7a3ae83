"""Load and save V-JEPA 2 checkpoints in the official on-disk layout, safely (weights_only) and without double copies.

Official files are dicts {encoder, predictor, target_encoder, opt, scaler, epoch, ...}; pretraining state-dict keys
carry `module.backbone.`, AC post-training keys `module.`. Our own files add a "jepa_config" entry with the constructor
hyper-parameters, so they load without naming a preset; official files are matched to a preset by key shapes.
"""

from __future__ import annotations

import inspect
import os
import pickle
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from jepa_core.models.ac_predictor import VisionTransformerPredictorAC
from jepa_core.models.encoder import VisionTransformer
from jepa_core.models.predictor import VisionTransformerPredictor
from jepa_core.planning.pose_prior import PROBE_KEY, GoalPositionPrior, PoseProbe
from jepa_core.presets import AC_PREDICTOR_PRESETS, ENCODER_PRESETS, PREDICTOR_PRESETS
from jepa_core.views import DEFAULT_VIEWS, VIEWS_KEY, view_count

PRETRAIN_PREFIX = "module.backbone."
AC_PREFIX = "module."
CONFIG_KEY = "jepa_config"
MAX_LISTED = 5  # mismatches named in one error message
AUTO_PRESET = "auto"  # preset word (as "" or None): the stored jepa_config, else the preset inferred from key shapes
NONFINITE_POLICIES = ("refuse", "warn")  # what loading does with NaN/inf weights

# Keys present in official files that the RoPE models do not have (the hub loader drops them with strict=False).
STRAY_KEYS = {
    VisionTransformer: ("pos_embed",),
    VisionTransformerPredictor: ("predictor_pos_embed",),
    VisionTransformerPredictorAC: (),
}


def is_auto_preset(preset: str | None) -> bool:
    """True for the preset words that mean "from the checkpoint": None, "" and AUTO_PRESET."""
    return preset in (None, "", AUTO_PRESET)


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be used: unreadable, missing a key, or with tensors of the wrong shape."""


class CheckpointWarning(UserWarning):
    """A checkpoint loaded although it looks unusable (NaN/inf weights with nonfinite='warn')."""


def read_checkpoint(path: str | Path) -> dict:
    """torch.load with weights_only=True (memory-mapped when the file format allows) -> top-level dict."""
    path = Path(path)
    if not path.is_file():
        relative = "" if path.is_absolute() else f" (relative to the working directory {Path.cwd()})"
        raise CheckpointError(f"{path}: no such checkpoint file{relative}")
    try:
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            ckpt = torch.load(path, map_location="cpu", weights_only=True)  # legacy (non-zip) format
    except pickle.UnpicklingError as exc:
        if "weights_only" not in str(exc).replace("Weights only", "weights_only"):
            raise CheckpointError(f"{path}: not a torch checkpoint (or truncated/corrupt): {exc}") from exc
        raise CheckpointError(f"{path}: holds objects that weights_only=True refuses to load: {exc}") from exc
    except Exception as exc:
        raise CheckpointError(f"{path}: not a torch checkpoint (or truncated/corrupt): {exc}") from exc
    if not isinstance(ckpt, Mapping):
        raise CheckpointError(f"{path}: expected a dict of state dicts, got {type(ckpt).__name__}")
    return dict(ckpt)


def clean_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official key cleaning: drop a leading `module.`, then a leading `backbone.`."""
    cleaned = {}
    for name, value in state.items():
        name = name.removeprefix("module.").removeprefix("backbone.")
        cleaned[name] = value
    return cleaned


def _state_for(ckpt: dict, path: Path, key: str) -> dict[str, torch.Tensor]:
    """Cleaned state dict stored under top-level `key`."""
    if key not in ckpt:
        raise CheckpointError(f"{path}: key {key!r} missing; top-level keys are {sorted(ckpt)}")
    state = ckpt[key]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: {key!r} is not a state dict of tensors")
    return clean_state_dict(state)


def _mismatches(model: nn.Module, state: Mapping[str, torch.Tensor], ignore: tuple[str, ...]) -> list[str]:
    """Human-readable differences between a model's keys/shapes and a state dict (empty when they match)."""
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    problems = []
    for name, shape in expected.items():
        if name not in state:
            problems.append(f"{name}: missing (expected shape {list(shape)})")
        elif tuple(state[name].shape) != shape:
            problems.append(f"{name}: expected shape {list(shape)}, got {list(state[name].shape)}")
    problems += [f"{name}: unexpected key" for name in state if name not in expected and name not in ignore]
    return problems


def _mismatch_error(path: Path, key: str, what: str, problems: list[str]) -> CheckpointError:
    """One CheckpointError naming the file, key and the first few mismatches."""
    listed = "; ".join(problems[:MAX_LISTED])
    more = f" (+{len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
    return CheckpointError(f"{path} [{key}]: does not match {what}: {listed}{more}")


def _stored_hparams(model_cls, ckpt: dict, path: Path, key: str, config_key: str) -> dict | None:
    """Constructor kwargs from our jepa_config entry (None when it has none for `config_key`), checked per field."""
    stored_config = ckpt.get(CONFIG_KEY)
    if stored_config is None:
        return None
    if not isinstance(stored_config, Mapping):
        raise CheckpointError(f"{path}: {CONFIG_KEY}: expected a dict, got {type(stored_config).__name__}")
    stored = stored_config.get(config_key)
    if stored is None:
        return None
    field = f"{CONFIG_KEY}[{config_key!r}]"
    if not isinstance(stored, Mapping):
        raise CheckpointError(f"{path}: {field}: expected a dict of constructor arguments, got {stored!r}")
    class_field = f"{config_key}_class"
    stored_class = stored_config.get(class_field, model_cls.__name__)
    if not isinstance(stored_class, str):
        raise CheckpointError(f"{path}: {CONFIG_KEY}[{class_field!r}]: expected a class name, got {stored_class!r}")
    if stored_class != model_cls.__name__:
        raise CheckpointError(f"{path} [{key}]: holds a {stored_class}, not a {model_cls.__name__}")
    accepted = set(inspect.signature(model_cls).parameters)
    unknown = sorted(str(name) for name in stored if name not in accepted)
    if unknown:
        raise CheckpointError(
            f"{path}: {field}: unknown field(s) {unknown}; {model_cls.__name__} accepts {sorted(accepted)}"
        )
    return dict(stored)


def _resolve_hparams(
    model_cls, presets: dict, preset: str | None, ckpt: dict, path: Path, key: str, config_key: str, state
):
    """Constructor kwargs: the named preset, else our stored jepa_config, else the unique preset whose shapes match."""
    if not is_auto_preset(preset):
        if preset not in presets:
            raise CheckpointError(f"{path}: unknown preset {preset!r}; known: {sorted(presets)} (or {AUTO_PRESET!r})")
        return asdict(presets[preset]), f"preset {preset!r}"
    stored = _stored_hparams(model_cls, ckpt, path, key, config_key)
    if stored is not None:
        return stored, f"{CONFIG_KEY}[{config_key!r}]"
    ignore = STRAY_KEYS[model_cls]
    matches = []
    for name, config in presets.items():
        with torch.device("meta"):
            candidate = model_cls(**asdict(config))
        if not _mismatches(candidate, state, ignore):
            matches.append(name)
    if len(matches) != 1:
        found = "no preset" if not matches else f"several presets {matches}"
        raise CheckpointError(
            f"{path} [{key}]: {found} of {model_cls.__name__} matches the stored key shapes; pass preset= "
            f"(known: {sorted(presets)})"
        )
    return asdict(presets[matches[0]]), f"preset {matches[0]!r} (inferred from shapes)"


def _check_finite(tensors: Mapping[str, torch.Tensor], path: Path, key: str, nonfinite: str) -> None:
    """Refuse (or, with nonfinite='warn', warn about) floating tensors holding NaN/inf: such a model plans garbage."""
    bad = {}
    for name, value in tensors.items():
        if value.is_floating_point() and value.device.type != "meta":
            count = int(value.numel() - torch.isfinite(value).sum())
            if count:
                bad[name] = (count, value.numel())
    if not bad:
        return
    listed = "; ".join(f"{name}: {count} of {total}" for name, (count, total) in list(bad.items())[:MAX_LISTED])
    message = f"{path} [{key}]: {len(bad)} tensor(s) hold NaN/inf values ({listed})"
    if nonfinite == "refuse":
        raise CheckpointError(f"{message}; pass nonfinite='warn' (parameter nonfinite_weights: warn) to load anyway")
    warnings.warn(message, CheckpointWarning, stacklevel=4)


def _load_model(model_cls, presets, path, preset, key, config_key, device, dtype, nonfinite):
    """Build on the meta device, check keys/shapes and values, then adopt the (memory-mapped) tensors (assign=True)."""
    if nonfinite not in NONFINITE_POLICIES:
        raise ValueError(f"nonfinite must be one of {NONFINITE_POLICIES}, got {nonfinite!r}")
    path = Path(path)
    ckpt = read_checkpoint(path)
    state = _state_for(ckpt, path, key)
    hparams, source = _resolve_hparams(model_cls, presets, preset, ckpt, path, key, config_key, state)
    try:
        with torch.device("meta"):
            model = model_cls(**hparams)
    except Exception as exc:  # a stored config with values of the wrong type or range
        raise CheckpointError(f"{path}: {source} does not build a {model_cls.__name__}: {exc!r}") from exc
    ignore = STRAY_KEYS[model_cls]
    problems = _mismatches(model, state, ignore)
    if problems:
        raise _mismatch_error(path, key, f"{model_cls.__name__} of {source}", problems)
    tensors = {
        name: value.to(device=device, dtype=dtype if value.is_floating_point() else value.dtype)
        for name, value in state.items()
        if name not in ignore
    }
    _check_finite(tensors, path, key, nonfinite)
    model.load_state_dict(tensors, strict=True, assign=True)
    return model.eval()


def load_encoder(
    path: str | Path,
    preset: str | None = None,
    key: str = "target_encoder",
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    nonfinite: str = "refuse",
) -> VisionTransformer:
    """Encoder from an official or our checkpoint (`target_encoder` = EMA weights by default; a stray pos_embed is
    ignored). For AC planning with vjepa2-ac-vitg.pt use key="encoder". NaN/inf weights: `nonfinite` refuse|warn."""
    return _load_model(VisionTransformer, ENCODER_PRESETS, path, preset, key, "encoder", device, dtype, nonfinite)


def load_predictor(
    path: str | Path,
    preset: str | None = None,
    key: str = "predictor",
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    nonfinite: str = "refuse",
) -> VisionTransformerPredictor:
    """Pretraining (mask-token) predictor; a stray predictor_pos_embed is ignored."""
    return _load_model(
        VisionTransformerPredictor, PREDICTOR_PRESETS, path, preset, key, "predictor", device, dtype, nonfinite
    )


def load_ac_predictor(
    path: str | Path,
    preset: str | None = None,
    key: str = "predictor",
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    nonfinite: str = "refuse",
) -> VisionTransformerPredictorAC:
    """Action-conditioned predictor, loaded strictly (every key, every shape; NaN/inf weights per `nonfinite`)."""
    return _load_model(
        VisionTransformerPredictorAC, AC_PREDICTOR_PRESETS, path, preset, key, "predictor", device, dtype, nonfinite
    )


def _prefixed_fp32(model: nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    """State dict on CPU with official key prefix; floating tensors as float32 like the released files."""
    return {
        prefix + name: (t.detach().float() if t.is_floating_point() else t.detach()).cpu()
        for name, t in model.state_dict().items()
    }


def default_config(encoder: nn.Module | None, predictor: nn.Module | None) -> dict:
    """jepa_config recorded from the models' constructor hyper-parameters."""
    config = {}
    if encoder is not None:
        config["encoder"] = dict(encoder.hparams)
    if predictor is not None:
        config["predictor"] = dict(predictor.hparams)
        config["predictor_class"] = type(predictor).__name__
    return config


def save_checkpoint(
    path: str | Path,
    *,
    encoder: nn.Module | None = None,
    target_encoder: nn.Module | None = None,
    predictor: nn.Module | None = None,
    prefix: str = PRETRAIN_PREFIX,
    config: dict | None = None,
    opt: dict | None = None,
    scaler: dict | None = None,
    epoch: int = 0,
    **extra,
) -> Path:
    """Write the official layout {encoder, predictor, target_encoder, opt, scaler, epoch, ..., jepa_config} atomically
    (temporary file + rename). prefix: PRETRAIN_PREFIX ("module.backbone.") or AC_PREFIX ("module.")."""
    path = Path(path)
    ckpt: dict = {}
    for name, model in (("encoder", encoder), ("predictor", predictor), ("target_encoder", target_encoder)):
        if model is not None:
            ckpt[name] = _prefixed_fp32(model, prefix)
    ckpt.update(opt=opt, scaler=scaler, epoch=epoch, **extra)
    ckpt[CONFIG_KEY] = config if config is not None else default_config(target_encoder or encoder, predictor)
    return write_checkpoint(ckpt, path)


def write_checkpoint(ckpt: dict, path: str | Path) -> Path:
    """torch.save `ckpt` to `path` atomically (temporary file in the same folder + rename): a crash never leaves a
    half-written checkpoint where a good one was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(ckpt, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_pose_probe(path: str | Path, tokens: int, dim: int, device: str | torch.device = "cpu") -> PoseProbe | None:
    """The goal-position probe stored under `pose_probe` (ours; official files have none: None), checked against the
    predictor's frame shape [tokens, dim] and for finite values."""
    path = Path(path)
    ckpt = read_checkpoint(path)
    if PROBE_KEY not in ckpt:
        return None
    state = ckpt[PROBE_KEY]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: {PROBE_KEY!r} is not a state dict of tensors")
    try:
        return PoseProbe.from_state_dict(dict(state), tokens, dim).to(device)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from exc


def load_goal_prior(
    path: str | Path, predictor: VisionTransformerPredictorAC, weight: float, dead_zone: float
) -> GoalPositionPrior | None:
    """The goal-position prior of `path`'s pose probe for `predictor`'s frames, or None with weight 0 (the file is not
    read) or a file without a probe: planning then uses the official image energy."""
    if weight == 0:
        return None
    probe = load_pose_probe(path, predictor.tokens_per_frame, predictor.embed_dim)
    return None if probe is None else GoalPositionPrior(probe, weight, dead_zone)


def load_camera_views(path: str | Path) -> tuple[str, ...]:
    """The view names whose tiled frames the checkpoint's encoder reads (`camera_views`; official and single-view files
    have none: DEFAULT_VIEWS), checked against the stored encoder input width."""
    path = Path(path)
    ckpt = read_checkpoint(path)
    views = tuple(ckpt.get(VIEWS_KEY, DEFAULT_VIEWS))
    if not views or not all(isinstance(view, str) for view in views):
        raise CheckpointError(f"{path}: {VIEWS_KEY!r} must be a non-empty list of view names, got {views!r}")
    img_size = (_stored_hparams(VisionTransformer, ckpt, path, "encoder", "encoder") or {}).get("img_size")
    if img_size is not None and view_count(tuple(img_size)) != len(views):
        raise CheckpointError(f"{path}: {len(views)} view(s) {views}, but the encoder reads {img_size} px frames")
    return views
