"""gancore.data.clusters: k-means labels, checked by hand on separated blobs and against scikit-learn."""
import pytest
import torch

from gancore.data.clusters import cluster_purity, kmeans_labels
from gancore.data.sources import load_mnist


def inertia(x: torch.Tensor, labels: torch.Tensor) -> float:
    """Sum of squared distances of each point to its cluster's mean."""
    x = x.reshape(len(x), -1).double()
    return sum(((x[labels == j] - x[labels == j].mean(0)) ** 2).sum().item() for j in labels.unique())


def test_separated_blobs_are_found_exactly():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    truth = torch.arange(3).repeat_interleave(50)  # (150,)
    x = (centres[truth] + 0.5 * torch.randn(150, 2, generator=g)).view(150, 1, 1, 2)
    labels = kmeans_labels(x, 3, seed=1)
    # the same partition up to renaming: each found cluster is exactly one true blob
    pairs = {(int(t), int(c)) for t, c in zip(truth, labels)}
    assert len(pairs) == 3 and len({c for _, c in pairs}) == 3


def test_result_is_a_fixed_point_of_lloyd():
    x = load_mnist().images[:400]
    labels = kmeans_labels(x, 8, seed=0)
    flat = x.reshape(len(x), -1).double()
    means = torch.stack([flat[labels == j].mean(0) for j in range(8)])  # no cluster is empty here
    assert torch.equal(torch.cdist(flat, means).argmin(1), labels)


def test_as_good_as_scikit_learn_on_real_digits():
    from sklearn.cluster import KMeans  # a test dependency (pyproject [test])

    x = load_mnist().images[:1000]
    ours = inertia(x, kmeans_labels(x, 10, seed=0))
    reference = KMeans(10, n_init=10, random_state=0).fit(x.reshape(1000, -1).double().numpy()).inertia_
    assert 0.97 * reference < ours < 1.03 * reference  # k-means++ from one start vs the best of ten


def test_seeded_and_in_range():
    x = load_mnist().images[:300]
    a, b = kmeans_labels(x, 5, seed=3), kmeans_labels(x, 5, seed=3)
    assert torch.equal(a, b) and a.dtype == torch.int64 and a.shape == (300,)
    assert a.min() >= 0 and a.max() <= 4


@pytest.mark.parametrize("k", [0, -1, 301])
def test_bad_k_is_refused(k):
    with pytest.raises(ValueError, match="k must be between 1 and the number of images"):
        kmeans_labels(load_mnist().images[:300], k)


def test_purity_by_hand():
    clusters = torch.tensor([0, 0, 0, 1, 1, 2])
    labels = torch.tensor([3, 3, 5, 1, 2, 7])
    assert cluster_purity(clusters, labels) == pytest.approx((2 + 1 + 1) / 6, abs=1e-12)
    assert cluster_purity(labels, labels) == 1.0
    with pytest.raises(ValueError, match="one cluster and one label per item"):
        cluster_purity(clusters, labels[:5])
