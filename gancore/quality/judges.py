"""Every metric of a set of images against a fixed reference, with the reference's features computed once.

A *judge* holds a reference (real digits, or style-transfer targets) and measures
any set of images of the same size against it; the quality study calls it once per
(degradation, strength), so the reference side is embedded only once.

    MNIST  (:class:`DigitJudge`, the digit classifier's features, gancore.metrics.classifier)
        fd, kid, score, precision, recall, density, coverage   the set vs other real digits
        ssim, psnr                                             each image vs its undamaged self
        train_nn                                               RMS distance to the nearest training image (thumbnails)
    Style transfer (:class:`StyleJudge`, the grader's features, gancore.metrics.feature_nets)
        fd, kid, precision, recall, density, coverage          outputs vs targets (grader's hidden layer)
        ssim, psnr, perceptual, style_dist                     each output vs its target
        content_acc, style_acc, train_nn                       as in notebook 05; copies of training targets

:data:`WORSE` says which way each metric moves when images get worse: +1 if it
grows, -1 if it falls. ``train_nn`` falls as a generator copies its training set,
the one failure no distance to real data can see: a copy *is* real data.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gancore.losses import gram_matrix
from gancore.metrics.distribution import classifier_score, feature_stats, frechet_distance
from gancore.metrics.feature_nets import head_labels
from gancore.metrics.kid import kernel_distance
from gancore.metrics.per_image import psnr, ssim
from gancore.metrics.prdc import precision_recall_density_coverage

WORSE: dict[str, int] = {
    "fd": +1, "kid": +1, "score": -1, "precision": -1, "recall": -1, "density": -1, "coverage": -1,
    "ssim": -1, "psnr": -1, "perceptual": +1, "perceptual_loss_net": +1, "style_dist": +1,
    "content_acc": -1, "style_acc": -1, "train_nn": -1,
}
KID_SUBSETS = 10  # subsets of 1000 rows when the sets are larger


def kid(real: np.ndarray, fake: np.ndarray, seed: int = 0) -> float:
    """KID: the unbiased MMD^2 of all rows when the smaller set has <= 1000 (every subset of
    that size would be the whole set), else the mean over :data:`KID_SUBSETS` subsets of 1000."""
    size = min(len(real), len(fake), 1000)
    subsets = 1 if size == min(len(real), len(fake)) else KID_SUBSETS
    return kernel_distance(real, fake, n_subsets=subsets, subset_size=size, seed=seed).mean


def prdc(real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    return precision_recall_density_coverage(real, fake)._asdict()


def thumbnail(images: Tensor, side: int = 8) -> Tensor:
    """(N, C, H, W) -> (N, C, ~side, ~side) by average pooling over H // side pixels: the
    copy search's images. A copy still sits at distance 0, and the search costs (H / side)^2
    times less."""
    k = max(1, images.shape[-1] // side)
    return F.avg_pool2d(images.float(), k) if k > 1 else images.float()


def nearest_rms(images: Tensor, train: Tensor, block: int = 512) -> Tensor:
    """Per image (N,): RMS pixel distance to the nearest of ``train`` (M, C, H, W), i.e.
    min_m ||x - t_m||_2 / sqrt(C H W). 0 for an exact copy."""
    x, t = images.flatten(1).double(), train.flatten(1).double()  # (N, D), (M, D)
    t_sq = (t * t).sum(1)
    best = []
    for start in range(0, len(x), block):
        xb = x[start:start + block]
        d2 = (xb * xb).sum(1, keepdim=True) + t_sq[None] - 2 * xb @ t.T  # (b, M)
        best.append(d2.min(1).values.clamp_min(0))
    return (torch.cat(best) / x.shape[1]).sqrt().float()


def _to_unit(x: Tensor) -> Tensor:
    return (x.float().clamp(-1, 1) + 1) / 2  # [-1, 1] -> [0, 1], the range SSIM and PSNR are given


class DigitJudge:
    """Metrics of digit sets (N, 1, 28, 28) against ``reference`` real digits, with the digit
    classifier; per-image ones against ``originals`` (the undamaged set, paired by index)."""

    def __init__(self, classifier, reference: Tensor, originals: Tensor | None = None,
                 train: Tensor | None = None):
        self.classifier, self.originals = classifier, originals
        self.train = None if train is None else thumbnail(train)
        self.ref_feats, _ = classifier.embed(reference)
        self.ref_stats = feature_stats(self.ref_feats)

    def __call__(self, images: Tensor) -> dict[str, float]:
        """Every metric of ``images``; ssim/psnr only given ``originals``, train_nn only given ``train``."""
        feats, probs = self.classifier.embed(images)
        out = {"fd": frechet_distance(feats, self.ref_stats), "kid": kid(self.ref_feats, feats),
               "score": classifier_score(probs, logits=False), **prdc(self.ref_feats, feats)}
        if self.originals is not None:
            a, b = _to_unit(images), _to_unit(self.originals)
            out.update(ssim=float(ssim(a, b).mean()), psnr=float(psnr(a, b).mean()))
        if self.train is not None:
            out["train_nn"] = float(nearest_rms(thumbnail(images), self.train).mean())
        return out


class StyleJudge:
    """Metrics of style-transfer outputs (N, 3, H, W) for ``data`` (a StyleTransferSet), graded
    by ``grader`` as :func:`gancore.experiments.style_transfer.evaluate_transfer` does (same
    numbers, tested), plus KID, PRDC, the Gram style distance, copies of ``train`` targets and,
    given a ``loss_net``, the perceptual distance through the loss's eyes. The targets'
    features are computed once."""

    def __init__(self, data, grader, train: Tensor, loss_net=None, batch_size: int = 500):
        self.data, self.grader, self.loss_net, self.train = data, grader, loss_net, thumbnail(train)
        self.batch_size = batch_size
        self.labels = head_labels(data)
        self.target = self._features(data.target)

    @torch.no_grad()
    def _features(self, images: Tensor) -> dict:
        """Per image: grader conv features (3 layers), their Gram matrices, hidden vector,
        predicted labels; and the loss net's conv features."""
        layers, grams, hidden, predicted, loss_layers = [], [], [], [], []
        for start in range(0, len(images), self.batch_size):
            x = images[start:start + self.batch_size].to(self.grader.device)
            f = self.grader.features(x)
            h = self.grader.fc(f[-1])                                        # (B, hidden)
            layers.append([t.double().cpu() for t in f])
            grams.append([gram_matrix(t.double()).cpu() for t in f])
            hidden.append(h.double().cpu())
            predicted.append({k: head(h).argmax(1).cpu() for k, head in self.grader.heads.items()})
            if self.loss_net is not None:
                loss_layers.append([t.double().cpu() for t in self.loss_net.features(x.to(self.loss_net.device))])
        cat = lambda parts: [torch.cat(ts) for ts in zip(*parts)]  # noqa: E731
        return {"layers": cat(layers), "grams": cat(grams), "hidden": torch.cat(hidden).numpy(),
                "predicted": {k: torch.cat([p[k] for p in predicted]) for k in self.grader.heads},
                "loss_layers": cat(loss_layers) if loss_layers else None}

    @staticmethod
    def per_image_distance(a: list[Tensor], b: list[Tensor]) -> Tensor:
        """sum_l mean_{c,h,w} (a_l - b_l)^2 per image (N,): the perceptual loss of each pair."""
        return sum(((x - y) ** 2).flatten(1).mean(1) for x, y in zip(a, b))

    def distances(self, images: Tensor) -> dict[str, Tensor]:
        """Per-image perceptual distances to the targets, by the grader and by the loss net."""
        f = self._features(images)
        out = {"grader": self.per_image_distance(f["layers"], self.target["layers"])}
        if f["loss_layers"] is not None:
            out["loss_net"] = self.per_image_distance(f["loss_layers"], self.target["loss_layers"])
        return out

    def __call__(self, images: Tensor) -> dict[str, float]:
        """Every metric of ``images`` (module doc); the per-image perceptual distances of this
        pass, by the grader and by the loss net, are left in ``last_distances``."""
        f, t = self._features(images), self.target
        self.last_distances = {"grader": self.per_image_distance(f["layers"], t["layers"])}
        a, b = _to_unit(images), _to_unit(self.data.target)
        right = {k: f["predicted"][k] == self.labels[k].cpu() for k in self.labels}
        out = {"fd": frechet_distance(f["hidden"], t["hidden"]), "kid": kid(t["hidden"], f["hidden"]),
               **prdc(t["hidden"], f["hidden"]),
               "ssim": float(ssim(a, b).mean()), "psnr": float(psnr(a, b).mean()),
               "perceptual": float(self.last_distances["grader"].mean()),
               "style_dist": float(sum(((x - y) ** 2).mean(dim=(1, 2)) for x, y in zip(f["grams"], t["grams"])).mean()),
               "content_acc": float(right["digit"].double().mean()),
               "style_acc": float(sum(right[k].double().mean() for k in self.data.attributes)
                                  / len(self.data.attributes)),
               "train_nn": float(nearest_rms(thumbnail(images), self.train).mean())}
        if f["loss_layers"] is not None:
            self.last_distances["loss_net"] = self.per_image_distance(f["loss_layers"], t["loss_layers"])
            out["perceptual_loss_net"] = float(self.last_distances["loss_net"].mean())
        return out
