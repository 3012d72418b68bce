"""Does each metric see each failure? Metrics against degradations of known strength.

Damage real images by a known amount (:mod:`gancore.quality.degradations`) and
ask every metric (:mod:`gancore.quality.judges`) whether it moves, and the right
way. A metric *catches* a degradation when its Spearman correlation with the
strength, signed so that + means "worse", is at least :data:`CATCH_RHO`.

    curves     one row per (domain, degradation, strength, metric): its value
    table      per (domain, degradation, metric): Spearman rho (signed "worse"), monotonic
    catches    metric x degradation: caught or not

The source text (/work/shared/sources/gan-quality-evaluation.txt, Q3) grades a GAN
with its own training losses:

    "可以使用感知损失和对抗损失等指标，评价生成对抗网络生成的图像质量。感知损失衡量图像的
    感知质量，对抗损失衡量生成图像的逼真度。"
    (One can use indicators such as the perceptual loss and the adversarial loss to evaluate
    the quality of the images a GAN generates: the perceptual loss measures their perceptual
    quality, the adversarial loss their realism.)

The study qualifies both halves. The perceptual distance to a target sees any
change to an image, but needs a target: style transfer has one, unconditional
generation has none, and there the failures of a *set* remain (dropped modes,
memorised training images), which no per-image measure can see. Memorisation
escapes even the set metrics: copies of training images have the statistics of
real data, so FD, KID, the classifier score and recall stay at their real-data
values while a generator copies more, and density and coverage even improve; only a
distance to the training set (``train_nn``) falls. (In the style domain FD rises
under memorisation only because the reference there is the very targets, so any
change is a change.) And a loss network used as the judge grades a generator by
what it was trained to please: :func:`loss_grader_disagreement` measures how far an
independent grader (another design, seed and training set) ranks the same damage
differently.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from torch import Tensor
from tqdm.auto import tqdm

from gancore.quality.degradations import IMAGE_DEGRADATIONS, degrade, drop_modes, memorise, wrong_content, wrong_style
from gancore.quality.judges import WORSE

STRENGTHS: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
CATCH_RHO = 0.8  # a metric catches a degradation when its "worse"-signed Spearman rho reaches this


# --------------------------------------------------------------------------
# Sweeping degradations
# --------------------------------------------------------------------------


def degraded_sets(images: Tensor, strengths, *, labels: Tensor | None = None, train: Tensor | None = None,
                  style_data=None, seed: int = 0):
    """Yield (degradation, strength, images) for every per-image degradation, then the set
    ones that apply: drop_modes (needs ``labels``), memorise (``train``), wrong_style and
    wrong_content (``style_data``, whose targets ``images`` are). Strength 0 is yielded once,
    as ("none", 0.0, images). Each set draws from its own generator, seeded by ``seed``."""
    yield "none", 0.0, images
    kinds = {k: (lambda x, s, g, k=k: degrade(x, k, s, g)) for k in IMAGE_DEGRADATIONS}
    if labels is not None:
        kinds["drop_modes"] = lambda x, s, g: drop_modes(x, labels, s, g)
    if train is not None:
        kinds["memorise"] = lambda x, s, g: memorise(x, train, s, g)
    if style_data is not None:
        kinds["wrong_style"] = lambda x, s, g: wrong_style(x, style_data, s, g)
        kinds["wrong_content"] = lambda x, s, g: wrong_content(x, style_data, s, g)
    for kind, fn in kinds.items():
        for s in strengths:
            if s > 0:
                yield kind, float(s), fn(images, s, torch.Generator().manual_seed(seed))


def sweep(judge, sets, domain: str, progress: bool = True, keep: dict | None = None) -> pd.DataFrame:
    """Long table (domain, degradation, strength, metric, value) of ``judge(images)`` over ``sets``
    (from :func:`degraded_sets`); the undamaged row is copied to strength 0 of every degradation.
    Given ``keep``, the judge's ``last_distances`` after each set go to ``keep[(degradation, strength)]``."""
    rows = {}
    for kind, s, images in tqdm(sets, desc=f"metrics ({domain})", disable=not progress, leave=False):
        rows[(kind, s)] = judge(images)
        if keep is not None:
            keep[(kind, s)] = judge.last_distances
    base = rows.pop(("none", 0.0))
    kinds = dict.fromkeys(k for k, _ in rows)
    records = [(domain, k, 0.0, m, v) for k in kinds for m, v in base.items()]
    records += [(domain, k, s, m, v) for (k, s), values in rows.items() for m, v in values.items()]
    return pd.DataFrame(records, columns=["domain", "degradation", "strength", "metric", "value"])


