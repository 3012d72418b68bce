"""gancore.quality.qmodel and .ranking: Q's shape and inputs, the copy from D, the ranking loss,
rank correlations and bootstraps against scipy and theory, the ArtFID-style combination by hand."""
import inspect
import math

import numpy as np
import pytest
import torch
from scipy import stats

from gancore.quality.pool import build_pool
from gancore.quality.qmodel import (QualityModel, artfid_style, pairwise_ranking_loss, reference_free_scores, score,
                                    train_quality_model)
from gancore.quality.ranking import bootstrap_ci, kendall, pairwise_agreement, spearman

pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tests/conftest.py


def test_q_scores_each_output_and_never_takes_the_target(world):
    d = world["data"]
    assert list(inspect.signature(QualityModel.forward).parameters) == ["self", "output", "content", "exemplar"]
    q = QualityModel(width=4)
    s = q(d.target, d.content, d.exemplar)
    assert s.shape == (len(d),) and torch.isfinite(s).all()
    with pytest.raises(ValueError, match="channels"):
        q(d.target[:, :1], d.content, d.exemplar)  # a grey output: the conditional PatchGAN's own check


def test_fine_tuning_starts_from_a_copy_of_d(world):
    D, d = world["D"], world["data"]
    q = QualityModel.from_discriminator(D)
    for (name, a), (_, b) in zip(D.state_dict().items(), q.net.state_dict().items()):
        assert torch.equal(a, b), name
    assert all(a.data_ptr() != b.data_ptr() for a, b in zip(D.parameters(), q.net.parameters()))
    with torch.no_grad():
        expected = D(d.target, content=d.content, exemplar=d.exemplar).mean(dim=(1, 2, 3))
        assert torch.allclose(q(d.target, d.content, d.exemplar), expected, atol=1e-6)
    with pytest.raises(TypeError, match="PatchDiscriminator"):
        QualityModel.from_discriminator(torch.nn.Linear(2, 2))


def test_training_moves_the_copy_not_d_and_is_seeded(world):
    D = world["D"]
    pool = build_pool(world["data"], world["generators"], copy=True)
    truth = torch.linspace(0, 1, len(pool))
    before = {k: v.clone() for k, v in D.state_dict().items()}
    runs = [train_quality_model(QualityModel.from_discriminator(D), pool, truth, steps=2, batch_size=8,
                                progress=False) for _ in range(2)]
    assert all(torch.equal(v, D.state_dict()[k]) for k, v in before.items())
    assert not torch.equal(runs[0].net.logit.weight, D.logit.weight)
    assert torch.equal(score(runs[0], pool), score(runs[1], pool))
    with pytest.raises(ValueError, match="one finite score per pool item"):
        train_quality_model(QualityModel(width=4), pool, truth[:-1], steps=1, progress=False)


def test_ranking_loss_by_hand():
    s, t = torch.tensor([2.0, 0.0, 1.0]), torch.tensor([0.9, 0.1, 0.5])
    # pairs with t_i > t_j: (0,1), (0,2), (2,1); loss = mean softplus(-(s_i - s_j))
    expected = (math.log1p(math.exp(-2)) + math.log1p(math.exp(-1)) + math.log1p(math.exp(-1))) / 3
    assert pairwise_ranking_loss(s, t).item() == pytest.approx(expected, rel=1e-6)
    assert pairwise_ranking_loss(s, torch.ones(3)).item() == 0.0  # no ordered pair
    with pytest.raises(ValueError, match="two \\(B,\\) vectors"):
        pairwise_ranking_loss(s, t[:2])


def tau_b_by_brute_force(x, y):
    """tau_b = (C - D) / sqrt((C + D + T_x)(C + D + T_y)) over all pairs i < j (T: tied in one only)."""
    c = d = tx = ty = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            sx, sy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
            c, d = c + (sx * sy > 0), d + (sx * sy < 0)
            tx, ty = tx + (sx == 0 and sy != 0), ty + (sy == 0 and sx != 0)
    return (c - d) / math.sqrt((c + d + tx) * (c + d + ty))


HAND = ([1.0, 2.0, 2.0, 5.0, 3.0, 0.5, 4.0, 4.0], [2.0, 1.0, 3.0, 7.0, 3.0, 0.0, 5.0, 6.0])


def test_rank_correlations_match_scipy_and_a_brute_force_count():
    x, y = HAND
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert kendall(x, y) == pytest.approx(tau_b_by_brute_force(x, y), abs=1e-12)
    rng = np.random.default_rng(0)
    a = rng.integers(0, 8, 60).astype(float)  # many ties
    b = np.round(a + rng.normal(0, 3, 60))
    assert kendall(a, b) == pytest.approx(tau_b_by_brute_force(a, b), abs=1e-12)
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
    assert spearman(x, [1.0] * 8) == 0.0
    with pytest.raises(ValueError, match="NaN"):
        spearman([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(ValueError, match="one length"):
        kendall([1.0, 2.0], [1.0, 2.0, 3.0])


def test_bootstrap_interval_of_a_mean_matches_the_normal_theory():
    x = np.random.default_rng(1).normal(3.0, 2.0, 400)
    low, high = bootstrap_ci(np.mean, x, n_boot=2000, seed=0)
    half = 1.96 * x.std(ddof=1) / math.sqrt(len(x))
    assert low == pytest.approx(x.mean() - half, abs=0.04) and high == pytest.approx(x.mean() + half, abs=0.04)
    assert bootstrap_ci(np.mean, x, n_boot=50, seed=3) == bootstrap_ci(np.mean, x, n_boot=50, seed=3)
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci(np.mean, x, level=1.5)


def test_pairwise_agreement_by_hand():
    s = [0.1, 0.9, 0.5, 0.5]
    # pairs (0,1) rater chose 1: agrees; (2,3) chose 0: a tie, one half; (1,2) chose 1: disagrees
    assert pairwise_agreement(s, [0, 2, 1], [1, 3, 2], [1, 0, 1]) == pytest.approx(1.5 / 3)
    with pytest.raises(ValueError, match="winner"):
        pairwise_agreement(s, [0], [1], [2])
    with pytest.raises(ValueError, match="indices"):
        pairwise_agreement(s, [0], [4], [0])


def test_artfid_style_combination_by_hand(world):
    c, s = torch.tensor([0.0, 0.5, 2.0]), torch.tensor([1.0, 0.2, 0.0])
    assert torch.allclose(artfid_style(c, s), torch.tensor([2.0, 1.8, 3.0]))
    with pytest.raises(ValueError, match=">= 0"):
        artfid_style(-c - 1, s)
    pool = build_pool(world["data"], world["generators"], copy=True)
    base = reference_free_scores(pool, world["net"])
    copy = torch.tensor([f == "copy" for f in pool.family])
    assert torch.allclose(base["ssim_to_content"][copy], torch.ones(int(copy.sum())), atol=1e-5)
    assert torch.allclose(base["perceptual_to_content"][copy], torch.zeros(int(copy.sum())), atol=1e-6)
    d_c, d_s = -base["perceptual_to_content"], -base["gram_to_exemplar"]
    assert torch.allclose(base["artfid_style"], -(1 + d_c) * (1 + d_s))
