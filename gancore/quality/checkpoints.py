"""Ranking trained checkpoints by each metric, and how far the metrics agree.

    ranks = rank_checkpoints({step: samples, ...}, {"fd": fd_fn, "score": score_fn})
    rank_agreement(ranks)        # Kendall tau and Spearman rho for every pair of metrics

Rank 1 is the best checkpoint by that metric (its direction from
:data:`gancore.quality.judges.WORSE`, or given). When metrics that all claim to
measure "quality" order the same checkpoints differently, at least one of them
measures something else.
"""
from __future__ import annotations

import itertools
from typing import Callable, Mapping

import pandas as pd
from scipy.stats import kendalltau, spearmanr
from torch import Tensor

from gancore.quality.judges import WORSE


def rank_checkpoints(outputs_by_checkpoint: Mapping, metric_fns: Mapping[str, Callable[[Tensor], float]],
                     worse: Mapping[str, int] | None = None) -> pd.DataFrame:
    """One row per checkpoint: each metric's value and rank (1 = best).

    ``outputs_by_checkpoint``: {checkpoint (e.g. step): outputs}; ``metric_fns``: {name: fn(outputs)
    -> float}; ``worse``: {name: +1 if larger is worse, -1 if smaller is worse}, defaulting to
    :data:`WORSE` for known names. Columns: a MultiIndex ("value" | "rank", metric).
    """
    if not outputs_by_checkpoint or not metric_fns:
        raise ValueError("need at least one checkpoint's outputs and one metric function")
    signs = {**WORSE, **(worse or {})}
    unknown = [m for m in metric_fns if m not in signs]
    if unknown:
        raise ValueError(f"no direction for metric(s) {unknown}: pass worse={{name: +1 or -1}} "
                         "(+1: a larger value is worse)")
    values = pd.DataFrame({name: {ckpt: float(fn(out)) for ckpt, out in outputs_by_checkpoint.items()}
                           for name, fn in metric_fns.items()})
    values.index.name = "checkpoint"
    ranks = pd.DataFrame({m: (values[m] * signs[m]).rank(method="min").astype(int) for m in values})
    return pd.concat({"value": values, "rank": ranks}, axis=1)


def rank_agreement(ranking: pd.DataFrame) -> pd.DataFrame:
    """Kendall tau and Spearman rho between the checkpoint ranks of every pair of metrics
    (``ranking`` from :func:`rank_checkpoints`); 1 = the same order, -1 = reversed."""
    ranks = ranking["rank"]
    rows = {}
    for a, b in itertools.combinations(ranks.columns, 2):
        same = ranks[a].nunique() < 2 or ranks[b].nunique() < 2
        rows[(a, b)] = {"kendall": float("nan") if same else float(kendalltau(ranks[a], ranks[b]).statistic),
                        "spearman": float("nan") if same else float(spearmanr(ranks[a], ranks[b]).statistic)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.names = ["metric", "other"]
    return table


def baseline_checkpoints(train_x: Tensor, *, steps: int, every: int, n: int, seed: int = 0, width: int = 16,
                         device=None, progress: bool = True) -> tuple[dict[int, Tensor], object]:
    """Samples (n, 1, 28, 28) of notebook 03's DCGAN, unconditional (its tuned settings, smaller ``width``) at
    step 0, every ``every`` steps and at the end, from one fixed noise, taken by a callback of
    :meth:`gancore.train.trainer.Trainer.fit` (which cannot change the run). Returns them by
    step, and the trainer."""
    from gancore.experiments.mnist_baseline import MNIST_DEFAULTS
    from gancore.nets.unconditional import build_gan
    from gancore.runtime import set_seed
    from gancore.train.trainer import Trainer

    d = MNIST_DEFAULTS
    set_seed(seed)
    G, D = build_gan("dcgan", z_dim=d["z_dim"], width=width)
    trainer = Trainer(G, D, train_x, loss=d["loss"], batch_size=d["batch_size"], lr_g=d["lr_g"], lr_d=d["lr_d"],
                      augment_shift=d["augment_shift"], seed=seed, device=device, progress=progress)
    samples: dict[int, Tensor] = {}

    def keep(t) -> None:
        samples[t.step] = t.generate(n, seed=seed + 7)
        return None

    trainer.fit(steps, every=every, callbacks=[keep], desc="checkpoints")
    return samples, trainer

