"""A second style domain: photo patches in classical non-photorealistic filters.

Content: 64x64 tiles of the photos that scikit-image ships, shrunk by ``PHOTOS``'s
factor so a tile shows a scene rather than a few pixels of one. Tiles do not
overlap, so train and test content never share a pixel. Styles: a filter times a
scale, each a deterministic function of the photo, so every target is known:

    cartoon    blur, flat colours (posterize) and dark lines where the blurred image has edges
    pencil     grey "colour dodge" sketch: grey / (1 - blur(1 - grey))
    kuwahara   each pixel takes the mean colour of its least varied quadrant (oil paint)
    posterize  a few levels per channel
    halftone   one dot per cell and channel, its area the cell's missing intensity

``make_npr_splits`` gives the same train / test_seen / test_unseen sets as the digits
(see gancore.styles); the unseen styles are held-out (filter, scale) pairs.
"""
from __future__ import annotations

import functools
import math
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

NPR_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "filter": ("cartoon", "pencil", "kuwahara", "posterize", "halftone"),
    "scale": ("fine", "medium", "coarse"),
}
# filter -> its parameter at each scale: blur sigma, dodge sigma, window radius, levels, cell px
SCALE_PARAMS = {"cartoon": (1.0, 1.5, 2.5), "pencil": (1.5, 3.0, 6.0), "kuwahara": (2, 3, 5),
                "posterize": (6, 4, 3), "halftone": (4, 6, 8)}
# skimage.data photo -> shrink factor before tiling (all ship in the wheel; none need a download)
PHOTOS = {"astronaut": 2, "coffee": 2, "chelsea": 2, "rocket": 2, "immunohistochemistry": 2,
          "retina": 4, "camera": 2, "coins": 1, "brick": 2, "grass": 2}
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights


@dataclass(frozen=True)
class NPRStyle:
    """One value per attribute of :data:`NPR_ATTRIBUTES`, checked on construction."""

    filter: str = "cartoon"
    scale: str = "medium"

    def __post_init__(self):
        for f in fields(self):
            check_value(f.name, getattr(self, f.name), NPR_ATTRIBUTES[f.name])

    def index(self) -> tuple[int, ...]:
        return tuple(NPR_ATTRIBUTES[a].index(getattr(self, a)) for a in NPR_ATTRIBUTES)

    @classmethod
    def from_index(cls, index) -> "NPRStyle":
        return cls(*index_to_values(index, NPR_ATTRIBUTES))

    @property
    def param(self):
        return SCALE_PARAMS[self.filter][NPR_ATTRIBUTES["scale"].index(self.scale)]


# ------------------------------------------------------------------ filters on [0, 1] images


def luminance(x: Tensor) -> Tensor:
    """(N, 3, H, W) -> (N, 1, H, W)."""
    return (x * torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)).sum(1, keepdim=True)


