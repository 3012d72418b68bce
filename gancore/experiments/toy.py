"""Notebook 02's experiment: small GANs on 2-D mixtures, and plots of their samples.

    trainer = train_toy(real, steps=2000, lr_g=2e-3, lr_d=2e-3)
    mode_coverage(trainer.generate(2500), centres, std)

``PackedDiscriminator`` (gancore.nets.unconditional) is PacGAN's fix for collapse.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Sequence

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from gancore.data.toy import Mixture
from gancore.losses import LOSS_NAMES
from gancore.metrics.modes import mode_coverage
from gancore.nets.unconditional import (
    MLPDiscriminator,
    MLPGenerator,
    PackedDiscriminator,
)
from gancore.runtime import as_device, cpu_threads
from gancore.train.trainer import TrainConfig, Trainer
from gancore.workbook.notebook import number, one_of, positive_int
from gancore.workbook.params import NotebookParams, param


def train_toy(real: Tensor, steps: int, loss: str = "nonsaturating", z_dim: int = 8,
              hidden: int = 128, pack: int = 1, snapshot_every: int = 0, n_snapshot: int = 500,
              seed: int = 0, device: str | torch.device | None = None, progress: bool = True,
              **config) -> Trainer:
    """Train an MLP GAN on 2-D points ``real`` (N, 2) for ``steps`` generator steps.

    ``pack > 1`` uses a :class:`PackedDiscriminator`. Every ``snapshot_every``
    steps, ``n_snapshot`` samples from fixed noise land in ``trainer.samples``.
    Other keywords (batch_size, lr_g, lr_d, d_steps, ...) go to TrainConfig.
    """
    if real.dim() != 2:
        raise ValueError(f"real must have shape (N, D), got {tuple(real.shape)}")
    batch_size = config.get("batch_size", TrainConfig.batch_size)
    if pack < 1 or batch_size % pack:
        raise ValueError(f"batch_size {batch_size} must be a multiple of pack={pack} (pack >= 1)")
    device = as_device(device)
    torch.manual_seed(seed)  # the networks' initial weights
    G = MLPGenerator(z_dim, hidden, out_shape=(real.shape[1],), tanh=False)
    D = (PackedDiscriminator(pack, real.shape[1], hidden) if pack > 1
         else MLPDiscriminator(in_shape=(real.shape[1],), hidden=hidden))
    trainer = Trainer(G, D, real, loss=loss, seed=seed, sample_every=snapshot_every,
                      n_samples=n_snapshot, device=device, progress=progress, **config)
    # a 2-D GAN's matrices are so small that splitting them over threads costs more than it saves
    # (on a busy 2-core machine, 20 steps took 15 s with 2 threads and 0.6 s with 1)
    with cpu_threads(1 if device.type == "cpu" else None):
        trainer.train(steps, desc=f"{loss}, pack={pack}")
    return trainer


def plot_samples(ax, samples: Tensor, mixture: Mixture, title: str = "", lim: float | None = None):
    """Scatter ``samples`` (n, 2) over the mode centres (red crosses) on a matplotlib axis."""
    centres = mixture.centres
    lim = lim or float(centres.abs().max()) * 1.5
    ax.scatter(*samples.detach().cpu().T.numpy(), s=2, alpha=0.4, color="tab:blue")
    ax.scatter(*centres.T.numpy(), s=25, marker="x", color="tab:red", linewidths=1)
    ax.set_xlim(-lim, lim), ax.set_ylim(-lim, lim)
    ax.set_aspect("equal"), ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    return ax


def plot_snapshots(runs: Sequence[tuple[str, dict[int, Tensor], Mixture]], title: str = ""):
    """One row per run ``(label, {step: (n, 2) samples}, mixture)``, one column per
    step of the first run; each panel is titled with its coverage."""
    steps = sorted(runs[0][1])
    fig, axes = plt.subplots(len(runs), len(steps), figsize=(2.3 * len(steps), 2.4 * len(runs)),
                             squeeze=False)
    for row, (label, snapshots, mixture) in zip(axes, runs):
        for ax, step in zip(row, steps):
            cov = mode_coverage(snapshots[step], *mixture)
            plot_samples(ax, snapshots[step], mixture,
                         f"{label}, step {step}\n{cov['modes_covered']}/{cov['n_modes']} modes, "
                         f"{cov['high_quality_fraction']:.0%} HQ")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


@dataclass
class Toy2D(NotebookParams):
    """Notebook 02's parameters: a healthy run, a collapse and two fixes on each mixture."""

    notebook: ClassVar[str] = "02_toy_2d"
    HEADLINE: ClassVar[tuple[str, ...]] = ("runs.ring.modes_covered", "runs.grid.modes_covered")

    steps: int = param(1500, "generator steps of every run", positive_int, smoke=20)
    batch_size: int = param(256, "points per batch (real and generated)", positive_int)
    loss: str = param("nonsaturating", "adversarial loss of every run (gancore.losses.LOSS_NAMES)",
                      one_of(*LOSS_NAMES))
    lr: float = param(2e-3, "Adam learning rate of G and D in the healthy runs", number(0, 1, open_min=True))
    slow_d: float = param(10.0, "the collapse run divides D's learning rate by this", number(1, 1e4))
    fix_d_steps: int = param(5, "fix A: discriminator steps per generator step", positive_int)
    pack: int = param(4, "fix B: samples per discriminator input (PacGAN); divides batch_size", positive_int)
    z_dim: int = param(8, "noise dimensions", positive_int)
    hidden: int = param(128, "units in each hidden layer of G and D", positive_int)
    std: float = param(0.05, "standard deviation of every mode (ring radius 2, grid spacing 2)",
                       number(0, 0.3, open_min=True))
    n_real: int = param(50_000, "training points held in memory per data set", positive_int, smoke=1000)
    n_eval: int = param(2500, "generated points scored per run, as in PacGAN", positive_int, smoke=200)
    n_snapshots: int = param(4, "scatter plots over training per run", positive_int, smoke=2)
    out_dir: str = param("runs/latest/02_toy_2d", "metrics.json and figures go here")

    def cross_checks(self) -> list[str]:
        return [f"batch_size {self.batch_size} must be a multiple of pack={self.pack}"] \
            if self.batch_size % self.pack else []

    def smoked(self) -> "Toy2D":
        """Smoke batches stay a multiple of ``pack``."""
        return dataclasses.replace(super().smoked(), batch_size=self.pack * max(1, 32 // self.pack))
