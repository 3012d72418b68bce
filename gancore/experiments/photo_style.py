"""Notebook 06: the style cGAN of notebook 05 on photos in classical non-photorealistic filters.

    splits = make_npr_splits(n_train, n_test, seed)                  # gancore.data.photo_styles
    trainers = {m: build_style_trainer(splits["train"], **method_settings(cfg, m)) for m in TRAINED}
    outputs = method_outputs(generators, splits, BASELINES)         # copy, colour_transfer, l1, ...
    evaluate_methods(outputs, splits, grader)                        # notebook 05's grading
    exemplar_gap(trainers["full"].D, test)                           # does D look at the exemplar?
    size_sweep(G, photo, exemplar_photo, styles, sizes)              # any image size

Everything that trains, translates and grades is notebook 05's (gancore.experiments.style_transfer);
this module holds what only the photos need: the parameters, the five methods, the targets, the
discriminator's exemplar gap and the size experiment.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from gancore.data.photo_input import load_photo, parse_photo_style
from gancore.data.photo_styles import NPR_ATTRIBUTES, NPRStyle, render_npr
from gancore.data.style_pairs import StyleTransferSet, mismatched_exemplars
from gancore.experiments.style_transfer import SPLITS, copy_content, translate
from gancore.losses import LOSS_NAMES
from gancore.metrics.per_image import ssim
from gancore.nets.translation import PatchDiscriminator, StyleGenerator, colour_transfer
from gancore.workbook.notebook import number, one_of, positive_int
from gancore.workbook.params import NotebookParams, param

WEIGHT = number(0)
METHODS: tuple[str, ...] = ("copy", "colour_transfer", "l1", "l1+perceptual", "full")  # metrics.json keys
BASELINES = {"copy": lambda content, exemplar: copy_content(content),
             "colour_transfer": colour_transfer}  # no learning: method_outputs(..., baselines=BASELINES)
TRAINED: tuple[str, ...] = ("l1", "l1+perceptual", "full")
SIZES: tuple[int, ...] = (64, 128, 256)
SIZE_PHOTO = "stereo_motorcycle"  # a scikit-image photo no split uses: the test photo of the size experiment
EXEMPLAR_PHOTO = "coffee"         # the exemplars' photo there (any photo will do: it only shows the style)


@dataclass
class PhotoStyleTransfer(NotebookParams):
    """Notebook 06's parameters."""

    notebook: ClassVar[str] = "06_photo_style_transfer"
    HEADLINE: ClassVar[tuple[str, ...]] = ("unseen.full.ssim", "unseen.copy.ssim", "unseen.full.fd", "d_exemplar_gap")

    n_train: int = param(512, "training triples (content tile, exemplar, target), 64x64", positive_int, smoke=32)
    n_test: int = param(128, "triples in each test split (seen styles, unseen styles)", positive_int, smoke=16)
    steps: int = param(600, "generator steps of each method's training (trained once, then loaded from data/)",
                       positive_int, smoke=2)
    live_steps: int = param(100, "generator steps of the full model trained live, to watch", positive_int, smoke=2)
    batch_size: int = param(16, "triples per step", positive_int, smoke=8)
    width: int = param(16, "base channels of G and D", positive_int, smoke=4)
    loss: str = param("hinge", "adversarial loss, a name in gancore.losses.LOSS_NAMES", one_of(*LOSS_NAMES))
    adv_weight: float = param(0.3, "weight of the adversarial term of the full model", WEIGHT)
    l1: float = param(10.0, "weight of the L1 distance to the target", WEIGHT)
    ssim: float = param(10.0, "weight of 1 - SSIM to the target", WEIGHT)
    perceptual: float = param(1.0, "weight of the perceptual distance to the target (loss net features)", WEIGHT)
    style: float = param(1.0, "weight of the Gram-matrix style distance to the exemplar", WEIGHT)
    lr_g: float = param(2e-3, "generator Adam learning rate", number(0, 1, open_min=True))
    lr_d: float = param(5e-4, "discriminator Adam learning rate", number(0, 1, open_min=True))
    beta1: float = param(0.9, "Adam's first-moment decay (momentum) for G and D", number(0, 1))
    mismatch_weight: float = param(0.5, "weight w of matching-aware negatives in D's loss (0: off; 0.5: Reed "
                                        "et al.)", number(0, 1))
    grader_epochs: int = param(12, "training epochs of the photo grader", positive_int, smoke=1)
    grader_tiles: int = param(1000, "at most this many training-pool tiles for the grader (each in all 15 "
                                    "styles)", positive_int, smoke=6)
    size_crops: int = param(2, "crops per style and size in the size experiment", positive_int, smoke=1)
    size_styles: int = param(10, "training styles in the size experiment (at most)", positive_int, smoke=2)
    demo_style: str = param("kuwahara:3", "a named style, filter or filter:scale (scale a name or the "
                                          "filter's parameter), for the whole-photo demo")
    n_show: int = param(6, "samples per side-by-side grid", positive_int, smoke=3)
    repair_steps: int = param(150, "generator steps of the image-repair GAN", positive_int, smoke=2)
    repair_masks_per_tile: int = param(6, "random holes per training tile for image repair", positive_int, smoke=1)
    repair_test_masks: int = param(4, "holes per test tile, half rectangles and half strokes", positive_int,
                                   smoke=1)
    repair_max_tiles: int = param(1000, "at most this many training and this many test tiles for image repair",
                                  positive_int, smoke=16)
    repair_guess: str = param("biharmonic", "where the repair GAN starts in the hole: biharmonic or none",
                              one_of("biharmonic", "none"), smoke="none")
    out_dir: str = param("runs/latest/06_photo_style_transfer", "metrics.json and figures go here")

    def cross_checks(self) -> list[str]:
        try:
            parse_photo_style(self.demo_style)
        except ValueError as exc:
            return [f"demo_style: {exc}"]
        return []

    def method_settings(self, method: str) -> dict:
        """The keyword arguments of :func:`build_style_trainer` for one trained method."""
        full = {name: getattr(self, name) for name in ("loss", "adv_weight", "l1", "ssim", "perceptual", "style",
                                                       "width", "batch_size", "lr_g", "lr_d", "beta1",
                                                       "mismatch_weight", "seed")}
        changes = {"l1": {"adv_weight": 0.0, "perceptual": 0.0, "style": 0.0},
                   "l1+perceptual": {"adv_weight": 0.0},
                   "full": {}}
        if method not in changes:
            raise ValueError(f"unknown method {method!r}; trained methods: {', '.join(changes)}")
        return {**full, **changes[method], "arch": "filter"}


