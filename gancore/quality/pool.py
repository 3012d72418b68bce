"""A pool of style-transfer outputs of known quality, from many generators, and its truths.

    pool = build_pool(data, {"l1": {100: G, 200: G}, "full": {...}}, degrade=degrade)   # gancore.quality.degradations.degrade
    truth = truths(pool, grader)       # {"ssim": (N,), "perceptual": (N,)}, higher is better

Every item is (output, content, exemplar) plus the target it should have been, which only
the truths ever look at. Its ``source`` names what made it ("full@400", "blur@0.5", "copy",
"mismatch:full") and its ``family`` the kind ("full", "blur", "copy", "mismatch"), so a
quality model can be trained on some families and tested on others it never saw.

The truths are full-reference (they need the target; in practice there is none):

    ssim         SSIM(output, target), images in [0, 1]
    perceptual   -sum_l mean_{c,h,w} (phi_l(output) - phi_l(target))^2, phi = the grader's layers
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import pandas as pd
import torch
from torch import Tensor

from gancore.data.style_pairs import StyleTransferSet
from gancore.experiments.style_transfer import copy_content, translate
from gancore.metrics.per_image import ssim
from gancore.nets.feature import FeatureNet
from gancore.nets.translation import StyleGenerator

TRUTHS: tuple[str, ...] = ("ssim", "perceptual")
# per-image damage applied to the targets: kind -> strengths (qstudy's gancore.quality.degradations)
DEGRADATIONS: dict[str, tuple[float, ...]] = {
    "noise": (0.1, 0.3, 0.6, 1.0), "blur": (0.1, 0.3, 0.6, 1.0), "occlusion": (0.1, 0.3, 0.6),
    "colour_shift": (0.1, 0.3, 0.6, 1.0), "resample_nearest": (0.25, 0.5, 1.0), "resample_bilinear": (0.25, 0.5, 1.0),
    "resample_bicubic": (0.25, 0.5, 1.0)}


@dataclass
class Pool:
    """Outputs (N, 3, H, W) in [-1, 1] with their inputs, targets and labels (one per item)."""

    output: Tensor
    content: Tensor
    exemplar: Tensor
    target: Tensor
    source: list[str]
    family: list[str]
    split: str
    style: Tensor | None = None  # (N, n_attributes) int64: each item's style, decoded by ``attributes``
    attributes: dict[str, tuple[str, ...]] | None = None

    def __post_init__(self):
        n = len(self.output)
        fields = ("content", "exemplar", "target", "source", "family") + (("style",) if self.style is not None else ())
        sizes = {k: len(getattr(self, k)) for k in fields}
        if any(size != n for size in sizes.values()):
            raise ValueError(f"every field needs one entry per output ({n}), got {sizes}")

    def __len__(self) -> int:
        return len(self.output)

    def subset(self, mask) -> "Pool":
        """The items where ``mask`` (a bool tensor or list) is true."""
        mask = torch.as_tensor(mask, dtype=torch.bool)
        if mask.shape != (len(self),):
            raise ValueError(f"mask must be one bool per item ({len(self)}), got shape {tuple(mask.shape)}")
        keep = mask.nonzero().flatten().tolist()
        return dataclasses.replace(self, output=self.output[mask], content=self.content[mask],
                                   exemplar=self.exemplar[mask], target=self.target[mask],
                                   source=[self.source[i] for i in keep], family=[self.family[i] for i in keep],
                                   style=None if self.style is None else self.style[mask])

    def join(self, other: "Pool") -> "Pool":
        """This pool's items, then ``other``'s; style labels are kept only when both pools have them, with
        the same attributes. The split is both splits, joined by "+" when they differ."""
        if not isinstance(other, Pool):
            raise TypeError(f"can only join another Pool, got {type(other).__name__}")
        if other.output.shape[1:] != self.output.shape[1:]:
            raise ValueError(f"outputs {tuple(self.output.shape[1:])} and {tuple(other.output.shape[1:])} differ")
        same_styles = self.style is not None and other.style is not None and self.attributes == other.attributes
        return Pool(output=torch.cat([self.output, other.output]), content=torch.cat([self.content, other.content]),
                    exemplar=torch.cat([self.exemplar, other.exemplar]), target=torch.cat([self.target, other.target]),
                    source=self.source + other.source, family=self.family + other.family,
                    split=self.split if self.split == other.split else f"{self.split}+{other.split}",
                    style=torch.cat([self.style, other.style]) if same_styles else None,
                    attributes=self.attributes if same_styles else None)

    def of_families(self, families) -> "Pool":
        """The items whose family is one of ``families`` (unknown names: ValueError)."""
        families = set(families)
        unknown = families - set(self.family)
        if unknown:
            raise ValueError(f"no items of families {sorted(unknown)}; this pool has {sorted(set(self.family))}")
        return self.subset([f in families for f in self.family])

    def labels(self) -> pd.DataFrame:
        """One row per item: source, family, split, and (when known) each style attribute's value."""
        columns = {"source": self.source, "family": self.family, "split": self.split}
        if self.style is not None and self.attributes is not None:
            for j, (name, values) in enumerate(self.attributes.items()):
                columns[name] = [values[i] for i in self.style[:, j].tolist()]
        return pd.DataFrame(columns)


