"""Plots the notebooks share: image grids, grids over training, loss curves."""
from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import pandas as pd
import torch
from torch import Tensor


def to_image(images: Tensor, nrow: int = 8, padding: int = 2):
    """(N, C, H, W) in [-1, 1] -> an (H', W', 3) or (H', W') numpy grid in [0, 1], white between images.

    The layout of ``torchvision.utils.make_grid`` (``nrow`` images per row), written out here
    because importing torchvision.utils loads all of torchvision's models: seconds per kernel."""
    x = (images.detach().float().cpu().clamp(-1, 1) + 1) / 2  # (N, C, H, W) in [0, 1]
    n, c, h, w = x.shape
    cols = min(nrow, n)
    rows = -(-n // cols)
    grid = torch.ones(c, rows * (h + padding) + padding, cols * (w + padding) + padding)  # (C, H', W')
    for i in range(n):
        top, left = (i // cols) * (h + padding) + padding, (i % cols) * (w + padding) + padding
        grid[:, top:top + h, left:left + w] = x[i]
    return grid[0].numpy() if c == 1 else grid.permute(1, 2, 0).numpy()


def show_grid(images: Tensor, nrow: int = 8, title: str | None = None, ax=None, size: float = 4.0):
    """Show a batch of images in [-1, 1] as one grid; returns the axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(size, size))
    ax.imshow(to_image(images, nrow), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def show_grids_over_training(samples: Mapping[int, Tensor], nrow: int = 8, max_panels: int = 6,
                             size: float = 2.6):
    """One grid per recorded step (evenly thinned to ``max_panels``), side by side."""
    steps = sorted(samples)
    if not steps:
        raise ValueError("no sample grids recorded; set sample_every > 0 in the trainer")
    if len(steps) > max_panels:
        picks = torch.linspace(0, len(steps) - 1, max_panels).round().long().tolist()
        steps = [steps[i] for i in picks]
    fig, axes = plt.subplots(1, len(steps), figsize=(size * len(steps), size), squeeze=False)
    for ax, step in zip(axes[0], steps):
        show_grid(samples[step], nrow, f"step {step}", ax)
    fig.tight_layout()
    return fig


def plot_losses(history: pd.DataFrame, columns=("loss_d", "loss_g"), smooth: int = 20, ax=None):
    """Loss curves from a trainer history, with a rolling mean over ``smooth`` steps."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for col in columns:
        if col in history and history[col].notna().any():
            series = history[col]
            ax.plot(series.index, series, alpha=0.25)
            ax.plot(series.index, series.rolling(smooth, min_periods=1).mean(), label=col,
                    color=ax.lines[-1].get_color())
    ax.set_xlabel("generator step")
    ax.set_ylabel("loss")
    ax.legend()
    return ax


def show_closest(samples: Tensor, train: Tensor, check: Mapping):
    """The samples nearest to a training image (top row) above that image (bottom row), each with its
    distance d; ``check`` is :func:`gancore.metrics.memorisation.memorisation_check`'s result. Returns the figure."""
    k = len(check["closest"])
    fig, axes = plt.subplots(2, k, figsize=(1.1 * k, 2.6), squeeze=False)
    for j, (s, t, d) in enumerate(zip(check["closest"], check["closest_train"], check["closest_distance"])):
        axes[0, j].imshow(samples[s, 0], cmap="gray", vmin=-1, vmax=1)
        axes[0, j].set_title(f"d {d:.1f}", fontsize=8)
        axes[1, j].imshow(train[t, 0], cmap="gray", vmin=-1, vmax=1)
    for ax in axes.flat:
        ax.set_axis_off()
    fig.suptitle(f"samples nearest a training image (top) and it (bottom); test digits' median d "
                 f"{check['test_nn_median']:.1f}", fontsize=8)
    return fig
