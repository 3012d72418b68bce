"""The MNIST GAN training loop of a source text, its models, and its defects.

Section 5.2 of ``gan-quality-evaluation.txt`` (the workbook's Chinese source
on GAN quality evaluation) trains an MLP GAN with its own loop. In
:mod:`gancore.train.textbook` terms that loop has the bugs :data:`SOURCE_BUGS`:
``nn.BCELoss`` on the output of a plain ``Linear``; ``g_loss.backward()``
then ``d_loss.backward()`` through one graph; only
``g_optimizer.zero_grad()``; labels of ``batch_size``. It also never builds
the ``dataloader`` it iterates, so the range of its real images is unstated
(:func:`demo_data_range`), and its generator squeezes every image through
100 tanh units (:class:`SourceGenerator`).
"""
from __future__ import annotations

import math

import pandas as pd
import torch
from torch import Tensor, nn

from gancore.metrics.distribution import evaluate_samples
from gancore.nets.base import Discriminator, Generator
from gancore.train.textbook import run_textbook, textbook_step
from gancore.train.trainer import Trainer

SOURCE_BUGS: frozenset[str] = frozenset({"no_sigmoid", "no_detach", "g_backward_first",
                                         "no_zero_grad_d", "batch_labels"})


class SourceGenerator(Generator):
    """The source's G: z (100) -> 256 -> 256 -> 784 -> 100 -> 784, ReLU x3, tanh, tanh."""

    z_dim = 100

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(  # fc1..fc5 of the source, PyTorch's default init as there
            nn.Linear(100, 256), nn.ReLU(),
            nn.Linear(256, 256), nn.ReLU(),
            nn.Linear(256, 784), nn.ReLU(),
            nn.Linear(784, 100), nn.Tanh(),  # the bottleneck: every image is made from 100 numbers in (-1, 1)
            nn.Linear(100, 784), nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.view(-1, 100)).view(-1, 1, 28, 28)  # (B, 1, 28, 28)


