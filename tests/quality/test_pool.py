"""gancore.quality.pool and the held-out split of notebook 08: what the pool holds and how it is labelled,
the truths on known cases, and the parameter checks."""
import pandas as pd
import pytest
import torch

from gancore.experiments.quality import (QualityEvaluation, part_of, pool_truths, snapshot_steps, split_pools,
                                         train_generators)
from gancore.experiments.style_transfer import translate
from gancore.metrics.per_image import perceptual_distance
from gancore.nets.translation import PatchDiscriminator
from gancore.quality.pool import Pool, build_pool, perceptual_per_image, truths
from gancore.workbook.notebook import ParameterError

from .conftest import triples

pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tests/conftest.py


def fake_degrade(images, kind, strength, generator):
    assert isinstance(generator, torch.Generator)
    return images * (1 - strength)  # fades the target towards grey


def test_pool_holds_every_source_with_its_labels(world):
    d, gens = world["data"], world["generators"]
    pool = build_pool(d, gens, degrade=fake_degrade, degradations={"blur": (0.5,), "noise": (0.25, 1.0)},
                      mismatch_of="full")
    n = len(d)
    sources = ["l1@1", "l1@2", "full@2", "blur@0.5", "noise@0.25", "noise@1", "copy", "mismatch:full"]
    assert len(pool) == len(sources) * n and pool.source == [s for s in sources for _ in range(n)]
    assert pool.family == [f for f in ("l1", "l1", "full", "blur", "noise", "noise", "copy", "mismatch")
                           for _ in range(n)]
    assert torch.equal(pool.target, d.target.repeat(len(sources), 1, 1, 1))
    k = pool.source.index
    assert torch.equal(pool.output[k("l1@2"):k("l1@2") + n], translate(gens["l1"][2], d.content, d.exemplar))
    assert torch.equal(pool.output[k("blur@0.5"):k("blur@0.5") + n], d.target * 0.5)
    assert torch.equal(pool.output[k("copy"):k("copy") + n], d.content.expand(-1, 3, -1, -1))
    mismatch = translate(gens["full"][2], d.content, d.exemplar[torch.roll(torch.arange(n), 1)])
    assert torch.equal(pool.output[k("mismatch:full"):], mismatch)
    labels = pool.labels()
    attributes = list(d.attributes)  # the digits' stroke, slant, ink, background
    assert list(labels.columns) == ["source", "family", "split", *attributes] and (labels["split"] == d.split).all()
    assert torch.equal(pool.style, d.style.repeat(len(sources), 1))
    assert labels[attributes[0]].tolist() == [d.attributes[attributes[0]][i] for i in pool.style[:, 0].tolist()]
    assert torch.equal(pool.subset(torch.arange(len(pool)) % 2 == 0).style, pool.style[::2])
    assert pool.of_families(["copy"]).source == ["copy"] * n


def test_pool_refuses_bad_input(world):
    d = world["data"]
    with pytest.raises(ValueError, match="mismatch_of"):
        build_pool(d, world["generators"], mismatch_of="nope")
    with pytest.raises(ValueError, match="no sources"):
        build_pool(d, {}, copy=False)
    with pytest.raises(ValueError, match="no items of families"):
        build_pool(d, {}, copy=True).of_families(["l1"])
    with pytest.raises(ValueError, match="one entry per output"):
        Pool(d.target, d.content, d.exemplar, d.target, ["x"], ["x"], "s")
    with pytest.raises(TypeError, match="StyleTransferSet"):
        build_pool(d.target, world["generators"])


def test_truths_on_known_cases(world):
    d = world["data"]
    pool = build_pool(d, {}, degrade=fake_degrade, degradations={"fade": (0.0, 0.5)}, copy=False)
    t = truths(pool, world["net"])
    exact = torch.tensor([s == "fade@0" for s in pool.source])  # the target itself
    assert torch.allclose(t["ssim"][exact], torch.ones(len(d)), atol=1e-5)
    assert torch.equal(t["perceptual"][exact], torch.zeros(len(d)))
    assert (t["ssim"][~exact] < 1).all() and (t["perceptual"][~exact] < 0).all()
    per_image = perceptual_per_image(pool.output, pool.target, world["net"])
    assert per_image.mean().item() == pytest.approx(perceptual_distance(pool.output, pool.target, world["net"]),
                                                    rel=1e-5)


