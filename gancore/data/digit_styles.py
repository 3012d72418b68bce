"""Paired style-transfer data where the right answer is known.

A *style* is one value per attribute, each a deterministic rendering step
applied to a plain MNIST digit (N, 1, 32, 32):

    stroke      thin / regular / bold        grey-scale erosion (2x2) or dilation (3x3)
    slant       left / upright / right       a horizontal shear
    ink         solid colour, gradient or a texture patch cut from skimage.data (darkened)
    background  solid colour, gradient or a texture patch (lightened)

so ``target = mask * ink + (1 - mask) * background``, ``mask`` being the sheared,
thinned or thickened digit. A sample is a triple: the plain content digit, a style
exemplar (a digit of another class in the style) and the target (the content digit
in the style). Splits: ``train``; ``test_seen`` (new content digits in training
styles); ``test_unseen`` (new content digits in styles never trained on: held-out
(ink, background) pairs, and the ``UNSEEN_VALUES`` textures no training style uses).
The split logic (``gancore.data.style_pairs``) runs on any ``StyleDomain``, so a second domain (``gancore.data.photo_styles``:
photo patches in painting-like filters) feeds the same models and trainer.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gancore.data.style_pairs import (
    StyleDomain,
    StyleTransferSet,
    check_value,
    index_to_values,
    make_splits,
)

SOLID_INKS = {"black": (0.05, 0.05, 0.05), "red": (0.8, 0.08, 0.08), "blue": (0.1, 0.2, 0.8)}
SOLID_BACKGROUNDS = {"white": (1.0, 1.0, 1.0), "cream": (0.98, 0.93, 0.78), "sky": (0.8, 0.9, 1.0)}
# name -> (top or left colour, bottom or right colour, direction)
GRADIENTS = {
    "fire": ((0.75, 0.0, 0.05), (0.95, 0.55, 0.0), "vertical"),
    "ocean": ((0.05, 0.1, 0.55), (0.0, 0.5, 0.45), "horizontal"),
    "dusk": ((0.85, 0.8, 1.0), (1.0, 0.88, 0.75), "vertical"),
}
# name -> (skimage.data image, top, left, crop size, RGB tint); only images shipped in the wheel
TEXTURES = {
    "coffee": ("coffee", 100, 260, 128, (1.0, 1.0, 1.0)),
    "suit": ("astronaut", 300, 100, 128, (1.0, 1.0, 1.0)),
    "fur": ("chelsea", 20, 150, 96, (1.0, 1.0, 1.0)),
    "stain": ("immunohistochemistry", 300, 200, 128, (1.0, 1.0, 1.0)),
    "brick": ("brick", 0, 0, 128, (1.0, 0.86, 0.72)),
    "grass": ("grass", 0, 0, 96, (0.8, 1.0, 0.72)),
    "gravel": ("gravel", 0, 0, 96, (0.88, 0.9, 1.0)),
}

STYLE_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "stroke": ("thin", "regular", "bold"),
    "slant": ("left", "upright", "right"),
    "ink": ("black", "red", "blue", "fire", "ocean", "coffee", "suit", "fur", "stain"),
    "background": ("white", "cream", "sky", "dusk", "brick", "grass", "gravel"),
}
UNSEEN_VALUES = {"ink": ("stain",), "background": ("gravel",)}  # textures no training style uses
HOLDOUT_PAIR = ("ink", "background")  # some pairs of these two are held out of train
SLANT_SHEAR = {"left": -0.3, "upright": 0.0, "right": 0.3}  # x shift per unit y: 4.8 px at the top row


@dataclass(frozen=True)
class Style:
    """One value per attribute of :data:`STYLE_ATTRIBUTES`, checked on construction."""

    stroke: str = "regular"
    slant: str = "upright"
    ink: str = "black"
    background: str = "white"

    def __post_init__(self):
        for f in fields(self):
            check_value(f.name, getattr(self, f.name), STYLE_ATTRIBUTES[f.name])

    def index(self) -> tuple[int, ...]:
        """Attribute indices in the order of :data:`STYLE_ATTRIBUTES`."""
        return tuple(STYLE_ATTRIBUTES[a].index(getattr(self, a)) for a in STYLE_ATTRIBUTES)

    @classmethod
    def from_index(cls, index) -> "Style":
        return cls(*index_to_values(index, STYLE_ATTRIBUTES))

    def __str__(self) -> str:
        return "/".join(getattr(self, a) for a in STYLE_ATTRIBUTES)


# ---------------------------------------------------------- colour fields (3, S, S) in [0, 1]

@functools.lru_cache(maxsize=None)
def _texture(name: str, size: int) -> Tensor:
    import skimage.data

    source, top, left, crop, tint = TEXTURES[name]
    image = getattr(skimage.data, source)()[top:top + crop, left:left + crop]
    x = torch.from_numpy(np.ascontiguousarray(image)).float() / 255.0
    x = x.expand(3, crop, crop) if x.ndim == 2 else x[..., :3].permute(2, 0, 1)
    x = F.interpolate(x[None], size=(size, size), mode="area")[0]  # anti-aliased shrink
    x = (x - x.min()) / (x.max() - x.min())  # full contrast, so every patch reads as texture
    return x * torch.tensor(tint).view(3, 1, 1)


def texture_patch(name: str, size: int = 32) -> Tensor:
    """The fixed patch (3, size, size) in [0, 1] of a texture in :data:`TEXTURES` (cached)."""
    check_value("texture", name, tuple(TEXTURES))
    return _texture(name, size).clone()


def _flat(name: str, size: int, solids: dict) -> Tensor | None:
    if name in solids:
        return torch.tensor(solids[name]).view(3, 1, 1).expand(3, size, size).clone()
    if name in GRADIENTS:
        start, end, direction = GRADIENTS[name]
        t = torch.linspace(0, 1, size).view((1, size, 1) if direction == "vertical" else (1, 1, size))
        start, end = torch.tensor(start).view(3, 1, 1), torch.tensor(end).view(3, 1, 1)
        return (start + (end - start) * t).expand(3, size, size).clone()
    return None


def ink_field(name: str, size: int = 32) -> Tensor:
    """The ink colour at every pixel (3, size, size); textures darkened to stay legible."""
    check_value("ink", name, STYLE_ATTRIBUTES["ink"])
    flat = _flat(name, size, SOLID_INKS)
    return flat if flat is not None else 0.05 + 0.6 * _texture(name, size)


def background_field(name: str, size: int = 32) -> Tensor:
    """The background colour at every pixel (3, size, size); textures lightened."""
    check_value("background", name, STYLE_ATTRIBUTES["background"])
    flat = _flat(name, size, SOLID_BACKGROUNDS)
    return flat if flat is not None else 0.7 + 0.3 * _texture(name, size)


@functools.lru_cache(maxsize=None)
def _all_fields(size: int) -> tuple[Tensor, Tensor]:
    """Every ink (n_ink, 3, S, S) and every background (n_background, 3, S, S)."""
    return (torch.stack([ink_field(n, size) for n in STYLE_ATTRIBUTES["ink"]]),
            torch.stack([background_field(n, size) for n in STYLE_ATTRIBUTES["background"]]))


# ---------------------------------------------------------------------------- rendering

def _erode(mask: Tensor) -> Tensor:
    """Grey-scale erosion by a 2x2 square (pixel, right, lower, lower-right): strokes
    lose one pixel of width, where a 3x3 element would break MNIST's thin strokes.
    Shifted views rather than pooling: the same numbers, several times faster on a CPU."""
    p = F.pad(mask, (0, 1, 0, 1), value=1.0)  # 1 >= any coverage: the border never wins
    return torch.minimum(torch.minimum(p[..., :-1, :-1], p[..., :-1, 1:]),
                         torch.minimum(p[..., 1:, :-1], p[..., 1:, 1:]))


def _dilate(mask: Tensor) -> Tensor:
    """Grey-scale dilation by a 3x3 square, as a row max then a column max."""
    p = F.pad(mask, (1, 1, 1, 1), value=0.0)  # 0 <= any coverage: the border never wins
    rows = torch.maximum(torch.maximum(p[..., :-2], p[..., 1:-1]), p[..., 2:])  # (N, 1, S+2, S)
    return torch.maximum(torch.maximum(rows[..., :-2, :], rows[..., 1:-1, :]), rows[..., 2:, :])


def _shear(mask: Tensor, shear: Tensor) -> Tensor:
    """Sample image i at x + shear[i] * y (grid units): positive shear leans the top right.
    The grid is affine_grid's for [[1, shear, 0], [0, 1, 0]], built directly (faster)."""
    n, _, h, w = mask.shape
    ys = (torch.arange(h, device=mask.device) * 2 + 1) / h - 1   # pixel centres in [-1, 1]
    xs = (torch.arange(w, device=mask.device) * 2 + 1) / w - 1
    grid = torch.empty(n, h, w, 2, device=mask.device)           # (N, H, W, (x, y))
    grid[..., 0] = xs.view(1, 1, w) + shear.view(n, 1, 1) * ys.view(1, h, 1)
    grid[..., 1] = ys.view(1, h, 1)
    return F.grid_sample(mask, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def render_styles(digits: Tensor, style_index: Tensor) -> Tensor:
    """Each digit in its own style, in one vectorised pass.

    digits (N, 1, S, S) in [-1, 1], style_index (N, 4) attribute indices in the order of
    :data:`STYLE_ATTRIBUTES` -> RGB (N, 3, S, S) in [-1, 1]. Every step works per image,
    so a digit renders to the same bits whatever else is in the batch.
    """
    if digits.ndim != 4 or digits.shape[1] != 1 or digits.shape[2] != digits.shape[3]:
        raise ValueError(f"digits must be (N, 1, S, S), got {tuple(digits.shape)}; pad MNIST with pad_to_32()")
    idx = torch.as_tensor(style_index, dtype=torch.int64, device=digits.device)
    sizes = torch.tensor([len(v) for v in STYLE_ATTRIBUTES.values()], device=idx.device)
    if idx.shape != (len(digits), len(sizes)):
        raise ValueError(f"style_index must be ({len(digits)}, {len(sizes)}), got {tuple(idx.shape)}")
    if ((idx < 0) | (idx >= sizes)).any():
        raise ValueError(f"style indices out of range; the attributes have {sizes.tolist()} values")
    stroke, slant, ink, background = idx.unbind(1)                   # (N,) each
    inks, backgrounds = (f.to(digits.device) for f in _all_fields(digits.shape[-1]))
    return paint(style_masks(digits, stroke, slant), inks[ink], backgrounds[background])


def style_masks(digits: Tensor, stroke: Tensor, slant: Tensor) -> Tensor:
    """Each digit's ink coverage (N, 1, S, S) in [0, 1] after its slant and stroke (index tensors (N,)
    into :data:`STYLE_ATTRIBUTES`' values): the shape half of a style, before any colour."""
    shear = torch.tensor(list(SLANT_SHEAR.values()), device=digits.device)[slant]
    thin, bold = (STYLE_ATTRIBUTES["stroke"].index(v) for v in ("thin", "bold"))
    mask = (digits.float() + 1) / 2                                  # (N, 1, S, S) ink coverage
    # each step runs on just the rows that need it; the others keep their exact pixels
    for rows, step in ((shear != 0, lambda m, r: _shear(m, shear[r])),
                       (stroke == thin, lambda m, r: _erode(m)),
                       (stroke == bold, lambda m, r: _dilate(m))):
        rows = rows.nonzero().squeeze(1)
        if len(rows):
            mask = mask.index_copy(0, rows, step(mask[rows], rows))
    return mask.clamp_(0, 1)


def paint(mask: Tensor, ink: Tensor, background: Tensor) -> Tensor:
    """mask * ink + (1 - mask) * background: masks (N, 1, S, S) and colour fields (N, 3, S, S) in
    [0, 1] -> RGB (N, 3, S, S) in [-1, 1]."""
    return torch.lerp(background, ink, mask).mul_(2).sub_(1).clamp_(-1, 1)


def render(digits: Tensor, style: Style) -> Tensor:
    """Plain digits (N, 1, S, S) in [-1, 1] -> RGB (N, 3, S, S) in [-1, 1] in ``style``. Deterministic."""
    if not isinstance(style, Style):
        raise TypeError(f"style must be a gancore.styles.Style, got {type(style).__name__}")
    return render_styles(digits, torch.tensor(style.index()).expand(len(digits), -1))


def pad_to_32(images: Tensor) -> Tensor:
    """MNIST (N, 1, 28, 28) -> (N, 1, 32, 32) with 2 px of background (-1) on each side."""
    if images.ndim != 4 or images.shape[1] != 1 or tuple(images.shape[2:]) not in ((28, 28), (32, 32)):
        raise ValueError(f"expected digits (N, 1, 28, 28) or (N, 1, 32, 32), got {tuple(images.shape)}")
    if images.min() < -1 - 1e-6 or images.max() > 1 + 1e-6:
        raise ValueError("digits must lie in [-1, 1]; convert uint8 images with gancore.data.to_tensor")
    return images.float() if images.shape[-1] == 32 else F.pad(images.float(), (2, 2, 2, 2), value=-1.0)


class DigitStyleDomain(StyleDomain):
    """MNIST digits at 32x32 in the styles of :data:`STYLE_ATTRIBUTES`."""

    name = "digits"
    attributes = STYLE_ATTRIBUTES
    unseen_values = UNSEEN_VALUES
    holdout_pair = HOLDOUT_PAIR

    def __init__(self, images: Tensor | None = None, labels: Tensor | None = None,
                 test_fraction: float = 0.2):
        if (images is None) != (labels is None):
            raise ValueError("pass both images and labels, or neither (to use gancore.data.load_mnist)")
        if images is None:
            from gancore.data.sources import load_mnist
            images, labels = load_mnist()
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images, self.labels = pad_to_32(images), torch.as_tensor(labels).long()
        self.test_fraction = test_fraction

    def style(self, index) -> Style:
        return Style.from_index(index)

    def render(self, content: Tensor, style: Style) -> Tensor:
        return render(content, style)

    def render_styles(self, content: Tensor, style_index: Tensor) -> Tensor:
        return render_styles(content, style_index)


def make_style_splits(n_train: int, n_test: int, seed: int = 0, images: Tensor | None = None,
                      labels: Tensor | None = None, test_fraction: float = 0.2) -> dict[str, StyleTransferSet]:
    """The digit sets ``train``, ``test_seen`` and ``test_unseen``.

    Content: ``images``/``labels`` ((N, 1, 28|32, 28|32) in [-1, 1]) or else
    :func:`gancore.data.load_mnist`; a seeded ``test_fraction`` of the digits is the
    test pool, so train and test content digits are disjoint.
    """
    return make_splits(DigitStyleDomain(images, labels, test_fraction), n_train, n_test, seed)
