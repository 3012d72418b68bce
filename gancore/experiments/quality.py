"""Notebook 08: can a learned, reference-free judge Q rank style-transfer outputs like the truth?

    gens = train_generators(splits["train"], steps, n_checkpoints, settings)   # l1, l1+perceptual, full
    pools = split_pools(splits, gens["checkpoints"], n_items, held_out)       # train / seen / unseen
    table = correlation_table({"Q": score(q, pools["unseen"]), ...}, truth)   # Spearman, Kendall, CIs

The judges themselves (Q in three versions, the hallucinator H, Q + H) and the verdict are in
:mod:`gancore.experiments.quality_judges`.

Q learns from the ``train`` pool: the ``q_families`` (by default the generators l1 and full) of
everything not ``held_out``, on the generator's training digits in its training styles. It is
tested on the held-out families only, on test digits in seen styles (``seen``) and in styles no
network here trained on (``unseen``). ``train_all`` holds every family not held out, for the
comparison that says why Q learns from generator outputs only.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from gancore.data.style_pairs import StyleTransferSet
from gancore.experiments.style_transfer import L1_ONLY, STYLE_DEFAULTS, build_style_trainer
from gancore.quality.checkpoints import rank_checkpoints
from gancore.quality.pool import DEGRADATIONS, Pool, build_pool, truths
from gancore.quality.ranking import bootstrap_ci, kendall, spearman
from gancore.workbook.notebook import non_negative_int, number, positive_int
from gancore.workbook.params import NotebookParams, param

# the three generators of the pool: overrides of notebook 05's tuned settings
FAMILIES: dict[str, dict] = {"l1": L1_ONLY, "l1+perceptual": {"adv_weight": 0.0}, "full": {}}
SPLIT_OF: dict[str, str] = {"train": "train", "seen": "test_seen", "unseen": "test_unseen"}


def _families(text: str) -> list[str]:
    return [f.strip() for f in text.split(",") if f.strip()]


@dataclass
class QualityEvaluation(NotebookParams):
    """Notebook 08's parameters."""

    notebook: ClassVar[str] = "08_quality_evaluation"
    HEADLINE: ClassVar[tuple[str, ...]] = ("quality_model.spearman_unseen", "quality_model_truth2.spearman_unseen")

    n_train: int = param(2000, "training triples of the three generators", positive_int, smoke=64)
    steps: int = param(300, "generator steps of each of l1, l1+perceptual and full", positive_int, smoke=4)
    n_checkpoints: int = param(4, "generator snapshots kept per training, at steps, steps/2, steps/4, ...",
                               positive_int, smoke=2)
    width: int = param(16, "base channels of G, D and Q", positive_int, smoke=4)
    n_items: int = param(150, "(content, exemplar) pairs per split, each through every source of the pool",
                         positive_int, smoke=8)
    held_out: str = param("l1+perceptual", "families Q never trains on and is tested on, separated by commas")
    q_families: str = param("l1,full", "families of the pool Q learns from, separated by commas ('all': every "
                                       "family not held out)")
    q_steps: int = param(600, "training steps of each Q (fine-tuned and from scratch)", positive_int, smoke=2)
    q_batch: int = param(64, "pool items per Q step (all their pairs enter the ranking loss)", positive_int,
                         smoke=16)
    q_lr: float = param(5e-4, "Adam learning rate of Q", number(0, 1, open_min=True))
    h_steps: int = param(1200, "training steps of the hallucinator H, which imagines each output's target",
                         positive_int, smoke=2)
    h_random_styles: int = param(1200, "extra training triples of H, each in a random style no split uses (0: none)",
                                 non_negative_int, smoke=16)
    n_boot: int = param(500, "bootstrap resamples of each confidence interval", positive_int, smoke=20)
    n_pairs: int = param(40, "output pairs offered to the rating widget", positive_int, smoke=4)
    rater: str = param("anonymous", "the name written with each of your ratings")
    out_dir: str = param("runs/latest/08_quality_evaluation", "metrics.json, ratings.csv and figures go here")

    def cross_checks(self) -> list[str]:
        errors = []
        known = set(FAMILIES) | set(DEGRADATIONS)
        held = _families(self.held_out)
        unknown = [f for f in held if f not in known]
        if unknown:
            errors.append(f"held_out: unknown families {unknown}; choose from {', '.join(sorted(known))}")
        if not any(f in FAMILIES for f in held):
            errors.append("held_out must name at least one generator family (l1, l1+perceptual or full)")
        if set(FAMILIES) <= set(held):
            errors.append("held_out leaves Q no generator to learn from; keep one of l1, l1+perceptual, full")
        if "full" in held:
            errors.append("held_out cannot hold out full: its discriminator is what Q starts from")
        if self.q_families.strip() != "all":
            learn = _families(self.q_families)
            if not learn or [f for f in learn if f not in known]:
                errors.append(f"q_families: unknown or no families in {self.q_families!r}; choose from "
                              f"{', '.join(sorted(known))}, or 'all'")
            elif set(learn) & set(held):
                errors.append(f"q_families and held_out share {sorted(set(learn) & set(held))}: Q would train on "
                              "what it is tested on")
        return errors

    def held_out_families(self) -> list[str]:
        return _families(self.held_out)

    def q_training_families(self) -> list[str] | None:
        """The families Q learns from; None for every family not held out."""
        return None if self.q_families.strip() == "all" else _families(self.q_families)


