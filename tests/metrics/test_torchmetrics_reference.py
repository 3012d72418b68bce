"""FD and KID against torchmetrics' public FrechetInceptionDistance and KernelInceptionDistance,
both given the same small, fixed feature module through ``feature=``; and bad feature input."""
import numpy as np
import pytest
import torch
from torch import nn

# The documented module paths; torchmetrics.image re-exports them only when torch-fidelity
# (the Inception weights, not needed with our own feature module) is installed.
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from gancore.metrics.distribution import feature_stats, frechet_distance
from gancore.metrics.kid import kernel_distance

pytestmark = [pytest.mark.usefixtures("one_cpu_thread"),  # tests/conftest.py
              pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save")]

N_FEATURES = 12


class FixedFeatures(nn.Module):
    """Images (N, 1, 8, 8) float64 -> features (N, 12): a seeded random linear map and a tanh.
    ``num_features`` spares torchmetrics its probe with a 3 x 299 x 299 dummy image."""

    num_features = N_FEATURES

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, N_FEATURES), nn.Tanh())
        with torch.no_grad():
            g = torch.Generator().manual_seed(0)
            for p in self.net.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        self.double().eval()

    def forward(self, images):
        return self.net(images)


def image_sets(n_real=300, n_fake=300):
    g = torch.Generator().manual_seed(1)
    real = torch.rand(n_real, 1, 8, 8, generator=g, dtype=torch.float64)
    fake = torch.rand(n_fake, 1, 8, 8, generator=g, dtype=torch.float64) ** 1.5  # darker
    return real, fake


@torch.no_grad()
def features_of(module, images):
    return module(images).numpy()


def test_frechet_distance_matches_torchmetrics_fid_with_the_same_feature_module():
    module = FixedFeatures()
    real, fake = image_sets(300, 250)
    reference = FrechetInceptionDistance(feature=module)  # a custom module takes images as they are
    reference.update(real, real=True)
    reference.update(fake, real=False)
    expected = reference.compute().item()
    ours = frechet_distance(features_of(module, real), features_of(module, fake))
    assert expected > 0.01  # a real difference, not round-off
    assert abs(ours - expected) < 1e-6 * expected  # the issue asks 1e-3


def test_kernel_distance_matches_torchmetrics_kid_on_one_full_subset():
    # One subset of all N images: both sides see the same sample (only its order differs), so the
    # unbiased MMD^2 is the same number however each implementation draws its subsets.
    module = FixedFeatures()
    real, fake = image_sets(300, 300)
    reference = KernelInceptionDistance(feature=module, subsets=1, subset_size=300)
    reference.update(real, real=True)
    reference.update(fake, real=False)
    expected_mean, expected_std = (v.item() for v in reference.compute())
    ours = kernel_distance(features_of(module, real), features_of(module, fake), n_subsets=1, subset_size=300)
    assert expected_mean > 1e-3
    assert abs(ours.mean - expected_mean) < 1e-9 * expected_mean
    assert ours.std == 0.0 and expected_std == 0.0


def test_kernel_distance_over_random_subsets_agrees_with_torchmetrics_statistically():
    # Different random subsets: each mean of 40 subset values has a standard error of about
    # std / sqrt(40). Seeded on both sides, so the test is deterministic; 4 combined standard
    # errors is far wider than chance differences and far narrower than the value itself.
    module = FixedFeatures()
    real, fake = image_sets(400, 400)
    torch.manual_seed(0)
    reference = KernelInceptionDistance(feature=module, subsets=40, subset_size=100)
    reference.update(real, real=True)
    reference.update(fake, real=False)
    expected_mean, expected_std = (v.item() for v in reference.compute())
    ours = kernel_distance(features_of(module, real), features_of(module, fake), n_subsets=40, subset_size=100)
    standard_error = np.hypot(ours.std, expected_std) / np.sqrt(40)
    assert abs(ours.mean - expected_mean) < 4 * standard_error
    assert standard_error < 0.1 * expected_mean
    assert 0.5 * expected_std < ours.std < 2 * expected_std


def test_feature_metrics_refuse_nan_and_inf_features_and_mismatched_sizes():
    good = np.random.default_rng(0).standard_normal((50, 4))
    for bad_value in (np.nan, np.inf):
        bad = good.copy()
        bad[3, 2] = bad_value
        with pytest.raises(ValueError, match="NaN or inf in 1 of 50 rows"):
            frechet_distance(good, bad)
        with pytest.raises(ValueError, match="NaN or inf"):
            kernel_distance(bad, good, subset_size=10)
        with pytest.raises(ValueError, match="NaN or inf"):
            feature_stats(torch.from_numpy(bad))
    with pytest.raises(ValueError, match="feature sizes differ: 4 vs 5"):
        kernel_distance(good, np.zeros((50, 5)), subset_size=10)
    with pytest.raises(ValueError, match=r"\(N, F\)"):
        kernel_distance(good, good[:, 0], subset_size=10)