def _correlate(x: Tensor, weights: list[float], dim: int, pad_mode: str = "reflect") -> Tensor:
    """1-D correlation along ``dim`` (-1 or -2) as a weighted sum of shifted views: unlike
    conv2d, whose algorithm depends on the batch size, every image gets the same bits alone
    or in a batch, so a target equals ``render_npr`` of its content exactly."""
    r = len(weights) // 2
    p = F.pad(x, (r, r, 0, 0) if dim == -1 else (0, 0, r, r), mode=pad_mode)
    n = x.shape[dim]
    return sum(w * p.narrow(dim, i, n) for i, w in enumerate(weights) if w != 0)


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur, radius round(3 sigma), mirrored edges (scipy's mode="mirror")."""
    t = np.arange(-int(3 * sigma + 0.5), int(3 * sigma + 0.5) + 1)
    k = np.exp(-t**2 / (2 * sigma**2))
    k = (k / k.sum()).tolist()
    return _correlate(_correlate(x, k, -1), k, -2)


def posterize(x: Tensor, levels: int) -> Tensor:
    """Round each channel to ``levels`` evenly spaced values in [0, 1]."""
    return torch.round(x * (levels - 1)) / (levels - 1)


def pencil_sketch(x: Tensor, sigma: float) -> Tensor:
    """Colour dodge of the grey image with its blurred negative: flat areas go white,
    edges stay dark, like pencil lines. (N, 3, H, W) grey."""
    grey = luminance(x)
    sketch = grey / (1 - gaussian_blur(1 - grey, sigma)).clamp_min(1e-3)
    return sketch.clamp(0, 1).expand_as(x).clone()


def kuwahara(x: Tensor, radius: int) -> Tensor:
    """Kuwahara filter: the mean colour of whichever of the four (r+1)x(r+1) windows with a
    corner at the pixel has the least luminance variance (the first on ties)."""
    n, c, h, w = x.shape
    lum = luminance(x)
    padded = F.pad(torch.cat([x, lum, lum * lum], 1), (radius,) * 4, mode="reflect")
    box = F.avg_pool2d(padded, radius + 1, stride=1)                  # (N, C+2, H+r, W+r) window means
    quads = torch.stack([box[..., a:a + h, b:b + w] for a in (0, radius) for b in (0, radius)])
    variance = quads[:, :, c + 1] - quads[:, :, c] ** 2               # (4, N, H, W): E[l^2] - E[l]^2
    best = variance.argmin(0)                                         # (N, H, W)
    return torch.gather(quads[:, :, :c], 0, best[None, :, None].expand(1, n, c, h, w))[0]


def halftone(x: Tensor, cell: int) -> Tensor:
    """Per channel, one anti-aliased dot centred in each ``cell`` x ``cell`` block, its area the
    block's missing intensity: pi r^2 = (1 - mean) cell^2."""
    n, c, h, w = x.shape
    mean = F.avg_pool2d(x, cell, ceil_mode=True)                       # (N, C, ceil(H/cell), ...)
    mean = mean.repeat_interleave(cell, 2).repeat_interleave(cell, 3)[..., :h, :w]
    offset = (torch.arange(max(h, w), dtype=x.dtype, device=x.device) % cell) - (cell - 1) / 2
    distance = (offset[:h].view(h, 1) ** 2 + offset[:w].view(1, w) ** 2).sqrt()  # to the cell centre
    radius = cell * ((1 - mean).clamp_min(0) / math.pi).sqrt()
    ink = ((radius - distance + 0.5).clamp(0, 1) * (radius > 0))
    return 1 - ink


def cartoon(x: Tensor, sigma: float, levels: int = 5, edge: float = 0.25) -> Tensor:
    """Blurred, posterized colours with dark lines where the blurred luminance's Sobel
    gradient exceeds ``edge`` (ramping to full black at twice that)."""
    smooth = gaussian_blur(x, sigma)
    lum = luminance(smooth)
    gx = _correlate(_correlate(lum, [-1, 0, 1], -1, "replicate"), [1, 2, 1], -2, "replicate")  # Sobel
    gy = _correlate(_correlate(lum, [1, 2, 1], -1, "replicate"), [-1, 0, 1], -2, "replicate")
    lines = ((gx**2 + gy**2).sqrt() / edge - 1).clamp(0, 1)
    return posterize(smooth, levels) * (1 - lines)


FILTERS = {"cartoon": cartoon, "pencil": pencil_sketch, "kuwahara": kuwahara,
           "posterize": posterize, "halftone": halftone}


def render_npr(photos: Tensor, style: NPRStyle) -> Tensor:
    """Photos (N, 3, H, W) in [-1, 1] -> the same photos in ``style``, (N, 3, H, W) in [-1, 1]."""
    if not isinstance(style, NPRStyle):
        raise TypeError(f"style must be a gancore.npr.NPRStyle, got {type(style).__name__}")
    if photos.ndim != 4 or photos.shape[1] != 3:
        raise ValueError(f"photos must be (N, 3, H, W), got {tuple(photos.shape)}")
    out = FILTERS[style.filter]((photos.float() + 1) / 2, style.param)
    return (out * 2 - 1).clamp(-1, 1)


# ------------------------------------------------------------------------------ content


@functools.lru_cache(maxsize=None)
def _photo_tiles(size: int, min_std: float) -> tuple[Tensor, Tensor]:
    import skimage.data

    tiles, labels = [], []
    for label, (name, shrink) in enumerate(PHOTOS.items()):
        image = torch.from_numpy(np.ascontiguousarray(getattr(skimage.data, name)())).float() / 255.0
        image = image.expand(3, *image.shape) if image.ndim == 2 else image[..., :3].permute(2, 0, 1)
        image = F.avg_pool2d(image[None], shrink)[0]                  # (3, H / shrink, W / shrink)
        t = image.unfold(1, size, size).unfold(2, size, size)         # non-overlapping tiles
        t = t.permute(1, 2, 0, 3, 4).reshape(-1, 3, size, size)
        t = t[luminance(t).flatten(1).std(1) > min_std]               # drop flat sky and black borders
        tiles.append(t)
        labels.append(torch.full((len(t),), label, dtype=torch.int64))
    return torch.cat(tiles) * 2 - 1, torch.cat(labels)


def photo_tiles(size: int = 64, min_std: float = 0.05) -> tuple[Tensor, Tensor]:
    """All tiles (N, 3, size, size) in [-1, 1] of :data:`PHOTOS`, and each tile's photo index."""
    tiles, labels = _photo_tiles(size, min_std)
    return tiles.clone(), labels.clone()


class PhotoNPRDomain(StyleDomain):
    """Photo tiles in the styles of :data:`NPR_ATTRIBUTES`; the label is the source photo."""

    name = "photos"
    attributes = NPR_ATTRIBUTES
    unseen_values = {}
    holdout_pair = ("filter", "scale")

    def __init__(self, size: int = 64, test_fraction: float = 0.2):
        self.images, self.labels = photo_tiles(size)
        self.test_fraction = test_fraction

    def style(self, index) -> NPRStyle:
        return NPRStyle.from_index(index)

    def render(self, content: Tensor, style: NPRStyle) -> Tensor:
        return render_npr(content, style)


def make_npr_splits(n_train: int, n_test: int, seed: int = 0, size: int = 64,
                    test_fraction: float = 0.2) -> dict[str, StyleTransferSet]:
    """``train``, ``test_seen`` and ``test_unseen`` sets of photo tiles in NPR styles."""
    return make_splits(PhotoNPRDomain(size, test_fraction), n_train, n_test, seed)