# --------------------------------------------------------------------------
# Generators with snapshots, and the pools of their outputs
# --------------------------------------------------------------------------


def snapshot_steps(steps: int, n_checkpoints: int) -> list[int]:
    """Where the snapshots fall: steps / 2^k for k < n_checkpoints, rounded (fewer when they coincide).
    Halving spacing, because quality moves fastest early in training."""
    return sorted({max(1, round(steps / 2**k)) for k in range(n_checkpoints)})


def train_generators(train: StyleTransferSet, steps: int, n_checkpoints: int, settings: dict | None = None,
                     families: dict[str, dict] = FAMILIES, feature_net=None, device=None,
                     progress: bool = True) -> dict:
    """Train each family of ``families`` (overrides of ``settings``, default STYLE_DEFAULTS) for
    ``steps``, keeping a copy of G at each of :func:`snapshot_steps` (never the untrained G, the
    same in every family). Returns {"checkpoints": {family: {step: G}}, "discriminator": the
    full model's D, "seconds": {family: training seconds}, "cpu_seconds": {...}, "steps": steps}."""
    settings = {k: v for k, v in {**STYLE_DEFAULTS, **(settings or {})}.items() if k not in ("steps", "n_train",
                                                                                               "n_test")}
    marks = snapshot_steps(steps, n_checkpoints)
    checkpoints, seconds, cpu, discriminator = {}, {}, {}, None
    for family, overrides in families.items():
        trainer = build_style_trainer(train, **{**settings, **overrides}, feature_net=feature_net, device=device,
                                      progress=progress)
        checkpoints[family] = {}
        for mark in marks:  # one clock over the chunks (Trainer.fit carries it on)
            trainer.fit(mark - trainer.step, desc=f"{family} to step {mark}")
            checkpoints[family][mark] = copy.deepcopy(trainer.G).eval()  # a copy: later steps leave it alone
        seconds[family], cpu[family] = trainer.train_seconds, trainer.records[-1]["cpu_seconds"]
        if trainer.D is not None and family == "full":
            discriminator = copy.deepcopy(trainer.D).eval()
    return {"checkpoints": checkpoints, "discriminator": discriminator, "seconds": seconds, "cpu_seconds": cpu,
            "steps": steps}


