"""Labels without people: k-means clusters of the images' pixels, for self-conditioned GANs."""
from __future__ import annotations

import torch
from torch import Tensor


def kmeans_labels(images: Tensor, k: int, *, seed: int = 0, iterations: int = 50) -> Tensor:
    """Cluster index (N,) of each image (N, C, H, W) by k-means on its pixels.

    Lloyd's algorithm from a k-means++ start drawn by ``seed``: each centre c_j is the mean of the
    images nearest it, minimising sum_i min_j ||x_i - c_j||^2. A GAN conditioned on these clusters
    uses no labels a person wrote (Liu et al. 2020, "Diverse image generation via self-conditioned
    GANs"); sampling a cluster in the data's proportions keeps the model unconditional."""
    if not 1 <= k <= len(images):
        raise ValueError(f"k must be between 1 and the number of images ({len(images)}), got {k}")
    x = images.reshape(len(images), -1).double()  # (N, D)
    rng = torch.Generator().manual_seed(seed)
    centres = x[torch.randint(len(x), (1,), generator=rng)]  # (1, D)
    nearest = torch.cdist(x, centres).squeeze(1) ** 2  # (N,) squared distance to the nearest centre so far
    for _ in range(1, k):  # k-means++: each next centre drawn in proportion to that squared distance
        new = x[torch.multinomial(nearest, 1, generator=rng)]  # (1, D)
        centres = torch.cat([centres, new])
        nearest = torch.minimum(nearest, torch.cdist(x, new).squeeze(1) ** 2)
    labels = torch.cdist(x, centres).argmin(dim=1)  # (N,)
    for _ in range(iterations):
        for j in labels.unique().tolist():  # an emptied cluster keeps its centre
            centres[j] = x[labels == j].mean(dim=0)
        new_labels = torch.cdist(x, centres).argmin(dim=1)
        if torch.equal(new_labels, labels):
            break
        labels = new_labels
    return labels


def cluster_purity(clusters: Tensor, labels: Tensor) -> float:
    """The share of items whose label is the most common one in their cluster (1: every cluster holds
    one class). Only a diagnostic: the labels never enter a self-conditioned GAN's training."""
    if clusters.shape != labels.shape or clusters.dim() != 1 or len(clusters) == 0:
        raise ValueError(f"need one cluster and one label per item, got shapes {tuple(clusters.shape)} and "
                         f"{tuple(labels.shape)}")
    return sum(int(torch.bincount(labels[clusters == c]).max()) for c in clusters.unique()) / len(clusters)
