"""jepa_core.frame_encoder: parity with the official frame representation, backends, clip mode, config errors."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from jepa_core.checkpoints import save_checkpoint
from jepa_core.frame_encoder import FrameEncoder, FrameEncoderConfig, FrameEncoderError, RollingClip
from jepa_core.models.representations import encode_frames
from jepa_core.presets import build_encoder
from jepa_core.transforms import planning_transform_batch, planning_transform_views
from jepa_core.views import tile_views

TINY = FrameEncoderConfig(preset="parity_tiny", allow_random_weights=True, image_size=64)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (2, 50, 70, 3), dtype=np.uint8)


@pytest.mark.parametrize("key", ["encoder", "target_encoder"])
def test_matches_official_frame_representations(parity_dir, key):
    fixture = torch.load(parity_dir / "encoder_io.pt", map_location="cpu", weights_only=True)
    encoder = FrameEncoder(
        FrameEncoderConfig(checkpoint=str(parity_dir / "encoder_checkpoint.pt"), checkpoint_key=key, image_size=64)
    )
    frames = fixture["frames"]  # [3, 3, 64, 64], already normalised
    reps = encoder.encode_video(frames.unsqueeze(2).expand(-1, -1, 2, -1, -1))
    torch.testing.assert_close(reps, fixture[f"frame_reps_{key}"], atol=5e-5, rtol=0)
    assert encoder.grid.tokens == 16 and encoder.grid.dim == 192


def test_encode_is_transform_then_ac_representation(parity_dir, images):
    """Checkpoint weights (final norm gain 0.2), so the extra layer_norm visibly matters."""
    config = FrameEncoderConfig(checkpoint=str(parity_dir / "ac_checkpoint.pt"), image_size=64)
    encoder = FrameEncoder(config)
    expected = encode_frames(encoder._run, planning_transform_batch(images, size=64))
    torch.testing.assert_close(encoder.encode(images), expected, atol=1e-6, rtol=0)
    raw = FrameEncoder(replace(config, normalize=False)).encode(images)
    assert not torch.allclose(raw, expected, atol=1e-1)
    torch.testing.assert_close(torch.nn.functional.layer_norm(raw, (192,), eps=1e-5), expected, atol=1e-5, rtol=0)


def test_random_weights_are_seeded_and_leave_global_rng_alone(images):
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = FrameEncoder(TINY).encode(images)
    assert torch.equal(torch.rand(1), before)
    torch.testing.assert_close(FrameEncoder(TINY).encode(images), first, atol=0, rtol=0)
    assert not torch.allclose(FrameEncoder(replace(TINY, seed=1)).encode(images), first)


def test_bfloat16_close_to_float32(images):
    fp32 = FrameEncoder(TINY).encode(images)
    bf16 = FrameEncoder(replace(TINY, dtype="bfloat16")).encode(images)
    assert bf16.dtype == torch.float32
    assert torch.nn.functional.cosine_similarity(bf16.flatten(), fp32.flatten(), dim=0) > 0.99


def test_clip_mode_and_rolling_clip(images):
    encoder = FrameEncoder(replace(TINY, frames_per_clip=4))
    assert (encoder.clip_frames, encoder.grid.frames, encoder.grid.tokens) == (4, 2, 32)
    clip = RollingClip(4)
    frames = encoder.preprocess(np.concatenate([images, images[::-1], images]))  # 6 frames [6, 3, 64, 64]
    outputs = [clip.push(frame) for frame in frames]
    assert outputs[:3] == [None, None, None]
    torch.testing.assert_close(outputs[5], frames[2:6].permute(1, 0, 2, 3).unsqueeze(0), atol=0, rtol=0)
    assert encoder.encode_video(outputs[5]).shape == (1, 32, 192)
    static = encoder.encode(images[:1])  # one image -> a static clip of 4 identical frames
    assert static.shape == (1, 32, 192)
    with pytest.raises(ValueError, match=r"expected video \[B, 3, 4, 64, 64\]"):
        encoder.encode_video(frames[:1].unsqueeze(2).expand(-1, -1, 2, -1, -1))


def test_onnxruntime_backend_exports_once_and_matches_torch(tmp_path, images):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    path = tmp_path / "encoder.onnx"
    ort_config = replace(TINY, backend="onnxruntime", onnx_path=str(path))
    exported = FrameEncoder(ort_config)
    assert path.is_file()
    torch.testing.assert_close(exported.encode(images), FrameEncoder(TINY).encode(images), atol=1e-4, rtol=0)
    mtime = path.stat().st_mtime_ns
    reused = FrameEncoder(ort_config)  # existing file: no export, no torch weights needed
    assert path.stat().st_mtime_ns == mtime and reused.grid == exported.grid
    with pytest.raises(FrameEncoderError, match="delete the file to re-export"):
        FrameEncoder(replace(ort_config, image_size=32))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"allow_random_weights": False}, "checkpoint is empty"),
        ({"preset": ""}, "checkpoint is empty"),
        ({"preset": "vit_nope"}, "unknown preset 'vit_nope'"),
        ({"checkpoint_key": "predictor"}, "checkpoint_key must be one of"),
        ({"backend": "tensorrt"}, "backend must be one of"),
        ({"backend": "onnxruntime"}, "needs onnx_path"),
        ({"backend": "onnxruntime", "onnx_path": "x.onnx", "dtype": "bfloat16"}, "float32 only"),
        ({"dtype": "float16"}, "dtype must be one of"),
        ({"frames_per_clip": 3}, "multiple of tubelet 2"),
        ({"frames_per_clip": 0}, "frames_per_clip must be >= 1"),
        ({"image_size": 72}, "multiple of patch 16"),
    ],
)
def test_bad_config_rejected(changes, message):
    with pytest.raises(FrameEncoderError, match=message):
        FrameEncoder(replace(TINY, **changes))


def test_ac_preset_names_map_to_their_encoder():
    encoder = FrameEncoder(replace(TINY, preset="vit_tiny_128"))
    assert encoder.dim == 192 and FrameEncoder(replace(TINY, preset="vit_small_256")).dim == 384


# ---- issue 13 items 11, 15, 16: checkpoint-driven defaults ----------------------------------------------------------


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory):
    """Our own checkpoint of a 64 px parity_tiny encoder (stored jepa_config), as the bundled models are."""
    from jepa_core.checkpoints import AC_PREFIX, save_checkpoint
    from jepa_core.presets import build_encoder

    encoder = build_encoder("parity_tiny")
    path = tmp_path_factory.mktemp("ckpt") / "small.pt"
    return save_checkpoint(path, encoder=encoder, target_encoder=encoder, prefix=AC_PREFIX)


def test_image_size_defaults_to_the_checkpoints_own(small_checkpoint):
    """Item 16: without image_size the 64 px model gave a 16x16 grid (256 px) that the planner rejects."""
    encoder = FrameEncoder(FrameEncoderConfig(checkpoint=str(small_checkpoint)))
    assert (encoder.image_size, encoder.grid.height, encoder.grid.width) == (64, 4, 4)
    assert encoder.encode(np.zeros((1, 48, 80, 3), np.uint8)).shape == (1, 16, 192)
    assert FrameEncoder(FrameEncoderConfig(checkpoint=str(small_checkpoint), image_size=128)).grid.height == 8
    assert FrameEncoder(FrameEncoderConfig(preset="parity_tiny", allow_random_weights=True)).image_size == 64


def test_preset_auto_means_the_checkpoints_config(small_checkpoint):
    """Item 15: 'auto' is the word a launch command line can carry for "stored config, else inferred"."""
    encoder = FrameEncoder(FrameEncoderConfig(checkpoint=str(small_checkpoint), preset="auto"))
    assert encoder.grid.dim == 192
    with pytest.raises(FrameEncoderError, match="checkpoint is empty"):
        FrameEncoder(FrameEncoderConfig(preset="auto", allow_random_weights=True))


def test_nonfinite_weights_refused_or_warned(tmp_path):
    """Item 11: a checkpoint of NaN weights used to load silently."""
    from jepa_core.checkpoints import AC_PREFIX, CheckpointError, CheckpointWarning, save_checkpoint
    from jepa_core.presets import build_encoder

    encoder = build_encoder("parity_tiny")
    with torch.no_grad():
        encoder.norm.weight.fill_(float("nan"))
    path = save_checkpoint(tmp_path / "nan.pt", encoder=encoder, target_encoder=encoder, prefix=AC_PREFIX)
    with pytest.raises(CheckpointError, match=r"nan.pt \[encoder\]: 1 tensor\(s\) hold NaN/inf values \(norm.weight"):
        FrameEncoder(FrameEncoderConfig(checkpoint=str(path)))
    with pytest.warns(CheckpointWarning):
        FrameEncoder(FrameEncoderConfig(checkpoint=str(path), nonfinite_weights="warn"))
    with pytest.raises(FrameEncoderError, match="nonfinite_weights must be one of"):
        FrameEncoder(FrameEncoderConfig(checkpoint=str(path), nonfinite_weights="ignore"))


def test_a_two_view_encoder_reads_tiled_frames_view_by_view(tmp_path):
    torch.manual_seed(0)
    built = build_encoder("vit_tiny_128", img_size=(32, 64), num_frames=2, depth=1)
    path = save_checkpoint(tmp_path / "two_views.pt", encoder=built, target_encoder=built, camera_views=["a", "b"])
    encoder = FrameEncoder(FrameEncoderConfig(checkpoint=str(path)))
    assert (encoder.views, encoder.grid.height, encoder.grid.width) == (2, 2, 4)
    rng = np.random.default_rng(1)
    frame = tile_views([rng.integers(0, 256, (40, 48, 3), dtype=np.uint8) for _ in range(2)])[None]
    expected = encode_frames(encoder._run, planning_transform_views(frame, 32, 2))
    torch.testing.assert_close(encoder.encode(frame), expected, atol=1e-6, rtol=0)