def split_pools(splits: dict[str, StyleTransferSet], checkpoints: dict, n_items: int, held_out: list[str],
                degrade=None, seed: int = 0, train_families: list[str] | None = None) -> dict[str, Pool]:
    """{"train_all": every family but ``held_out`` on the train split, each source on its own ``n_items``
    pairs (so Q meets many contents and styles); "train": its ``train_families`` (None: all of it), what
    Q learns from; "seen", "unseen": only the ``held_out`` families, every source on the same first
    ``n_items`` pairs of the test split; "unseen_all": every family on unseen styles}. Mismatched
    exemplars come from "full"."""
    pools = {}
    for key, name in SPLIT_OF.items():
        kw = {"data": splits[name], "items_per_source": n_items} if key == "train" else \
            {"data": splits[name].subset(slice(0, n_items))}
        pools[key] = build_pool(checkpoints=checkpoints, degrade=degrade, mismatch_of="full", seed=seed, **kw)
    train = pools.pop("train")
    pools["train_all"] = train.subset([f not in held_out for f in train.family])
    pools["train"] = pools["train_all"] if train_families is None else pools["train_all"].of_families(train_families)
    pools["unseen_all"] = pools["unseen"]
    for key in ("seen", "unseen"):
        pools[key] = pools[key].subset([f in held_out for f in pools[key].family])
    return pools


def part_of(whole: Pool, part: Pool) -> Tensor:
    """(len(whole),) bool: where ``part``, a family subset of ``whole`` as :func:`split_pools` cuts them,
    lies in it (the order is kept, so ``whole.subset(mask)`` is ``part``)."""
    families = set(part.family)
    return torch.tensor([f in families for f in whole.family])


def pool_truths(pools: dict[str, Pool], grader) -> dict[str, dict[str, Tensor]]:
    """{pool: {truth: (N,)}} for every pool of :func:`split_pools`, each output graded once: "train" and
    "unseen" are read off "train_all" and "unseen_all", whose family subsets they are."""
    out = {k: truths(pools[k], grader) for k in ("train_all", "seen", "unseen_all")}
    for part, whole in (("train", "train_all"), ("unseen", "unseen_all")):
        keep = part_of(pools[whole], pools[part])
        out[part] = {name: t[keep] for name, t in out[whole].items()}
    return out


# --------------------------------------------------------------------------
# Grading the judges
# --------------------------------------------------------------------------


