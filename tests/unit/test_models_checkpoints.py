"""Checkpoint loading/saving: official layouts, preset inference, our jepa_config, and CheckpointError messages."""

import shutil

import pytest
import torch

from jepa_core.checkpoints import (
    AC_PREFIX,
    CheckpointError,
    load_ac_predictor,
    load_encoder,
    load_predictor,
    read_checkpoint,
    save_checkpoint,
)
from jepa_core.presets import build_ac_predictor, build_encoder


def test_official_files_load_with_inferred_presets(parity_dir):
    encoder = load_encoder(parity_dir / "encoder_checkpoint.pt")
    assert encoder.hparams["embed_dim"] == 192 and len(encoder.blocks) == 2
    predictor = load_predictor(parity_dir / "encoder_checkpoint.pt")
    assert predictor.num_mask_tokens == 10
    ac = load_ac_predictor(parity_dir / "ac_checkpoint.pt", preset="parity_tiny")
    assert not any(p.is_meta for p in ac.parameters())
    raw = read_checkpoint(parity_dir / "ac_checkpoint.pt")["predictor"]["module.predictor_proj.weight"]
    assert torch.equal(ac.predictor_proj.weight, raw)


def test_target_and_student_weights_differ(parity_dir):
    student = load_encoder(parity_dir / "encoder_checkpoint.pt", key="encoder")
    target = load_encoder(parity_dir / "encoder_checkpoint.pt", key="target_encoder")
    assert not torch.equal(student.norm.weight, target.norm.weight)


def test_dtype_argument(parity_dir):
    encoder = load_encoder(parity_dir / "encoder_checkpoint.pt", dtype=torch.bfloat16)
    assert {p.dtype for p in encoder.parameters()} == {torch.bfloat16}


def test_save_then_load_roundtrip_with_stored_config(tmp_path):
    encoder = build_encoder("vit_tiny_128", depth=1)  # not a preset shape: only jepa_config can describe it
    predictor = build_ac_predictor("vit_tiny_128", depth=1)
    path = save_checkpoint(tmp_path / "ac.pt", encoder=encoder, target_encoder=encoder, predictor=predictor,
                           prefix=AC_PREFIX, epoch=3, lr=1e-4)  # fmt: skip
    raw = read_checkpoint(path)
    assert set(raw) >= {"encoder", "predictor", "target_encoder", "opt", "scaler", "epoch", "lr", "jepa_config"}
    assert all(k.startswith("module.") and not k.startswith("module.backbone.") for k in raw["predictor"])
    loaded_enc = load_encoder(path, key="encoder")
    loaded_pred = load_ac_predictor(path)
    frames = torch.randn(1, 3, 2, 128, 128)
    with torch.no_grad():
        assert torch.equal(loaded_enc(frames), encoder.eval()(frames))
    for name, value in predictor.state_dict().items():
        assert torch.equal(loaded_pred.state_dict()[name], value), name
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves no temporary file


def test_wrong_shapes_name_file_key_expected_and_actual(parity_dir):
    with pytest.raises(CheckpointError) as err:
        load_encoder(parity_dir / "encoder_checkpoint.pt", preset="vit_tiny_128")
    message = str(err.value)
    assert "encoder_checkpoint.pt" in message and "[target_encoder]" in message
    assert "blocks.2.norm1.weight: missing" in message  # preset has 4 blocks, file 2
    assert "more)" in message  # long lists are cut to the first few mismatches

    with pytest.raises(CheckpointError, match=r"patch_embed.proj.weight: expected shape \[384, 3, 2, 16, 16\], got "):
        load_encoder(parity_dir / "encoder_checkpoint.pt", preset="vit_small_256")


def test_missing_and_unexpected_keys(tmp_path, parity_dir):
    raw = read_checkpoint(parity_dir / "ac_checkpoint.pt")
    predictor = dict(raw["predictor"])
    predictor.pop("module.predictor_norm.bias")
    predictor["module.extra.weight"] = torch.zeros(1)
    torch.save({"predictor": predictor}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError) as err:
        load_ac_predictor(tmp_path / "bad.pt", preset="parity_tiny")
    assert "predictor_norm.bias: missing (expected shape [192])" in str(err.value)
    assert "extra.weight: unexpected key" in str(err.value)
    with pytest.raises(CheckpointError, match=r"key 'target_encoder' missing; top-level keys are \['predictor'\]"):
        load_encoder(tmp_path / "bad.pt")


def test_no_matching_preset_asks_for_one(tmp_path):
    encoder = build_encoder("vit_tiny_128", depth=3)
    torch.save({"target_encoder": encoder.state_dict()}, tmp_path / "custom.pt")
    with pytest.raises(CheckpointError, match="no preset of VisionTransformer matches"):
        load_encoder(tmp_path / "custom.pt")


