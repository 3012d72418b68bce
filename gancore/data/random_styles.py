"""Digit styles drawn at random, for training a judge on more looks than the splits' styles have.

The style splits hold 9 inks and 7 backgrounds; notebook 08's training pool meets 40 of their pairs.
A judge that learns from those alone learns *those* styles. This module paints digits in styles that
no split uses: each triple gets its own ink and its own background, either a random solid colour, a
random two-colour gradient or a random crop of a photo shipped with scikit-image, plus a random
stroke and slant. The photos behind the unseen textures (:data:`UNSEEN_VALUES`) are left out, so a
test on unseen styles stays one.

    extra = random_style_set(splits["train"], 1200, seed=0)   # a StyleTransferSet, split "random_styles"

Colour fields follow :mod:`gancore.data.digit_styles`: inks dark (textures 0.05 + 0.6 t), backgrounds
light (textures 0.7 + 0.3 t), t a full-contrast patch.
"""
from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gancore.data.digit_styles import STYLE_ATTRIBUTES, TEXTURES, UNSEEN_VALUES, paint, style_masks
from gancore.data.style_pairs import StyleTransferSet, other_instance

# scikit-image's bundled photos (no download); minus those the unseen textures are cut from
PHOTOS: tuple[str, ...] = tuple(
    p for p in ("astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins", "grass",
                "hubble_deep_field", "microaneurysms", "moon", "page", "retina", "rocket", "text")
    if p not in {TEXTURES[v][0] for values in UNSEEN_VALUES.values() for v in values})
ATTRIBUTES: dict[str, tuple[str, ...]] = {"stroke": STYLE_ATTRIBUTES["stroke"], "slant": STYLE_ATTRIBUTES["slant"],
                                          "ink": ("random",), "background": ("random",)}


@functools.lru_cache(maxsize=None)
def _photo(name: str) -> Tensor:
    import skimage.data

    x = torch.from_numpy(np.ascontiguousarray(getattr(skimage.data, name)())).float() / 255.0
    return x.expand(3, *x.shape) if x.ndim == 2 else x[..., :3].permute(2, 0, 1)  # (3, H, W) in [0, 1]


def _draw(gen: torch.Generator, high: int, low: int = 0) -> int:
    return int(torch.randint(low, high, (1,), generator=gen))


def _texture(gen: torch.Generator, size: int) -> Tensor:
    """A random square crop (40 to 160 px) of a random photo, shrunk to size, full contrast, tinted."""
    x = _photo(PHOTOS[_draw(gen, len(PHOTOS))])
    crop = _draw(gen, min(160, *x.shape[1:]) + 1, 40)
    top, left = _draw(gen, x.shape[1] - crop + 1), _draw(gen, x.shape[2] - crop + 1)
    patch = F.interpolate(x[None, :, top:top + crop, left:left + crop], size=(size, size), mode="area")[0]
    patch = (patch - patch.min()) / (patch.max() - patch.min()).clamp(min=1e-6)
    return patch * (0.7 + 0.3 * torch.rand(3, 1, 1, generator=gen))


def _flat(gen: torch.Generator, size: int, low: float, high: float) -> Tensor:
    """A solid colour, or a gradient between two (vertical or horizontal), each channel in [low, high]."""
    a = low + (high - low) * torch.rand(3, 1, 1, generator=gen)
    if torch.rand(1, generator=gen) < 0.5:
        return a.expand(3, size, size).clone()
    b = low + (high - low) * torch.rand(3, 1, 1, generator=gen)
    ramp = torch.linspace(0, 1, size)
    ramp = ramp.view(1, size, 1) if torch.rand(1, generator=gen) < 0.5 else ramp.view(1, 1, size)
    return (a + (b - a) * ramp).expand(3, size, size).clone()


def random_field(gen: torch.Generator, kind: str, size: int = 32) -> Tensor:
    """One random ink or background (3, size, size) in [0, 1]: half textures, half solid or gradient."""
    if kind not in ("ink", "background"):
        raise ValueError(f"kind must be 'ink' or 'background', got {kind!r}")
    if torch.rand(1, generator=gen) < 0.5:
        t = _texture(gen, size)
        return 0.05 + 0.6 * t if kind == "ink" else 0.7 + 0.3 * t
    return _flat(gen, size, 0.0, 0.85) if kind == "ink" else _flat(gen, size, 0.7, 1.0)


def random_style_set(data: StyleTransferSet, n: int, seed: int = 0) -> StyleTransferSet:
    """``n`` triples of ``data``'s digits, each in its own random style (module doc): a content digit,
    a digit of another class as the exemplar, both painted alike, and the target. Deterministic from
    ``seed``."""
    if not isinstance(data, StyleTransferSet) or data.content.shape[1] != 1:
        raise ValueError("data must be a StyleTransferSet of plain digits (N, 1, S, S)")
    if not (isinstance(n, int) and n >= 1):
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    gen = torch.Generator().manual_seed(seed)
    size = data.content.shape[-1]
    content_idx = torch.randint(len(data), (n,), generator=gen)
    exemplar_idx = other_instance(data.digit, content_idx, gen)
    stroke, slant = (torch.randint(len(STYLE_ATTRIBUTES[a]), (n,), generator=gen) for a in ("stroke", "slant"))
    inks = torch.stack([random_field(gen, "ink", size) for _ in range(n)])  # (n, 3, S, S)
    backgrounds = torch.stack([random_field(gen, "background", size) for _ in range(n)])
    content, exemplar_content = data.content[content_idx], data.content[exemplar_idx]
    zero = torch.zeros_like(stroke)
    return StyleTransferSet(
        content, exemplar=paint(style_masks(exemplar_content, stroke, slant), inks, backgrounds),
        target=paint(style_masks(content, stroke, slant), inks, backgrounds), digit=data.digit[content_idx],
        style=torch.stack([stroke, slant, zero, zero], dim=1), split="random_styles", attributes=ATTRIBUTES,
        exemplar_content=exemplar_content, exemplar_digit=data.digit[exemplar_idx])
