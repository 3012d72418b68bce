"""What every network shares: DCGAN initialisation and the generator/discriminator base classes.

Every generator is called as ``G(z, *condition)`` and every discriminator as
``D(x, *condition)``, returning logits. The conditional models of later
notebooks keep the same calls, so one trainer serves them all.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation (Radford et al. 2016): conv and linear weights
    N(0, 0.02), batch-norm scale N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """Base class: ``z_dim`` is the noise size the trainer draws (0 for none)."""

    z_dim: int = 0

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Standard normal noise (n, z_dim) on the CPU; callers move it to the model's device."""
        return torch.randn(n, self.z_dim, generator=generator)


class Discriminator(nn.Module):
    """Base class: maps images (and a condition) to logits of shape (B,)."""