def test_held_out_families_are_only_in_the_test_pools(world):
    splits = {name: triples(4, seed, name) for seed, name in enumerate(("train", "test_seen", "test_unseen"))}
    gens = {**world["generators"], "l1+perceptual": {2: world["generators"]["l1"][2]}}
    pools = split_pools(splits, gens, n_items=3, held_out=["l1+perceptual"])
    assert set(pools["train"].family) == set(pools["train_all"].family) == {"l1", "full", "copy", "mismatch"}
    assert set(pools["seen"].family) == set(pools["unseen"].family) == {"l1+perceptual"}
    assert len(pools["unseen"]) == 3 and pools["unseen"].split == "test_unseen"
    assert set(pools["unseen_all"].family) == {"l1", "full", "copy", "mismatch", "l1+perceptual"}
    learn = split_pools(splits, gens, n_items=3, held_out=["l1+perceptual"], train_families=["l1", "full"])
    assert set(learn["train"].family) == {"l1", "full"} and set(learn["train_all"].family) == set(pools["train_all"].family)
    mask = torch.tensor([f in ("l1", "full") for f in learn["train_all"].family])
    assert torch.equal(learn["train"].output, learn["train_all"].output[mask])  # the same items, in the same order
    graded = pool_truths(learn, world["net"])  # each output graded once, the parts read off the wholes
    for part in ("train", "unseen", "seen"):
        direct = truths(learn[part], world["net"])
        assert all(torch.allclose(graded[part][n], direct[n], atol=1e-6) for n in direct)
    assert torch.equal(part_of(learn["train_all"], learn["train"]), mask)


@pytest.mark.parametrize("held_out, message", [("l1,blurry", "unknown families"), ("noise", "at least one generator"),
                                               ("full", "cannot hold out full"),
                                               ("l1,l1+perceptual,full", "no generator to learn from")])
def test_bad_held_out_is_one_parameter_error(held_out, message):
    with pytest.raises(ParameterError, match=message):
        QualityEvaluation(held_out=held_out)


@pytest.mark.parametrize("q_families, message", [("l1,blurry", "unknown or no families"), (" , ", "unknown or no"),
                                                 ("l1,l1+perceptual", "share")])
def test_bad_q_families_is_one_parameter_error(q_families, message):
    with pytest.raises(ParameterError, match=message):
        QualityEvaluation(q_families=q_families)


def test_q_families_all_means_every_family_not_held_out():
    assert QualityEvaluation(q_families="all").q_training_families() is None
    assert QualityEvaluation().q_training_families() == ["l1", "full"]


def test_snapshots_halve_back_from_the_last_step(world):
    assert snapshot_steps(600, 4) == [75, 150, 300, 600]
    assert snapshot_steps(4, 5) == [1, 2, 4]  # coinciding marks kept once
    gens = train_generators(triples(8, 5, "train"), 4, 2, {"batch_size": 4, "width": 4}, feature_net=world["net"],
                            device="cpu", progress=False)
    assert {f: sorted(c) for f, c in gens["checkpoints"].items()} == {f: [2, 4] for f in ("l1", "l1+perceptual", "full")}
    l1 = gens["checkpoints"]["l1"]
    assert not torch.equal(l1[2].to_image.weight, l1[4].to_image.weight)  # copies, not one G seen twice
    assert isinstance(gens["discriminator"], PatchDiscriminator)