# --------------------------------------------------------------------------
# The data, in a table
# --------------------------------------------------------------------------


def style_name(index) -> str:
    """``"kuwahara:medium"`` for a style index tuple."""
    return "{}:{}".format(*(NPR_ATTRIBUTES[a][i] for a, i in zip(NPR_ATTRIBUTES, index)))


def split_table(splits: dict[str, StyleTransferSet]) -> pd.DataFrame:
    """Per split: triples, distinct content tiles, source photos, styles and their names."""
    rows = {}
    for name, s in splits.items():
        rows[name] = {"triples": len(s), "content tiles": len(torch.unique(s.content.flatten(1), dim=0)),
                      "photos": len(s.digit.unique()), "styles": len(s.combos()),
                      "which styles": ", ".join(sorted(style_name(c) for c in s.combos()))}
    return pd.DataFrame(rows).T


def joined(a: StyleTransferSet, b: StyleTransferSet) -> StyleTransferSet:
    """The triples of ``a`` then those of ``b``, as one set (split ``"a+b"``)."""
    tensors = {f.name: torch.cat([getattr(a, f.name), getattr(b, f.name)]) for f in dataclasses.fields(a)
               if isinstance(getattr(a, f.name), Tensor)}
    return dataclasses.replace(a, **tensors, split=f"{a.split}+{b.split}")


# --------------------------------------------------------------------------
# Does D use the exemplar?
# --------------------------------------------------------------------------


@torch.no_grad()
def exemplar_gap(D: PatchDiscriminator, data: StyleTransferSet, seed: int = 0) -> dict[str, float]:
    """D's mean logit on (target, content, right exemplar) minus on (target, content, exemplar of
    another style): ``gap`` = mean D(y, c, s) - mean D(y, c, s'). ``effect`` divides it by the
    pooled standard deviation of the per-image scores (Cohen's d): above 0.8 is a clear difference."""
    was_training = D.training
    D.eval()
    device = next(D.parameters()).device
    wrong = mismatched_exemplars(data, seed)
    scores = {}
    for name, exemplars in (("right", data.exemplar), ("wrong", wrong)):
        logits = [D(data.target[i:i + 256].to(device), content=data.content[i:i + 256].to(device),
                    exemplar=exemplars[i:i + 256].to(device)).mean(dim=(1, 2, 3)).cpu()
                  for i in range(0, len(data), 256)]
        scores[name] = torch.cat(logits).double()  # (N,) one mean patch score per image
    D.train(was_training)
    gap = float(scores["right"].mean() - scores["wrong"].mean())
    pooled = float(((scores["right"].var() + scores["wrong"].var()) / 2).sqrt())
    return {"right": float(scores["right"].mean()), "wrong": float(scores["wrong"].mean()), "gap": gap,
            "effect": gap / pooled if pooled > 0 else float("nan")}