class SourceDiscriminator(Discriminator):
    """The source's D: 784 -> 256 -> 256 -> 256 -> 1, ReLU, no sigmoid (a logit)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 256), nn.ReLU(),
            nn.Linear(256, 256), nn.ReLU(),
            nn.Linear(256, 256), nn.ReLU(),
            nn.Linear(256, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)  # (B,); the source keeps (B, 1)


def source_models() -> tuple[SourceGenerator, SourceDiscriminator]:
    """Fresh ``(G, D)`` of the source (the ``build`` of :func:`gancore.train.textbook.run_textbook`)."""
    return SourceGenerator(), SourceDiscriminator()


# Each fix in the order the source's loop needs it: the first error hides the next.
PEEL: tuple[tuple[str, str, bool], ...] = (
    ("the source as written", "", False),
    ("+ retain_graph=True in g_loss.backward()", "", True),
    ("+ sigmoid before BCELoss", "no_sigmoid", True),
    ("+ labels sized by the batch", "batch_labels", True),
    ("+ d_optimizer.zero_grad()", "no_zero_grad_d", True),
    ("+ D on fake.detach(), G on a new D(fake) (all fixed)", "no_detach g_backward_first", False),
)


def peel_source_loop(images: Tensor, batch_size: int = 32, n_images: int = 500, seed: int = 0,
                     lr: float = 2e-4) -> pd.DataFrame:
    """One epoch of the source's loop and models on ``n_images``, fixing one defect per row.

    Columns: the error that stopped it, steps run of the epoch's batches,
    and at the last step run, how the gradient each optimizer stepped with
    compares with its own loss's gradient (ratio of norms, cosine; 1 when
    right) and D's mean belief that the fakes are real.
    """
    images = images[:n_images]
    if len(images) % batch_size == 0:
        raise ValueError(f"{len(images)} images split evenly into batches of {batch_size}; "
                         "the source's label bug needs a smaller last batch to show")
    bugs, rows = set(SOURCE_BUGS), []
    for name, fixed, retain in PEEL:
        bugs -= set(fixed.split())
        run = run_textbook(images, bugs, batch_size=batch_size, lr=lr, seed=seed, retain_graph=retain,
                           build=source_models)
        last = run.history.iloc[-1] if len(run.history) else None
        rows.append({"variant": name, "error": run.error or "", "steps_run": len(run.history),
                     "batches_per_epoch": run.batches_per_epoch,
                     **{k: math.nan if last is None else float(last[k])
                        for k in ("d_grad_ratio", "d_grad_cos", "g_grad_ratio", "g_grad_cos", "d_fake_prob")}})
    return pd.DataFrame(rows).set_index("variant")


# --------------------------------------------------------------------------
# The missing data pipeline: real images in [0, 1] against a tanh generator
# --------------------------------------------------------------------------


def range_rule_accuracy(real: Tensor, fake: Tensor) -> float:
    """Accuracy of the rule "an image with any pixel below 0 is fake", on equal-sized sets."""
    flags_real = (real.flatten(1) < 0).any(1).float()  # 1: called fake
    flags_fake = (fake.flatten(1) < 0).any(1).float()
    return 0.5 * ((1 - flags_real).mean() + flags_fake.mean()).item()


@torch.no_grad()
def d_check(G: nn.Module, D: nn.Module, real: Tensor, seed: int = 0) -> dict:
    """How D and the range rule tell ``real`` from as many fresh fakes.

    D calls an image real when its logit is above 0.
    """
    z = torch.randn(len(real), G.z_dim, generator=torch.Generator().manual_seed(seed))
    fake = G(z)
    r, f = D(real), D(fake)
    return {"d_accuracy": 0.5 * ((r > 0).float().mean() + (f <= 0).float().mean()).item(),
            "d_real_logit": r.mean().item(), "d_fake_logit": f.mean().item(),
            "rule_accuracy": range_rule_accuracy(real, fake),
            "real_pixels_below_0": (real < 0).float().mean().item(),
            "fake_pixels_below_0": (fake < 0).float().mean().item()}


def demo_data_range(images: Tensor, steps: int = 200, at=(0, 10, 50, 200), batch_size: int = 32,
                    n_check: int = 500, seed: int = 0, lr: float = 2e-4) -> pd.DataFrame:
    """The source's models, loop fixed, on real images in [0, 1] and in [-1, 1].

    ``images`` are in [-1, 1] (gancore.data); ``(images + 1) / 2`` is what
    ``transforms.ToTensor()`` alone gives. Rows (range, step): :func:`d_check`
    on the first ``n_check`` images after ``step`` training steps.
    """
    at = sorted({t for t in at if t <= steps})
    rows = []
    for label, data in [("[0, 1]: ToTensor() alone", (images + 1) / 2),
                        ("[-1, 1]: ToTensor() + Normalize((0.5,), (0.5,))", images)]:
        torch.manual_seed(seed)
        G, D = source_models()
        opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
        for step in range(steps + 1):
            if step in at:
                rows.append({"real range": label, "step": step, **d_check(G, D, data[:n_check], seed)})
            if step < steps:
                idx = order[(step * batch_size + torch.arange(batch_size)) % len(data)]
                textbook_step(G, D, opt_g, opt_d, data[idx], probe=False)
    return pd.DataFrame(rows).set_index(["real range", "step"])


# --------------------------------------------------------------------------
# Training a generator with gancore.Trainer, scored like notebook 03's models
# --------------------------------------------------------------------------


def train_and_score(G: nn.Module, D: nn.Module, real: Tensor, steps: int, reference, classifier,
                    n_eval: int, seed: int = 0, **trainer_kw) -> dict:
    """Train ``G`` against ``D`` with ``gancore.Trainer`` for ``steps``; FD and score of ``n_eval`` samples.

    ``reference`` and ``classifier`` are those of gancore.metrics.evaluate_samples;
    ``trainer_kw`` goes to the Trainer (loss, batch_size, lr_g, augment_shift, ...).
    """
    trainer = Trainer(G, D, real, seed=seed, sample_every=0, progress=False, **trainer_kw)
    trainer.fit(steps)
    seconds = trainer.train_seconds
    return {"steps": steps, "seconds": seconds, "trainer": trainer,
            **evaluate_samples(trainer.generate(n_eval), reference, classifier)}
