"""AC predictor context KV cache: cached prediction of new steps == the uncached full forward's last steps."""

import pytest
import torch

from jepa_core.presets import build_ac_predictor

ATOL = 1e-5


def _inputs(batch: int, steps: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(batch, steps * 16, 192, generator=g),
        torch.randn(batch, steps, 7, generator=g),
        torch.randn(batch, steps, 7, generator=g),
    )


@pytest.fixture(scope="module")
def predictor():
    torch.manual_seed(0)
    return build_ac_predictor("parity_tiny").eval()


@pytest.mark.parametrize(("context_steps", "new_steps"), [(1, 1), (2, 2), (3, 1)])
def test_cached_equals_full_forward(predictor, context_steps, new_steps):
    B = 5
    ctx = _inputs(1, context_steps, seed=1)
    new = _inputs(B, new_steps, seed=2)
    full_inputs = [torch.cat([c.expand(B, *c.shape[1:]), n], dim=1) for c, n in zip(ctx, new, strict=True)]
    with torch.no_grad():
        full = predictor(*full_inputs)[:, context_steps * 16 :]
        cache = predictor.prefill(*ctx)
        cached = predictor(*new, cache=cache)
    assert cache.steps == context_steps and cache.batch_size == 1
    assert cached.shape == full.shape
    assert (cached - full).abs().max().item() <= ATOL


def test_cache_with_full_batch_and_incremental_prefill(predictor):
    B = 3
    first, second, new = _inputs(B, 1, 3), _inputs(B, 2, 4), _inputs(B, 1, 5)
    with torch.no_grad():
        cache = predictor.prefill(*second, cache=predictor.prefill(*first))
        cached = predictor(*new, cache=cache)
        full = predictor(*[torch.cat(parts, dim=1) for parts in zip(first, second, new, strict=True)])[:, 48:]
    assert cache.steps == 3 and cache.batch_size == B
    assert (cached - full).abs().max().item() <= ATOL


def test_cache_does_not_copy_shared_context(predictor):
    with torch.no_grad():
        cache = predictor.prefill(*_inputs(1, 2, 6))
        before = [k.data_ptr() for k, _ in cache.kv]
        predictor(*_inputs(8, 1, 7), cache=cache)
    assert [k.data_ptr() for k, _ in cache.kv] == before
    assert all(k.shape[0] == 1 for k, _ in cache.kv)


def test_too_many_steps_and_batch_mismatch_are_rejected(predictor):
    with torch.no_grad():
        cache = predictor.prefill(*_inputs(2, 7, 8))
        with pytest.raises(ValueError, match="exceed the predictor's 8 steps"):
            predictor(*_inputs(2, 2, 9), cache=cache)
        with pytest.raises(ValueError, match="cache batch 2 must be 1 or the input batch 3"):
            predictor(*_inputs(3, 1, 9), cache=cache)
    with pytest.raises(ValueError, match=r"actions: expected \[1, 2, 7\]"):
        tokens, _, states = _inputs(1, 2, 10)
        predictor(tokens, torch.zeros(1, 3, 7), states)


def test_cached_tables_from_inference_mode_work_with_autograd():
    """RoPE tables/masks cached during an inference_mode call must not break a later training step."""
    predictor = build_ac_predictor("parity_tiny", depth=1)
    tokens, actions, states = _inputs(1, 2, 11)
    with torch.inference_mode():
        predictor(tokens, actions, states)
    predictor(tokens, actions, states).square().mean().backward()
    assert predictor.predictor_embed.weight.grad is not None
