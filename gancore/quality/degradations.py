"""Controlled damage of known strength, to test whether a metric sees it.

Every degradation takes a strength s in [0, 1] (0: the input unchanged, 1: severe)
and a ``torch.Generator`` (same generator state, same output). Images are
(N, C, H, W) in [-1, 1] and stay there.

Per image (:data:`IMAGE_DEGRADATIONS`, through :func:`degrade`):

    noise              x + sigma eps,  eps ~ N(0, 1),  sigma = s * NOISE_MAX_STD
    blur               Gaussian blur, sigma_px = s * BLUR_MAX_SIGMA * min(H, W), edges replicated
    occlusion          one mid-grey (0) rectangle per image at a random place,
                       covering a fraction s * OCCLUSION_MAX_AREA of the image
    colour_shift       RGB: x + s * COLOUR_MAX_SHIFT * u, u a random unit vector per image;
                       grey: (1 - s * CONTRAST_MAX_LOSS) x +- s * COLOUR_MAX_SHIFT (contrast and brightness)
    resample_<mode>    down to round(H / f) x round(W / f) and back up, both with ``mode``
                       (nearest, bilinear, bicubic), f = 1 + s (RESAMPLE_MAX_FACTOR - 1):
                       28 -> 7 -> 28 px at s = 1, the 28 -> 64 -> 28 round trip turned lossy

Per set (:data:`SET_DEGRADATIONS`): a growing fraction of the set is wrong, but
each image on its own looks fine, so per-image quality cannot see it:

    drop_modes      round(s (K - 1)) of the K classes removed, the set refilled from the rest
    memorise        round(s N) samples replaced by copies of training images
    wrong_style     round(s N) style-transfer targets re-rendered in another sample's style
    wrong_content   round(s N) targets re-rendered from another sample's content (another class)

Results are clamped to [-1, 1]; the clamp is what keeps noise and colour shifts
valid images, and is part of the degradation.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

NOISE_MAX_STD = 0.5          # in [-1, 1] units: a quarter of the value range
BLUR_MAX_SIGMA = 0.075       # of the image side: 2.1 px on 28 px
OCCLUSION_MAX_AREA = 0.5     # fraction of the image hidden at s = 1
COLOUR_MAX_SHIFT = 0.6       # length of the RGB (or brightness) offset at s = 1
CONTRAST_MAX_LOSS = 0.5      # grey images lose up to half their contrast
RESAMPLE_MAX_FACTOR = 4.0    # down-sampling factor at s = 1
OCCLUSION_FILL = 0.0         # mid-grey: neither ink nor background


# ------------------------------------------------------------------------------ checks

def check_images(images: Tensor, name: str = "images") -> Tensor:
    """(N, C, H, W) float, finite, in [-1, 1], or one ValueError saying what to fix."""
    if not isinstance(images, Tensor) or images.dim() != 4 or not images.is_floating_point():
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"{name} must be a float tensor (N, C, H, W) in [-1, 1], got {shape}")
    if not bool(torch.isfinite(images).all()):
        raise ValueError(f"{name} hold NaN or inf: check the model's outputs first")
    if len(images) and (images.min() < -1 - 1e-5 or images.max() > 1 + 1e-5):
        raise ValueError(f"{name} must lie in [-1, 1], got [{float(images.min()):g}, {float(images.max()):g}]; "
                         f"convert uint8 images with gancore.data.to_tensor")
    return images


def check_strength(strength) -> float:
    """A number in [0, 1], or one ValueError."""
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 <= strength <= 1:
        raise ValueError(f"strength must be a number in [0, 1] (0: unchanged, 1: severe), got {strength!r}")
    return float(strength)


def _generator(generator: torch.Generator | None) -> torch.Generator:
    """The caller's generator, or a fresh one seeded 0, so a call without one is repeatable."""
    return torch.Generator().manual_seed(0) if generator is None else generator


# -------------------------------------------------------------------- per-image degradations

def noise(images: Tensor, strength: float, generator: torch.Generator | None = None) -> Tensor:
    """Additive Gaussian noise, std ``strength * NOISE_MAX_STD``, clamped to [-1, 1]."""
    eps = torch.randn(images.shape, generator=_generator(generator)).to(images)
    return (images + strength * NOISE_MAX_STD * eps).clamp(-1, 1)


def gaussian_kernel(sigma: float, truncate: float = 4.0) -> Tensor:
    """Normalised 1-D Gaussian (2r + 1,), r = int(truncate sigma + 0.5): scipy's ``gaussian_filter`` kernel."""
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def blur(images: Tensor, strength: float, generator: torch.Generator | None = None) -> Tensor:
    """Separable Gaussian blur, sigma = ``strength * BLUR_MAX_SIGMA * min(H, W)`` px, edge pixels
    replicated (scipy.ndimage.gaussian_filter(mode="nearest", truncate=4) per channel)."""
    sigma = strength * BLUR_MAX_SIGMA * min(images.shape[-2:])
    if sigma == 0:
        return images.clone()
    k = gaussian_kernel(sigma).to(images)
    r, c = len(k) // 2, images.shape[1]
    x = F.pad(images, (r, r, r, r), mode="replicate")                      # (N, C, H + 2r, W + 2r)
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)    # rows
    x = F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)    # columns
    return x.clamp(-1, 1)


