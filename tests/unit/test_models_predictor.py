"""Pretraining pieces: masked context encoding and the mask-token predictor."""

import torch

from jepa_core.presets import build_encoder, build_predictor


def _model_pair():
    torch.manual_seed(0)
    encoder = build_encoder("parity_tiny").eval()
    predictor = build_predictor("parity_tiny", zero_init_mask_tokens=False).eval()
    return encoder, predictor


def test_encoder_with_all_indices_equals_full_forward():
    encoder, _ = _model_pair()
    video = torch.randn(2, 3, 4, 64, 64)
    all_ids = torch.arange(32).expand(2, -1)
    with torch.no_grad():
        assert torch.allclose(encoder(video, masks=[all_ids]), encoder(video), atol=1e-6)


def test_masked_encoder_stacks_masks_on_batch_axis():
    encoder, _ = _model_pair()
    video = torch.randn(2, 3, 4, 64, 64)
    masks = [torch.tensor([[0, 5, 9]] * 2), torch.tensor([[1, 2, 30]] * 2)]
    with torch.no_grad():
        out = encoder(video, masks=masks)
        assert out.shape == (4, 3, 192)
        assert torch.allclose(out[2:], encoder(video, masks=masks[1]), atol=1e-6)


def test_predictor_is_invariant_to_context_order_and_uses_mask_index():
    encoder, predictor = _model_pair()
    video = torch.randn(1, 3, 4, 64, 64)
    ctx_ids = torch.tensor([[0, 3, 7, 12, 20, 31]])
    tgt_ids = torch.tensor([[1, 2, 16, 17]])
    perm = torch.tensor([4, 0, 5, 2, 1, 3])
    with torch.no_grad():
        ctx = encoder(video, masks=ctx_ids)
        out = predictor(ctx, ctx_ids, tgt_ids, mask_index=0)
        permuted = predictor(ctx[:, perm], ctx_ids[:, perm], tgt_ids, mask_index=0)
        other_token = predictor(ctx, ctx_ids, tgt_ids, mask_index=1)
        wrapped = predictor(ctx, ctx_ids, tgt_ids, mask_index=10)  # index modulo num_mask_tokens
    assert out.shape == (1, 4, 192)
    assert torch.allclose(out, permuted, atol=1e-5)
    assert not torch.allclose(out, other_token, atol=1e-3)
    assert torch.equal(out, wrapped)
