"""The learned judge Q(output, content, exemplar) -> score, and the reference-free baselines.

Q is notebook 05's conditional PatchGAN (:class:`gancore.nets.translation.PatchDiscriminator`)
with its logit map averaged over patches:

    Q(y, c, s) = mean_p D_theta(y, c, s)_p           (B,), higher is better

It never takes the target: in practice there is none. Three versions are compared:
the trained 05 discriminator used as it is (``QualityModel.from_discriminator(D)``;
D already judges "a real rendering of c in style s"), the same weights fine-tuned to
rank outputs by a truth, and the same architecture trained from scratch.

The loss is RankNet's pairwise logistic loss over the pairs of a batch,

    L = mean_{(i, j): t_i > t_j} log(1 + exp(-(Q_i - Q_j)))

which asks only that Q orders outputs as the truth does. That is what Spearman and
Kendall measure, and it leaves Q's scale free: D's logits have their own scale and
offset, which a regression on the truth would first have to unlearn.
"""
from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gancore.experiments.style_transfer import copy_content
from gancore.metrics.per_image import ssim, style_distance
from gancore.nets.feature import FeatureNet
from gancore.nets.translation import PatchDiscriminator
from gancore.quality.pool import Pool, perceptual_per_image
from gancore.train.supervised import fit

BASELINES: tuple[str, ...] = ("ssim_to_content", "perceptual_to_content", "gram_to_exemplar", "artfid_style")


class QualityModel(nn.Module):
    """Q(output, content, exemplar) -> (B,) scores: a :class:`PatchDiscriminator`'s patch logits, averaged."""

    def __init__(self, width: int = 16, image_channels: int = 3, content_channels: int = 1,
                 style_channels: int = 3):
        super().__init__()
        self.net = PatchDiscriminator(image_channels, content_channels, style_channels, width=width)

    @classmethod
    def from_discriminator(cls, D: PatchDiscriminator) -> "QualityModel":
        """A Q holding a copy of ``D``'s weights (``D`` itself is left alone)."""
        if not isinstance(D, PatchDiscriminator):
            raise TypeError(f"D must be a PatchDiscriminator (notebook 05's), got {type(D).__name__}")
        q = cls(**D.config)
        q.net.load_state_dict(D.state_dict())
        return q.to(next(D.parameters()).device)

    def forward(self, output: Tensor, content: Tensor, exemplar: Tensor) -> Tensor:
        return self.net(output, content=content, exemplar=exemplar).mean(dim=(1, 2, 3))  # (B,)


assert "target" not in inspect.signature(QualityModel.forward).parameters  # Q is reference-free by design


class _Stacked(nn.Module):
    """Q on one tensor (B, Cy + Cc + Cs, H, W), so :func:`gancore.train.supervised.fit` can batch it."""

    def __init__(self, q: QualityModel):
        super().__init__()
        self.q, n = q, q.net
        self.cuts = (n.image_channels, n.image_channels + n.content_channels)

    def forward(self, x: Tensor) -> Tensor:
        a, b = self.cuts
        return self.q(x[:, :a], x[:, a:b], x[:, b:])


def pairwise_ranking_loss(scores: Tensor, truth: Tensor) -> Tensor:
    """RankNet: mean over pairs with truth_i > truth_j of softplus(-(s_i - s_j)); 0 without such pairs."""
    if scores.shape != truth.shape or scores.dim() != 1:
        raise ValueError(f"scores and truth must be two (B,) vectors, got {tuple(scores.shape)}, {tuple(truth.shape)}")
    better = truth[:, None] > truth[None, :]  # (B, B): i better than j
    if not better.any():
        return scores.sum() * 0
    return F.softplus(-(scores[:, None] - scores[None, :]))[better].mean()


def stacked(pool: Pool) -> Tensor:
    """(N, 3 + 1 + 3, H, W): output, content, exemplar along the channels."""
    return torch.cat([pool.output, pool.content, pool.exemplar], dim=1)


def train_quality_model(q: QualityModel, pool: Pool, truth: Tensor, *, steps: int, batch_size: int = 64,
                        lr: float = 2e-4, seed: int = 0, device=None, progress: bool = True,
                        desc: str = "Q") -> QualityModel:
    """Fit ``q`` (in place) to rank ``pool``'s items by ``truth`` (N,) with :func:`pairwise_ranking_loss`
    (Adam, cosine decay, seeded batches: :func:`gancore.train.supervised.fit`); returned in eval mode."""
    if not isinstance(q, QualityModel):
        raise TypeError(f"q must be a QualityModel, got {type(q).__name__}")
    truth = torch.as_tensor(truth, dtype=torch.float32)
    if truth.shape != (len(pool),) or not bool(torch.isfinite(truth).all()):
        raise ValueError(f"truth must be one finite score per pool item ({len(pool)}), got shape {tuple(truth.shape)}")
    fit(_Stacked(q), stacked(pool), truth, pairwise_ranking_loss, steps=steps, batch_size=batch_size, lr=lr,
        seed=seed, device=device, progress=progress, desc=desc)
    return q.eval()


@torch.no_grad()
def over_pool(module: nn.Module, forward, pool: Pool, batch_size: int = 500) -> Tensor:
    """``forward`` (a function of :func:`stacked` items, batched) on every item of ``pool``, with
    ``module`` (what ``forward`` runs) in eval mode and on its device; the result comes back on the
    CPU and ``module`` gets its mode back."""
    device = next(module.parameters()).device
    was_training = module.training
    module.eval()
    try:
        x = stacked(pool)
        return torch.cat([forward(x[i:i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)])
    finally:
        module.train(was_training)


def score(q: QualityModel, pool: Pool, batch_size: int = 500) -> Tensor:
    """Q's score of every item (N,), eval mode, on Q's device, returned on the CPU."""
    return over_pool(q, _Stacked(q), pool, batch_size)


def artfid_style(content_distance: Tensor, style_distance_: Tensor) -> Tensor:
    """ArtFID's combination (Wright & Ommer 2022) per image: (1 + content distance) * (1 + style distance)."""
    if content_distance.shape != style_distance_.shape:
        raise ValueError(f"need one content and one style distance per image, got {tuple(content_distance.shape)} "
                         f"and {tuple(style_distance_.shape)}")
    if bool((content_distance < 0).any() or (style_distance_ < 0).any()):
        raise ValueError("distances must be >= 0")
    return (1 + content_distance) * (1 + style_distance_)


def reference_free_scores(pool: Pool, net: FeatureNet) -> dict[str, Tensor]:
    """The baselines of :data:`BASELINES`, (N,) each, higher is better; ``net`` supplies the features.

    ssim_to_content        SSIM(output, content as grey RGB), [0, 1] images
    perceptual_to_content  -perceptual distance to the content
    gram_to_exemplar       -Gram (style) distance to the exemplar
    artfid_style           -(1 + perceptual to content) * (1 + Gram to exemplar)
    """
    content = copy_content(pool.content)  # (N, 3, H, W)
    d_content = perceptual_per_image(pool.output, content, net)
    d_style = style_distance(pool.output, pool.exemplar, net)
    return {"ssim_to_content": ssim((pool.output.clamp(-1, 1) + 1) / 2, (content + 1) / 2),
            "perceptual_to_content": -d_content, "gram_to_exemplar": -d_style,
            "artfid_style": -artfid_style(d_content, d_style)}
