"""Notebook 03's experiment: the tuned MNIST baseline, an MLP GAN and a DCGAN measured against real digits
(:func:`train_and_evaluate`: trained with FD and classifier score evaluated inside the training loop)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import torch
from torch import Tensor, nn

from gancore.data.clusters import kmeans_labels
from gancore.data.sources import ImageSplit, holdout_split, load_dataset
from gancore.data.splits import partition
from gancore.experiments.levers import Levers, split_levers
from gancore.losses import LOSS_NAMES
from gancore.metrics.distribution import FeatureStats, evaluate_samples
from gancore.nets.classifier import DigitClassifier
from gancore.nets.conditional import ClassConditionalDiscriminator, ClassConditionalGenerator
from gancore.nets.unconditional import build_gan
from gancore.runtime import set_seed
from gancore.train.trainer import Trainer
from gancore.workbook.notebook import is_bool, non_negative_int, number, one_of, positive_int
from gancore.workbook.params import NotebookParams, param

learning_rate = number(0, 1, open_min=True)


@dataclass
class MNISTBaseline(Levers, NotebookParams):
    """Notebook 03's parameters. Its training defaults are tuned for the lowest FD after four minutes
    on two CPU cores: per second of training, width 32 with batch 32, the hinge loss and lr 1e-3
    beat widths 16 and 48, batch 64, the MLP, lr 2e-4 and the non-saturating loss. ``steps`` is
    about four minutes on the slower machines of this project's kind (~40 ms/step on two threads,
    bench/bench_step_speed.py; the fastest seen took ~15 ms), so that ``make run`` fits in 20 minutes
    there too. bench/bench_mnist.py measures exactly these defaults. The DCGAN is self-conditioned on 80 k-means
    clusters of the pixels (``clusters``): over 3 seeds at 6,000 steps it brought FD against the official test digits
    from 11.3 to 2.5 times the floor, against 2.8 with 40 clusters and 3.8 with the real labels
    (grids/levers-03-self-conditioning.yaml). The levers (:class:`Levers`, all off by default), ``clusters`` and
    ``class_conditional`` change the DCGAN only; the MLP always runs as it is."""

    notebook: ClassVar[str] = "03_mnist_baseline"
    HEADLINE: ClassVar[tuple[str, ...]] = ("fd", "score", "floor_fd")

    dataset: str = param("mnist", "'mnist' or 'fashion' (Fashion-MNIST)", one_of("mnist", "fashion"))
    model: str = param("dcgan", "'mlp' or 'dcgan': the main model, whose samples go to samples.pt",
                       one_of("mlp", "dcgan"))
    loss: str = param("hinge", "adversarial loss, a name in gancore.losses.LOSS_NAMES", one_of(*LOSS_NAMES))
    steps: int = param(6000, "training budget: generator steps of the main model", positive_int, smoke=20)
    other_steps: int = param(3000, "generator steps of the other model (0 skips it)", non_negative_int, smoke=10)
    width: int = param(32, "DCGAN base channels; the MLP gets 4 * width hidden units", positive_int, smoke=8)
    z_dim: int = param(64, "noise dimension", positive_int)
    batch_size: int = param(32, "images per batch", positive_int)
    lr_g: float = param(1e-3, "generator Adam learning rate", learning_rate)
    lr_d: float = param(1e-3, "discriminator Adam learning rate", learning_rate)
    augment_shift: int = param(2, "DCGAN only: D sees real and fake digits shifted by up to this many pixels "
                                  "(0: off)", non_negative_int)
    eval_every: int = param(1000, "generator steps between FD / score evaluations (and sample grids)",
                            positive_int, smoke=10)
    n_eval: int = param(1000, "generated and held-out real images per evaluation", positive_int, smoke=200)
    textbook_steps: int = param(50, "steps of the textbook loop in the zero_grad demonstration",
                                positive_int, smoke=10)
    source_steps: int = param(2000, "steps of the source text's generator and the shifted MLP, compared with the "
                                    "MLP at that step", non_negative_int)
    class_conditional: bool = param(False, "DCGAN only: train G(z, y) and a projection D(x, y) on the digits' "
                                           "labels; its samples draw y from the training labels", is_bool)
    clusters: int = param(80, "DCGAN only, self-conditioning: G(z, c) and a projection D(x, c) on this many k-means "
                              "clusters of the training digits' pixels, no labels (0: unconditional)",
                          non_negative_int, smoke=10)
    out_dir: str = param("runs/latest/03_mnist_baseline", "metrics.json, samples.pt and figures go here")

    def cross_checks(self) -> list[str]:
        problems = []
        on = [*self.levers_on] + (["class_conditional"] if self.class_conditional else [])
        if self.model == "mlp" and on:
            problems.append(f"{', '.join(on)} change the DCGAN only, and the main model is the MLP; use model "
                            "'dcgan' or switch them off")
        if self.class_conditional and self.clusters:
            problems.append(f"class_conditional conditions on the labels and clusters={self.clusters} on k-means "
                            "clusters; choose one: set clusters 0 or class_conditional False")
        return problems

    def condition_labels(self, images: Tensor, labels: Tensor) -> Tensor | None:
        """What the DCGAN is conditioned on, one int per image (N,): the digits' ``labels`` with
        ``class_conditional``, the k-means clusters of ``images``' pixels with ``clusters`` (no labels
        used), otherwise None (unconditional)."""
        if self.class_conditional:
            return labels
        return kmeans_labels(images, self.clusters, seed=self.seed) if self.clusters else None

    @property
    def training(self) -> dict:
        """The main model's training settings, as ``bench/bench_mnist.py`` and ``build_gan`` take them."""
        return {"model": self.model, "width": self.width, "z_dim": self.z_dim, "batch_size": self.batch_size,
                "lr_g": self.lr_g, "lr_d": self.lr_d, "loss": self.loss, "augment_shift": self.augment_shift,
                "steps": self.steps, "class_conditional": self.class_conditional, "clusters": self.clusters,
                **self.levers}


