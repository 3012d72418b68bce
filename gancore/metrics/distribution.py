"""Distances between sets of images, in a classifier's feature space.

    FD    = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)
    score = exp( E_x KL(p(y|x) || p(y)) ),   p(y) = E_x p(y|x)

with (mu, S) the mean and covariance of the penultimate features (float64).
FD is 0 for identical statistics; the score runs from 1 (every sample looks
the same to the classifier) to K (confident and evenly spread over K classes).
Numbers are comparable only under the same classifier and the same sample
sizes, so compare against :func:`real_data_floor`, computed the same way.
With no more samples than feature dimensions (n <= F) a covariance is singular
and FD is biased far upwards: :func:`frechet_distance` warns then (a
:class:`SmallSampleWarning`); use at least F + 1 samples, better ten times F.
KID and precision/recall/density/coverage, on the same (N, F) features, are
in :mod:`gancore.metrics.kid` and :mod:`gancore.metrics.prdc`.
"""
from __future__ import annotations

import functools
import logging
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from threadpoolctl import ThreadpoolController
from torch import Tensor

from gancore.nets.classifier import DigitClassifier

log = logging.getLogger("gancore")


# --------------------------------------------------------------------------
# Fréchet distance and classifier score
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureStats:
    """Mean (F,) and covariance (F, F) of n feature vectors, float64."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int


@functools.lru_cache(maxsize=None)
def _blas_controller() -> ThreadpoolController:
    """Finding the loaded BLAS libraries takes ~5-20 ms; do it once per process."""
    return ThreadpoolController()


def one_blas_thread():
    """A context with one BLAS thread. Matrices of 128 x 128 gain nothing from BLAS
    threads, and on shared cores the threads' waiting for each other makes an eigh
    100x slower and the many mid-sized products of KID and PRDC 10x slower."""
    return _blas_controller().limit(limits=1, user_api="blas")


class SmallSampleWarning(UserWarning):
    """FD from no more samples than feature dimensions: its covariances are singular."""


def is_integer(value) -> bool:
    """An integer: Python's or numpy's (np.int64 from a shape or an array), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def feature_matrix(features, name: str = "features") -> np.ndarray:
    """``features`` (N, F), array or tensor, as float64 numpy, checked: N >= 2 and all finite.

    Every distribution metric starts here, so a NaN or inf feature (a diverged
    generator, a broken extractor) stops with this message instead of turning
    the metric into NaN.
    """
    f = features.detach().cpu().numpy() if isinstance(features, Tensor) else np.asarray(features)
    f = f.astype(np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"{name} must have shape (N, F) with N >= 2, got {f.shape}")
    if not np.isfinite(f).all():
        bad = int((~np.isfinite(f)).any(1).sum())
        raise ValueError(f"{name} hold NaN or inf in {bad} of {len(f)} rows: check the images "
                         "and the feature extractor before measuring")
    return f


def feature_pair(real, fake) -> tuple[np.ndarray, np.ndarray]:
    """Two checked feature matrices (see :func:`feature_matrix`) of the same feature size."""
    real, fake = feature_matrix(real, "real features"), feature_matrix(fake, "fake features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature sizes differ: {real.shape[1]} vs {fake.shape[1]}; "
                         "embed both sets with the same extractor")
    return real, fake


def feature_stats(features) -> FeatureStats:
    """Mean and (unbiased) covariance of features (N, F), in float64."""
    if isinstance(features, FeatureStats):
        return features
    f = feature_matrix(features)
    with one_blas_thread():
        sigma = np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])
    return FeatureStats(f.mean(0), sigma, len(f))


