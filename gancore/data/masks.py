"""Random hole masks for image repair (inpainting): rectangles and brush strokes.

    masks = random_masks(n, size=64, kind="mixed", hole_fraction=(0.05, 0.25), seed=0)  # (n, 1, 64, 64)
    masked = apply_mask(images, masks)             # the holes set to 0 (mid grey in [-1, 1])

A mask is 1 in the hole (pixels to repair) and 0 where the pixel is known. Each
mask's hole fraction, mean(mask), lies in ``hole_fraction`` = [low, high]:

    rect       one axis-aligned rectangle, aspect ratio in [1/2, 2], area drawn uniformly in [low, high]
    irregular  free-hand strokes: random walks of discs (radius 2..5 px) grown vertex by vertex
               until the hole reaches a target fraction drawn uniformly in [low, high]
    mixed      each mask rect or irregular with probability 1/2

Masks are a function of ``seed`` alone (NumPy's PCG64), so a test set's holes are the same
on every machine.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

MASK_KINDS = ("rect", "irregular", "mixed")
HOLE_FRACTION = (0.05, 0.25)  # the default range: holes from a few strokes to a quarter of the tile


def _check_args(n, size, kind, hole_fraction) -> tuple[int, int, float, float]:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an int >= 1 (the number of masks), got {n!r}")
    h, w = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if min(h, w) < 8:
        raise ValueError(f"masks need at least 8x8 pixels, got {h}x{w}")
    if kind not in MASK_KINDS:
        raise ValueError(f"unknown mask kind {kind!r}; choose one of: {', '.join(MASK_KINDS)}")
    try:
        low, high = (float(f) for f in hole_fraction)
    except (TypeError, ValueError):
        raise ValueError(f"hole_fraction must be a pair (low, high), got {hole_fraction!r}") from None
    if not 0 < low <= high < 1:
        raise ValueError(f"hole_fraction must satisfy 0 < low <= high < 1, got ({low}, {high})")
    if high - low < 2 / (h * w) and kind != "rect":
        raise ValueError(f"hole_fraction ({low}, {high}) is narrower than two pixels of a {h}x{w} mask; "
                         f"widen it")
    return int(n), int(h), int(w), (low, high)


def _rect(rng: np.random.Generator, h: int, w: int, low: float, high: float) -> np.ndarray:
    """One rectangle whose area is within [low, high] h w (resampled until it fits the image)."""
    while True:
        area = rng.uniform(low, high) * h * w
        aspect = np.exp(rng.uniform(np.log(0.5), np.log(2.0)))  # height / width
        rh, rw = round(np.sqrt(area * aspect)), round(np.sqrt(area / aspect))
        if 1 <= rh <= h and 1 <= rw <= w and low <= rh * rw / (h * w) <= high:
            break
    top, left = rng.integers(0, h - rh + 1), rng.integers(0, w - rw + 1)
    mask = np.zeros((h, w), dtype=np.float32)
    mask[top:top + rh, left:left + rw] = 1
    return mask


def _strokes(rng: np.random.Generator, h: int, w: int, low: float, high: float) -> np.ndarray:
    """Random-walk brush strokes, one disc-swept segment at a time, until the hole fraction reaches
    a target drawn in [low, high]; a last segment that overshoots ``high`` is shortened by bisection.
    Brush radii and steps scale with the image (2..5 and 3..10 pixels at 64x64)."""
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    scale, lo_px, hi_px = min(h, w) / 64, low * h * w, high * h * w

    def swept(p, q, radius):  # pixels within ``radius`` of the segment p-q
        d = q - p
        t = np.clip(((yy - p[0]) * d[0] + (xx - p[1]) * d[1]) / max(d @ d, 1e-12), 0, 1)
        return (yy - p[0] - t * d[0]) ** 2 + (xx - p[1] - t * d[1]) ** 2 <= radius**2

    for _attempt in range(100):
        target, mask, stuck = rng.uniform(lo_px, hi_px), np.zeros((h, w), dtype=bool), False
        while mask.sum() < target and not stuck:  # a new stroke
            point = rng.uniform([0, 0], [h - 1, w - 1])
            angle, radius = rng.uniform(0, 2 * np.pi), max(1.0, rng.uniform(2, 5) * scale)
            for _ in range(rng.integers(4, 12)):
                angle += rng.normal(0, 0.7)
                step = rng.uniform(3, 10) * max(scale, 0.3)
                end = np.clip(point + step * np.array([np.sin(angle), np.cos(angle)]), 0, [h - 1, w - 1])
                grown = mask | swept(point, end, radius)
                if grown.sum() > hi_px:  # shorten the segment (bisection) so the hole stays in range
                    short, long = 0.0, 1.0
                    for _ in range(20):
                        mid = (short + long) / 2
                        if (mask | swept(point, point + mid * (end - point), radius)).sum() > hi_px:
                            long = mid
                        else:
                            short = mid
                    grown = mask | swept(point, point + short * (end - point), radius)
                    mask, stuck = (grown if grown.sum() <= hi_px else mask), True
                    break
                mask, point = grown, end
                if mask.sum() >= target:
                    break
        if lo_px <= mask.sum() <= hi_px:  # else (stuck below the range): draw again
            return mask.astype(np.float32)
    raise ValueError(f"could not draw strokes with a hole fraction in [{low}, {high}] on {h}x{w} pixels; "
                     f"widen hole_fraction")


def random_masks(n: int, size: int | tuple[int, int] = 64, kind: str = "mixed",
                 hole_fraction: tuple[float, float] = HOLE_FRACTION, seed: int = 0) -> Tensor:
    """``n`` hole masks (n, 1, H, W) float32, 1 = hole, each with mean in ``hole_fraction``
    (see the module doc for the kinds). Deterministic from ``seed``."""
    n, h, w, (low, high) = _check_args(n, size, kind, hole_fraction)
    rng = np.random.default_rng(seed)
    masks = []
    for _ in range(n):
        which = kind if kind != "mixed" else ("rect", "irregular")[rng.integers(2)]
        masks.append((_rect if which == "rect" else _strokes)(rng, h, w, low, high))
    out = torch.from_numpy(np.stack(masks))[:, None]  # (n, 1, H, W)
    fraction = out.mean(dim=(1, 2, 3))
    # the generators above promise the range; should one break that promise, say so loudly
    if not bool(((fraction >= low) & (fraction <= high)).all()):
        raise RuntimeError(f"a mask's hole fraction left [{low}, {high}]: {fraction.min():.4f}..{fraction.max():.4f}")
    return out


def check_masked_batch(images: Tensor, mask: Tensor, name: str = "images") -> None:
    """One clear ValueError unless ``images`` (N, C, H, W) are finite and in [-1, 1] and ``mask``
    is (N, 1, H, W) of exact 0s and 1s with the images' N, H and W."""
    if not isinstance(images, Tensor) or images.dim() != 4:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"{name} must be a (N, C, H, W) tensor, got {shape}")
    if not isinstance(mask, Tensor) or mask.dim() != 4 or mask.shape[1] != 1 \
            or mask.shape[0] != images.shape[0] or mask.shape[2:] != images.shape[2:]:
        shape = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
        n, _, h, w = images.shape
        raise ValueError(f"the mask must be ({n}, 1, {h}, {w}), one channel per image of {name} "
                         f"{tuple(images.shape)}, got {shape}")
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError("the mask must hold only 0 (known pixel) and 1 (hole); threshold it, "
                         "e.g. (mask > 0.5).float()")
    if not bool(torch.isfinite(images).all()):
        raise ValueError(f"{name} hold NaN or inf")
    low, high = float(images.min()), float(images.max())
    if low < -1 or high > 1:
        raise ValueError(f"{name} span [{low:g}, {high:g}]; gancore images are in [-1, 1] "
                         f"(map 0..1 images with x * 2 - 1)")


def apply_mask(images: Tensor, mask: Tensor, fill: float = 0.0) -> Tensor:
    """The images with their holes set to ``fill``: x (1 - m) + fill m, (N, C, H, W)."""
    check_masked_batch(images, mask)
    return images * (1 - mask) + fill * mask