# --------------------------------------------------------------------------
# Curves -> correlation, monotonicity, catches
# --------------------------------------------------------------------------


def curve_table(curves: pd.DataFrame, catch_rho: float = CATCH_RHO) -> pd.DataFrame:
    """Per (domain, degradation, metric): ``rho`` = Spearman correlation of the metric with the
    strength times the metric's :data:`WORSE` sign (+1: gets worse as the damage grows),
    ``monotonic`` (never moves the better way between strengths), ``change`` (value at the
    largest strength minus at 0) and ``caught`` (rho >= ``catch_rho``). A constant metric has rho 0."""
    rows = []
    for (domain, kind, metric), g in curves.groupby(["domain", "degradation", "metric"], sort=False):
        g = g.sort_values("strength")
        v, sign = g["value"].to_numpy(float), WORSE[metric]
        rho = 0.0 if np.ptp(v) == 0 else float(spearmanr(g["strength"], v).statistic) * sign
        steps = np.diff(v) * sign
        rows.append({"domain": domain, "degradation": kind, "metric": metric, "rho": rho,
                     "monotonic": bool((steps >= -1e-12).all() and steps.sum() > 0),
                     "change": float(v[-1] - v[0]), "caught": rho >= catch_rho})
    return pd.DataFrame(rows).set_index(["domain", "degradation", "metric"])


def catches(table: pd.DataFrame) -> pd.DataFrame:
    """metric x (domain, degradation): "yes" (caught), "no", or "wrong way" (rho <= -catch)."""
    def word(row):
        return "yes" if row["caught"] else ("wrong way" if row["rho"] <= -CATCH_RHO else "no")
    marks = table.apply(word, axis=1).rename("caught")
    return marks.unstack(["domain", "degradation"]).fillna("")


def metrics_json(table: pd.DataFrame) -> dict:
    """``{metric: {degradation: rho}}`` for metrics.json; the domain joins the degradation's name
    (``"mnist/noise"``). rho is signed so that + means the metric sees the damage."""
    out: dict = {}
    for (domain, kind, metric), rho in table["rho"].items():
        out.setdefault(metric, {})[f"{domain}/{kind}"] = round(float(rho), 4)
    return out


# --------------------------------------------------------------------------
# The loss net and the grader: do they agree?
# --------------------------------------------------------------------------


def loss_grader_disagreement(distances: dict) -> tuple[pd.DataFrame, float]:
    """How the loss's feature net and the grader judge the same damaged outputs.

    ``distances[(degradation, strength)] = {"grader": (N,), "loss_net": (N,)}``: per-image
    perceptual distances to the targets (:meth:`gancore.quality.judges.StyleJudge.distances`,
    or ``keep`` of :func:`sweep`). Per degradation: the Spearman correlation of the two nets'
    distances over every (strength, image); each net's mean distance at the largest strength,
    divided by that net's mean over all damage, and the degradation's rank by it (1 = the
    most severe to that net). Also the Spearman rho over all damaged images.
    """
    per_kind: dict[str, dict] = {}
    for (kind, s), d in distances.items():
        if kind != "none":
            per_kind.setdefault(kind, {})[s] = d
    scale = {net: torch.cat([d[net] for by_s in per_kind.values() for d in by_s.values()]).double().mean()
             for net in ("grader", "loss_net")}
    rows = []
    for kind, by_s in per_kind.items():
        top = by_s[max(by_s)]
        rows.append({"degradation": kind,
                     "rho_per_image": float(spearmanr(torch.cat([d["grader"] for d in by_s.values()]),
                                                      torch.cat([d["loss_net"] for d in by_s.values()])).statistic),
                     **{f"{net}_at_max": float(top[net].double().mean() / scale[net]) for net in scale}})
    table = pd.DataFrame(rows).set_index("degradation")
    for net in scale:
        table[f"{net}_rank"] = table[f"{net}_at_max"].rank(ascending=False, method="min").astype(int)
    every = {net: torch.cat([d[net] for by_s in per_kind.values() for d in by_s.values()]) for net in scale}
    return table, float(spearmanr(every["grader"], every["loss_net"]).statistic)