def test_truncated_and_foreign_files(tmp_path, parity_dir):
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes((parity_dir / "ac_checkpoint.pt").read_bytes()[:100_000])
    with pytest.raises(CheckpointError, match=r"truncated\.pt: not a torch checkpoint"):
        load_ac_predictor(truncated)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="not a torch checkpoint"):
        load_encoder(text)
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_encoder(tmp_path / "absent.pt")
    tensor_only = tmp_path / "tensor.pt"
    torch.save(torch.zeros(2), tensor_only)
    with pytest.raises(CheckpointError, match="expected a dict"):
        load_encoder(tensor_only)


def test_copy_of_official_file_loads_identically(tmp_path, parity_dir):
    """Loading is path-independent and does not modify the file (memory-mapped, read-only use)."""
    copy = tmp_path / "copy.pt"
    shutil.copy(parity_dir / "ac_checkpoint.pt", copy)
    before = copy.read_bytes()
    a = load_ac_predictor(copy)
    b = load_ac_predictor(parity_dir / "ac_checkpoint.pt")
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    assert copy.read_bytes() == before


def test_stored_predictor_class_is_checked(tmp_path):
    from jepa_core.presets import build_predictor

    path = save_checkpoint(tmp_path / "pretrain.pt", encoder=build_encoder("parity_tiny"),
                           predictor=build_predictor("parity_tiny"))  # fmt: skip
    assert load_predictor(path).num_mask_tokens == 10
    with pytest.raises(CheckpointError, match="holds a VisionTransformerPredictor, not a VisionTransformerPredictorAC"):
        load_ac_predictor(path)


def test_pickled_objects_are_refused(tmp_path):
    import argparse

    path = tmp_path / "pickled.pt"
    torch.save({"target_encoder": {}, "args": argparse.Namespace(lr=1.0)}, path)
    with pytest.raises(CheckpointError, match="weights_only=True refuses"):
        load_encoder(path)


# ---- issue 13 item 11: malformed jepa_config and non-finite weights --------------------------------------------------


def tiny_checkpoint(tmp_path, name="tiny.pt", config=None, nan=False):
    """parity_tiny encoder + AC predictor saved with `config` as jepa_config (None: the default one)."""
    encoder, predictor = build_encoder("parity_tiny"), build_ac_predictor("parity_tiny")
    if nan:
        with torch.no_grad():
            for parameter in [*encoder.parameters(), *predictor.parameters()]:
                parameter.fill_(float("nan"))
    return save_checkpoint(tmp_path / name, encoder=encoder, target_encoder=encoder, predictor=predictor,
                           prefix=AC_PREFIX, config=config)  # fmt: skip


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (["encoder"], "jepa_config: expected a dict"),
        ({"encoder": "parity_tiny"}, r"jepa_config\['encoder'\]: expected a dict"),
        (
            {"encoder": {"embed_dim": 192, "colour": "red"}},
            r"jepa_config\['encoder'\]: unknown field\(s\) \['colour'\]",
        ),
        (
            {"encoder": {"embed_dim": "wide", "depth": 2}},
            r"jepa_config\['encoder'\] does not build a VisionTransformer",
        ),
        ({"predictor": {"depth": 1}, "predictor_class": 7}, r"jepa_config\['predictor_class'\]: expected a class name"),
    ],
)
def test_malformed_jepa_config_names_file_and_field(tmp_path, config, field):
    path = tiny_checkpoint(tmp_path, config=config)
    with pytest.raises(CheckpointError, match=field) as caught:
        if "predictor" in config:
            load_ac_predictor(path)
        else:
            load_encoder(path, key="encoder")
    assert str(path) in str(caught.value)


def test_non_finite_weights_are_refused_unless_asked_to_warn(tmp_path):
    from jepa_core.checkpoints import CheckpointWarning

    path = tiny_checkpoint(tmp_path, nan=True)
    with pytest.raises(CheckpointError, match=r"tiny.pt \[encoder\]: .* tensor\(s\) hold NaN/inf values"):
        load_encoder(path, key="encoder")
    with pytest.raises(CheckpointError, match=r"\[predictor\]: .*NaN/inf.*nonfinite='warn'"):
        load_ac_predictor(path)
    with pytest.warns(CheckpointWarning, match="NaN/inf"):
        encoder = load_encoder(path, key="encoder", nonfinite="warn")
    assert torch.isnan(encoder.norm.weight).all()
    with pytest.raises(ValueError, match="nonfinite must be one of"):
        load_encoder(path, key="encoder", nonfinite="ignore")
    assert load_encoder(tiny_checkpoint(tmp_path, "finite.pt"), key="encoder").hparams["embed_dim"] == 192
