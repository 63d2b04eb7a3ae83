"""SIGReg (LeJEPA): an anti-collapse regulariser that pulls a batch of embeddings towards an isotropic N(0, I).

The batch [n, D] is projected on random unit directions; for each 1-D projection the Epps-Pulley statistic compares
its empirical characteristic function (ECF) with the standard normal's, exp(-t^2 / 2), integrated over frequencies t
with a Gaussian weight:  n * int |ECF_n(t) - exp(-t^2/2)|^2 exp(-t^2/2) dt  (trapezoid rule on [0, t_max], doubled by
symmetry). The loss is its mean over the directions. Under N(0, 1) samples the statistic is about
sqrt(2 pi) - sqrt(2 pi / 3) ~= 1.06 whatever n; for a constant batch it is n * 0.41. End-to-end world-model training
(LeWorldModel) adds lambda * SIGReg(projector(embeddings)) to the prediction loss instead of an EMA target.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class SIGRegConfig:
    """Number of random directions and the frequency grid of the Epps-Pulley statistic."""

    directions: int = 256  # random unit projections per call
    knots: int = 17  # frequencies t in [0, t_max]
    t_max: float = 3.0  # the Gaussian weight exp(-t^2/2) is ~0.011 there

    def __post_init__(self) -> None:
        if self.directions < 1 or self.knots < 2 or self.t_max <= 0:
            raise ValueError(
                f"SIGRegConfig: expected directions >= 1, knots >= 2, t_max > 0; got {self.directions}, "
                f"{self.knots}, {self.t_max}"
            )


def frequency_grid(config: SIGRegConfig, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(t [K], quadrature weights [K]): trapezoid weights on [0, t_max] times 2 (even integrand) times exp(-t^2/2)."""
    t = torch.linspace(0.0, config.t_max, config.knots, device=device)
    step = config.t_max / (config.knots - 1)
    trapezoid = torch.full_like(t, step)
    trapezoid[0] = trapezoid[-1] = step / 2
    return t, 2.0 * trapezoid * torch.exp(-0.5 * t**2)


def epps_pulley(x: torch.Tensor, config: SIGRegConfig | None = None) -> torch.Tensor:
    """Epps-Pulley normality statistic of each column of x [n, M] against N(0, 1) -> [M] (scaled by n)."""
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(f"epps_pulley expects samples [n >= 2, M], got shape {tuple(x.shape)}")
    t, weights = frequency_grid(config or SIGRegConfig(), x.device)
    xt = x.float().unsqueeze(-1) * t  # [n, M, K]
    real = torch.cos(xt).mean(0)  # [M, K]
    imag = torch.sin(xt).mean(0)  # [M, K]
    error = (real - torch.exp(-0.5 * t**2)) ** 2 + imag**2  # [M, K]
    return x.shape[0] * (error @ weights)  # [M]


def random_directions(dim: int, count: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
    """[dim, count] random unit vectors (columns), uniform on the sphere."""
    directions = torch.randn(dim, count, device=device, generator=generator)
    return directions / directions.norm(dim=0, keepdim=True)


def sigreg(
    embeddings: torch.Tensor, config: SIGRegConfig | None = None, generator: torch.Generator | None = None
) -> torch.Tensor:
    """SIGReg of a batch of embeddings [n, D] (or [..., D], flattened): mean Epps-Pulley statistic over fresh random
    1-D projections -> 0-d tensor, differentiable in the embeddings."""
    config = config or SIGRegConfig()
    samples = embeddings.reshape(-1, embeddings.shape[-1]).float()  # [n, D]
    directions = random_directions(samples.shape[1], config.directions, samples.device, generator)  # [D, M]
    return epps_pulley(samples @ directions, config).mean()


class Projector(nn.Module):
    """LeWorldModel's projector: Linear -> BatchNorm1d -> GELU -> Linear, applied to embeddings [..., D] before
    SIGReg (training only; the planner never sees it)."""

    def __init__(self, in_dim: int, hidden_dim: int = 512, out_dim: int = 256):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.GELU(), nn.Linear(hidden_dim, out_dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [..., D] -> [n, out_dim] with n the product of the leading dims."""
        return self.net(x.reshape(-1, x.shape[-1]))