def correlation_table(scores: dict[str, Tensor], truth: Tensor, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per scorer: Spearman and Kendall with ``truth``, each with a 95% bootstrap interval."""
    t = truth.double().numpy()
    rows = {}
    for name, s in scores.items():
        s = s.double().numpy()
        row = {"spearman": spearman(s, t), "kendall": kendall(s, t)}
        row["spearman_low"], row["spearman_high"] = bootstrap_ci(spearman, s, t, n_boot=n_boot, seed=seed)
        row["kendall_low"], row["kendall_high"] = bootstrap_ci(kendall, s, t, n_boot=n_boot, seed=seed)
        rows[name] = row
    return pd.DataFrame(rows).T[["spearman", "spearman_low", "spearman_high", "kendall", "kendall_low",
                                 "kendall_high"]].rename_axis("scorer")


def by_family(scores: dict[str, Tensor], truth: Tensor, families: list[str]) -> pd.DataFrame:
    """Spearman with ``truth`` within each family (rows) for each scorer (columns): where a judge fails."""
    fam = np.array(families)
    rows = {}
    for f in sorted(set(families)):
        idx = fam == f
        rows[f] = {name: spearman(s.numpy()[idx], truth.numpy()[idx]) if idx.sum() > 1 else float("nan")
                   for name, s in scores.items()}
    return pd.DataFrame(rows).T.rename_axis("family")


def style_share(truth: Tensor, pool: Pool) -> pd.Series:
    """How much of ``truth`` (N,) the style alone explains: for each attribute of ``pool``'s styles, and for
    the whole style, Spearman of the truth with its mean over the items that share that value. Near 1:
    the outputs' quality is mostly which style they are in, not which generator made them."""
    if pool.style is None or pool.attributes is None:
        raise ValueError("this pool carries no styles (build it with build_pool)")
    labels = pool.labels()
    names = list(pool.attributes)
    labels["style"] = labels[names].astype(str).agg("/".join, axis=1)
    t = pd.Series(truth.double().numpy())
    return pd.Series({a: spearman(t.groupby(labels[a]).transform("mean").to_numpy(), t.to_numpy())
                      for a in names + ["style"]}, name="Spearman(truth, its mean per value)")


def by_attribute(score: Tensor, truth: Tensor, pool: Pool, attribute: str) -> pd.DataFrame:
    """One row per value of a style ``attribute``: its items, where they sit in the truth's ranking and in
    the judge's (mean percentile, 1 = best), and the judge's Spearman with the truth within them. A
    value whose judge percentile is far above (below) its truth percentile is one the judge over-rates
    (under-rates)."""
    labels = pool.labels()
    if attribute not in labels:
        raise ValueError(f"unknown attribute {attribute!r}; this pool has {list(pool.attributes or {})}")
    pct = lambda v: pd.Series(v.double().numpy()).rank(pct=True)  # noqa: E731
    df = pd.DataFrame({"value": labels[attribute], "truth": truth.double().numpy(), "score": score.double().numpy(),
                       "truth percentile": pct(truth), "judge percentile": pct(score)})
    rows = {value: {"items": len(g), "truth percentile": g["truth percentile"].mean(),
                    "judge percentile": g["judge percentile"].mean(),
                    "spearman within": spearman(g["score"].to_numpy(), g["truth"].to_numpy()) if len(g) > 1
                    else float("nan")}
            for value, g in df.groupby("value")}
    return pd.DataFrame(rows).T.rename_axis(attribute)


def style_paragraph(share: pd.Series, table: pd.DataFrame, judge: str, truth_name: str) -> str:
    """The style's part in words, every number read from :func:`style_share` and :func:`by_attribute`."""
    attribute = table.index.name
    worst = (table["judge percentile"] - table["truth percentile"]).abs().idxmax()  # misplaced most, either way
    return (f"Under the **{truth_name}** truth the style alone, its mean truth, ranks the outputs with Spearman "
            f"{share['style']:.3f} ({attribute} alone: {share[attribute]:.3f}): how good an output is depends mostly "
            f"on the style it must paint, far less on which generator or snapshot made it. So Q must foresee how "
            f"hard a style is from the exemplar. It misplaces {attribute} **{worst}** most "
            f"({int(table.loc[worst, 'items'])} outputs): the truth puts them at mean percentile {table.loc[worst, 'truth percentile']:.2f}, {judge} at "
            f"{table.loc[worst, 'judge percentile']:.2f}.")


def checkpoint_ranking(scores: dict[str, Tensor], truth: Tensor, pool: Pool, family: str) -> pd.DataFrame:
    """``family``'s checkpoints (rows, in step order) ranked by the truth's and each judge's mean score over
    the checkpoint's outputs (rank 1 is the best: here every score is larger-is-better), through
    :func:`gancore.quality.checkpoints.rank_checkpoints`; the last row is each one's Spearman with the
    truth's ranking."""
    sources = sorted({s for s, f in zip(pool.source, pool.family) if f == family},
                     key=lambda s: int(s.split("@")[1]))
    if not sources:
        raise ValueError(f"no checkpoints of {family!r} in this pool")
    src = np.array(pool.source)
    outputs = {s: src == s for s in sources}  # checkpoint -> where its outputs lie in the pool
    judges = {"truth": truth, **scores}
    mean_score = {name: (lambda where, v=v: float(v.numpy()[where].mean())) for name, v in judges.items()}
    ranking = rank_checkpoints(outputs, mean_score, worse={name: -1 for name in judges})
    means = ranking["value"]
    agreement = {name: spearman(means[name], means["truth"]) if len(sources) > 1 else float("nan")
                 for name in judges}
    return pd.concat([ranking["rank"], pd.DataFrame(agreement, index=["spearman with truth"])])
