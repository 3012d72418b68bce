"""Differentiable augmentations of D's inputs: whole-pixel translation, colour and cutout.

The digit classifier trains on shifted digits, so its features do not hinge
on exact centring; and the trainer can show D shifted real *and* fake images
(``TrainConfig.augment_shift``, "DiffAugment", Zhao et al. 2020), which keeps
D from memorising a small training set in long runs. DiffAugment's other two
policies, colour and cutout (``TrainConfig.augment``), are here too. Every one
is an index gather or arithmetic, so gradients flow through it back to G.
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


AUGMENT_POLICIES: tuple[str, ...] = ("color", "cutout")  # DiffAugment's names; translation is augment_shift


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"color,cutout"`` -> ("color", "cutout"); ``""`` -> (). Unknown names raise."""
    names = tuple(name.strip() for name in str(policy).split(",") if name.strip())
    unknown = [n for n in names if n not in AUGMENT_POLICIES]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown[0]!r} in {policy!r}; use a comma-separated list of "
                         f"{', '.join(AUGMENT_POLICIES)} (translation is augment_shift), or '' for none")
    return names


def _per_image(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """U[0, 1) per image, shaped (N, 1, 1, 1) to broadcast over (N, C, H, W)."""
    return torch.rand(len(x), 1, 1, 1, generator=generator).to(x.device, x.dtype)


def random_color(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """DiffAugment's colour policy on images in [-1, 1], per image:

    brightness  x + (u1 - 0.5)
    saturation  (x - mean_c x) * 2 u2 + mean_c x     (mean over channels: the identity on grey images)
    contrast    (x - mean_chw x) * (u3 + 0.5) + mean_chw x
    """
    x = x + (_per_image(x, generator) - 0.5)
    grey = x.mean(dim=1, keepdim=True)  # (N, 1, H, W)
    x = (x - grey) * (2 * _per_image(x, generator)) + grey
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (N, 1, 1, 1)
    return (x - mean) * (_per_image(x, generator) + 0.5) + mean


def random_cutout(x: Tensor, ratio: float = 0.5, generator: torch.Generator | None = None) -> Tensor:
    """DiffAugment's cutout: zero one square of side ``round(ratio * H)`` per image, centred anywhere
    in the image (so it may be cut by the border). Zero, as in DiffAugment: mid-grey in [-1, 1]."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - sh % 2), (n, 1), generator=generator) - sh // 2  # (N, 1) top rows
    cx = torch.randint(0, w + (1 - sw % 2), (n, 1), generator=generator) - sw // 2  # (N, 1) left columns
    rows, cols = torch.arange(h), torch.arange(w)
    in_rows = (rows >= cy) & (rows < cy + sh)  # (N, H)
    in_cols = (cols >= cx) & (cols < cx + sw)  # (N, W)
    keep = ~(in_rows[:, :, None] & in_cols[:, None, :])  # (N, H, W)
    return x * keep[:, None].to(x.device, x.dtype)


def diff_augment(x: Tensor, policy: str | tuple[str, ...], shift: int = 0,
                 generator: torch.Generator | None = None) -> Tensor:
    """DiffAugment (Zhao et al. 2020) in its order: colour, translation by up to ``shift`` pixels,
    cutout, each only when named in ``policy`` (translation: when ``shift`` > 0)."""
    names = parse_policy(policy) if isinstance(policy, str) else policy
    if (names or shift) and x.dim() != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(x.shape)}")
    if "color" in names:
        x = random_color(x, generator)
    x = random_translate(x, shift, generator)
    if "cutout" in names:
        x = random_cutout(x, generator=generator)
    return x
