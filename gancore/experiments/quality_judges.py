"""Notebook 08's judges: the conditional PatchGAN in three versions, the hallucinator H, and Q + H;
how each is scored on the pools of :mod:`gancore.experiments.quality`, which one is reported, and the
verdict in words.

    judges = {truth: train_judges(D, pools["train"], truth_train[truth], steps=..., ...)}   # D raw, Q ft, Q scratch
    h = train_reference(hallucinator_pool(pools, splits["train"], checkpoints, 1200), steps=1200, width=16)
    scores, paired = score_judges(judges, h, pools, truth, loss_net)    # scores[pool][truth][scorer]
    summary = judge_summary(unseen_table, seen_table)                   # the judge best on seen styles
"""
from __future__ import annotations

import pandas as pd
import torch
from torch import Tensor

from gancore.data.random_styles import random_style_set
from gancore.data.style_pairs import StyleTransferSet
from gancore.experiments.quality import part_of
from gancore.quality.hallucinate import (ReferenceHallucinator, combined, hallucinate, hallucinated_scores,
                                         train_hallucinator)
from gancore.quality.pool import Pool, build_pool
from gancore.quality.qmodel import QualityModel, reference_free_scores, score, train_quality_model
from gancore.quality.ranking import spearman

JUDGES: tuple[str, ...] = ("D raw", "Q fine-tuned", "Q scratch")  # the conditional PatchGAN's three versions
HALLUCINATED, COMBINED = "H reference", "Q + H"
LEARNED: tuple[str, ...] = ("Q fine-tuned", "Q scratch", HALLUCINATED, COMBINED)  # the judges trained on the pool


