"""Encoders that encode each camera view alone (separate_views): the exterior tokens are exactly a single-view
encoder's, the weights are the official square encoder's, and checkpoints, FrameEncoder and ONNX keep the mode."""

import numpy as np
import pytest
import torch

from jepa_core.checkpoints import load_camera_views, load_encoder, save_checkpoint
from jepa_core.frame_encoder import FrameEncoder, FrameEncoderConfig
from jepa_core.onnx_backend import OrtEncoder, export_encoder
from jepa_core.presets import build_encoder
from jepa_core.views import tile_views


def _encoders(size: int = 32, depth: int = 1):
    torch.manual_seed(0)
    square = build_encoder("vit_tiny_128", img_size=size, num_frames=2, depth=depth)
    torch.manual_seed(0)
    apart = build_encoder("vit_tiny_128", img_size=(size, 2 * size), num_frames=2, depth=depth, separate_views=2)
    return square.eval(), apart.eval()


def test_each_view_is_encoded_alone_into_the_tiled_token_grid():
    square, apart = _encoders()
    assert apart.state_dict().keys() == square.state_dict().keys()
    assert all(
        torch.equal(a, b) for a, b in zip(apart.state_dict().values(), square.state_dict().values(), strict=True)
    )
    left, right = torch.randn(3, 3, 2, 32, 32), torch.randn(3, 3, 2, 32, 32)
    with torch.no_grad():
        tokens = apart(torch.cat([left, right], dim=-1)).view(3, 2, 4, 192)  # [B, rows, V*cols, D]
        torch.testing.assert_close(tokens[:, :, :2], square(left).view(3, 2, 2, 192), atol=0, rtol=0)
        torch.testing.assert_close(tokens[:, :, 2:], square(right).view(3, 2, 2, 192), atol=0, rtol=0)


def test_a_joint_encoder_mixes_the_views_and_a_separate_one_does_not():
    _, apart = _encoders()
    torch.manual_seed(0)
    joint = build_encoder("vit_tiny_128", img_size=(32, 64), num_frames=2, depth=1).eval()
    frame = torch.randn(1, 3, 2, 32, 64)
    changed = frame.clone()
    changed[..., 32:] = torch.randn(1, 3, 2, 32, 32)  # another wrist view
    with torch.no_grad():

        def exterior(encoder, x):
            return encoder(x).view(1, 2, 4, 192)[:, :, :2]

        assert torch.equal(exterior(apart, frame), exterior(apart, changed))
        assert not torch.allclose(exterior(joint, frame), exterior(joint, changed))


def test_bad_separate_views_settings_are_refused():
    with pytest.raises(ValueError, match="img_size must be H x"):
        build_encoder("vit_tiny_128", img_size=(32, 32), separate_views=2)
    with pytest.raises(ValueError, match="separate_views=0"):
        build_encoder("vit_tiny_128", img_size=32, separate_views=0)
    _, apart = _encoders()
    with pytest.raises(ValueError, match="masked"):
        apart(torch.randn(1, 3, 2, 32, 64), masks=torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"encoder expects video|multiples"):
        apart(torch.randn(1, 3, 2, 32, 40))


def test_checkpoints_frame_encoder_and_onnx_keep_the_mode(tmp_path):
    square, apart = _encoders()
    path = save_checkpoint(
        tmp_path / "apart.pt", encoder=apart, target_encoder=apart, camera_views=["exterior", "wrist"]
    )
    loaded = load_encoder(path)
    assert (loaded.separate_views, loaded.img_size) == (2, (32, 64))
    assert load_camera_views(path) == ("exterior", "wrist")
    rng = np.random.default_rng(0)
    views = [rng.integers(0, 256, (40, 40, 3), dtype=np.uint8) for _ in range(2)]
    frames = FrameEncoder(FrameEncoderConfig(checkpoint=str(path)))
    single = FrameEncoder(FrameEncoderConfig(checkpoint=str(save_checkpoint(tmp_path / "sq.pt", encoder=square))))
    tokens = frames.encode(tile_views(views)[None]).view(1, 2, 4, 192)
    torch.testing.assert_close(tokens[:, :, :2], single.encode(views[0][None]).view(1, 2, 2, 192), atol=1e-6, rtol=0)
    ort = OrtEncoder(export_encoder(apart, tmp_path / "apart.onnx"))
    clip = torch.randn(2, 3, 2, 32, 64)
    with torch.no_grad():
        assert (ort(clip) - apart(clip)).abs().max() <= 1e-4