MNIST_DEFAULTS: dict = MNISTBaseline().training  # the tuned baseline, for code outside the notebook


def data_parts(dataset: str, n_eval: int, seed: int) -> dict[str, ImageSplit]:
    """Notebook 03's three disjoint sets of real images: ``classifier`` (the measure part, all the
    classifier learns from), ``gan`` (what the GANs train on) and ``reference`` (``n_eval`` images
    held out of the experiment part by ``seed``: the FD reference)."""
    split = load_dataset(dataset, "train")
    experiment = partition(split, "experiment")
    train_x, train_y, held_x, held_y = holdout_split(*experiment, n_holdout=n_eval, seed=seed)
    return {"classifier": partition(split, "measure"),
            "gan": ImageSplit(train_x, train_y, f"{experiment.source}, minus {n_eval} held out"),
            "reference": ImageSplit(held_x, held_y, f"{experiment.source}, {n_eval} held out by seed {seed}")}


def build_digit_gan(name: str, *, z_dim: int, width: int, train_labels: Tensor | None = None,
                    **net_levers) -> tuple[nn.Module, nn.Module]:
    """``build_gan(name)``'s G and D; given ``train_labels`` (N,), the DCGAN's class-conditional pair
    instead: G(z, y) with conditional batch norm and the projection D(x, y), one class per label value."""
    if train_labels is None:
        return build_gan(name, z_dim=z_dim, width=width, **net_levers)
    if name != "dcgan":
        raise ValueError(f"class-conditional training takes the DCGAN only, not {name!r}")
    G = ClassConditionalGenerator(z_dim, width, n_classes=int(train_labels.max()) + 1,
                                  upsample=net_levers.get("upsample", "transposed"))
    D = ClassConditionalDiscriminator(width, n_classes=G.n_classes,
                                      spectral_norm=net_levers.get("spectral_norm", False))
    return G, D


def train_and_evaluate(name: str, train_x: Tensor, steps: int, reference: FeatureStats,
                       classifier: DigitClassifier, *, eval_every: int, n_eval: int, z_dim: int, width: int,
                       loss: str, batch_size: int, lr_g: float, lr_d: float, augment_shift: int, seed: int,
                       device=None, levers: dict | None = None,
                       train_labels: Tensor | None = None) -> tuple[Trainer, pd.DataFrame]:
    """Train ``build_gan(name)`` on ``train_x`` (N, 1, 28, 28) for ``steps`` generator steps, scoring
    ``n_eval`` samples (always from the same noise) against ``reference`` at step 0, every ``eval_every``
    steps and at the end, from inside the training loop (:meth:`Trainer.fit`).

    The DCGAN alone takes ``levers`` (:class:`Levers` by name) and, given ``train_labels`` (N,), trains
    class-conditionally: G(z, y) and a projection D(x, y), its samples with labels drawn from
    ``train_labels`` (:func:`generate_digits`).

    Returns the trainer, with a sample grid at step 0 and at every evaluation, and the curve: one row per
    evaluation with ``model``, ``step``, ``seconds`` (of training only), ``fd``, ``score``, ``eval_seconds``.
    """
    dcgan = name == "dcgan"
    trainer_levers, net_levers = split_levers((levers or {}) if dcgan else {})
    set_seed(seed)  # the networks' initial weights
    G, D = build_digit_gan(name, z_dim=z_dim, width=width, train_labels=train_labels if dcgan else None,
                           **net_levers)
    condition = (train_labels,) if dcgan and train_labels is not None else ()
    # An MLP's D sees no neighbourhoods, so shifted inputs only confuse it (it collapses with them).
    shift = augment_shift if dcgan else 0
    trainer = Trainer(G, D, train_x, condition, loss=loss, batch_size=batch_size, lr_g=lr_g, lr_d=lr_d,
                      augment_shift=shift, sample_every=eval_every, seed=seed, device=device, **trainer_levers)
    trainer.samples[0] = trainer.sample_grid()

    def fd_and_score(trainer: Trainer) -> dict:
        return evaluate_samples(generate_digits(trainer, n_eval), reference, classifier)

    trainer.fit(steps, every=eval_every, callbacks=[fd_and_score], desc=f"{name} {loss}")
    return trainer, trainer.evals.reset_index().assign(model=name)


def generate_digits(trainer: Trainer, n: int, seed: int | None = None) -> Tensor:
    """``n`` samples (n, C, H, W) of ``trainer``'s G, on the CPU; a class-conditional G gets labels
    drawn (by ``seed``) from its training labels, so the classes come in the data's proportions."""
    if not trainer.condition:
        return trainer.generate(n, seed=seed)
    (train_labels,) = trainer.condition
    rng = torch.Generator().manual_seed(trainer.config.seed + 5 if seed is None else seed + 5)
    labels = train_labels[torch.randint(len(train_labels), (n,), generator=rng)]  # (n,)
    return trainer.generate(n, condition=(labels,), seed=seed)
