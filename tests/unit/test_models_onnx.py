"""bf16 autocast and ONNX Runtime paths agree with the fp32 torch models (tiny preset, CPU)."""

import pytest
import torch
import torch.nn.functional as F

from jepa_core.models.precision import autocast
from jepa_core.models.representations import encode_frames

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from jepa_core.onnx_backend import (
    OrtACPredictor,
    OrtEncoder,
    export_ac_predictor,
    export_encoder,
    quantize_int8,
)

ORT_ATOL = 1e-4


@pytest.fixture(scope="module")
def models(parity_dir):
    from jepa_core.checkpoints import load_ac_predictor, load_encoder

    ckpt = parity_dir / "ac_checkpoint.pt"
    return load_encoder(ckpt, key="encoder"), load_ac_predictor(ckpt)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return F.cosine_similarity(a.float().flatten(), b.float().flatten(), dim=0).item()


def test_bf16_autocast_close_to_fp32(models):
    encoder, predictor = models
    torch.manual_seed(0)
    frames = torch.randn(2, 3, 64, 64)
    actions, states = torch.randn(2, 2, 7), torch.randn(2, 2, 7)
    with torch.no_grad():
        reps = encode_frames(encoder, frames)
        tokens = reps.repeat(1, 2, 1)
        pred = predictor(tokens, actions, states)
        with autocast("cpu", torch.bfloat16):
            reps_bf16 = encode_frames(encoder, frames)
            pred_bf16 = predictor(tokens, actions, states)
    assert pred_bf16.dtype == torch.bfloat16
    assert _cosine(reps_bf16, reps) > 0.99
    assert _cosine(pred_bf16, pred) > 0.99
    assert (reps_bf16.float() - reps).abs().max() > 0  # the reduced path really ran


def test_autocast_rejects_unsupported_dtype():
    with pytest.raises(ValueError, match="float64"):
        autocast("cpu", torch.float64)


def test_onnx_encoder_and_predictor_match_torch(models, tmp_path):
    encoder, predictor = models
    torch.manual_seed(1)
    ort_encoder = OrtEncoder(export_encoder(encoder, tmp_path / "encoder.onnx"))
    ort_predictor = OrtACPredictor(export_ac_predictor(predictor, tmp_path / "ac.onnx", steps=2))
    for batch in (1, 3):  # dynamic batch axis
        clip = torch.randn(batch, 3, 2, 64, 64)
        tokens, actions, states = torch.randn(batch, 32, 192), torch.randn(batch, 2, 7), torch.randn(batch, 2, 7)
        with torch.no_grad():
            assert (ort_encoder(clip) - encoder(clip)).abs().max() <= ORT_ATOL
            assert (ort_predictor(tokens, actions, states) - predictor(tokens, actions, states)).abs().max() <= ORT_ATOL
    int8 = OrtEncoder(quantize_int8(tmp_path / "encoder.onnx", tmp_path / "encoder_int8.onnx"))
    with torch.no_grad():
        assert _cosine(int8(clip), encoder(clip)) > 0.99
    with pytest.raises(Exception, match=r"(?i)dimension|shape|invalid"):
        ort_encoder(torch.randn(1, 3, 2, 32, 32))  # grid is fixed at export time
