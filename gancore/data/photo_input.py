"""A user's own photo and a named style, as the photo style-transfer models take them.

    content = load_photo("holiday.jpg", 256)              # (1, 3, 256, W) in [-1, 1], W a multiple of 4
    style = parse_photo_style("kuwahara:3")                # NPRStyle(filter="kuwahara", scale="medium")
    exemplar = render_npr(load_photo(other_photo, 256), style)

Files are read with Pillow and converted by mode: 16-bit grey PNGs keep their 16 bits (65535 is
white), CMYK JPEGs become RGB, grey+alpha and 1-bit PNGs become grey (alpha dropped), palette
images RGB. A photo larger than :data:`MAX_SIDE` pixels on a side or :data:`MAX_PIXELS` in all,
read or after resizing, is refused before it is decoded or resized (a 4 x 20000 strip scaled to a
shorter side of 64 would be 64 x 320000 pixels, 234 MiB): shrink it first.

Every wrong input fails with one ValueError that names the fix: a missing or unreadable file, an
array that is not (H, W), (H, W, 3) or (H, W, 4), values outside [0, 255] (integers) or [0, 1]
(floats), NaN, a photo too small for the generator's two down-samplings or beyond the size limit.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gancore.data.photo_styles import NPR_ATTRIBUTES, SCALE_PARAMS, NPRStyle
from gancore.data.style_pairs import check_value

MULTIPLE = 4  # the style generator down-samples twice
MAX_SIDE = 8192  # pixels on either side of a photo, as read or as resized
MAX_PIXELS = 40_000_000  # pixels in all (a 40-megapixel photo is 480 MiB as float32 RGB)
SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I")  # Pillow's modes of 16-bit grey PNGs


def check_size(h: int, w: int, what: str) -> None:
    """ValueError when an (h, w) photo passes :data:`MAX_SIDE` or :data:`MAX_PIXELS`."""
    if max(h, w) > MAX_SIDE or h * w > MAX_PIXELS:
        raise ValueError(f"{what} would be {h} x {w} pixels, past the limit of {MAX_SIDE} on a side and "
                         f"{MAX_PIXELS:,} in all; shrink or crop it first, or ask for a smaller size")


def _pixels(image) -> np.ndarray:
    """A Pillow image as an array that :func:`to_unit_range` reads right: uint8 grey or RGB, or
    floats in [0, 1] for 16-bit grey."""
    if image.mode in SIXTEEN_BIT:
        array = np.asarray(image).astype(np.float64)
        if array.min() < 0 or array.max() > 65535:
            raise ValueError(f"a {image.mode} image must hold 16-bit values, got [{array.min()}, {array.max()}]")
        return array / 65535.0
    if image.mode in ("L", "RGB"):
        return np.asarray(image)
    if image.mode in ("1", "LA", "La"):  # 1-bit and grey+alpha: grey, alpha dropped
        return np.asarray(image.convert("L"))
    try:  # CMYK, palette, RGBA, YCbCr, LAB, HSV ...: Pillow's own conversion to RGB
        return np.asarray(image.convert("RGB"))
    except (ValueError, OSError) as exc:
        raise ValueError(f"cannot convert a {image.mode} image to RGB ({exc}); save it as an 8-bit RGB PNG "
                         "or JPEG") from None


def _read(source) -> np.ndarray:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"no photo at {path}: give an existing image file or an (H, W, 3) array")
        from PIL import Image
        try:
            with Image.open(path) as image:
                check_size(image.height, image.width, f"the photo {path}")  # before decoding it
                image.load()
                return _pixels(image)
        except ValueError:
            raise
        except Exception as exc:  # corrupt or not an image: one message, whatever the reader raised
            raise ValueError(f"cannot read {path} as an image ({type(exc).__name__}: {exc}); "
                             f"give a PNG or JPEG file") from None
    if isinstance(source, Tensor):
        return source.detach().cpu().numpy()
    if isinstance(source, np.ndarray):
        return source
    raise ValueError(f"a photo is a file path or an (H, W, 3) array, got {type(source).__name__}")


def to_unit_range(array: np.ndarray) -> np.ndarray:
    """An image array as float64 in [0, 1]: integers must lie in [0, 255], floats in [0, 1]."""
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"a photo's values must be integers in [0, 255] or floats in [0, 1], got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.integer):
        if array.min() < 0 or array.max() > 255:
            raise ValueError(f"integer photos must lie in [0, 255], got [{array.min()}, {array.max()}]")
        return array.astype(np.float64) / 255.0
    if not np.isfinite(array).all():
        raise ValueError("the photo holds NaN or infinite values")
    if array.min() < 0 or array.max() > 1:
        raise ValueError(f"float photos must lie in [0, 1], got [{array.min():.3g}, {array.max():.3g}]; "
                         f"divide 8-bit values by 255")
    return array.astype(np.float64)


def load_photo(source, size: int | tuple[int, int] | None = None) -> Tensor:
    """A photo as a (1, 3, H, W) float tensor in [-1, 1], H and W multiples of 4.

    ``source``: a file path or an array (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA (alpha
    dropped). ``size``: None keeps the pixels (cropping to multiples of 4), an int scales the
    shorter side to it, (h, w) scales to exactly that (area averaging when shrinking). Photos
    past :data:`MAX_SIDE` or :data:`MAX_PIXELS`, as given or as resized, are refused.
    """
    array = _read(source)
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[..., :3]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise ValueError(f"a photo is (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA, got shape {array.shape}; "
                         f"channels go last")
    check_size(array.shape[0], array.shape[1], "the photo")
    x = torch.from_numpy(to_unit_range(array)).float()
    x = x.expand(3, *x.shape) if x.ndim == 2 else x.permute(2, 0, 1)  # (3, H, W)
    x = x[None] * 2 - 1                                                # (1, 3, H, W) in [-1, 1]
    h, w = x.shape[2:]
    if size is not None:
        if isinstance(size, int):
            if isinstance(size, bool) or size < MULTIPLE:
                raise ValueError(f"size must be an int >= {MULTIPLE} or (h, w), got {size!r}")
            scale = size / min(h, w)
            h, w = max(size, round(h * scale)), max(size, round(w * scale))
        else:
            h, w = (int(v) for v in size)
        check_size(h, w, f"the photo resized to size={size!r}")
        mode = "area" if h <= x.shape[2] and w <= x.shape[3] else "bilinear"
        x = F.interpolate(x, size=(h, w), mode=mode, **({} if mode == "area" else {"align_corners": False}))
    h, w = h - h % MULTIPLE, w - w % MULTIPLE
    if h < MULTIPLE or w < MULTIPLE:
        raise ValueError(f"the photo is {tuple(x.shape[2:])} pixels; the generator needs at least "
                         f"{MULTIPLE}x{MULTIPLE}")
    return x[..., :h, :w].clamp(-1, 1).contiguous()


def parse_photo_style(text: str | NPRStyle) -> NPRStyle:
    """A named style: ``"kuwahara"`` (medium scale), ``"kuwahara:coarse"`` or ``"kuwahara:3"``
    (the filter's own parameter: window radius, blur sigma, levels or cell size, as in
    :data:`gancore.data.photo_styles.SCALE_PARAMS`)."""
    if isinstance(text, NPRStyle):
        return text
    if not isinstance(text, str):
        raise ValueError(f"a photo style is written 'filter' or 'filter:scale', got {type(text).__name__}")
    name, _, scale = (part.strip() for part in text.partition(":"))
    check_value("filter", name, NPR_ATTRIBUTES["filter"])
    if not scale:
        return NPRStyle(name)
    if scale in NPR_ATTRIBUTES["scale"]:
        return NPRStyle(name, scale)
    params = SCALE_PARAMS[name]
    try:
        value = float(scale)
    except ValueError:
        value = None
    if value is None or value not in params:
        raise ValueError(f"unknown scale {scale!r} for {name}; use one of {', '.join(NPR_ATTRIBUTES['scale'])} "
                         f"or of its parameters {', '.join(str(p) for p in params)}")
    return NPRStyle(name, NPR_ATTRIBUTES["scale"][list(params).index(value)])
