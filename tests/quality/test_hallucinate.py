"""gancore.quality.hallucinate and notebook 08's scoring of every judge: H is reference-free and seeded,
its scores are the truths' own formulas (equal to them when H imagines the real target), Q + H by hand."""
import inspect

import pytest
import torch
import torch.nn.functional as F

from gancore.experiments.quality import pool_truths, split_pools
from gancore.experiments.quality_judges import (COMBINED, HALLUCINATED, JUDGES, better_q, hallucinator_pool,
                                                score_judges, train_judges, train_reference)
from gancore.quality.hallucinate import (ReferenceHallucinator, combined, hallucinate, hallucinated_scores,
                                         train_hallucinator)
from gancore.quality.pool import build_pool, truths
from gancore.quality.qmodel import BASELINES, score
from gancore.quality.ranking import spearman

from .conftest import triples

pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tests/conftest.py


def test_h_imagines_one_image_per_output_and_never_takes_the_target(world):
    d = world["data"]
    assert list(inspect.signature(ReferenceHallucinator.forward).parameters) == ["self", "output", "content",
                                                                                 "exemplar"]
    h = ReferenceHallucinator(width=4).eval()
    with torch.no_grad():
        t_hat = h(d.target, d.content, d.exemplar)
    assert t_hat.shape == d.target.shape and t_hat.abs().max() <= 1
    with pytest.raises(ValueError, match="channels"):
        h(d.target[:, :1], d.content, d.exemplar)  # a grey output: the style generator's own check


def test_training_restores_targets_better_and_is_seeded(world):
    pool = build_pool(world["data"], world["generators"], copy=True)
    before = F.l1_loss(hallucinate(train_reference(pool, steps=1, width=4, seed=0, progress=False), pool), pool.target)
    runs = [train_reference(pool, steps=60, width=4, seed=0, progress=False) for _ in range(2)]
    after = hallucinate(runs[0], pool)
    assert torch.equal(after, hallucinate(runs[1], pool))  # one seed, one H
    assert F.l1_loss(after, pool.target) < 0.9 * before  # it learned something of the targets
    with pytest.raises(TypeError, match="ReferenceHallucinator"):
        train_hallucinator(torch.nn.Linear(2, 2), pool, steps=1, progress=False)


def test_scores_are_the_truths_when_h_imagines_the_real_target(world):
    pool = build_pool(world["data"], world["generators"], copy=True)
    mirrored = hallucinated_scores(pool, pool.target, world["net"])
    real = truths(pool, world["net"])
    for name in real:
        assert torch.allclose(mirrored[name], real[name], atol=1e-6), name
    with pytest.raises(ValueError, match="one hallucinated target per output"):
        hallucinated_scores(pool, pool.target[:-1], world["net"])


def test_combined_standardises_each_score_by_the_training_pool_by_hand():
    q_train, h_train = torch.tensor([0.0, 2.0, 4.0]), torch.tensor([10.0, 10.0, 13.0])  # sd 2 and sqrt(3)
    q, s_h = torch.tensor([2.0, 6.0]), torch.tensor([11.0, 11.0 + 3 ** 0.5])
    expected = torch.tensor([0.0 + 0.0, 2.0 + 1.0])  # (q - 2) / 2 + (s_h - 11) / sqrt(3)
    assert torch.allclose(combined(q, s_h, q_train, h_train), expected, atol=1e-6)
    with pytest.raises(ValueError, match="two \\(N,\\) score vectors"):
        combined(q, s_h[:1], q_train, h_train)
    with pytest.raises(ValueError, match="some spread"):
        combined(q, s_h, q_train, torch.ones(3))


def test_every_judge_is_scored_and_q_plus_h_pairs_the_q_better_on_seen_styles(world):
    splits = {name: triples(6, seed, name) for seed, name in enumerate(("train", "test_seen", "test_unseen"))}
    pools = split_pools(splits, world["generators"], n_items=4, held_out=["l1"])
    truth = pool_truths(pools, world["net"])
    judges = {name: train_judges(world["D"], pools["train"], truth["train"][name], steps=1, batch_size=8, lr=1e-3,
                                 width=4, progress=False) for name in truth["train"]}
    h = train_reference(pools["train"], steps=1, width=4, progress=False)
    scores, paired = score_judges(judges, h, pools, truth, world["net"])
    expected = {*JUDGES, HALLUCINATED, COMBINED, *BASELINES}
    for key in ("seen", "unseen_all", "unseen"):
        for name, by_scorer in scores[key].items():
            assert set(by_scorer) == expected and all(len(v) == len(pools[key]) for v in by_scorer.values())
    for name, q in paired.items():
        assert q == better_q(scores["seen"][name], truth["seen"][name]) and q in ("Q fine-tuned", "Q scratch")
        rival = "Q scratch" if q == "Q fine-tuned" else "Q fine-tuned"
        assert (spearman(scores["seen"][name][q].numpy(), truth["seen"][name].numpy())
                >= spearman(scores["seen"][name][rival].numpy(), truth["seen"][name].numpy()))
        s_h_train = hallucinated_scores(pools["train"], hallucinate(h, pools["train"]), world["net"])[name]
        by = scores["seen"][name]
        assert torch.allclose(by[COMBINED], combined(by[q], by[HALLUCINATED], score(judges[name][q], pools["train"]),
                                                     s_h_train))


def test_h_learns_from_q_s_pool_plus_random_styles_through_the_same_generators(world):
    splits = {name: triples(6, seed, name) for seed, name in enumerate(("train", "test_seen", "test_unseen"))}
    pools = split_pools(splits, world["generators"], n_items=4, held_out=["l1"])  # Q learns from full, copy, mismatch
    assert hallucinator_pool(pools, splits["train"], world["generators"], 0) is pools["train"]
    joined = hallucinator_pool(pools, splits["train"], world["generators"], 5, seed=1)
    n = len(pools["train"])
    assert torch.equal(joined.output[:n], pools["train"].output) and joined.family[:n] == pools["train"].family
    extra = joined.family[n:]
    assert len(extra) == 5 and set(extra) == {"full"}  # the one generator family Q learns from; full has one snapshot
    assert joined.style is None and joined.split == "train+random_styles"  # the random styles have no split labels