def build_pool(data: StyleTransferSet, checkpoints: dict[str, dict[int, StyleGenerator]], *,
               degrade: Callable | None = None, degradations: dict[str, tuple[float, ...]] = DEGRADATIONS,
               mismatch_of: str | None = None, copy: bool = True, items_per_source: int | None = None,
               seed: int = 0) -> Pool:
    """Items of ``data`` through every source:

    checkpoints[family][step]   G(content, exemplar), source "family@step"
    degrade(target, kind, s)    the target damaged (family: the kind), when ``degrade`` is given
    copy                        the grey content as the output (family "copy")
    mismatch_of                 that family's last checkpoint given another item's exemplar, so it
                                paints the wrong style (family "mismatch")

    Every source takes every item of ``data``, or with ``items_per_source`` its own window of
    that many items (source k: items k * n, ..., k * n + n - 1, wrapping round), so a pool for
    training sees many more (content, exemplar) pairs for the same number of outputs.
    """
    if not isinstance(data, StyleTransferSet):
        raise TypeError(f"data must be a StyleTransferSet, got {type(data).__name__}")
    if mismatch_of is not None and mismatch_of not in checkpoints:
        raise ValueError(f"mismatch_of={mismatch_of!r} is not one of the families {sorted(checkpoints)}")
    if items_per_source is not None and not (isinstance(items_per_source, int) and items_per_source >= 1):
        raise ValueError(f"items_per_source must be an int >= 1 or None, got {items_per_source!r}")
    sources: list[tuple[str, str, Callable]] = []  # (source, family, fn(items) -> outputs)
    for family, by_step in checkpoints.items():
        if not by_step:
            raise ValueError(f"family {family!r} has no checkpoints")
        for step, G in sorted(by_step.items()):
            sources.append((f"{family}@{step}", family, lambda d, G=G: translate(G, d.content, d.exemplar)))
    gen = torch.Generator().manual_seed(seed)
    if degrade is not None:
        for kind, strengths in degradations.items():
            for s in strengths:
                sources.append((f"{kind}@{s:g}", kind,
                                lambda d, k=kind, s=s: degrade(d.target, k, s, gen).clamp(-1, 1)))
    if copy:
        sources.append(("copy", "copy", lambda d: copy_content(d.content)))
    if mismatch_of is not None:
        G = checkpoints[mismatch_of][max(checkpoints[mismatch_of])]
        # the previous item's exemplar: another style, mostly
        sources.append((f"mismatch:{mismatch_of}", "mismatch",
                        lambda d: translate(G, d.content, d.exemplar[torch.roll(torch.arange(len(d)), 1)])))
    if not sources:
        raise ValueError("no sources: give checkpoints, degrade or copy=True")
    n = len(data) if items_per_source is None else items_per_source
    parts = []
    for k, (source, family, make) in enumerate(sources):
        d = data if items_per_source is None else data.subset((torch.arange(n) + k * n) % len(data))
        parts.append((d, make(d)))
    return Pool(output=torch.cat([o for _, o in parts]), content=torch.cat([d.content for d, _ in parts]),
                exemplar=torch.cat([d.exemplar for d, _ in parts]), target=torch.cat([d.target for d, _ in parts]),
                source=[s for s, _, _ in sources for _ in range(n)],
                family=[f for _, f, _ in sources for _ in range(n)], split=data.split,
                style=torch.cat([d.style for d, _ in parts]), attributes=dict(data.attributes))


@torch.no_grad()
def perceptual_per_image(a: Tensor, b: Tensor, net: FeatureNet, batch_size: int = 500) -> Tensor:
    """d_n = sum_l mean_{c,h,w} (phi_l(a_n) - phi_l(b_n))^2, per pair (N,); its mean is
    :func:`gancore.metrics.per_image.perceptual_distance`."""
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(f"need two image batches (N, C, H, W) of one shape, got {tuple(a.shape)}, {tuple(b.shape)}")
    out = []
    for start in range(0, len(a), batch_size):
        fa = net.features(a[start:start + batch_size].to(net.device))
        fb = net.features(b[start:start + batch_size].to(net.device))
        out.append(sum(((x - y) ** 2).flatten(1).mean(1) for x, y in zip(fa, fb)).cpu())
    return torch.cat(out).float()


def truths(pool: Pool, grader: FeatureNet) -> dict[str, Tensor]:
    """The full-reference scores of :data:`TRUTHS` (N,) each, higher is better."""
    a, b = (pool.output.clamp(-1, 1) + 1) / 2, (pool.target + 1) / 2  # (N, 3, H, W) in [0, 1]
    return {"ssim": ssim(a, b), "perceptual": -perceptual_per_image(pool.output, pool.target, grader)}