def test_each_source_can_take_its_own_items(world):
    d = triples(10, 7, "train")
    pool = build_pool(d, {}, degrade=fake_degrade, degradations={"fade": (0.0, 0.5)}, copy=True, items_per_source=4)
    assert len(pool) == 12 and pool.source == ["fade@0"] * 4 + ["fade@0.5"] * 4 + ["copy"] * 4
    windows = [torch.arange(0, 4), torch.arange(4, 8), torch.tensor([8, 9, 0, 1])]  # wrapping round
    assert torch.equal(pool.target, torch.cat([d.target[w] for w in windows]))
    assert torch.equal(pool.output[:4], d.target[:4]) and torch.equal(pool.content[8:], d.content[windows[2]])
    with pytest.raises(ValueError, match="items_per_source"):
        build_pool(d, {}, items_per_source=0)


def test_checkpoint_ranking_orders_a_familys_snapshots_by_mean_score_by_hand():
    """Three snapshots of "full" (two outputs each) and one of another family: ranks from the means,
    worked out by hand; the judge that reverses the truth gets Spearman -1."""
    from gancore.experiments.quality import checkpoint_ranking

    x = torch.zeros(7, 3, 4, 4)
    source = ["full@10", "full@10", "full@200", "full@200", "full@30", "full@30", "l1@10"]
    pool = Pool(x, x, x, x, source, [s.split("@")[0] for s in source], "unseen")
    truth = torch.tensor([0.1, 0.3, 0.9, 0.7, 0.5, 0.5, 5.0])     # means: @10 0.2, @30 0.5, @200 0.8
    reversed_judge = -truth
    table = checkpoint_ranking({"judge": reversed_judge}, truth, pool, "full")
    assert list(table.index) == ["full@10", "full@30", "full@200", "spearman with truth"]
    assert list(table["truth"][:3]) == [3, 2, 1] and list(table["judge"][:3]) == [1, 2, 3]
    assert table.loc["spearman with truth", "truth"] == pytest.approx(1.0)
    assert table.loc["spearman with truth", "judge"] == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="no checkpoints of 'copy'"):
        checkpoint_ranking({}, truth, pool, "copy")


def test_the_reported_q_is_the_one_better_on_seen_styles():
    from gancore.experiments.quality_judges import chosen_judge, judge_summary

    def table(ft, scratch):
        rows = {"D raw": 0.1, "Q fine-tuned": ft, "Q scratch": scratch}
        return pd.DataFrame({"spearman": rows, "spearman_low": {k: v - 0.05 for k, v in rows.items()},
                             "spearman_high": {k: v + 0.05 for k, v in rows.items()},
                             "kendall": {k: v / 2 for k, v in rows.items()}})

    seen, unseen = table(0.6, 0.7), table(0.9, 0.5)  # scratch wins where it is chosen, loses on the test
    assert chosen_judge(seen) == "Q scratch"
    summary = judge_summary(unseen, seen)
    assert summary["judge"] == "Q scratch" and summary["spearman_unseen"] == 0.5 and summary["kendall_unseen"] == 0.25
    assert summary["spearman_unseen_ci"] == [0.45, 0.55] and summary["spearman_seen"] == 0.7
    assert summary["fine_tuned"] == {"spearman_unseen": 0.9, "spearman_seen": 0.6}
    assert chosen_judge(table(0.8, 0.7)) == "Q fine-tuned"


def test_joined_pools_keep_order_and_only_shared_style_labels(world):
    a = build_pool(world["data"], world["generators"], copy=False)
    b = build_pool(world["data"].subset(slice(0, 2)), {}, copy=True)
    ab = a.join(b)
    assert len(ab) == len(a) + len(b) and ab.source == a.source + b.source and ab.split == a.split
    assert torch.equal(ab.target, torch.cat([a.target, b.target])) and torch.equal(ab.style[len(a):], b.style)
    other = Pool(b.output, b.content, b.exemplar, b.target, b.source, b.family, "random_styles")  # no style labels
    assert a.join(other).style is None and a.join(other).split == f"{a.split}+random_styles"
    with pytest.raises(TypeError, match="another Pool"):
        a.join(world["data"])