def _seeded(build, seed: int):
    """``build()`` under ``torch.manual_seed(seed)``, the caller's RNG left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def train_judge(kind: str, D, pool: Pool, truth: Tensor, *, steps: int, batch_size: int, lr: float, width: int,
                seed: int = 0, device=None, progress: bool = True) -> QualityModel:
    """One judge of :data:`JUDGES`: "D raw" (05's trained D as it is), "Q fine-tuned" (a copy of it
    trained to rank ``pool`` by ``truth``) or "Q scratch" (the same architecture from ``seed``, trained alike)."""
    if kind == "D raw":
        return QualityModel.from_discriminator(D).eval()
    if kind == "Q fine-tuned":
        q = QualityModel.from_discriminator(D)
    elif kind == "Q scratch":
        q = _seeded(lambda: QualityModel(width=width, **{k: v for k, v in D.config.items() if k != "width"}), seed)
        q = q.to(next(D.parameters()).device)
    else:
        raise ValueError(f"unknown judge {kind!r}; judges: {', '.join(JUDGES)}")
    return train_quality_model(q, pool, truth, steps=steps, batch_size=batch_size, lr=lr, seed=seed, device=device,
                               progress=progress, desc=kind)


def train_judges(D, pool: Pool, truth: Tensor, **kw) -> dict[str, QualityModel]:
    """Every judge of :data:`JUDGES` for one truth (:func:`train_judge`'s keywords)."""
    return {kind: train_judge(kind, D, pool, truth, **kw) for kind in JUDGES}


def random_style_pool(train: StyleTransferSet, checkpoints: dict, families: list[str], n: int,
                      seed: int = 0) -> Pool:
    """``n`` triples of the generators' training digits in random styles no split uses
    (:func:`gancore.data.random_styles.random_style_set`), through every snapshot of ``families``,
    each snapshot on its own share of them: more looks for H to learn to restore."""
    data = random_style_set(train, n, seed=seed)
    generators = {f: checkpoints[f] for f in families}
    per_source = max(1, n // sum(len(by_step) for by_step in generators.values()))
    return build_pool(data, generators, copy=False, items_per_source=per_source, seed=seed)


def hallucinator_pool(pools: dict[str, Pool], train: StyleTransferSet, checkpoints: dict, n_random: int,
                      seed: int = 0) -> Pool:
    """What H learns from: Q's train pool, then ``n_random`` triples in random styles through the same
    generator families (:func:`random_style_pool`; none when ``n_random`` is 0 or Q learns from no
    generator)."""
    families = [f for f in dict.fromkeys(pools["train"].family) if f in checkpoints]
    if not n_random or not families:
        return pools["train"]
    return pools["train"].join(random_style_pool(train, checkpoints, families, n_random, seed=seed))


def train_reference(pool: Pool, *, steps: int, width: int, seed: int = 0, device=None,
                    progress: bool = True) -> ReferenceHallucinator:
    """The hallucinator H (:mod:`gancore.quality.hallucinate`) from ``seed``, trained to restore
    ``pool``'s targets; one H serves every truth."""
    h = _seeded(lambda: ReferenceHallucinator(width=width), seed)
    return train_hallucinator(h, pool, steps=steps, seed=seed, device=device, progress=progress)


def better_q(seen_scores: dict[str, Tensor], seen_truth: Tensor) -> str:
    """The Q (fine-tuned or from scratch) that ranks the *seen* styles better: the one H is paired with."""
    return max(("Q fine-tuned", "Q scratch"), key=lambda j: spearman(seen_scores[j].numpy(), seen_truth.numpy()))


def score_judges(judges: dict[str, dict[str, QualityModel]], h: ReferenceHallucinator, pools: dict[str, Pool],
                 truth: dict[str, dict[str, Tensor]], net) -> tuple[dict, dict[str, str]]:
    """scores[pool][truth][scorer] (N,) for the pools "seen", "unseen_all" and "unseen" (its held-out
    part): each of ``judges[truth]``, H's score, Q + H and the reference-free baselines on ``net``.
    Q + H pairs H with the Q that :func:`better_q` picks on seen styles, standardised by the training
    pool's scores. Returns (scores, {truth: that Q})."""
    def own(key):  # the trained scorers on one pool
        s_h = hallucinated_scores(pools[key], hallucinate(h, pools[key]), net)
        return {name: {**{j: score(q, pools[key]) for j, q in judges[name].items()}, HALLUCINATED: s_h[name]}
                for name in judges}

    scores = {key: own(key) for key in ("train", "seen", "unseen_all")}
    paired = {name: better_q(scores["seen"][name], truth["seen"][name]) for name in judges}
    train = scores.pop("train")
    for key in ("seen", "unseen_all"):
        base = reference_free_scores(pools[key], net)
        for name, by_scorer in scores[key].items():
            q = paired[name]
            by_scorer[COMBINED] = combined(by_scorer[q], by_scorer[HALLUCINATED], train[name][q],
                                           train[name][HALLUCINATED])
            by_scorer.update(base)
    held = part_of(pools["unseen_all"], pools["unseen"])
    scores["unseen"] = {name: {k: v[held] for k, v in by_scorer.items()}
                        for name, by_scorer in scores["unseen_all"].items()}
    return scores, paired


def chosen_judge(seen_table: pd.DataFrame) -> str:
    """The learned judge (:data:`LEARNED`, those in the table) with the highest Spearman on *seen* styles:
    chosen on that validation split, so that the unseen-style figures it is then reported by stay a clean test."""
    return str(seen_table.loc[[j for j in LEARNED if j in seen_table.index], "spearman"].idxmax())


def judge_summary(table: pd.DataFrame, seen_table: pd.DataFrame) -> dict:
    """metrics.json's ``quality_model`` for one truth: the :func:`chosen_judge`'s Spearman and Kendall on
    unseen styles (with the Spearman's CI) and its Spearman on seen ones, then each learned judge's own figures."""
    judge = chosen_judge(seen_table)
    q = table.loc[judge]
    keys = {"fine_tuned": "Q fine-tuned", "scratch": "Q scratch", "hallucinated": HALLUCINATED, "combined": COMBINED}
    return {"judge": judge, "spearman_unseen": q["spearman"], "kendall_unseen": q["kendall"],
            "spearman_unseen_ci": [q["spearman_low"], q["spearman_high"]],
            "spearman_seen": seen_table.loc[judge, "spearman"],
            **{key: {"spearman_unseen": table.loc[name, "spearman"], "spearman_seen": seen_table.loc[name, "spearman"]}
               for key, name in keys.items() if name in table.index}}


def trust_paragraph(tables: dict[str, pd.DataFrame], families: dict[str, pd.DataFrame], target: float = 0.8,
                    judges: dict[str, str] | None = None) -> str:
    """The verdict in words, every number read from ``tables[truth]`` (Spearman on unseen styles and
    held-out generators) and ``families[truth]`` (Spearman within each family); ``judges[truth]`` is
    the Q it speaks of (default: Q fine-tuned)."""
    parts = []
    for truth, table in tables.items():
        judge = (judges or {}).get(truth, "Q fine-tuned")
        q = table.loc[judge]
        others = table.drop(index=[j for j in LEARNED if j in table.index])  # the raw D and the baselines
        best = others["spearman"].idxmax()
        met = q["spearman"] >= target and q["spearman"] > others["spearman"].max()
        fam = families[truth][judge].dropna()
        weakest = (f" Within one family its ranking is weakest on {fam.idxmin()} (Spearman {fam.min():.3f}), "
                   f"strongest on {fam.idxmax()} ({fam.max():.3f})." if len(fam) > 1 else "")
        parts.append(
            f"Under the **{truth}** truth, {judge} reaches Spearman {q['spearman']:.3f} "
            f"(95% CI {q['spearman_low']:.3f} to {q['spearman_high']:.3f}; Kendall {q['kendall']:.3f}) on unseen "
            f"styles and held-out generators, against {table.loc['D raw', 'spearman']:.3f} for the raw discriminator "
            f"and {others.loc[best, 'spearman']:.3f} for the best of it and the baselines ({best}): the target "
            f"(>= {target}, above the raw D and every baseline) is **{'met' if met else 'not met'}**." + weakest)
    return " ".join(parts)

