"""Camera frames (RGB uint8) to V-JEPA 2 embeddings with a torch or ONNX Runtime encoder; no ROS.

Used by the perception node for the camera stream and by the planner to encode goal images locally, so both get
exactly the same preprocessing (jepa_core.transforms) and representation (single frames duplicated into one
tubelet, then the AC stack's parameter-free layer_norm when `normalize`). An encoder built for S x V*S px reads frames
of V camera views tiled side by side (jepa_core.views), each view preprocessed alone.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from jepa_core.checkpoints import NONFINITE_POLICIES, is_auto_preset, load_encoder
from jepa_core.models.encoder import VisionTransformer
from jepa_core.models.precision import autocast
from jepa_core.models.representations import normalize_reps
from jepa_core.presets import AC_ENCODER_OF, ENCODER_PRESETS, build_encoder
from jepa_core.transforms import host_to_device, planning_transform_views

BACKENDS = ("torch", "onnxruntime")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
CHECKPOINT_KEYS = ("target_encoder", "encoder")


class FrameEncoderError(ValueError):
    """A FrameEncoder configuration that cannot work (names the field, the expected and the actual value)."""


@dataclass(frozen=True)
class FrameEncoderConfig:
    """Which encoder to run, where, and how frames become clips."""

    checkpoint: str = ""  # encoder checkpoint file; empty = `preset` with random weights (tests, benchmarks)
    preset: str = ""  # encoder or AC preset (AC_ENCODER_OF); with a checkpoint: architecture only, "" or "auto" = its
    # stored config, else inferred from its key shapes
    checkpoint_key: str = "encoder"  # "encoder" (AC checkpoints, e.g. vjepa2-ac-vitg.pt) or "target_encoder" (EMA)
    backend: str = "torch"  # "torch" or "onnxruntime"
    onnx_path: str = ""  # ONNX file for backend=onnxruntime; exported from the torch encoder when missing
    device: str = "cpu"  # torch device, e.g. "cpu", "cuda:0" (onnxruntime: picks the CUDA provider for cuda)
    dtype: str = "float32"  # "float32" or "bfloat16" (torch autocast; weights stay fp32)
    image_size: int = 0  # input side S of each view (square); 0 = the size the encoder was built for
    frames_per_clip: int = 1  # 1 = each frame duplicated into one tubelet; >1 = clips of this many frames
    normalize: bool = True  # apply the AC stack's parameter-free layer_norm (eps 1e-5) to the tokens
    allow_random_weights: bool = False  # tests/benchmarks: without a checkpoint, build `preset` with random weights
    seed: int = 0  # random-weight presets only
    num_threads: int = 0  # onnxruntime intra-op threads (0 = library default)
    nonfinite_weights: str = "refuse"  # checkpoint with NaN/inf weights: "refuse" to start or "warn" and run

    def validate(self) -> None:
        """Raise FrameEncoderError for a field that cannot work."""
        if not self.checkpoint and (is_auto_preset(self.preset) or not self.allow_random_weights):
            raise FrameEncoderError(
                "checkpoint is empty: set checkpoint (an encoder checkpoint file), or preset together with "
                f"allow_random_weights=True for random weights (got preset={self.preset!r}, "
                f"allow_random_weights={self.allow_random_weights})"
            )
        if self.checkpoint_key not in CHECKPOINT_KEYS:
            raise FrameEncoderError(f"checkpoint_key must be one of {CHECKPOINT_KEYS}, got {self.checkpoint_key!r}")
        if self.backend not in BACKENDS:
            raise FrameEncoderError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.backend == "onnxruntime" and not self.onnx_path:
            raise FrameEncoderError("backend onnxruntime needs onnx_path (exported there when missing)")
        if self.dtype not in DTYPES:
            raise FrameEncoderError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")
        if self.backend == "onnxruntime" and self.dtype != "float32":
            raise FrameEncoderError(f"backend onnxruntime runs float32 only, got dtype {self.dtype!r}")
        if self.image_size < 0:
            raise FrameEncoderError(f"image_size must be > 0 (or 0 = the encoder's own), got {self.image_size}")
        if self.nonfinite_weights not in NONFINITE_POLICIES:
            raise FrameEncoderError(
                f"nonfinite_weights must be one of {NONFINITE_POLICIES}, got {self.nonfinite_weights!r}"
            )
        if self.frames_per_clip < 1:
            raise FrameEncoderError(f"frames_per_clip must be >= 1, got {self.frames_per_clip}")

    @property
    def model_name(self) -> str:
        """Identity of the encoder for messages and logs, e.g. 'vjepa2-ac-vitg.pt[encoder]' or 'preset:vit_tiny_128'."""
        name = encoder_identity(self.checkpoint, self.checkpoint_key, self.preset)
        return f"{name}{ONNX_MARK}{Path(self.onnx_path).name})" if self.backend == "onnxruntime" else name


ONNX_MARK = " (onnx "  # model_name suffix of an ONNX Runtime export of the same weights


def encoder_identity(checkpoint: str, key: str, preset: str) -> str:
    """Name of an encoder's weights: '<checkpoint file name>[<key>]', or 'preset:<name>' for random weights."""
    return f"{Path(checkpoint).name}[{key}]" if checkpoint else f"preset:{preset}"


