"""Bundled models: models/ stays within the 30 MB budget and sim_manip.pt loads in the official AC layout at 64 px."""

from pathlib import Path

from jepa_core.checkpoints import load_ac_predictor, load_encoder, read_checkpoint

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
