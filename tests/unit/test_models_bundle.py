"""Bundled models: models/ stays within the 30 MB budget; sim_manip.pt (one camera) and sim_views.pt (exterior + wrist)
load in the official AC layout at 64 px per view, each with its pose probe."""

from pathlib import Path

from jepa_core.checkpoints import load_ac_predictor, load_camera_views, load_encoder, load_pose_probe, read_checkpoint

MODELS = Path(__file__).resolve().parents[2] / "models"
BUDGET_BYTES = 30_000_000


def test_models_folder_fits_the_budget():
    total = sum(path.stat().st_size for path in MODELS.rglob("*") if path.is_file())
    assert total <= BUDGET_BYTES, f"models/ holds {total / 1e6:.1f} MB; the budget is 30 MB"


def test_sim_manip_is_a_release_checkpoint_trained_on_play_data():
    path = MODELS / "sim_manip.pt"
    ckpt = read_checkpoint(path)
    assert ckpt["opt"] is None and ckpt["step"] == 3000
    assert ckpt["train_config"]["data"] == ["data/sim_play", "data/sim_play_ext2"]  # seeds 100000-99 and 100100-299
    assert ckpt["train_config"]["recipe"] == "frozen"
    encoder, predictor = load_encoder(path), load_ac_predictor(path)
    assert encoder.img_size == (64, 64) and predictor.embed_dim == encoder.embed_dim == 192
    assert predictor.tokens_per_frame == 16


def test_sim_views_is_a_two_camera_release_with_separately_encoded_views():
    path = MODELS / "sim_views.pt"
    ckpt = read_checkpoint(path)
    assert ckpt["opt"] is None and ckpt["step"] == 3000
    assert ckpt["train_config"]["data"] == ["data/sim_play_2v", "data/sim_play_2v_plain"]
    assert ckpt["train_config"]["view_encoding"] == "separate"
    assert load_camera_views(path) == ("exterior", "wrist")
    encoder, predictor = load_encoder(path), load_ac_predictor(path)
    assert encoder.img_size == (64, 128) and encoder.separate_views == 2
    assert predictor.tokens_per_frame == 32 and (predictor.grid_height, predictor.grid_width) == (4, 8)
    assert load_pose_probe(path, tokens=32, dim=192) is not None
