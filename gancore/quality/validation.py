"""Notebook 08's first half in one call: which metric sees which failure, at which sample size,
and whether the metrics agree on trained checkpoints.

    v = metric_validation(smoke=False, seed=0)
    v.table, v.catches            # Spearman rho with strength per (domain, degradation, metric)
    v.sample_size_rule            # the practical rule, measured
    v.checkpoints                 # MNIST DCGAN checkpoints ranked by every metric
    v.disagreement                # the loss net and the grader on the same damaged outputs
    v.metrics_json                # for metrics.json: degradations {metric: {degradation: rho}}, ...
    v.plot_curves("mnist"); v.plot_catches(); v.plot_sample_size()
"""
from __future__ import annotations

import time

import pandas as pd
import torch

from gancore.data.sources import load_dataset
from gancore.data.splits import partition
from gancore.quality.checkpoints import baseline_checkpoints, rank_agreement, rank_checkpoints
from gancore.quality.judges import DigitJudge, StyleJudge
from gancore.quality.sample_size import N_GRID, fd_kid_vs_n, notebook_sample_sizes, sample_size_rule
from gancore.quality.study import (STRENGTHS, MetricValidation, catches, curve_table, degraded_sets,
                                   loss_grader_disagreement, sweep)
from gancore.runtime import as_device

# the study's sizes: default (about 90 s on two cores) and smoke (seconds)
DEFAULT_SIZES = {"n": 1000, "n_style": 300, "style_train": 2000, "style_test": 500, "ns": N_GRID, "repeats": 3,
                 "ckpt_steps": 400, "ckpt_every": 50, "ckpt_n": 500}
SMOKE_SIZES = {"n": 64, "n_style": 24, "style_train": 64, "style_test": 32, "ns": (20, 40), "repeats": 2,
               "ckpt_steps": 4, "ckpt_every": 2, "ckpt_n": 40}
CHECKPOINT_METRICS = ("fd", "kid", "score", "precision", "recall", "density", "coverage")


def digit_parts(n: int, seed: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Three disjoint sets of real digits from the experiment part (the classifier learned from
    the measure part only): ``reference`` (n), ``samples`` (n, the ones damaged) and ``train``
    (the rest: what a memorising generator copies, and what the checkpoints' GAN trains on)."""
    exp = partition(load_dataset("mnist", "train"), "experiment")
    if len(exp) < 3 * n:
        raise ValueError(f"n={n} needs >= {3 * n} digits in the experiment part, which has {len(exp)}")
    perm = torch.randperm(len(exp), generator=torch.Generator().manual_seed(seed))
    cut = {"reference": perm[:n], "samples": perm[n:2 * n], "train": perm[2 * n:]}
    return {k: (exp.images[i], exp.labels[i]) for k, i in cut.items()}


def _style_part(sizes: dict, seed: int, device, progress: bool):
    """The style judge on ``n_style`` seen-style test triples of notebook 05's data (its cached
    loss net and grader at these sizes), with the training targets as what is memorised."""
    from gancore.experiments.style_transfer import generator_splits, grader_training_set
    from gancore.metrics.feature_nets import get_feature_net, get_style_classifier

    splits = generator_splits(sizes["style_train"], sizes["style_test"], seed=seed)
    test = splits["test_seen"].subset(slice(0, sizes["n_style"]))
    grader = get_style_classifier(grader_training_set(sizes["style_train"], seed=seed), device, progress)
    loss_net = get_feature_net(splits["train"], device=device, progress=progress)
    style_id = test.style.unique(dim=0, return_inverse=True)[1]  # (N,) one label per style: its "modes"
    judge = StyleJudge(test, grader, splits["train"].target, loss_net)
    return judge, degraded_sets(test.target, sizes["strengths"], labels=style_id, train=splits["train"].target,
                                style_data=test, seed=seed)


def metric_validation(*, smoke: bool = False, seed: int = 0, device=None, n: int | None = None,
                      strengths=None, progress: bool = True) -> MetricValidation:
    """Run the whole study (module doc); ``n`` overrides the MNIST set size, ``strengths`` the
    damage levels (they must include 0; default :data:`STRENGTHS`, in smoke mode 0 and 1).
    Deterministic from ``seed``."""
    from gancore.metrics.classifier import get_classifier

    strengths = tuple(float(s) for s in (strengths or ((0.0, 1.0) if smoke else STRENGTHS)))
    if 0.0 not in strengths or len(strengths) < 2 or any(not 0 <= s <= 1 for s in strengths):
        raise ValueError(f"strengths must lie in [0, 1], include 0 and one more, got {strengths}")
    sizes = {**(SMOKE_SIZES if smoke else DEFAULT_SIZES), "strengths": strengths}
    if n is not None:
        sizes["n"] = int(n)
    device = as_device(device)
    seconds, t0 = {}, time.perf_counter()

    parts = digit_parts(sizes["n"], seed)
    classifier = get_classifier("mnist", device=device, progress=progress)
    (ref, _), (samples, labels), (train, _) = parts["reference"], parts["samples"], parts["train"]
    digit = DigitJudge(classifier, ref, samples, train)
    curves = [sweep(digit, degraded_sets(samples, strengths, labels=labels, train=train, seed=seed), "mnist",
                    progress)]
    seconds["mnist"] = time.perf_counter() - t0

    t = time.perf_counter()
    style_judge, style_sets = _style_part(sizes, seed, device, progress)
    distances: dict = {}
    curves.append(sweep(style_judge, style_sets, "style", progress, keep=distances))
    disagreement, rho = loss_grader_disagreement(distances)
    seconds["style"] = time.perf_counter() - t

    t = time.perf_counter()
    by_step, trainer = baseline_checkpoints(train, steps=sizes["ckpt_steps"], every=sizes["ckpt_every"],
                                            n=sizes["ckpt_n"], seed=seed, device=device, progress=progress)
    plain = DigitJudge(classifier, ref)
    memo: dict = {}

    def metric(name):
        def fn(images):
            if id(images) not in memo:
                memo[id(images)] = plain(images)
            return memo[id(images)][name]
        return fn

    ranking = rank_checkpoints(by_step, {m: metric(m) for m in CHECKPOINT_METRICS})
    seconds["checkpoints"] = time.perf_counter() - t

    t = time.perf_counter()
    real = torch.cat([ref, samples, train])
    real_feats, _ = classifier.embed(real[:2 * max(sizes["ns"])])  # all a real-vs-real pair at the largest n needs
    fake_feats, _ = classifier.embed(trainer.generate(max(sizes["ns"]), seed=seed + 11))
    sample_size = fd_kid_vs_n(real_feats, fake_feats, sizes["ns"], sizes["repeats"], seed, progress)
    rule, numbers = sample_size_rule(sample_size)
    seconds["sample_size"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0

    all_curves = pd.concat(curves, ignore_index=True)
    table = curve_table(all_curves)
    return MetricValidation(
        curves=all_curves, table=table, catches=catches(table), sample_size=sample_size, sample_size_rule=rule,
        sample_size_numbers=numbers, notebook_sample_sizes=notebook_sample_sizes(numbers.get("fd_n_min")),
        checkpoints=ranking, checkpoint_agreement=rank_agreement(ranking), disagreement=disagreement,
        disagreement_rho=rho, seconds=seconds)
