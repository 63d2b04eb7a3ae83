"""SIGReg (jepa_core.sigreg): near its null value for Gaussian batches, large for collapsed ones, differentiable."""

import math

import pytest
import torch

from jepa_core.sigreg import Projector, SIGRegConfig, epps_pulley, frequency_grid, sigreg

NULL_VALUE = math.sqrt(2 * math.pi) - math.sqrt(2 * math.pi / 3)  # E[statistic] for N(0, 1) samples, t_max -> inf
COLLAPSED_PER_SAMPLE = math.sqrt(2 * math.pi) - 2 * math.sqrt(math.pi) + math.sqrt(2 * math.pi / 3)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one thread avoids oversubscription slowdowns on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_quadrature_integrates_the_gaussian_weight():
    _, weights = frequency_grid(SIGRegConfig(knots=65, t_max=5.0))
    assert weights.sum().item() == pytest.approx(math.sqrt(2 * math.pi), rel=1e-3)


def test_gaussian_samples_score_near_the_null_value():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2048, 64, generator=generator)
    stats = epps_pulley(x)
    assert stats.mean().item() == pytest.approx(NULL_VALUE, rel=0.15)
    assert sigreg(torch.randn(2048, 32, generator=generator), generator=generator).item() < 1.5


def test_constant_and_shifted_batches_score_high():
    n = 512
    collapsed = sigreg(torch.zeros(n, 32))
    assert collapsed.item() == pytest.approx(n * COLLAPSED_PER_SAMPLE, rel=0.02)
    shifted = sigreg(torch.randn(n, 32) + 3.0)
    narrow = sigreg(0.1 * torch.randn(n, 32))
    low_rank = sigreg(torch.randn(n, 1).expand(n, 32).contiguous())
    for value in (shifted, narrow, low_rank):
        assert value.item() > 20 * NULL_VALUE


def test_gradient_descent_on_sigreg_spreads_a_collapsed_batch():
    torch.manual_seed(0)
    config = SIGRegConfig(directions=16, knots=9)
    x = (0.01 * torch.randn(128, 4)).requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=0.1)
    first = sigreg(x, config).item()
    for _ in range(60):
        loss = sigreg(x, config)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert sigreg(x, config).item() < first / 20
    assert x.std(0).mean().item() == pytest.approx(1.0, abs=0.3)


def test_projector_flattens_leading_dims():
    out = Projector(16, hidden_dim=32, out_dim=8)(torch.randn(2, 3, 4, 16))
    assert out.shape == (24, 8)


def test_invalid_inputs_name_the_problem():
    with pytest.raises(ValueError, match="samples"):
        epps_pulley(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="directions"):
        SIGRegConfig(directions=0)