def _sqrt_psd(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (clipped at 0) and square root of a symmetric PSD matrix."""
    vals, vecs = np.linalg.eigh((matrix + matrix.T) / 2)
    vals = np.clip(vals, 0.0, None)  # round-off makes tiny eigenvalues negative
    return vals, (vecs * np.sqrt(vals)) @ vecs.T


def frechet_distance(feats_a, feats_b) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, F), in float64.

    FD = ||mu_a - mu_b||^2 + Tr(S_a) + Tr(S_b) - 2 Tr((S_a^1/2 S_b S_a^1/2)^1/2)

    The last trace equals Tr((S_a S_b)^1/2); computing it from symmetric
    eigendecompositions keeps it real, so no imaginary round-off to discard.
    Either argument may also be a :class:`FeatureStats`.
    """
    a, b = feature_stats(feats_a), feature_stats(feats_b)
    if a.mu.shape != b.mu.shape:
        raise ValueError(f"feature sizes differ: {a.mu.shape[0]} vs {b.mu.shape[0]}")
    dims = a.mu.shape[0]
    if min(a.n, b.n) <= dims:
        warnings.warn(f"FD from {a.n} and {b.n} samples of {dims} features: with no more samples than feature "
                      f"dimensions the covariances are singular and FD is biased far upwards; use at least "
                      f"{dims + 1} samples of each (better {10 * dims}), or fewer feature dimensions",
                      SmallSampleWarning, stacklevel=2)
    with one_blas_thread():
        _, root_a = _sqrt_psd(a.sigma)
        cross_vals, _ = _sqrt_psd(root_a @ b.sigma @ root_a)
    fd = np.sum((a.mu - b.mu) ** 2) + np.trace(a.sigma) + np.trace(b.sigma) - 2 * np.sqrt(cross_vals).sum()
    return float(max(fd, 0.0))


def classifier_score(probs_or_logits, logits: bool | None = None) -> float:
    """Inception score with the digit classifier, over all N samples at once.

    score = exp( mean_x sum_y p(y|x) (log p(y|x) - log p(y)) ),  p(y) = mean_x p(y|x)

    Input (N, K): probabilities, or logits when ``logits=True``. With the
    default ``None``, rows that are non-negative and sum to 1 are taken as
    probabilities, anything else as logits.
    """
    t = torch.as_tensor(probs_or_logits).detach().cpu().double()
    if t.dim() != 2 or len(t) == 0:
        raise ValueError(f"expected probabilities or logits of shape (N, K), got {tuple(t.shape)}")
    if logits is None:
        logits = not (bool((t >= 0).all()) and torch.allclose(t.sum(1), torch.ones(len(t), dtype=t.dtype), atol=1e-4))
    log_p = t.log_softmax(1) if logits else t.clamp_min(1e-300).log()
    p = log_p.exp()
    log_marginal = p.mean(0).clamp_min(1e-300).log()
    kl = (p * (log_p - log_marginal)).sum(1)  # (N,)
    return float(kl.mean().exp())


# --------------------------------------------------------------------------
# Evaluating samples
# --------------------------------------------------------------------------


def reference_stats(images: Tensor, classifier: DigitClassifier) -> FeatureStats:
    """Feature statistics of a reference set, to reuse across many evaluations."""
    return feature_stats(classifier.embed(images)[0])


def evaluate_samples(samples: Tensor, reference, classifier: DigitClassifier) -> dict:
    """``{'fd': ..., 'score': ...}`` of generated ``samples`` (N, 1, 28, 28) in [-1, 1].

    ``reference`` is real images or their :func:`reference_stats`. Use the
    same number of samples as :func:`real_data_floor` did: FD is biased
    upwards for small N.
    """
    feats, probs = classifier.embed(samples)
    ref = reference if isinstance(reference, FeatureStats) else reference_stats(reference, classifier)
    return {"fd": frechet_distance(feats, ref), "score": classifier_score(probs, logits=False)}


def real_data_floor(train_images: Tensor, heldout_images: Tensor, classifier: DigitClassifier) -> dict:
    """What real data scores: FD between two real sets, and the score of each.

    ``{'fd': FD(train, heldout), 'score': score(heldout), 'score_train': score(train)}``.
    A generator trained on ``train_images`` cannot be expected to beat this FD.
    """
    feats_train, probs_train = classifier.embed(train_images)
    feats_held, probs_held = classifier.embed(heldout_images)
    return {"fd": frechet_distance(feats_train, feats_held),
            "score": classifier_score(probs_held, logits=False),
            "score_train": classifier_score(probs_train, logits=False)}
