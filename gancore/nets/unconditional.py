"""Unconditional generators and discriminators: MLP, DCGAN for 28x28, and PacGAN's packed D.

Generators map noise (B, z_dim) to samples; discriminators return one logit per
sample, shape (B,).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gancore.nets.base import Discriminator, Generator, init_weights, spectrally_normalised, upsample_conv


class MLPGenerator(Generator):
    """z -> hidden -> hidden -> image, with tanh output for data in [-1, 1].

    ``out_shape=(2,)`` and ``tanh=False`` give the 2-D toy generator."""

    def __init__(self, z_dim: int = 64, hidden: int = 256, out_shape: tuple[int, ...] = (1, 28, 28),
                 tanh: bool = True):
        super().__init__()
        self.z_dim, self.out_shape = z_dim, tuple(out_shape)
        out = math.prod(self.out_shape)
        self.net = nn.Sequential(
            nn.Linear(z_dim, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, out), nn.Tanh() if tanh else nn.Identity(),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *self.out_shape)  # (B, *out_shape)


class MLPDiscriminator(Discriminator):
    """image -> hidden -> hidden -> logit."""

    def __init__(self, in_shape: tuple[int, ...] = (1, 28, 28), hidden: int = 256):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(in_shape), hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)  # (B,)


class DCGANGenerator(Generator):
    """DCGAN generator for 28x28: z -> (2w, 7, 7) -> (w, 14, 14) -> (C, 28, 28), each doubling by
    ``upsample`` ('transposed' convolutions, or 'nearest' then convolve: :func:`upsample_conv`)."""

    def __init__(self, z_dim: int = 64, width: int = 64, channels: int = 1, upsample: str = "transposed"):
        super().__init__()
        self.z_dim, self.width = z_dim, width
        self.project = nn.Sequential(
            nn.Linear(z_dim, 2 * width * 7 * 7, bias=False),
            nn.BatchNorm1d(2 * width * 7 * 7), nn.ReLU(True),
        )
        self.upsample = nn.Sequential(
            upsample_conv(2 * width, width, upsample, bias=False),  # (B, w, 14, 14)
            nn.BatchNorm2d(width), nn.ReLU(True),
            upsample_conv(width, channels, upsample),  # (B, C, 28, 28)
            nn.Tanh(),
        )
        init_weights(self)
        self.to(memory_format=torch.channels_last)  # NHWC: oneDNN's CPU convolutions run ~15% faster

    def forward(self, z: Tensor) -> Tensor:
        h = self.project(z).view(-1, 2 * self.width, 7, 7)  # (B, 2w, 7, 7)
        return self.upsample(h)


class DCGANDiscriminator(Discriminator):
    """DCGAN discriminator for 28x28: (C, 28, 28) -> (w, 14, 14) -> (2w, 7, 7) -> logit.

    No batch norm, so each sample's logit depends on that sample alone, which
    the gradient penalty of WGAN-GP requires. ``spectral_norm`` normalises every
    layer's weight by its largest singular value (:func:`spectrally_normalised`)."""

    def __init__(self, width: int = 64, channels: int = 1, spectral_norm: bool = False):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True),  # (B, w, 14, 14)
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2, True),  # (B, 2w, 7, 7)
            nn.Flatten(),
            nn.Linear(2 * width * 7 * 7, 1),
        )
        init_weights(self)
        if spectral_norm:
            spectrally_normalised(self)
        self.to(memory_format=torch.channels_last)  # NHWC: oneDNN's CPU convolutions run ~15% faster

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)  # (B,)


def build_gan(model: str, z_dim: int = 64, width: int = 64, channels: int = 1, *, upsample: str = "transposed",
              spectral_norm: bool = False):
    """(G, D) for ``model`` in {'mlp', 'dcgan'}; ``width`` is hidden units / base channels.
    ``upsample`` and ``spectral_norm`` (DCGAN only) choose G's upsampling and D's normalisation."""
    if model == "mlp":
        if upsample != "transposed" or spectral_norm:
            raise ValueError("upsample and spectral_norm are DCGAN options; the MLP has neither convolutions "
                             "to upsample with nor is it built with spectral norm")
        return MLPGenerator(z_dim, hidden=4 * width), MLPDiscriminator(hidden=4 * width)
    if model == "dcgan":
        return (DCGANGenerator(z_dim, width, channels, upsample=upsample),
                DCGANDiscriminator(width, channels, spectral_norm=spectral_norm))
    raise ValueError(f"unknown model {model!r}; choose 'mlp' or 'dcgan'")


class PackedDiscriminator(Discriminator):
    """PacGAN (Lin et al. 2018): D sees ``pack`` samples side by side.

    A batch (B, 2) becomes (B / pack, 2 * pack), one logit per pack, so D can
    notice that a generator's samples are too alike. The trainer's batches are
    drawn at random, so neighbouring rows are independent samples.
    """

    def __init__(self, pack: int = 2, in_dim: int = 2, hidden: int = 256):
        super().__init__()
        if pack < 1:
            raise ValueError(f"pack must be >= 1, got {pack}")
        self.pack, self.in_dim = pack, in_dim
        self.net = MLPDiscriminator(in_shape=(pack * in_dim,), hidden=hidden)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[0] % self.pack:
            raise ValueError(f"batch of {x.shape[0]} is not divisible by pack={self.pack}; "
                             f"use a batch_size that is a multiple of {self.pack}")
        return self.net(x.reshape(-1, self.pack * self.in_dim))  # (B / pack,)
