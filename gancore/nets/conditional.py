"""Class-conditional generator and discriminator for 28x28 digits.

``G(z, labels)`` takes the label through conditional batch norm; ``D(x, labels)``
is a projection discriminator (Miyato & Koyama 2018).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gancore.nets.base import Discriminator, Generator, init_weights, spectrally_normalised, upsample_conv


def check_labels(labels: Tensor, n_classes: int, batch: int) -> None:
    """Labels must be integer class indices (B,) in [0, n_classes)."""
    if labels.dtype.is_floating_point or labels.dtype == torch.bool or labels.dim() != 1:
        raise ValueError(f"labels must be int64 class indices of shape (B,), got dtype "
                         f"{labels.dtype} and shape {tuple(labels.shape)}")
    if len(labels) != batch:
        raise ValueError(f"got {len(labels)} labels for a batch of {batch}; pass one label per sample")
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got values in "
                         f"[{labels.min().item()}, {labels.max().item()}]")


def wrong_labels(labels: Tensor, n_classes: int, seed: int = 0) -> Tensor:
    """For each label another class, uniformly among the n_classes - 1 others (B,): the wrong
    condition of matching-aware negatives, where D must also call a real digit fake when it is
    shown with a label it does not carry. Drawn once, from ``seed``."""
    check_labels(labels, n_classes, len(labels))
    if n_classes < 2:
        raise ValueError(f"wrong labels need >= 2 classes, got {n_classes}")
    shift = torch.randint(1, n_classes, labels.shape, generator=torch.Generator().manual_seed(seed))
    return (labels + shift.to(labels.device)) % n_classes


# --------------------------------------------------------------------------
# Class-conditional GAN (MNIST)
# --------------------------------------------------------------------------


class ClassBatchNorm(nn.Module):
    """Conditional batch norm (de Vries et al. 2017): normalise, then scale and shift per class.

    CBN(h, y) = gamma_y * (h - mu_batch) / sigma_batch + beta_y

    per channel of (B, C, H, W) maps with ``spatial=True`` (BatchNorm2d), per unit of
    (B, C) vectors otherwise (BatchNorm1d).
    """

    def __init__(self, features: int, n_classes: int, spatial: bool = True):
        super().__init__()
        self.norm = (nn.BatchNorm2d if spatial else nn.BatchNorm1d)(features, affine=False)
        self.gamma = nn.Embedding(n_classes, features)
        self.beta = nn.Embedding(n_classes, features)
        nn.init.normal_(self.gamma.weight, 1.0, 0.02)  # DCGAN's batch-norm init, per class
        nn.init.zeros_(self.beta.weight)

    def forward(self, h: Tensor, labels: Tensor) -> Tensor:
        shape = (len(h), -1) + (1,) * (h.dim() - 2)  # (B, C, 1, 1) or (B, C)
        return self.gamma(labels).view(shape) * self.norm(h) + self.beta(labels).view(shape)


class ClassConditionalGenerator(Generator):
    """G(z, y) for 28x28: z -> (2w, 7, 7) -> (w, 14, 14) -> (C, 28, 28), DCGAN-like.

    The label enters through conditional batch norm after the projection (per
    unit) and after the first transposed conv (per channel). It is *not*
    concatenated to z: batch norm would then normalise the label's variation
    together with z's, so the ten labels alone could keep up the batch
    variance while z fades. With the label outside the normalisation, batch
    norm restores z's variation at every step and the label only modulates it.
    ``upsample``: 'transposed' convolutions or 'nearest' then convolve (:func:`upsample_conv`).
    """

    def __init__(self, z_dim: int = 64, width: int = 32, n_classes: int = 10, channels: int = 1,
                 upsample: str = "transposed"):
        super().__init__()
        self.z_dim, self.width, self.n_classes = z_dim, width, n_classes
        self.project = nn.Linear(z_dim, 2 * width * 7 * 7, bias=False)
        self.norm0 = ClassBatchNorm(2 * width * 7 * 7, n_classes, spatial=False)
        self.up1 = upsample_conv(2 * width, width, upsample, bias=False)  # (B, w, 14, 14)
        self.norm1 = ClassBatchNorm(width, n_classes)
        self.up2 = upsample_conv(width, channels, upsample)  # (B, C, 28, 28)
        for layer in (self.project, self.up1, self.up2):
            init_weights(layer)

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        check_labels(labels, self.n_classes, len(z))
        h = F.relu(self.norm0(self.project(z), labels))  # (B, 2w*49)
        h = F.relu(self.norm1(self.up1(h.view(-1, 2 * self.width, 7, 7)), labels))  # (B, w, 14, 14)
        return torch.tanh(self.up2(h))  # (B, C, 28, 28)


class ClassConditionalDiscriminator(Discriminator):
    """Projection discriminator (Miyato & Koyama 2018) for 28x28.

    phi(x): (C, 28, 28) -> (w, 14, 14) -> (2w, 7, 7) -> flattened (B, 2w*49)
    D(x, y) = w^T phi(x) + b + embed(y)^T phi(x)

    The inner product asks "does x look like class y", which conditions D far
    more sharply than concatenating the label to the input. No batch norm, so
    the gradient penalty of WGAN-GP stays per sample. ``spectral_norm`` normalises
    every weight, the embedding's too, as Miyato & Koyama do (:func:`spectrally_normalised`).
    """

    def __init__(self, width: int = 32, n_classes: int = 10, channels: int = 1, spectral_norm: bool = False):
        super().__init__()
        self.n_classes = n_classes
        self.phi = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True),  # (B, w, 14, 14)
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2, True),  # (B, 2w, 7, 7)
            nn.Flatten(),  # (B, 2w*49)
        )
        self.linear = nn.Linear(2 * width * 7 * 7, 1)
        self.embed = nn.Embedding(n_classes, 2 * width * 7 * 7)
        init_weights(self)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)
        if spectral_norm:
            spectrally_normalised(self)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        check_labels(labels, self.n_classes, len(x))
        h = self.phi(x)  # (B, F)
        return self.linear(h).squeeze(1) + (self.embed(labels) * h).sum(1)  # (B,)


@torch.no_grad()
def class_grid(generator: ClassConditionalGenerator, n_noise: int, seed: int = 0) -> Tensor:
    """Every class (rows) times ``n_noise`` noise vectors (columns), in eval mode, on the CPU.

    Returns (n_classes * n_noise, C, H, W) row by row, for ``show_grid(x, nrow=n_noise)``.
    Column j uses the same z for every class, so down a column only the label changes.
    """
    device = next(generator.parameters()).device
    z = generator.sample_noise(n_noise, torch.Generator().manual_seed(seed))  # (n_noise, z_dim)
    z = z.repeat(generator.n_classes, 1)  # (K * n_noise, z_dim): the same columns in every row
    labels = torch.arange(generator.n_classes).repeat_interleave(n_noise)  # (K * n_noise,)
    was_training = generator.training
    generator.eval()
    out = generator(z.to(device), labels.to(device)).cpu()
    generator.train(was_training)
    return out