@dataclass
class MetricValidation:
    """What :func:`gancore.quality.validation.metric_validation` returns (see there)."""

    curves: pd.DataFrame
    table: pd.DataFrame
    catches: pd.DataFrame
    sample_size: pd.DataFrame
    sample_size_rule: str
    sample_size_numbers: dict
    notebook_sample_sizes: pd.DataFrame
    checkpoints: pd.DataFrame
    checkpoint_agreement: pd.DataFrame
    disagreement: pd.DataFrame
    disagreement_rho: float
    seconds: dict = field(default_factory=dict)

    @property
    def metrics_json(self) -> dict:
        """``degradations: {metric: {degradation: rho}}`` and the rest of the study's numbers."""
        return {"degradations": metrics_json(self.table),
                "sample_size_rule": self.sample_size_rule,
                "sample_size": self.sample_size_numbers,
                "loss_vs_grader_rho": self.disagreement_rho,
                "checkpoint_agreement": {f"{a}~{b}": round(float(v), 4) for (a, b), v in
                                         self.checkpoint_agreement["kendall"].items()},
                "seconds": self.seconds}

    def plot_curves(self, domain: str, metrics=None, axes_per_row: int = 5):
        """One panel per metric: value against strength, one line per degradation."""
        import matplotlib.pyplot as plt

        c = self.curves[self.curves["domain"] == domain]
        metrics = list(metrics or dict.fromkeys(c["metric"]))
        rows = -(-len(metrics) // axes_per_row)
        fig, axes = plt.subplots(rows, axes_per_row, figsize=(3.2 * axes_per_row, 2.6 * rows), squeeze=False)
        for ax, metric in zip(axes.flat, metrics):
            for kind, g in c[c["metric"] == metric].groupby("degradation", sort=False):
                ax.plot(g["strength"], g["value"], marker=".", label=kind)
            ax.set_title(f"{metric} ({'higher' if WORSE[metric] > 0 else 'lower'} = worse)", fontsize=9)
            ax.set_xlabel("strength")
        for ax in list(axes.flat)[len(metrics):]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=7)
        fig.suptitle(f"{domain}: metrics against damage of growing strength")
        fig.tight_layout()
        return fig

    def plot_catches(self):
        """The signed Spearman rho as a heat map, metric x degradation (+1: sees the damage)."""
        import matplotlib.pyplot as plt

        rho = self.table["rho"].unstack(["domain", "degradation"])
        fig, ax = plt.subplots(figsize=(0.5 * rho.shape[1] + 3, 0.35 * rho.shape[0] + 1.5))
        im = ax.imshow(rho.to_numpy(float), cmap="RdBu", vmin=-1, vmax=1)
        ax.set_xticks(range(rho.shape[1]), [f"{d}/{k}" for d, k in rho.columns], rotation=90, fontsize=8)
        ax.set_yticks(range(rho.shape[0]), rho.index, fontsize=8)
        fig.colorbar(im, ax=ax, label="Spearman rho with strength (+: sees it)")
        fig.tight_layout()
        return fig

    def plot_sample_size(self):
        """FD and KID against n, mean +- std over repeats, per comparison (log n)."""
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
        for ax, metric in zip(axes, ("fd", "kid")):
            for comparison, g in self.sample_size.groupby("comparison"):
                stats = g.groupby("n")[metric].agg(["mean", "std"]).reset_index()
                ax.errorbar(stats["n"], stats["mean"], yerr=stats["std"].fillna(0), marker="o", capsize=3,
                            label=comparison)
            ax.set_xscale("log"), ax.set_xlabel("n (samples per side)"), ax.set_title(metric)
            ax.legend(fontsize=8)
        fig.tight_layout()
        return fig
