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
The split logic runs on any :class:`StyleDomain`, so a second domain (``gancore.data.photo_styles``:
photo patches in painting-like filters) feeds the same models and trainer.
"""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, fields, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

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


def check_value(attribute: str, value, valid: tuple[str, ...]) -> None:
    """ValueError naming the valid values when ``value`` is not one of them."""
    if value not in valid:
        raise ValueError(f"unknown {attribute} {value!r}; valid values: {', '.join(valid)}")


def index_to_values(index, attributes: dict[str, tuple[str, ...]]) -> list[str]:
    """Attribute indices -> attribute values, with a clear error for a bad index."""
    index = [int(i) for i in index]
    if len(index) != len(attributes):
        raise ValueError(f"a style index has {len(attributes)} entries, got {len(index)}")
    for (attr, values), i in zip(attributes.items(), index):
        if not 0 <= i < len(values):
            raise ValueError(f"{attr} index {i} out of range 0..{len(values) - 1}")
    return [values[i] for values, i in zip(attributes.values(), index)]


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
    shear = torch.tensor(list(SLANT_SHEAR.values()), device=idx.device)[slant]
    thin, bold = (STYLE_ATTRIBUTES["stroke"].index(v) for v in ("thin", "bold"))

    mask = (digits.float() + 1) / 2                                  # (N, 1, S, S) ink coverage
    # each step runs on just the rows that need it; the others keep their exact pixels
    for rows, step in ((shear != 0, lambda m, r: _shear(m, shear[r])),
                       (stroke == thin, lambda m, r: _erode(m)),
                       (stroke == bold, lambda m, r: _dilate(m))):
        rows = rows.nonzero().squeeze(1)
        if len(rows):
            mask = mask.index_copy(0, rows, step(mask[rows], rows))
    inks, backgrounds = (f.to(digits.device) for f in _all_fields(digits.shape[-1]))
    out = torch.lerp(backgrounds[background], inks[ink], mask.clamp_(0, 1))  # (N, 3, S, S) in [0, 1]
    return out.mul_(2).sub_(1).clamp_(-1, 1)


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


# ------------------------------------------------------------------------------ domains

class StyleDomain:
    """Content images plus a deterministic renderer: what :func:`make_splits` needs.
    A subclass sets the attributes below and implements ``style`` and ``render``."""

    name: str
    attributes: dict[str, tuple[str, ...]]          # attribute -> valid values
    unseen_values: dict[str, tuple[str, ...]] = {}  # values no training style uses
    holdout_pair: tuple[str, str]                   # some pairs of their values are held out
    images: Tensor  # (N, C, H, W) in [-1, 1]
    labels: Tensor  # (N,) int64; exemplars come from another label where there is one
    test_fraction: float = 0.2

    def content(self, seed: int) -> dict[str, tuple[Tensor, Tensor]]:
        """Disjoint pools ``{"train": (images, labels), "test": (images, labels)}``."""
        n = len(self.images)
        n_test = round(n * self.test_fraction)
        if not 0 < self.test_fraction < 1 or n_test < 2 or n - n_test < 2:
            raise ValueError(f"cannot split {n} images into train and test pools with "
                             f"test_fraction={self.test_fraction}: need >= 2 in each")
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        test, train = perm[:n_test], perm[n_test:]
        return {"train": (self.images[train], self.labels[train]),
                "test": (self.images[test], self.labels[test])}

    def style(self, index):  # the style object with these attribute indices
        raise NotImplementedError

    def render(self, content: Tensor, style) -> Tensor:  # (N, C, H, W) -> (N, 3, H, W), in [-1, 1]
        raise NotImplementedError

    def render_styles(self, content: Tensor, style_index: Tensor) -> Tensor:
        """Each row of ``content`` in the style of that row of ``style_index`` (N, k)."""
        out = None
        for combo in style_index.unique(dim=0):
            rows = (style_index == combo).all(1).nonzero().squeeze(1)
            rendered = self.render(content[rows], self.style(combo.tolist()))
            if out is None:  # the renderer decides the output shape
                out = rendered.new_empty((len(content), *rendered.shape[1:]))
            out[rows] = rendered
        return out


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


# ------------------------------------------------------------------------------- splits

@dataclass
class StyleTransferSet:
    """One split: ``target[i]`` is ``content[i]`` rendered in the style of ``exemplar[i]``."""

    content: Tensor    # (N, 1, 32, 32) plain digits in [-1, 1] (photos: (N, 3, 64, 64))
    exemplar: Tensor   # (N, 3, 32, 32) another image, of another class, in the same style
    target: Tensor     # (N, 3, 32, 32) the content in that style
    digit: Tensor      # (N,) int64 content labels (photos: the source photo)
    style: Tensor      # (N, n_attributes) int64 attribute indices
    split: str
    attributes: dict[str, tuple[str, ...]] | None = None  # decodes ``style``; None: the digits'
    exemplar_content: Tensor | None = None  # (N, 1, 32, 32) the exemplar's plain image
    exemplar_digit: Tensor | None = None    # (N,) int64 the exemplar's label

    def __post_init__(self):
        self.attributes = dict(self.attributes or STYLE_ATTRIBUTES)

    def __len__(self) -> int:
        return len(self.content)

    def _map(self, fn) -> "StyleTransferSet":
        names = ("content", "exemplar", "target", "digit", "style", "exemplar_content", "exemplar_digit")
        return replace(self, **{k: fn(getattr(self, k)) for k in names if getattr(self, k) is not None})

    def subset(self, idx) -> "StyleTransferSet":
        """The samples at ``idx`` (a slice, index tensor or boolean mask)."""
        return self._map(lambda t: t[idx])

    def to(self, device) -> "StyleTransferSet":
        return self._map(lambda t: t.to(device))

    def style_names(self, i: int) -> dict[str, str]:
        """Sample ``i``'s style as attribute -> value."""
        return dict(zip(self.attributes, index_to_values(self.style[i], self.attributes)))

    def combos(self) -> set[tuple[int, ...]]:
        """The distinct styles present, as index tuples."""
        return {tuple(s) for s in self.style.tolist()}


