"""Mode coverage of samples from a 2-D Gaussian mixture: how many modes a generator found.

    mode_coverage(samples, centres, std)  # modes_covered, high_quality_fraction, reverse_kl, counts
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from gancore.data.toy import Mixture


def mode_coverage(samples: Tensor, centres: Tensor, std: float, n_sigma: float = 3.0,
                  min_count: int = 1) -> dict:
    """Mode collapse in numbers, by the VEEGAN / PacGAN protocol.

    Each sample goes to its nearest centre. It is *high quality* if it lies
    within ``n_sigma`` standard deviations of that centre, ||x - mu_k|| < 3 std.
    A mode is *covered* if it receives at least ``min_count`` high-quality
    samples; ``min_count=1`` is the rule in PacGAN's code (MetricLogger in
    github.com/fjxmlzn/PacGAN), which evaluates 2,500 samples. Raise it to
    ignore modes that receive only stray samples.

    Returns ``modes_covered``, ``n_modes``, ``high_quality_fraction`` (of all
    samples), ``reverse_kl`` = KL(q || uniform) = log K - H(q), where q is the
    histogram of high-quality samples over modes (0 when balanced, log K when
    all land in one mode; NaN with no high-quality sample), and ``counts``,
    the high-quality samples per mode.
    """
    samples = torch.as_tensor(samples, dtype=torch.float32).detach().cpu()
    centres = torch.as_tensor(centres, dtype=torch.float32).cpu()
    if samples.dim() != 2 or samples.shape[1] != centres.shape[1] or len(samples) == 0:
        raise ValueError(f"samples must have shape (N, {centres.shape[1]}) with N >= 1, "
                         f"got {tuple(samples.shape)}")
    if not std > 0 or min_count < 1:
        raise ValueError(f"need std > 0 and min_count >= 1, got std={std}, min_count={min_count}")
    dist = torch.cdist(samples, centres)  # (N, K)
    nearest_dist, nearest = dist.min(dim=1)  # (N,), (N,)
    good = nearest_dist < n_sigma * std  # (N,) high quality
    counts = torch.bincount(nearest[good], minlength=len(centres))  # (K,)
    n_good = int(counts.sum())
    if n_good:
        q = counts[counts > 0].double() / n_good
        reverse_kl = math.log(len(centres)) + float((q * q.log()).sum())
    else:
        reverse_kl = float("nan")
    return {
        "modes_covered": int((counts >= min_count).sum()),
        "n_modes": len(centres),
        "high_quality_fraction": n_good / len(samples),
        "reverse_kl": reverse_kl,
        "counts": counts.tolist(),
    }


def coverage_over_training(snapshots: dict[int, Tensor], mixture: Mixture) -> list[dict]:
    """``mode_coverage`` of each snapshot {step: (n, 2)}, one row per step."""
    centres, std = mixture
    rows = []
    for step, points in sorted(snapshots.items()):
        cov = mode_coverage(points, centres, std)
        rows.append({"step": step, **{k: v for k, v in cov.items() if k != "counts"}})
    return rows
