"""A second GAN's eye: judge an output against a target the judge imagines itself.

Hallucinated-IQA (Lin & Wang 2018, *Hallucinated-IQA: No-Reference Image Quality Assessment
via Adversarial Learning*) scores an image without its reference by first *generating* one.
Here the hallucinator H is notebook 05's style generator (:class:`StyleGenerator`, a U-Net
styled by AdaIN) given the output, the content and the exemplar stacked as its input, and
trained on the pool's training items to restore the target,

    t_hat = H(y_hat, c, s),      min_H  mean |H(y_hat, c, s) - t|          (L1, targets of the train pool only)

Then each truth's own formula is applied to the hallucination instead of the target:

    ssim        S_H = SSIM(y_hat, t_hat)
    perceptual  S_H = -sum_l mean (phi_l(y_hat) - phi_l(t_hat))^2,   phi = the *loss* net, never the grader

H never sees a target when it scores. It sees the exemplar pixel-aligned, unlike Q's style
encoder, which averages it over space: the digit styles paint one fixed patch of texture
per style, so an exemplar shows most of its target's background pixel for pixel, and H can
learn to copy it. That is why H carries over to unseen textures; it would not on styles
whose texture moves from image to image.

:func:`combined` adds H's score to a Q's, each standardised by its mean and spread on the
training pool, so neither scale wins: ``z(Q) + z(S_H)``.
"""
from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gancore.metrics.per_image import ssim
from gancore.nets.feature import FeatureNet
from gancore.nets.translation import StyleGenerator
from gancore.quality.pool import Pool, perceptual_per_image
from gancore.quality.qmodel import over_pool, stacked
from gancore.train.supervised import fit


class ReferenceHallucinator(nn.Module):
    """H(output, content, exemplar) -> the target it imagines (B, C, H, W) in [-1, 1]."""

    def __init__(self, width: int = 16, image_channels: int = 3, content_channels: int = 1, style_channels: int = 3):
        super().__init__()
        self.exemplar_from = image_channels + content_channels  # where the exemplar's channels start
        self.net = StyleGenerator(content_channels=image_channels + content_channels + style_channels,
                                  style_channels=style_channels, out_channels=image_channels, width=width)

    def forward(self, output: Tensor, content: Tensor, exemplar: Tensor) -> Tensor:
        return self.stacked(torch.cat([output, content, exemplar], dim=1))

    def stacked(self, x: Tensor) -> Tensor:
        """H on one tensor (B, Cy + Cc + Cs, H, W): output, content, exemplar along the channels."""
        return self.net(x, x[:, self.exemplar_from:])  # (B, Cy, H, W)


assert "target" not in inspect.signature(ReferenceHallucinator.forward).parameters  # reference-free by design


class _Stacked(nn.Module):
    def __init__(self, h: ReferenceHallucinator):
        super().__init__()
        self.h = h

    def forward(self, x: Tensor) -> Tensor:
        return self.h.stacked(x)


def train_hallucinator(h: ReferenceHallucinator, pool: Pool, *, steps: int, batch_size: int = 64, lr: float = 2e-3,
                       seed: int = 0, device=None, progress: bool = True) -> ReferenceHallucinator:
    """Fit ``h`` (in place) to restore ``pool``'s targets by L1 (Adam, cosine decay, seeded:
    :func:`gancore.train.supervised.fit`); returned in eval mode."""
    if not isinstance(h, ReferenceHallucinator):
        raise TypeError(f"h must be a ReferenceHallucinator, got {type(h).__name__}")
    if not isinstance(pool, Pool) or len(pool) == 0:
        raise ValueError("pool must be a non-empty Pool (its targets are what H learns to restore)")
    fit(_Stacked(h), stacked(pool), pool.target, F.l1_loss, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
        device=device, progress=progress, desc="hallucinator")
    return h.eval()


def hallucinate(h: ReferenceHallucinator, pool: Pool, batch_size: int = 500) -> Tensor:
    """H's imagined target for every item (N, C, H, W), eval mode, on H's device, returned on the CPU."""
    return over_pool(h, h.stacked, pool, batch_size)


def hallucinated_scores(pool: Pool, reference: Tensor, net: FeatureNet) -> dict[str, Tensor]:
    """Each truth's formula against ``reference`` (N, C, H, W), the hallucinated targets, not the real
    ones: {"ssim": SSIM(output, reference), "perceptual": -perceptual distance on ``net``}, (N,) each,
    higher is better. ``net`` must not be the grader that defines the perceptual truth."""
    if reference.shape != pool.output.shape:
        raise ValueError(f"need one hallucinated target per output {tuple(pool.output.shape)}, "
                         f"got {tuple(reference.shape)}")
    a, b = (pool.output.clamp(-1, 1) + 1) / 2, (reference.clamp(-1, 1) + 1) / 2  # (N, C, H, W) in [0, 1]
    return {"ssim": ssim(a, b), "perceptual": -perceptual_per_image(pool.output, reference, net)}


def combined(q: Tensor, s_h: Tensor, q_train: Tensor, s_h_train: Tensor) -> Tensor:
    """z(Q) + z(S_H) per item (N,), each standardised by its mean and standard deviation on the
    training pool (``q_train``, ``s_h_train``), which are fixed before any test item is scored."""
    if q.shape != s_h.shape or q.dim() != 1:
        raise ValueError(f"need two (N,) score vectors, got {tuple(q.shape)} and {tuple(s_h.shape)}")
    parts = []
    for name, v, ref in (("Q", q, q_train), ("S_H", s_h, s_h_train)):
        ref = ref.double()
        if ref.dim() != 1 or len(ref) < 2 or not bool(ref.std() > 0):
            raise ValueError(f"{name}'s training scores must be a (N,) vector with some spread, got "
                             f"{tuple(ref.shape)}")
        parts.append((v.double() - ref.mean()) / ref.std())
    return (parts[0] + parts[1]).float()
