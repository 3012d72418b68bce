"""One supervised training loop for the networks gancore trains on labelled images.

    model = fit(lambda: DigitClassifier(10), images, labels, F.cross_entropy,
                steps=600, batch_size=64, lr=2e-3, seed=0, augment=shift)

minimises mean_batch loss_fn(model(x), y) with Adam, its learning rate
cosine-decayed from ``lr`` to 0 over the run:

    lr_t = lr * (1 + cos(pi * t / T)) / 2,   t = 0 .. T - 1 steps.

Everything random (initial weights, batch order, augmentation) follows
``seed``, and the caller's global RNG is left as it was, so training a cached
network, or loading it instead, never changes a seeded notebook's results.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from gancore.runtime import as_device, cpu_threads

Targets = Tensor | dict[str, Tensor]
Sampler = Callable[[int, int, torch.Generator], Iterator[Tensor]]
Augment = Callable[[Tensor, torch.Generator], Tensor]


def epoch_batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[Tensor]:
    """Endless index batches: a fresh permutation of ``range(n)`` per epoch, cut into
    ``max(1, n // batch_size)`` batches (the remainder is dropped; n < batch_size: one batch of n).

    The permutation is drawn lazily, when the previous one is used up, so draws of an
    ``augment`` sharing ``generator`` interleave with it in step order.
    """
    per_epoch = max(1, n // batch_size)
    while True:
        order = torch.randperm(n, generator=generator)
        for i in range(per_epoch):
            yield order[i * batch_size:(i + 1) * batch_size]


def steps_for(n: int, batch_size: int, epochs: int) -> int:
    """Steps of ``epochs`` passes over ``n`` images with :func:`epoch_batches`."""
    return epochs * max(1, n // batch_size)


def fit(model: nn.Module | Callable[[], nn.Module], images: Tensor, targets: Targets,
        loss_fn: Callable[[object, Targets], Tensor], *, steps: int | None = None,
        epochs: int | None = None, batch_size: int = 64, lr: float = 2e-3, seed: int = 0,
        augment: Augment | None = None, batches: Sampler = epoch_batches, device=None,
        progress: bool = True, threads: int | None = None, desc: str = "fit") -> nn.Module:
    """Train ``model`` on (``images``, ``targets``) and return it in eval mode.

    ``model``: a module, or a function building one, called under
    ``torch.manual_seed(seed)`` so the initial weights follow the seed too.
    ``targets``: a tensor, or a dict of tensors (one per head), indexed like
    ``images``; ``loss_fn(model(x), y)`` gets the batch's slice of them.
    Give ``steps`` or ``epochs`` (steps = epochs * max(1, N // batch_size)).
    One ``torch.Generator(seed)`` draws the batch indices (``batches(N,
    batch_size, generator)``, :func:`epoch_batches` by default) and then, per
    step, the ``augment(x, generator)`` of the batch, on the CPU before it
    moves to ``device``. ``threads``: torch CPU threads while training on the
    CPU (None: as they are).
    """
    n = _check(images, targets)
    if (steps is None) == (epochs is None):
        raise ValueError(f"give exactly one of steps and epochs, got steps={steps}, epochs={epochs}")
    if epochs is not None:
        steps = steps_for(n, batch_size, epochs)
    if steps < 1 or batch_size < 1 or not lr > 0:
        raise ValueError(f"steps, batch_size and lr must be positive, got {steps}, {batch_size}, {lr}")
    device = as_device(device)
    with torch.random.fork_rng(devices=[]), cpu_threads(threads if device.type == "cpu" else None):
        torch.manual_seed(seed)
        if not isinstance(model, nn.Module):
            model = model()
        model = model.to(device)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        rng = torch.Generator().manual_seed(seed)
        order = batches(n, batch_size, rng)
        model.train()
        for _ in tqdm(range(steps), desc=desc, disable=not progress, leave=False):
            idx = next(order)
            x = images[idx] if augment is None else augment(images[idx], rng)
            loss = loss_fn(model(x.to(device)), _take(targets, idx, device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


def _take(targets: Targets, idx: Tensor, device: torch.device) -> Targets:
    if isinstance(targets, dict):
        return {name: t[idx].to(device) for name, t in targets.items()}
    return targets[idx].to(device)


def _check(images: Tensor, targets: Targets) -> int:
    """The number of training images; one clear error when images and targets do not pair up."""
    if not isinstance(images, Tensor) or images.dim() < 2 or len(images) == 0:
        raise ValueError(f"images must be a non-empty (N, ...) tensor, got {_shape(images)}")
    parts = targets if isinstance(targets, dict) else {"targets": targets}
    for name, t in parts.items():
        if not isinstance(t, Tensor) or t.dim() == 0 or len(t) != len(images):
            raise ValueError(f"{name} must be a tensor with one entry per image ({len(images)}), "
                             f"got {_shape(t)}")
    return len(images)


def _shape(x) -> str:
    return str(tuple(x.shape)) if isinstance(x, Tensor) else type(x).__name__
