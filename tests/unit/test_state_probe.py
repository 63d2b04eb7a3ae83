"""The end-to-end recipe's state probe: standardised targets, a loss that teaches the encoder, clear refusals."""

import numpy as np
import pytest
import torch

from training.posttrain import PosttrainConfig
from training.state_probe import PROBED_STATE, StateProbe, state_statistics


def _states(rows: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(rows, 7)) * [0.1, 0.2, 0.05, 0, 0, 0, 0.4] + [
        0.5,
        0,
        0.3,
        3,
        0,
        0,
        0.5,
    ]


def test_statistics_cover_every_row_of_every_episode_and_only_the_probed_dims():
    episodes = [_states(50, 0), _states(30, 1)]
    mean, std = state_statistics(episodes)
    rows = np.concatenate(episodes)[:, PROBED_STATE]
    np.testing.assert_allclose(mean.numpy(), rows.mean(0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(std.numpy(), rows.std(0), rtol=1e-5)


def test_statistics_refuse_a_dimension_that_never_changes():
    episode = _states(20, 0)
    episode[:, 6] = 1.0  # a gripper that never moved: nothing to standardise, nothing to learn
    with pytest.raises(ValueError, match="never changes"):
        state_statistics([episode])


def test_probe_loss_is_the_standardised_error_and_its_gradient_reaches_the_tokens():
    mean, std = torch.tensor([0.5, 0.0, 0.3, 0.5]), torch.tensor([0.1, 0.2, 0.05, 0.4])
    probe = StateProbe(tokens=4, dim=8, mean=mean, std=std)
    with torch.no_grad():
        probe.linear.weight.zero_()
        probe.linear.bias.zero_()  # predicts the mean: the loss is the mean squared z-score
    states = torch.from_numpy(_states(6, 2)).float().view(2, 3, 7)  # [B, T, 7]
    reps = torch.randn(2, 3 * 4, 8, requires_grad=True)  # [B, T*N, D]
    loss = probe(reps, states)
    z = (states[..., list(PROBED_STATE)] - mean) / std
    torch.testing.assert_close(loss, (z**2).mean())
    probe.linear.weight.data.normal_()
    probe(reps, states).backward()
    assert reps.grad is not None and reps.grad.abs().sum() > 0


def test_probe_fits_a_state_that_the_tokens_encode():
    torch.manual_seed(0)
    states = torch.from_numpy(_states(64, 3)).float().view(16, 4, 7)  # [B, T, 7]
    mean, std = state_statistics([states.view(-1, 7).numpy()])
    mixing = torch.randn(4, 2 * 8)
    reps = ((states[..., list(PROBED_STATE)] - mean) / std @ mixing).view(16, 4 * 2, 8)  # tokens linear in the state
    probe = StateProbe(tokens=2, dim=8, mean=mean, std=std)
    optimizer = torch.optim.Adam(probe.parameters(), lr=0.05)
    first = probe(reps, states).item()
    for _ in range(300):
        optimizer.zero_grad()
        loss = probe(reps, states)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.01 * first


@pytest.mark.parametrize(
    "overrides",
    [{"state_probe_weight": 1.0}, {"state_probe_weight": 1.0, "recipe": "end_to_end", "feature_cache": False}],
)
def test_probe_needs_the_end_to_end_recipe_with_the_feature_cache(overrides):
    with pytest.raises(ValueError, match="state_probe_weight"):
        PosttrainConfig(**overrides)


def test_probe_weight_must_be_a_non_negative_number():
    with pytest.raises(ValueError, match="state_probe_weight"):
        PosttrainConfig(recipe="end_to_end", state_probe_weight=float("nan"))
