"""Two-camera data and training: sim_episodes writes DROID's exterior and wrist views, posttrain trains on them tiled
(each view encoded alone or the frame as one image) and names them in the checkpoint, which evaluation and planning
read back; single-view files keep one view."""

import numpy as np
import pytest
import torch

from jepa_core.checkpoints import CheckpointError, load_camera_views, load_encoder, read_checkpoint, save_checkpoint
from jepa_core.data import droid_format as fmt
from jepa_core.data.droid_dataset import ClipConfig, DroidClipDataset
from jepa_core.data.droid_validate import validate_episode
from jepa_core.presets import build_encoder
from jepa_core.views import DEFAULT_VIEWS, VIEWS_KEY
from training import posttrain, sim_episodes
from training.ac_clips import decode_views, encode_video

VIEWS = ("exterior", "wrist")


@pytest.fixture(scope="module")
def two_view_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("two_views")
    args = ["--out", str(root), "--episodes", "2", "--steps", "4", "--render-size", "32", "--scene-variations", "train"]
    assert sim_episodes.main([*args, "--views", *VIEWS]) == 0
    return root


def test_sim_episodes_write_the_exterior_and_wrist_views(two_view_data):
    episode = sorted(fmt.find_episodes([two_view_data]))[0]
    metadata = fmt.read_metadata(episode)
    assert metadata["wrist_mp4_path"] == "recordings/MP4/sim_wrist.mp4"
    assert metadata["ext1_mp4_path"] == metadata["left_mp4_path"] == "recordings/MP4/sim_exterior.mp4"
    assert metadata["scene_variation"]["distractor_shape"] in ("box", "sphere")  # the training set's shapes
    assert validate_episode(episode, decode=True) == []
    frames = decode_views(episode, VIEWS, rows=5)
    assert frames.shape == (5, 32, 64, 3)
    trajectory = fmt.load_trajectory(episode, fmt.WRIST_MP4_KEY)
    assert np.ptp(trajectory.extrinsics[:, :3], axis=0).max() > 0.01  # the wrist camera moves with the hand


def test_the_dataset_tiles_the_named_views(two_view_data):
    dataset = DroidClipDataset(two_view_data, ClipConfig(frames_per_clip=2, views=VIEWS))
    assert dataset[0]["frames"].shape == (2, 32, 64, 3)
    assert DroidClipDataset(two_view_data, ClipConfig(frames_per_clip=2))[0]["frames"].shape == (2, 32, 32, 3)


@pytest.mark.parametrize(("view_encoding", "separate_views"), [("separate", 2), ("joint", 1)])
def test_posttrain_trains_on_tiled_views_and_names_them(two_view_data, tmp_path, view_encoding, separate_views):
    args = ["--data", str(two_view_data), "--run-dir", str(tmp_path), "--image-size", "32", "--encoder-depth", "1"]
    args += ["--predictor-depth", "1", "--frames-per-clip", "3", "--batch-size", "2", "--steps", "1"]
    args += ["--warmup-steps", "0", "--cooldown-steps", "0", "--view-encoding", view_encoding]
    assert posttrain.main([*args, "--views", *VIEWS]) == 0
    checkpoint = tmp_path / "final.pt"
    assert read_checkpoint(checkpoint)[VIEWS_KEY] == list(VIEWS)
    assert load_camera_views(checkpoint) == VIEWS
    encoder = load_encoder(checkpoint)
    assert (encoder.img_size, encoder.separate_views) == ((32, 64), separate_views)
    frames = decode_views(sorted(fmt.find_episodes([two_view_data]))[0], VIEWS, rows=2)
    assert encode_video(encoder, frames, chunk=2, device=torch.device("cpu")).shape == (2, 8, encoder.embed_dim)


def test_single_view_checkpoints_have_the_exterior_view_and_mismatches_are_refused(tmp_path):
    encoder = build_encoder("vit_tiny_128", img_size=(32, 32), num_frames=2, depth=1)
    single = save_checkpoint(tmp_path / "single.pt", encoder=encoder, target_encoder=encoder)
    assert load_camera_views(single) == DEFAULT_VIEWS
    wrong = save_checkpoint(tmp_path / "wrong.pt", encoder=encoder, target_encoder=encoder, **{VIEWS_KEY: list(VIEWS)})
    with pytest.raises(CheckpointError, match="2 view"):
        load_camera_views(wrong)
