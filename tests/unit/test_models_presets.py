"""Presets: full-size models (built on meta) have exactly the official keys/shapes; small presets run and differ."""

import json

import pytest
import torch

from jepa_core.models.encoder import VisionTransformer
from jepa_core.presets import (
    AC_ENCODER_OF,
    AC_PREDICTOR_PRESETS,
    ENCODER_PRESETS,
    PREDICTOR_PRESETS,
    build_ac_predictor,
    build_encoder,
    build_predictor,
)

FULL_SIZE = [
    ("vit_large", build_encoder, "vit_large"),
    ("vit_huge", build_encoder, "vit_huge"),
    ("vit_giant_xformers", build_encoder, "vit_giant_xformers"),
    ("vit_ac_giant", build_ac_predictor, "vit_ac_predictor"),
]


@pytest.mark.parametrize(("preset", "builder", "official"), FULL_SIZE)
def test_full_size_keys_and_shapes_match_official(parity_dir, preset, builder, official):
    reference = json.loads((parity_dir / "keys_fullsize.json").read_text())[official]
    model = builder(preset, device="meta")
    shapes = {name: list(t.shape) for name, t in model.state_dict().items()}
    assert list(shapes) == list(reference["keys"])  # same keys in the same order
    assert shapes == reference["keys"]
    assert sum(p.numel() for p in model.parameters()) == reference["n_params"]
    assert all(p.is_meta for p in model.parameters())


def test_fixture_presets_match_manifest_shapes(parity_dir):
    manifest = json.loads((parity_dir / "manifest.json").read_text())
    ckpt_dicts = manifest["files"]["encoder_checkpoint.pt"]["state_dicts"]
    for key, builder in (("encoder", build_encoder), ("predictor", build_predictor)):
        expected = {k.removeprefix("module.backbone."): v for k, v in ckpt_dicts[key].items()}
        got = {k: list(t.shape) for k, t in builder("parity_tiny", device="meta").state_dict().items()}
        stray = {"pos_embed", "predictor_pos_embed"}
        assert got == {k: v for k, v in expected.items() if k not in stray}
    ac_expected = manifest["files"]["ac_checkpoint.pt"]["state_dicts"]["predictor"]
    ac_got = build_ac_predictor("parity_tiny", device="meta").state_dict()
    assert {k: list(t.shape) for k, t in ac_got.items()} == {
        k.removeprefix("module."): v for k, v in ac_expected.items()
    }


def test_every_ac_preset_pairs_with_an_encoder_of_matching_width():
    for name, config in AC_PREDICTOR_PRESETS.items():
        encoder = ENCODER_PRESETS[AC_ENCODER_OF[name]]
        assert config.embed_dim == encoder.embed_dim, name
        assert config.img_size == encoder.img_size, name


def test_presets_of_one_kind_have_distinct_shapes():
    """Shape-based preset inference in checkpoints.py needs every preset of a kind to be distinguishable."""
    for presets, builder in (
        (ENCODER_PRESETS, build_encoder),
        (PREDICTOR_PRESETS, build_predictor),
        (AC_PREDICTOR_PRESETS, build_ac_predictor),
    ):
        signatures = [
            tuple((k, tuple(t.shape)) for k, t in builder(name, device="meta").state_dict().items()) for name in presets
        ]
        assert len(set(signatures)) == len(signatures)


def test_small_presets_run_on_cpu_and_overrides_apply():
    encoder = build_encoder("vit_tiny_128", depth=1)
    assert isinstance(encoder, VisionTransformer) and len(encoder.blocks) == 1
    with torch.no_grad():
        tokens = encoder(torch.randn(1, 3, 2, 128, 128))
    assert tokens.shape == (1, 64, 192)
    predictor = build_ac_predictor("vit_tiny_128", depth=1)
    with torch.no_grad():
        out = predictor(tokens.repeat(1, 2, 1), torch.randn(1, 2, 7), torch.randn(1, 2, 7))
    assert out.shape == (1, 128, 192)


def test_unknown_preset_names_known_ones():
    with pytest.raises(ValueError, match="vit_large"):
        build_encoder("vit_gigantic")