def occlusion_size(height: int, width: int, strength: float) -> tuple[int, int]:
    """The occluding rectangle's (h, w): the image's shape scaled by sqrt(area fraction)."""
    side = math.sqrt(strength * OCCLUSION_MAX_AREA)
    return round(side * height), round(side * width)


def occlusion(images: Tensor, strength: float, generator: torch.Generator | None = None) -> Tensor:
    """One :data:`OCCLUSION_FILL` rectangle of :func:`occlusion_size` per image, placed uniformly."""
    n, _, height, width = images.shape
    h, w = occlusion_size(height, width, strength)
    gen = _generator(generator)
    top = torch.randint(0, height - h + 1, (n,), generator=gen)
    left = torch.randint(0, width - w + 1, (n,), generator=gen)
    rows, cols = torch.arange(height), torch.arange(width)
    inside = (((rows >= top[:, None]) & (rows < top[:, None] + h))[:, :, None]
              & ((cols >= left[:, None]) & (cols < left[:, None] + w))[:, None, :])  # (N, H, W)
    return images.masked_fill(inside[:, None].to(images.device), OCCLUSION_FILL)


def colour_shift(images: Tensor, strength: float, generator: torch.Generator | None = None) -> Tensor:
    """RGB: a random offset of length ``strength * COLOUR_MAX_SHIFT`` per image (see module doc).
    One channel: contrast times (1 - s CONTRAST_MAX_LOSS) and brightness +- s COLOUR_MAX_SHIFT, sign random."""
    n, c = images.shape[:2]
    gen = _generator(generator)
    if c == 1:
        sign = torch.randint(0, 2, (n, 1, 1, 1), generator=gen).float() * 2 - 1
        out = (1 - strength * CONTRAST_MAX_LOSS) * images + strength * COLOUR_MAX_SHIFT * sign.to(images)
    else:
        u = torch.randn(n, c, generator=gen)
        u = u / u.norm(dim=1, keepdim=True)                                # (N, C) unit directions
        out = images + strength * COLOUR_MAX_SHIFT * u.to(images)[:, :, None, None]
    return out.clamp(-1, 1)


def resample_size(height: int, width: int, strength: float) -> tuple[int, int]:
    """The intermediate size of the round trip: the shape divided by f = 1 + s (RESAMPLE_MAX_FACTOR - 1)."""
    f = 1 + strength * (RESAMPLE_MAX_FACTOR - 1)
    return max(1, round(height / f)), max(1, round(width / f))


def _resample(mode: str):
    def resample(images: Tensor, strength: float, generator: torch.Generator | None = None) -> Tensor:
        size, small = tuple(images.shape[-2:]), resample_size(*images.shape[-2:], strength)
        if small == size:
            return images.clone()
        corners = {} if mode == "nearest" else {"align_corners": False}
        x = F.interpolate(images, size=small, mode=mode, **corners)
        return F.interpolate(x, size=size, mode=mode, **corners).clamp(-1, 1)

    resample.__name__ = f"resample_{mode}"
    resample.__doc__ = (f"Down to :func:`resample_size` and back up, both {mode} (F.interpolate, "
                        f"no antialias), clamped: a lossy round trip.")
    return resample


ImageDegradation = Callable[[Tensor, float, "torch.Generator | None"], Tensor]
IMAGE_DEGRADATIONS: dict[str, ImageDegradation] = {
    "noise": noise,
    "blur": blur,
    "occlusion": occlusion,
    "colour_shift": colour_shift,
    "resample_nearest": _resample("nearest"),
    "resample_bilinear": _resample("bilinear"),
    "resample_bicubic": _resample("bicubic"),
}


def degrade(images: Tensor, kind: str, strength: float, generator: torch.Generator | None = None) -> Tensor:
    """``images`` (N, C, H, W) in [-1, 1] damaged by ``kind`` at ``strength`` in [0, 1];
    strength 0 returns a copy. Without a generator, one seeded 0 is used."""
    if kind not in IMAGE_DEGRADATIONS:
        raise ValueError(f"unknown degradation {kind!r}; per-image kinds: {', '.join(IMAGE_DEGRADATIONS)}"
                         f" (set-level ones are called directly: {', '.join(SET_DEGRADATIONS)})")
    strength = check_strength(strength)
    check_images(images)
    if strength == 0:
        return images.clone()
    return IMAGE_DEGRADATIONS[kind](images, strength, generator)


# ------------------------------------------------------------------------ set degradations

def _count(strength, n: int) -> int:
    return round(check_strength(strength) * n)