# --------------------------------------------------------------------------
# Per filter, periodic artefacts, and the reading of it all
# --------------------------------------------------------------------------


def per_filter_ssim(outputs: dict[str, dict[str, Tensor]], splits: dict[str, StyleTransferSet]) -> dict:
    """``{split_key: {method: {filter: mean SSIM to the target}}}`` for ``outputs[split_key][method]``."""
    table = {}
    for key, name in SPLITS.items():
        data = splits[name]
        filters = data.style[:, 0]
        table[key] = {}
        for method, out in outputs[key].items():
            scores = ssim((out + 1) / 2, (data.target + 1) / 2)
            table[key][method] = {NPR_ATTRIBUTES["filter"][k]: float(scores[filters == k].mean())
                                  for k in sorted(filters.unique().tolist())}
    return table


def per_filter_table(per_filter: dict) -> pd.DataFrame:
    """:func:`per_filter_ssim` as a DataFrame: rows (split, method), columns the filters."""
    return pd.DataFrame.from_dict({(k, m): row for k, by in per_filter.items() for m, row in by.items()},
                                  orient="index").rename_axis(["split", "method"])


def photo_reading(metrics: dict, per_filter: dict, checker: dict[str, float]) -> str:
    """What the numbers say, in words: the full model against copying per filter and split,
    its FD against the generators without the adversarial term, and its periodic artefacts."""
    parts = []
    for key in ("seen", "unseen"):
        full, copy = per_filter[key]["full"], per_filter[key]["copy"]
        gains = {f: full[f] - copy[f] for f in full}
        learned = [f"{f} ({full[f]:.2f} vs {copy[f]:.2f})" for f, g in gains.items() if g >= 0.10]
        missed = [f"{f} ({full[f]:.2f} vs {copy[f]:.2f})" for f, g in gains.items() if g < 0.10]
        parts.append(f"On {key} styles the full model's SSIM to the target is {metrics[key]['full']['ssim']:.3f} "
                     f"against {metrics[key]['copy']['ssim']:.3f} for copying the content and "
                     f"{metrics[key]['colour_transfer']['ssim']:.3f} for colour transfer. It clearly learns "
                     + (", ".join(learned) if learned else "no filter")
                     + "; it stays within 0.10 of the copy on " + (", ".join(missed) if missed else "none") + ".")
    fd = {m: metrics["unseen"][m]["fd"] for m in ("l1", "l1+perceptual", "full")}
    best = min(fd, key=fd.get)
    parts.append(f"The grader's FD on unseen styles: l1 {fd['l1']:.2f}, l1+perceptual {fd['l1+perceptual']:.2f}, "
                 f"full {fd['full']:.2f}; {'the full model is lowest' if best == 'full' else best + ' is lowest'}.")
    parts.append(f"Periodic energy at the up-sampling strides, over the target's: full {checker['full']:.2f}"
                 + "".join(f", {m} {v:.2f}" for m, v in checker.items() if m != "full")
                 + " (1 is as periodic as the truth).")
    return " ".join(parts)


# --------------------------------------------------------------------------
# Any image size
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _skimage_photo(name: str) -> np.ndarray:
    import skimage.data
    image = getattr(skimage.data, name)()
    return image[0] if isinstance(image, tuple) else image  # stereo pairs: the left view


def size_photo(name: str = SIZE_PHOTO, size: int | tuple[int, int] | None = 320) -> Tensor:
    """A scikit-image photo as (1, 3, H, W) in [-1, 1] via :func:`load_photo` (shorter side ``size``)."""
    return load_photo(_skimage_photo(name), size)


def random_crops(photo: Tensor, size: int, n: int, gen: torch.Generator) -> Tensor:
    """``n`` random ``size`` x ``size`` crops (n, 3, size, size) of ``photo`` (1, 3, H, W)."""
    h, w = photo.shape[2:]
    if size > min(h, w):
        raise ValueError(f"a {size} px crop does not fit the {h}x{w} photo")
    top = torch.randint(h - size + 1, (n,), generator=gen).tolist()
    left = torch.randint(w - size + 1, (n,), generator=gen).tolist()
    return torch.cat([photo[..., t:t + size, s:s + size] for t, s in zip(top, left)])