def same_encoder(model_a: str, model_b: str) -> bool:
    """True when two model names (Embedding.model) name the same weights, whichever backend ran them."""
    return model_a.split(ONNX_MARK)[0] == model_b.split(ONNX_MARK)[0]


@dataclass(frozen=True)
class TokenGrid:
    """Token grid of one embedding: tubelets x rows x columns, each token `dim` floats."""

    frames: int
    height: int
    width: int
    dim: int

    @property
    def tokens(self) -> int:
        """Number of tokens N = frames * height * width."""
        return self.frames * self.height * self.width


def encoder_preset_name(preset: str) -> str:
    """The encoder preset of `preset`: an encoder preset itself, or the encoder paired with an AC predictor preset."""
    if preset in ENCODER_PRESETS:
        return preset
    if preset in AC_ENCODER_OF:
        return AC_ENCODER_OF[preset]
    raise FrameEncoderError(
        f"unknown preset {preset!r}; expected an encoder preset {sorted(ENCODER_PRESETS)} "
        f"or an AC predictor preset {sorted(AC_ENCODER_OF)}"
    )


def _build_torch_encoder(config: FrameEncoderConfig, device: str) -> VisionTransformer:
    """Checkpoint weights, or the preset with seeded random weights; eval mode, fp32, on `device` ("meta": shapes)."""
    preset = None if is_auto_preset(config.preset) else encoder_preset_name(config.preset)
    if config.checkpoint:
        return load_encoder(
            config.checkpoint, preset, config.checkpoint_key, device, nonfinite=config.nonfinite_weights
        )
    if device == "meta":
        return build_encoder(preset, device="meta").eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        encoder = build_encoder(preset)
    return encoder.to(device).eval()