def drop_modes(images: Tensor, labels: Tensor, strength: float,
               generator: torch.Generator | None = None) -> Tensor:
    """Remove round(s (K - 1)) of the K classes (or styles: any int label per image) and refill
    the set to its size N with draws from the images left: a set that lost modes, not size.
    The first images kept stay in order; the refills are drawn with replacement."""
    check_images(images)
    labels = torch.as_tensor(labels)
    if labels.shape != (len(images),):
        raise ValueError(f"labels must be ({len(images)},) one per image, got {tuple(labels.shape)}")
    classes = labels.unique()
    gen = _generator(generator)
    n_drop = _count(strength, len(classes) - 1)
    dropped = classes[torch.randperm(len(classes), generator=gen)[:n_drop].to(classes.device)]
    kept = (~torch.isin(labels, dropped)).nonzero().squeeze(1).cpu()
    refill = kept[torch.randint(0, len(kept), (len(images) - len(kept),), generator=gen)]
    return images[torch.cat([kept, refill]).to(images.device)]


def memorise(samples: Tensor, train_images: Tensor, strength: float,
             generator: torch.Generator | None = None) -> Tensor:
    """Replace round(s N) samples, at random places, by distinct training images: a generator
    that copies its training set. Each copy is a perfect image, so per-image quality and FD
    (the copies have the training set's statistics) cannot tell; only distance to the
    training set can."""
    check_images(samples, "samples")
    check_images(train_images, "train_images")
    if train_images.shape[1:] != samples.shape[1:]:
        raise ValueError(f"train_images {tuple(train_images.shape[1:])} and samples "
                         f"{tuple(samples.shape[1:])} must have one image shape")
    n = _count(strength, len(samples))
    if n > len(train_images):
        raise ValueError(f"memorising {n} samples needs >= {n} training images, got {len(train_images)}")
    gen = _generator(generator)
    where = torch.randperm(len(samples), generator=gen)[:n]
    copies = torch.randperm(len(train_images), generator=gen)[:n]
    out = samples.clone()
    out[where.to(out.device)] = train_images[copies.to(train_images.device)].to(out)
    return out


def _renderer(data, render):
    """The style domain's renderer (content (N, C, H, W), style index (N, k)) -> images; the
    digits' by default."""
    if render is not None:
        return render
    from gancore.data.digit_styles import STYLE_ATTRIBUTES, render_styles
    if dict(data.attributes) != STYLE_ATTRIBUTES:
        raise ValueError("this StyleTransferSet is not the digit domain's: pass render=domain.render_styles")
    return render_styles


def _other_rows(keys: Tensor, rows: Tensor, gen: torch.Generator) -> Tensor:
    """For each of ``rows``, a random row whose key (a row of ``keys``, (N, k)) differs from its own."""
    ids = keys.unique(dim=0, return_inverse=True)[1]                    # (N,) one id per distinct key
    if len(ids.unique()) < 2 and len(rows):
        raise ValueError("every sample has the same style/content: nothing to swap in")
    out = torch.empty(len(rows), dtype=torch.int64)
    for i, row in enumerate(rows.tolist()):
        others = (ids != ids[row]).nonzero().squeeze(1)
        out[i] = others[torch.randint(0, len(others), (1,), generator=gen)]
    return out


def _swap(targets: Tensor, data, strength, generator, render, key: str) -> Tensor:
    check_images(targets, "targets")
    if len(targets) != len(data):
        raise ValueError(f"targets ({len(targets)}) and data ({len(data)}) must have one row per sample")
    render = _renderer(data, render)
    gen = _generator(generator)
    rows = torch.randperm(len(data), generator=gen)[:_count(strength, len(data))]
    out = targets.clone()
    if not len(rows):
        return out
    keys = data.style if key == "style" else data.digit[:, None]
    donors = _other_rows(keys.cpu(), rows, gen)
    content, style = data.content.cpu(), data.style.cpu()
    if key == "style":   # own content, another sample's style
        wrong = render(content[rows], style[donors])
    else:                # another class's content, own style
        wrong = render(content[donors], style[rows])
    out[rows.to(out.device)] = wrong.to(out)
    return out


def wrong_style(targets: Tensor, data, strength: float, generator: torch.Generator | None = None,
                render=None) -> Tensor:
    """Replace round(s N) of ``targets`` (outputs for ``data``, a StyleTransferSet) by their
    content rendered in another sample's (different) style: a model ignoring the exemplar.
    ``render(content, style_index)``: the domain's renderer, the digits' by default."""
    return _swap(targets, data, strength, generator, render, "style")


def wrong_content(targets: Tensor, data, strength: float, generator: torch.Generator | None = None,
                  render=None) -> Tensor:
    """Replace round(s N) of ``targets`` by another sample's content (another class) rendered
    in their own style: a model that keeps the style but loses the content."""
    return _swap(targets, data, strength, generator, render, "content")


SET_DEGRADATIONS = {
    "drop_modes": drop_modes,
    "memorise": memorise,
    "wrong_style": wrong_style,
    "wrong_content": wrong_content,
}