def tiled_translate(G: StyleGenerator, content: Tensor, exemplar: Tensor, tile: int = 64) -> Tensor:
    """``G`` on each ``tile`` x ``tile`` block of content and exemplar separately, stitched back:
    every statistic G computes (instance norms, style code, pre/post-processing) then covers one
    training-sized tile, as in training, at the price of context across tile borders."""
    n, c, h, w = content.shape
    if h % tile or w % tile:
        raise ValueError(f"{h}x{w} images do not split into {tile} px tiles")

    def blocks(x: Tensor) -> Tensor:  # (n, C, h, w) -> (n * h/t * w/t, C, t, t)
        x = x.unfold(2, tile, tile).unfold(3, tile, tile)  # (n, C, h/t, w/t, t, t)
        return x.permute(0, 2, 3, 1, 4, 5).reshape(-1, x.shape[1], tile, tile)

    out = translate(G, blocks(content), blocks(exemplar), batch_size=64)  # (n * h/t * w/t, C, t, t)
    out = out.reshape(n, h // tile, w // tile, -1, tile, tile).permute(0, 3, 1, 4, 2, 5)
    return out.reshape(n, -1, h, w)


def filter_footprint(style: NPRStyle) -> int:
    """The side (px) of the window of the photo that one pixel of the filtered image depends on."""
    p = style.param
    if style.filter in ("cartoon", "pencil"):
        return 2 * int(3 * p + 0.5) + 1 + (2 if style.filter == "cartoon" else 0)  # blur (+ Sobel)
    return {"kuwahara": 2 * p + 1, "posterize": 1, "halftone": p}[style.filter]


def input_window(G: StyleGenerator, size: int = 64, threshold: float = 1e-3) -> int:
    """The side (px) of the content window that one output pixel's *change* depends on, measured:
    the gradient of the centre pixel of G(c) - c (of G(c) when G changes the channels) with
    respect to the content, kept where it exceeds ``threshold`` times its largest value (instance
    norms make every pixel depend a little on all the others; this keeps only the dependence that
    matters). The copy is taken out because a generator that adds a correction to its input
    would otherwise show the input's own pixel, and nothing else, above the threshold."""
    gen = torch.Generator().manual_seed(0)
    content = (torch.rand(1, G.content_channels, size, size, generator=gen) * 2 - 1).requires_grad_(True)
    exemplar = torch.rand(1, G.style_channels, size, size, generator=gen) * 2 - 1
    was_training = G.training
    G.eval()
    out = G(content=content, exemplar=exemplar)
    change = out - content if out.shape == content.shape else out
    change[0, :, size // 2, size // 2].sum().backward()
    G.train(was_training)
    g = content.grad[0].abs().amax(0)  # (size, size)
    rows, cols = (g > threshold * g.max()).nonzero(as_tuple=True)
    return int(max(rows.max() - rows.min(), cols.max() - cols.min()) + 1)


def size_sweep(G: StyleGenerator, photo: Tensor, exemplar_photo: Tensor, styles: list[NPRStyle],
               sizes=SIZES, n_crops: int = 2, seed: int = 0) -> pd.DataFrame:
    """SSIM to the true filtered crop of ``G``'s output at each size: ``n_crops`` crops of ``photo``
    per style and size, each with an exemplar cropped from ``exemplar_photo`` at the same size and
    rendered in the style. One row per size: ssim (mean) and its standard error, ``ssim_<filter>``
    per filter; ``ssim_tiled``,
    G run on the crop's 64 px tiles one by one (:func:`tiled_translate`: training-sized
    statistics); and the SSIM of :func:`colour_transfer` on the same crops, a yardstick
    without any network."""
    gen = torch.Generator().manual_seed(seed)
    rows = {}
    for size in sizes:
        contents = random_crops(photo, size, n_crops * len(styles), gen)          # (n, 3, size, size)
        plain = random_crops(exemplar_photo, size, n_crops * len(styles), gen)
        per_style = [slice(k * n_crops, (k + 1) * n_crops) for k in range(len(styles))]
        targets = torch.cat([render_npr(contents[s], st) for s, st in zip(per_style, styles)])
        exemplars = torch.cat([render_npr(plain[s], st) for s, st in zip(per_style, styles)])
        out = translate(G, contents, exemplars, batch_size=16)
        scores = ssim((out + 1) / 2, (targets + 1) / 2).double()
        tiled = ssim((tiled_translate(G, contents, exemplars, SIZES[0]) + 1) / 2, (targets + 1) / 2).double()
        baseline = ssim((colour_transfer(contents, exemplars) + 1) / 2, (targets + 1) / 2).double()
        rows[size] = {"ssim": float(scores.mean()), "ssim_se": float(scores.std() / len(scores) ** 0.5),
                      "ssim_tiled": float(tiled.mean()), "colour_transfer_ssim": float(baseline.mean()),
                      "images": len(scores)}
        for f in dict.fromkeys(st.filter for st in styles):  # each filter's crops, in the styles' order
            rows[size][f"ssim_{f}"] = float(torch.cat([scores[s] for s, st in zip(per_style, styles)
                                                       if st.filter == f]).mean())
    return pd.DataFrame(rows).T.rename_axis("crop size (px)")


def whole_photo(G: StyleGenerator, photo: Tensor, exemplar_photo: Tensor, style: NPRStyle) -> dict:
    """``G`` on one whole photo (1, 3, H, W) in ``style``, the exemplar the same-sized centre of
    ``exemplar_photo`` in that style: {"content", "exemplar", "output", "target", "ssim", "copy_ssim"}
    (the unchanged photo's SSIM to the target: what the output must beat)."""
    h, w = photo.shape[2:]
    H, W = exemplar_photo.shape[2:]
    if H < h or W < w:
        raise ValueError(f"the exemplar photo ({H}x{W}) must be at least as large as the photo ({h}x{w})")
    plain = exemplar_photo[..., (H - h) // 2:(H - h) // 2 + h, (W - w) // 2:(W - w) // 2 + w]
    exemplar, target = render_npr(plain, style), render_npr(photo, style)
    output = translate(G, photo, exemplar)
    return {"content": photo, "exemplar": exemplar, "output": output, "target": target,
            "ssim": float(ssim((output + 1) / 2, (target + 1) / 2).mean()),
            "copy_ssim": float(ssim((photo + 1) / 2, (target + 1) / 2).mean())}


def size_reading(sizes: pd.DataFrame, whole_ssim: float, photo_shape, window: int,
                 styles: list[NPRStyle]) -> str:
    """The size experiment's result in words, from its numbers: what changes from the smallest to the
    largest size, whether image-wide statistics or tile borders are to blame (the tiled run against
    one pass, beyond two standard errors), and which styles reach beyond G's ``window`` (px)."""
    s, se, tiled = sizes["ssim"], sizes["ssim_se"], sizes["ssim_tiled"]
    big, small = max(sizes.index), min(sizes.index)
    change = s[big] - s[small]
    ct_change = sizes["colour_transfer_ssim"][big] - sizes["colour_transfer_ssim"][small]
    wider = {f"{st.filter}:{st.scale}": filter_footprint(st)
             for st in styles if filter_footprint(st) > window}
    margin = 2 * float(se[big]) if se[big] == se[big] else 0.0  # two standard errors (none with one crop)
    if tiled[big] - s[big] > margin:
        stats = (f"Run tile by tile, so that every statistic covers a 64 px tile as in training, G scores "
                 f"{tiled[big]:.3f} at {big} px instead of {s[big]:.3f}: the statistics computed over the larger "
                 f"image (AdaIN's instance norms, the pre/post-processing's means and deviations) are what breaks.")
    elif s[big] - tiled[big] > margin:
        stats = (f"Run tile by tile (training-sized statistics) G scores {tiled[big]:.3f} at {big} px, below the "
                 f"{s[big]:.3f} of one pass: the image-wide statistics do not hurt, the context lost at tile "
                 "borders does.")
    else:
        stats = (f"Run tile by tile (training-sized statistics) G scores {tiled[big]:.3f} at {big} px against "
                 f"{s[big]:.3f} in one pass, within two standard errors: the image-wide statistics change nothing "
                 "measurable.")
    return (f"SSIM to the true filtered crop: {', '.join(f'{int(k)} px {v:.3f}' for k, v in s.items())}; the whole "
            f"{photo_shape[2]}×{photo_shape[3]} photo {whole_ssim:.3f}. From {small} to {big} px the generator's "
            f"SSIM changes by {change:+.3f}, colour transfer's by {ct_change:+.3f} (larger crops hold other content, "
            f"so only the difference between the two is the size's doing: {change - ct_change:+.3f}). {stats} "
            f"One output pixel depends on a {window} px window of the content (measured by its gradient), the same "
            "at every size; the training styles whose filter reaches further ("
            + (", ".join(f"{k}: {v} px" for k, v in wider.items()) or "none")
            + ") cannot be reproduced from that window at any size: a limit of the receptive field, not of the "
            "image size.")