def _built_views(encoder: VisionTransformer, config: FrameEncoderConfig) -> tuple[int, int]:
    """(side S, views V) of the input the encoder was built for (stored or preset img_size S x V*S)."""
    height, width = encoder.hparams["img_size"]
    if width % height:
        raise FrameEncoderError(
            f"{config.model_name}: encoder built for {height}x{width} px images, not square views side by side"
        )
    return int(height), int(width // height)


def _ort_providers(device: str) -> list[str]:
    """ONNX Runtime providers for a torch-style device string; error if CUDA is asked for but not available."""
    import onnxruntime as ort

    if torch.device(device).type == "cpu":
        return ["CPUExecutionProvider"]
    if torch.device(device).type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise FrameEncoderError(
        f"device {device!r} with backend onnxruntime needs a provider; available: {ort.get_available_providers()}"
    )


class FrameEncoder:
    """Encodes RGB uint8 frames [B, H, W, 3] into embeddings [B, N, D] (float32, on `self.device`: config.device for
    torch, cpu for onnxruntime); thread-safe (one model call at a time)."""

    def __init__(self, config: FrameEncoderConfig) -> None:
        config.validate()
        self.config = config
        self.device = torch.device(config.device if config.backend == "torch" else "cpu")
        self._dtype = DTYPES[config.dtype]
        self._lock = threading.Lock()
        uses_torch_weights = config.backend == "torch" or not Path(config.onnx_path).is_file()
        encoder = _build_torch_encoder(config, str(self.device) if uses_torch_weights else "meta")
        self.patch_size, self.tubelet_size, self.dim = encoder.patch_size, encoder.tubelet_size, encoder.embed_dim
        self.clip_frames = self.tubelet_size if config.frames_per_clip == 1 else config.frames_per_clip
        side, self.views = _built_views(encoder, config)
        self.image_size = config.image_size or side  # of each view
        if self.clip_frames % self.tubelet_size or self.image_size % self.patch_size:
            raise FrameEncoderError(
                f"frames_per_clip {config.frames_per_clip} must be 1 or a multiple of tubelet {self.tubelet_size}, "
                f"and image_size {self.image_size} a multiple of patch {self.patch_size}"
            )
        side = self.image_size // self.patch_size
        self.grid = TokenGrid(self.clip_frames // self.tubelet_size, side, self.views * side, self.dim)
        self._run = encoder if config.backend == "torch" else self._onnx_runner(encoder)

    def _onnx_runner(self, encoder: VisionTransformer):
        """OrtEncoder on `onnx_path`, exported from `encoder` first when the file is missing; checks its input."""
        from jepa_core.onnx_backend import OrtEncoder, export_encoder

        path = Path(self.config.onnx_path)
        if not path.is_file():
            export_encoder(encoder.cpu(), path, num_frames=self.clip_frames, img_size=self.input_size)
        runner = OrtEncoder(
            path, providers=_ort_providers(self.config.device), intra_op_threads=self.config.num_threads
        )
        expected = [3, self.clip_frames, *self.input_size]
        actual = runner.session.get_inputs()[0].shape[1:]
        if list(actual) != expected:
            raise FrameEncoderError(
                f"{path}: ONNX input is [B, {', '.join(map(str, actual))}], this config needs "
                f"[B, {', '.join(map(str, expected))}]; delete the file to re-export"
            )
        return runner

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the model input: S x V*S."""
        return self.image_size, self.views * self.image_size

    def preprocess(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """RGB uint8 frames [B, H, V*W, 3] -> normalised float32 [B, 3, S, V*S] on the encoder's device."""
        return planning_transform_views(images, size=self.image_size, views=self.views, device=self.device)

    def encode(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """RGB uint8 frames [B, H, V*W, 3] -> [B, N, D]: each frame alone, repeated to fill one clip
        (frames_per_clip=1: one tubelet, the AC representation; >1: a static clip of that many identical frames)."""
        frames = self.preprocess(images)  # [B, 3, S, V*S]
        return self.encode_video(frames.unsqueeze(2).expand(-1, -1, self.clip_frames, -1, -1))

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        """Preprocessed clips [B, 3, T, S, V*S] (T = clip_frames) -> [B, N, D] float32, layer-normed if
        `normalize`."""
        expected = (3, self.clip_frames, *self.input_size)
        if video.ndim != 5 or tuple(video.shape[1:]) != expected:
            raise ValueError(f"expected video [B, {', '.join(map(str, expected))}], got {list(video.shape)}")
        with self._lock, torch.no_grad():
            with autocast(self.device, self._dtype):
                tokens = self._run(host_to_device(video, self.device))  # [B, N, D]
            tokens = tokens.float()  # the extra layer_norm runs in fp32 also after bf16 autocast
            return normalize_reps(tokens) if self.config.normalize else tokens


class RollingClip:
    """The last `length` preprocessed frames [3, S, S]; yields a clip [1, 3, T, S, S] once full, then every frame."""

    def __init__(self, length: int) -> None:
        self._frames: deque[torch.Tensor] = deque(maxlen=length)

    def push(self, frame: torch.Tensor) -> torch.Tensor | None:
        """Add the newest frame; the clip of the last `length` frames (oldest first), or None until enough arrived."""
        self._frames.append(frame)
        if len(self._frames) < self._frames.maxlen:
            return None
        return torch.stack(tuple(self._frames), dim=1).unsqueeze(0)  # [1, 3, T, S, S]
