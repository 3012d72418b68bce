import math

import numpy as np
import pytest
import torch
from scipy.stats import entropy

from gancore.data.toy import grid_of_gaussians, ring_of_gaussians, sample_mixture
from gancore.experiments.toy import plot_snapshots, train_toy
from gancore.metrics.modes import coverage_over_training, mode_coverage
from gancore.nets.unconditional import MLPDiscriminator, PackedDiscriminator


def test_ring_centres_lie_on_the_circle_evenly_spaced():
    centres, std = ring_of_gaussians(n_modes=8, radius=2.0, std=0.02)
    assert centres.shape == (8, 2) and std == 0.02
    assert torch.allclose(centres.norm(dim=1), torch.full((8,), 2.0), atol=1e-6)
    assert torch.allclose(centres[0], torch.tensor([2.0, 0.0]), atol=1e-6)
    assert torch.allclose(centres[2], torch.tensor([0.0, 2.0]), atol=1e-6)
    # neighbours are 2 r sin(pi / 8) apart
    gaps = (centres - centres.roll(1, dims=0)).norm(dim=1)
    assert torch.allclose(gaps, torch.full((8,), 4 * math.sin(math.pi / 8)), atol=1e-5)


def test_grid_centres_are_a_centred_square_lattice():
    centres, std = grid_of_gaussians(5, spacing=2.0, std=0.05)
    assert centres.shape == (25, 2) and std == 0.05
    expected = {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    assert {tuple(int(round(v)) for v in c) for c in centres.tolist()} == expected
    assert torch.allclose(centres, centres.round(), atol=1e-6)


def test_bad_mixture_arguments_fail_loudly():
    with pytest.raises(ValueError, match="n_modes"):
        ring_of_gaussians(n_modes=0)
    with pytest.raises(ValueError, match="std"):
        grid_of_gaussians(5, std=0.0)
    with pytest.raises(ValueError, match="centres"):
        sample_mixture(torch.zeros(3), 0.1, 10)


def test_samples_have_the_mixture_statistics():
    centres, std = grid_of_gaussians(3, spacing=2.0, std=0.1)  # 9 modes
    x = sample_mixture(centres, std, 45_000, torch.Generator().manual_seed(0))
    assert x.shape == (45_000, 2) and x.dtype == torch.float32
    mode = torch.cdist(x, centres).argmin(dim=1)
    freq = torch.bincount(mode, minlength=9).double() / len(x)
    assert (freq - 1 / 9).abs().max() < 0.01  # about 7 binomial s.e.
    for k in range(9):
        pts = x[mode == k].double()
        assert (pts.mean(0) - centres[k].double()).abs().max() < 0.006  # +-4 s.e. of the mean
        assert (pts.std(0) - std).abs().max() < 0.006  # std within 6%


def test_sampling_is_deterministic_from_a_seed():
    centres, std = ring_of_gaussians()
    a = sample_mixture(centres, std, 100, torch.Generator().manual_seed(3))
    b = sample_mixture(centres, std, 100, torch.Generator().manual_seed(3))
    c = sample_mixture(centres, std, 100, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_coverage_of_samples_at_every_centre():
    centres, std = ring_of_gaussians()
    samples = centres.repeat(10, 1)  # 10 per mode, exactly on the centres
    cov = mode_coverage(samples, centres, std)
    assert cov["modes_covered"] == 8 and cov["n_modes"] == 8
    assert cov["high_quality_fraction"] == 1.0
    assert abs(cov["reverse_kl"]) < 1e-12
    assert cov["counts"] == [10] * 8


def test_coverage_of_a_collapsed_generator():
    centres, std = grid_of_gaussians(5, std=0.05)
    samples = centres[7] + torch.tensor([[0.01, 0.0], [0.0, -0.1], [0.05, 0.05]])
    cov = mode_coverage(samples, centres, std)
    assert cov["modes_covered"] == 1
    assert cov["high_quality_fraction"] == 1.0
    assert abs(cov["reverse_kl"] - math.log(25)) < 1e-9
    assert cov["counts"][7] == 3 and sum(cov["counts"]) == 3


def test_off_mode_points_are_not_high_quality():
    centres, std = ring_of_gaussians(radius=2.0, std=0.02)
    inside = centres[0] + torch.tensor([[2.9 * 0.02, 0.0]])   # 2.9 sigma: high quality
    outside = centres[0] + torch.tensor([[3.1 * 0.02, 0.0]])  # 3.1 sigma: not
    origin = torch.zeros(1, 2)                                # between all modes
    cov = mode_coverage(torch.cat([inside, outside, origin, centres[3:4]]), centres, std)
    assert cov["counts"] == [1, 0, 0, 1, 0, 0, 0, 0]
    assert cov["modes_covered"] == 2
    assert abs(cov["high_quality_fraction"] - 0.5) < 1e-12
    assert math.isnan(mode_coverage(origin, centres, std)["reverse_kl"])


def test_reverse_kl_and_min_count_match_scipy_on_an_uneven_histogram():
    centres, std = ring_of_gaussians(n_modes=4, radius=1.0, std=0.01)
    per_mode = [5, 1, 0, 14]
    samples = torch.cat([centres[k].repeat(n, 1) for k, n in enumerate(per_mode) if n])
    cov = mode_coverage(samples, centres, std, min_count=5)
    q = np.array(per_mode) / sum(per_mode)
    assert abs(cov["reverse_kl"] - entropy(q, np.full(4, 0.25))) < 1e-9
    assert cov["modes_covered"] == 2  # modes with >= 5 samples
    assert mode_coverage(samples, centres, std)["modes_covered"] == 3  # PacGAN: >= 1


def test_coverage_rejects_wrong_shapes():
    centres, std = ring_of_gaussians()
    with pytest.raises(ValueError, match="shape"):
        mode_coverage(torch.zeros(10, 3), centres, std)
    with pytest.raises(ValueError, match="min_count"):
        mode_coverage(torch.zeros(10, 2), centres, std, min_count=0)


def test_packed_discriminator_judges_packs_of_samples():
    torch.manual_seed(0)
    D = PackedDiscriminator(pack=3, hidden=16)
    x = torch.randn(12, 2)
    logits = D(x)
    assert logits.shape == (4,)
    # the same MLP on hand-concatenated packs gives the same logits
    plain = MLPDiscriminator(in_shape=(6,), hidden=16)
    plain.load_state_dict(D.net.state_dict())
    packs = torch.stack([torch.cat([x[3 * i], x[3 * i + 1], x[3 * i + 2]]) for i in range(4)])
    assert torch.allclose(logits, plain(packs), atol=1e-6)
    # a pack's logit depends on every sample in it
    y = x.clone()
    y[1] += 1.0
    changed = (D(y) - logits).abs() > 1e-6
    assert changed.tolist() == [True, False, False, False]
    with pytest.raises(ValueError, match="multiple of 3"):
        D(torch.randn(10, 2))
    with pytest.raises(ValueError, match="multiple of pack=3"):
        train_toy(torch.randn(100, 2), steps=1, pack=3, batch_size=32, progress=False)


def test_a_short_training_run_on_2d_points():
    mixture = ring_of_gaussians(std=0.05)
    real = sample_mixture(*mixture, 2000, torch.Generator().manual_seed(0))
    trainer = train_toy(real, steps=20, batch_size=64, hidden=32, snapshot_every=10,
                        n_snapshot=100, seed=1, device="cpu", progress=False)
    history = trainer.history
    assert len(history) == 20
    assert np.isfinite(history[["loss_d", "loss_g"]].to_numpy()).all()
    assert sorted(trainer.samples) == [10, 20]
    assert trainer.samples[10].shape == (100, 2)
    out = trainer.generate(300)
    assert out.shape == (300, 2) and torch.isfinite(out).all()
    rows = coverage_over_training(trainer.samples, mixture)
    assert [r["step"] for r in rows] == [10, 20]
    assert all(0 <= r["high_quality_fraction"] <= 1 and 0 <= r["modes_covered"] <= 8 for r in rows)


def test_training_is_deterministic_from_the_seed_also_with_packing():
    real = sample_mixture(*ring_of_gaussians(), 1000, torch.Generator().manual_seed(0))

    def run(seed):
        return train_toy(real, steps=10, batch_size=32, hidden=16, pack=2, loss="wgan_gp",
                         seed=seed, device="cpu", progress=False).generate(50)

    a, b, c = run(5), run(5), run(6)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_plot_snapshots_titles_each_panel_with_its_coverage():
    import matplotlib.pyplot as plt

    mixture = ring_of_gaussians()
    collapsed = {10: mixture.centres[:1].repeat(20, 1), 20: mixture.centres.repeat(3, 1)}
    fig = plot_snapshots([("a", collapsed, mixture), ("b", collapsed, mixture)], "title")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["a, step 10\n1/8 modes, 100% HQ", "a, step 20\n8/8 modes, 100% HQ",
                      "b, step 10\n1/8 modes, 100% HQ", "b, step 20\n8/8 modes, 100% HQ"]
    plt.close(fig)
