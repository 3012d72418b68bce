"""Does a score order images like the truth? Rank correlations, bootstrap intervals, pair agreement.

    spearman(x, y)     rho = Pearson correlation of the ranks (ties share their mean rank)
    kendall(x, y)      tau_b = (C - D) / sqrt((n0 - n1)(n0 - n2)), n0 = n(n-1)/2, n1, n2 tied pairs in x, y
    bootstrap_ci(f, x, y)           percentile interval of f over resampled pairs (x_i, y_i)
    pairwise_agreement(s, a, b, w)  share of rated pairs (a_k, b_k; winner w_k) that s orders as the rater

Spearman matches ``scipy.stats.spearmanr``, Kendall a brute-force count over all pairs
(tests/quality/test_qmodel.py).
Every score here is "higher is better"; a distance enters negated.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from scipy.stats import kendalltau, rankdata


def _vector(name: str, x) -> np.ndarray:
    a = x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one score per item (1-D), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} holds NaN or inf: score every item with a finite number")
    return a


def _pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    a, b = _vector("x", x), _vector("y", y)
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"need two score vectors of one length >= 2, got {len(a)} and {len(b)}")
    return a, b


def spearman(x, y) -> float:
    """Spearman's rho: the Pearson correlation of the (average-tie) ranks; 0 when one side is constant."""
    a, b = _pair(x, y)
    ra, rb = rankdata(a) - (len(a) + 1) / 2, rankdata(b) - (len(b) + 1) / 2  # centred ranks
    denom = np.sqrt((ra**2).sum() * (rb**2).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else 0.0


def kendall(x, y) -> float:
    """Kendall's tau-b, by ``scipy.stats.kendalltau`` (O(n log n): the bootstrap calls it a thousand
    times); 0 when one side is constant."""
    a, b = _pair(x, y)
    tau = kendalltau(a, b).statistic
    return float(tau) if np.isfinite(tau) else 0.0


def bootstrap_ci(statistic: Callable, *samples, n_boot: int = 1000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """The percentile interval of ``statistic(*resampled)``: ``n_boot`` draws of the item indices
    with replacement (one draw shared by every sample, so pairs stay pairs), seeded."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ValueError(f"n_boot must be an int >= 1, got {n_boot!r}")
    arrays = [np.asarray(s) if not isinstance(s, torch.Tensor) else s.detach().cpu().numpy() for s in samples]
    n = len(arrays[0])
    if n < 2 or any(len(a) != n for a in arrays):
        raise ValueError(f"need samples of one length >= 2, got {[len(a) for a in arrays]}")
    rng = np.random.default_rng(seed)
    stats = np.array([statistic(*(a[idx] for a in arrays))
                      for idx in (rng.integers(0, n, n) for _ in range(n_boot))])
    return float(np.quantile(stats, (1 - level) / 2)), float(np.quantile(stats, (1 + level) / 2))


def with_ci(statistic: Callable, x, y, n_boot: int = 1000, seed: int = 0) -> dict[str, float]:
    """``{"value", "low", "high"}``: the statistic and its 95% bootstrap interval."""
    low, high = bootstrap_ci(statistic, x, y, n_boot=n_boot, seed=seed)
    return {"value": statistic(x, y), "low": low, "high": high}


def pairwise_agreement(scores, first, second, winner) -> float:
    """Share of the rated pairs where ``scores`` prefers the item the rater chose.

    ``first``, ``second``: item indices of each pair; ``winner``: 0 (first better) or 1 (second).
    A tie in the scores counts one half.
    """
    s = _vector("scores", scores)
    first, second, winner = (np.asarray(v, dtype=np.int64) for v in (first, second, winner))
    if not len(first) == len(second) == len(winner) or len(first) == 0:
        raise ValueError(f"first, second and winner must be one entry per rated pair (>= 1), got "
                         f"{len(first)}, {len(second)}, {len(winner)}")
    if not np.isin(winner, (0, 1)).all():
        raise ValueError("winner must be 0 (first better) or 1 (second better) for each pair")
    if min(first.min(), second.min()) < 0 or max(first.max(), second.max()) >= len(s):
        raise ValueError(f"pair item indices must lie in [0, {len(s)}), the scored items")
    margin = np.where(winner == 0, s[first] - s[second], s[second] - s[first])
    return float(np.mean((margin > 0) + 0.5 * (margin == 0)))
