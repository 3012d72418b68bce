"""Checks the trainer runs on its data before the first step."""
from __future__ import annotations

import torch
from torch import Tensor

RANGE_SLACK = 1e-3  # round-off past [-1, 1] that resizing or colour conversion may leave


def check_image_range(name: str, images: Tensor) -> None:
    """ValueError unless float images (N, C, H, W) lie in [-1, 1], the range of G's tanh output:
    real images in 0..255 or [0, 1] let D tell real from fake by range alone, and G can never
    reach them. Not images (4-D float), not checked."""
    if images.dim() != 4 or not images.is_floating_point() or images.numel() == 0:
        return
    low, high = float(images.min()), float(images.max())
    if low < -1 - RANGE_SLACK or high > 1 + RANGE_SLACK:
        guess = " (they look like 0..255 values: x / 127.5 - 1)" if low >= 0 and high > 1.5 else ""
        raise ValueError(f"{name} images lie in [{low:.4g}, {high:.4g}], outside [-1, 1], the range of G's tanh "
                         f"output; scale them into [-1, 1] before building the Trainer{guess}: x / 127.5 - 1 "
                         "for 0..255 values, x * 2 - 1 for [0, 1]")


def check_finite_data(tensors: dict[str, Tensor]) -> None:
    """Raise ValueError naming the first sample (index along dim 0) holding NaN or inf.

    ``tensors`` maps a name shown in the message to a tensor (N, ...); integer
    tensors (labels) cannot hold either and are skipped. One NaN pixel makes every
    loss NaN within a few steps, far from its cause, so this looks before training.
    """
    for name, tensor in tensors.items():
        if not tensor.is_floating_point() or tensor.numel() == 0:
            continue
        finite = torch.isfinite(tensor.reshape(len(tensor), -1)).all(1)  # (N,)
        if not bool(finite.all()):
            bad = (~finite).nonzero()[:, 0]  # (n_bad,) sample indices
            i = int(bad[0])
            value = tensor[i][~torch.isfinite(tensor[i])].flatten()[0].item()
            raise ValueError(
                f"{name}[{i}] holds {value} ({len(bad)} of {len(tensor)} samples of {name} hold NaN or "
                f"inf); training on them makes every loss nan. Drop or repair those samples before "
                f"building the Trainer, the same rows of real and of every condition: "
                f"keep = torch.isfinite({name}.flatten(1)).all(1), then index each tensor with keep")
