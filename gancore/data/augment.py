"""Random whole-pixel translation: the one augmentation gancore uses.

The digit classifier trains on shifted digits, so its features do not hinge
on exact centring; and the trainer can show D shifted real *and* fake images
(``TrainConfig.augment_shift``, "DiffAugment", Zhao et al. 2020), which keeps
D from memorising a small training set in long runs. The shift is an index
gather, so gradients flow through it back to G.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def random_translate(x: Tensor, max_shift: int, generator: torch.Generator | None = None,
                     fill: float = -1.0) -> Tensor:
    """Shift each image (N, C, H, W) by whole pixels in [-max_shift, max_shift] on both axes,
    filling the uncovered border with ``fill`` (the background, -1, of images in [-1, 1])."""
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    if max_shift == 0:
        return x
    if x.dim() != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(x.shape)}")
    n, _, h, w = x.shape
    s = max_shift
    padded = F.pad(x, (s, s, s, s), value=fill)  # (N, C, H + 2s, W + 2s)
    dy, dx = torch.randint(0, 2 * s + 1, (2, n), generator=generator).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (N, 1, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (N, 1, 1, W)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, chans, rows, cols]  # (N, C, H, W)
