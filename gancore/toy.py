"""2-D mixtures of Gaussians: the classic test bed for mode collapse.

A ring of 8 Gaussians (Metz et al. 2017, "Unrolled GANs") and a 5x5 grid
(Srivastava et al. 2017, VEEGAN; Lin et al. 2018, PacGAN) have known modes,
so "how many modes did the generator find?" has an exact answer:

    centres, std = ring_of_gaussians()               # (8, 2) centres, std 0.02
    real = sample_mixture(centres, std, 50_000, torch.Generator().manual_seed(0))  # (50000, 2)
    trainer = train_toy(real, steps=2000, lr_g=2e-3, lr_d=2e-3)
    mode_coverage(trainer.generate(2500), centres, std)  # modes_covered, high_quality_fraction, ...

``PackedDiscriminator`` is PacGAN's fix for collapse: D judges m samples at once.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator, NamedTuple, Sequence

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from .models import Discriminator, MLPDiscriminator, MLPGenerator
from .trainer import TrainConfig, Trainer, default_device


class Mixture(NamedTuple):
    """Equal-weight isotropic Gaussians. Unpacks as ``centres, std = mixture``."""

    centres: Tensor  # (K, 2)
    std: float


def ring_of_gaussians(n_modes: int = 8, radius: float = 2.0, std: float = 0.02) -> Mixture:
    """``n_modes`` Gaussians evenly spaced on a circle of ``radius``, the first at (radius, 0).

    The defaults are the ring of Unrolled GANs (PacGAN uses radius 1, std 0.01)."""
    if n_modes < 1 or radius <= 0 or std <= 0:
        raise ValueError(f"need n_modes >= 1, radius > 0 and std > 0; got {n_modes}, {radius}, {std}")
    angle = 2 * math.pi * torch.arange(n_modes, dtype=torch.float64) / n_modes
    centres = radius * torch.stack([angle.cos(), angle.sin()], dim=1)  # (K, 2)
    return Mixture(centres.float(), float(std))


def grid_of_gaussians(side: int = 5, spacing: float = 2.0, std: float = 0.02) -> Mixture:
    """``side`` x ``side`` Gaussians on a square grid centred at the origin
    (side=5, spacing=2 puts the centres at -4, -2, 0, 2, 4 on each axis; PacGAN's
    grid has these centres and std 0.05)."""
    if side < 1 or spacing <= 0 or std <= 0:
        raise ValueError(f"need side >= 1, spacing > 0 and std > 0; got {side}, {spacing}, {std}")
    axis = spacing * (torch.arange(side, dtype=torch.float32) - (side - 1) / 2)  # (side,)
    xs, ys = torch.meshgrid(axis, axis, indexing="ij")
    return Mixture(torch.stack([xs.flatten(), ys.flatten()], dim=1), float(std))  # (side^2, 2)


def sample_mixture(centres: Tensor, std: float, n: int,
                   generator: torch.Generator | None = None) -> Tensor:
    """``n`` points (n, 2): a mode uniformly at random, plus N(0, std^2 I) noise."""
    centres = torch.as_tensor(centres, dtype=torch.float32)
    if centres.dim() != 2 or len(centres) == 0:
        raise ValueError(f"centres must have shape (K, D) with K >= 1, got {tuple(centres.shape)}")
    if n < 1 or not std > 0:
        raise ValueError(f"need n >= 1 and std > 0, got n={n}, std={std}")
    mode = torch.randint(len(centres), (n,), generator=generator)  # (n,)
    noise = torch.randn(n, centres.shape[1], generator=generator)  # (n, D)
    return centres[mode] + std * noise


def mode_coverage(samples: Tensor, centres: Tensor, std: float, n_sigma: float = 3.0,
                  min_count: int = 1) -> dict:
    """Mode collapse in numbers, by the VEEGAN / PacGAN protocol.

    Each sample goes to its nearest centre. It is *high quality* if it lies
    within ``n_sigma`` standard deviations of that centre, ||x - mu_k|| < 3 std.
    A mode is *covered* if it receives at least ``min_count`` high-quality
    samples; ``min_count=1`` is the rule in PacGAN's code (MetricLogger in
    github.com/fjxmlzn/PacGAN), which evaluates 2,500 samples. Raise it to
    ignore modes that receive only stray samples.

    Returns ``modes_covered``, ``n_modes``, ``high_quality_fraction`` (of all
    samples), ``reverse_kl`` = KL(q || uniform) = log K - H(q), where q is the
    histogram of high-quality samples over modes (0 when balanced, log K when
    all land in one mode; NaN with no high-quality sample), and ``counts``,
    the high-quality samples per mode.
    """
    samples = torch.as_tensor(samples, dtype=torch.float32).detach().cpu()
    centres = torch.as_tensor(centres, dtype=torch.float32).cpu()
    if samples.dim() != 2 or samples.shape[1] != centres.shape[1] or len(samples) == 0:
        raise ValueError(f"samples must have shape (N, {centres.shape[1]}) with N >= 1, "
                         f"got {tuple(samples.shape)}")
    if not std > 0 or min_count < 1:
        raise ValueError(f"need std > 0 and min_count >= 1, got std={std}, min_count={min_count}")
    dist = torch.cdist(samples, centres)  # (N, K)
    nearest_dist, nearest = dist.min(dim=1)  # (N,), (N,)
    good = nearest_dist < n_sigma * std  # (N,) high quality
    counts = torch.bincount(nearest[good], minlength=len(centres))  # (K,)
    n_good = int(counts.sum())
    if n_good:
        q = counts[counts > 0].double() / n_good
        reverse_kl = math.log(len(centres)) + float((q * q.log()).sum())
    else:
        reverse_kl = float("nan")
    return {
        "modes_covered": int((counts >= min_count).sum()),
        "n_modes": len(centres),
        "high_quality_fraction": n_good / len(samples),
        "reverse_kl": reverse_kl,
        "counts": counts.tolist(),
    }


class PackedDiscriminator(Discriminator):
    """PacGAN (Lin et al. 2018): D sees ``pack`` samples side by side.

    A batch (B, 2) becomes (B / pack, 2 * pack), one logit per pack, so D can
    notice that a generator's samples are too alike. The trainer's batches are
    drawn at random, so neighbouring rows are independent samples.
    """

    def __init__(self, pack: int = 2, in_dim: int = 2, hidden: int = 256):
        super().__init__()
        if pack < 1:
            raise ValueError(f"pack must be >= 1, got {pack}")
        self.pack, self.in_dim = pack, in_dim
        self.net = MLPDiscriminator(in_shape=(pack * in_dim,), hidden=hidden)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[0] % self.pack:
            raise ValueError(f"batch of {x.shape[0]} is not divisible by pack={self.pack}; "
                             f"use a batch_size that is a multiple of {self.pack}")
        return self.net(x.reshape(-1, self.pack * self.in_dim))  # (B / pack,)


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
    device = torch.device(device) if device is not None else default_device()
    torch.manual_seed(seed)  # the networks' initial weights
    G = MLPGenerator(z_dim, hidden, out_shape=(real.shape[1],), tanh=False)
    D = (PackedDiscriminator(pack, real.shape[1], hidden) if pack > 1
         else MLPDiscriminator(in_shape=(real.shape[1],), hidden=hidden))
    trainer = Trainer(G, D, real, loss=loss, seed=seed, sample_every=snapshot_every,
                      n_samples=n_snapshot, device=device, progress=progress, **config)
    with _one_cpu_thread(device):
        trainer.train(steps, desc=f"{loss}, pack={pack}")
    return trainer


@contextmanager
def _one_cpu_thread(device: torch.device) -> Iterator[None]:
    """Run torch on one CPU thread: the matrices of a 2-D GAN are so small that
    splitting them over threads costs more than it saves (on a busy 2-core
    machine, 20 steps took 15 s with 2 threads and 0.6 s with 1)."""
    before = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def coverage_over_training(snapshots: dict[int, Tensor], mixture: Mixture) -> list[dict]:
    """``mode_coverage`` of each snapshot {step: (n, 2)}, one row per step."""
    centres, std = mixture
    rows = []
    for step, points in sorted(snapshots.items()):
        cov = mode_coverage(points, centres, std)
        rows.append({"step": step, **{k: v for k, v in cov.items() if k != "counts"}})
    return rows


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