def style_splits(domain: StyleDomain, seed: int = 0) -> dict[str, list[tuple[int, ...]]]:
    """Every style of ``domain`` as an index tuple, split into ``train`` and ``unseen``.

    A style is unseen when it uses one of ``domain.unseen_values``, or when its
    ``holdout_pair`` values are a held-out pair: each seen value of the first attribute
    loses one partner (drawn from the seed), so every seen value still appears in
    train, only not in every combination.
    """
    names, attrs = list(domain.attributes), domain.attributes
    for attr, values in domain.unseen_values.items():
        for v in values:
            check_value(attr, v, attrs[attr])
    unseen = {names.index(a): {attrs[a].index(v) for v in vals} for a, vals in domain.unseen_values.items()}
    a, b = (names.index(n) for n in domain.holdout_pair)
    seen_a = [i for i in range(len(attrs[names[a]])) if i not in unseen.get(a, ())]
    seen_b = [i for i in range(len(attrs[names[b]])) if i not in unseen.get(b, ())]
    if len(seen_b) < 2:
        raise ValueError(f"holding out pairs needs >= 2 seen values of {names[b]!r}")
    order = torch.randperm(len(seen_b), generator=torch.Generator().manual_seed(seed)).tolist()
    held = {(ia, seen_b[order[k % len(seen_b)]]) for k, ia in enumerate(seen_a)}

    splits = {"train": [], "unseen": []}
    for combo in itertools.product(*(range(len(v)) for v in attrs.values())):
        novel = any(combo[i] in vals for i, vals in unseen.items()) or (combo[a], combo[b]) in held
        splits["unseen" if novel else "train"].append(combo)
    return splits


def _balanced(n: int, k: int, gen: torch.Generator) -> Tensor:
    """n draws from range(k), each value used once before any is used twice."""
    return torch.cat([torch.randperm(k, generator=gen) for _ in range(-(-n // k))])[:n]


def _other_instance(labels: Tensor, content_idx: Tensor, gen: torch.Generator) -> Tensor:
    """For each content index, a pool index drawn uniformly from the other classes
    (in a one-class pool: from the other instances)."""
    n = len(labels)
    classes, counts = torch.unique(labels, return_counts=True)
    if len(classes) == 1:
        r = (torch.rand(len(content_idx), generator=gen) * (n - 1)).long()
        return r + (r >= content_idx).long()
    order = torch.argsort(labels, stable=True)            # pool indices grouped by class
    starts = torch.cumsum(counts, 0) - counts
    c = torch.searchsorted(classes, labels[content_idx])  # each content's class
    r = (torch.rand(len(content_idx), generator=gen) * (n - counts[c])).long()
    return order[r + counts[c] * (r >= starts[c]).long()]  # skip over the content's own class


def make_splits(domain: StyleDomain, n_train: int, n_test: int, seed: int = 0) -> dict[str, StyleTransferSet]:
    """``train``, ``test_seen`` and ``test_unseen`` sets of ``domain`` (see the module doc).

    Content images are drawn from the split's pool, and styles from the split's style
    list, each used once before any is used twice; all from ``seed``.
    """
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if int(n) < 1:
            raise ValueError(f"{name} must be >= 1, got {n}")
    gen = torch.Generator().manual_seed(seed)
    pools, styles = domain.content(seed), style_splits(domain, seed)
    plan = {"train": ("train", styles["train"], n_train),
            "test_seen": ("test", styles["train"], n_test),
            "test_unseen": ("test", styles["unseen"], n_test)}
    out = {}
    for split, (pool_name, style_list, n) in tqdm(plan.items(), desc=f"rendering {domain.name}", leave=False):
        pool, labels = pools[pool_name]
        content_idx = _balanced(n, len(pool), gen)
        exemplar_idx = _other_instance(labels, content_idx, gen)
        style = torch.tensor(style_list, dtype=torch.int64)[_balanced(n, len(style_list), gen)]  # (n, k)
        content, exemplar_content = pool[content_idx], pool[exemplar_idx]
        out[split] = StyleTransferSet(
            content, exemplar=domain.render_styles(exemplar_content, style),
            target=domain.render_styles(content, style), digit=labels[content_idx], style=style,
            split=split, attributes=domain.attributes, exemplar_content=exemplar_content,
            exemplar_digit=labels[exemplar_idx])
    return out


def make_style_splits(n_train: int, n_test: int, seed: int = 0, images: Tensor | None = None,
                      labels: Tensor | None = None, test_fraction: float = 0.2) -> dict[str, StyleTransferSet]:
    """The digit sets ``train``, ``test_seen`` and ``test_unseen``.

    Content: ``images``/``labels`` ((N, 1, 28|32, 28|32) in [-1, 1]) or else
    :func:`gancore.data.load_mnist`; a seeded ``test_fraction`` of the digits is the
    test pool, so train and test content digits are disjoint.
    """
    return make_splits(DigitStyleDomain(images, labels, test_fraction), n_train, n_test, seed)
