"""Checks the trainer runs on its data before the first step."""
from __future__ import annotations

import torch
from torch import Tensor


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
