"""Image repair (inpainting) with the conditional GAN of style transfer, against two baselines.

    tiles = repair_tiles(seed=0)                     # the photo tiles of make_npr_splits(seed=0)'s pools
    study = repair_study(tiles["train"], tiles["test"], feature_net=grader, loss_net=loss_net)
    study.table(); study.where_gan_loses(); show_repairs(study)

A repair sees the photo with a hole (``masked``, holes set to 0) and the hole ``mask``
(1 = hole) and returns the whole image; every method here keeps the known pixels exactly,
so each differs from the target only inside the hole:

    mean_fill        each channel's mean over the image's known pixels
    biharmonic_fill  skimage.restoration.inpaint_biharmonic: the smoothest (biharmonic) surface
                     matching the known pixels at the hole's border
    gan              RepairGenerator (the style U-Net on masked ⊕ mask, composited) against a
                     conditional PatchGAN, trained with the gancore Trainer on
                     L_G = adv_weight L_adv + l1 L1_hole + perceptual L_perc;
                     with ``guess="biharmonic"`` (the default) G starts from the biharmonic fill
                     and learns a correction of it, coarse to fine; ``guess="none"``: from grey

Measured inside the hole of every test case (:func:`hole_scores`): SSIM and PSNR inside
the hole (:func:`gancore.metrics.per_image.hole_ssim`, :func:`~gancore.metrics.per_image.hole_psnr`,
images mapped to [0, 1]) and the perceptual distance of the composited repair to the target
with the caller's feature net (``feature_net``; never the net of the perceptual loss,
``loss_net``), which, as the two differ only in the hole, measures the hole and its context.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from gancore.data.masks import HOLE_FRACTION, apply_mask, check_masked_batch, random_masks
from gancore.data.photo_styles import PhotoNPRDomain, luminance
from gancore.losses import StyleTransferLoss
from gancore.metrics.per_image import hole_psnr, hole_ssim, perceptual_distances
from gancore.nets.feature import FeatureNet
from gancore.nets.translation import RepairDiscriminator, RepairGenerator
from gancore.runtime import as_device
from gancore.train.trainer import TrainConfig, Trainer

METHODS: tuple[str, ...] = ("mean_fill", "biharmonic", "gan")
METRICS: tuple[str, ...] = ("ssim", "psnr", "perceptual")
# The defaults of repair_study: 250 steps are ~82 CPU-seconds of training on one thread (Xeon,
# measured under contention by CPU time), ~100 s for the whole study with the baselines and scores.
REPAIR_DEFAULTS: dict = {"steps": 250, "batch_size": 16, "width": 16, "loss": "hinge", "adv_weight": 0.1,
                         "l1": 1.0, "perceptual": 0.0, "lr_g": 1e-3, "lr_d": 1e-3, "masks_per_tile": 6,
                         "test_masks_per_tile": 4, "hole_fraction": HOLE_FRACTION, "guess": "biharmonic"}
GUESSES: tuple[str, ...] = ("biharmonic", "none")  # G's first guess in the hole


# --------------------------------------------------------------------------
# Data: photo tiles with holes
# --------------------------------------------------------------------------


def repair_tiles(seed: int = 0) -> dict[str, Tensor]:
    """``{"train": (N, 3, 64, 64), "test": (M, 3, 64, 64)}`` in [-1, 1]: the disjoint content pools
    that :func:`gancore.data.photo_styles.make_npr_splits` (same ``seed``) draws from, so feature nets
    trained on its ``train`` split never saw a test tile."""
    pools = PhotoNPRDomain().content(seed)
    return {name: images for name, (images, _labels) in pools.items()}


@dataclass(frozen=True)
class RepairSet:
    """Repair cases: ``target`` (N, C, H, W) in [-1, 1], ``mask`` (N, 1, H, W) with 1 = hole, the
    mask ``kind`` of each case ("rect" or "irregular"), the index of its source ``tile`` and,
    optionally, a first ``guess`` (N, C, H, W) of the hole for the GAN (see :func:`with_guess`)."""

    target: Tensor
    mask: Tensor
    kind: tuple[str, ...]
    tile: Tensor
    guess: Tensor | None = None

    def __post_init__(self):
        check_masked_batch(self.target, self.mask, "target")
        if len(self.kind) != len(self.target) or len(self.tile) != len(self.target):
            raise ValueError("a RepairSet needs one kind and one tile index per case")
        if self.guess is not None and self.guess.shape != self.target.shape:
            raise ValueError(f"guess must have the targets' shape {tuple(self.target.shape)}, "
                             f"got {tuple(self.guess.shape)}")

    def __len__(self) -> int:
        return len(self.target)

    @property
    def masked(self) -> Tensor:
        """The targets with their holes set to 0 (mid grey), (N, C, H, W): what a repair sees."""
        return apply_mask(self.target, self.mask)

    @property
    def hole_fraction(self) -> Tensor:
        return self.mask.mean(dim=(1, 2, 3))  # (N,)

    @property
    def inputs(self) -> dict[str, Tensor]:
        """What G and D are given, by name: masked, mask and, when there is one, guess."""
        return {"masked": self.masked, "mask": self.mask, **({} if self.guess is None else {"guess": self.guess})}


def with_guess(data: RepairSet, guess: str, filled: Tensor | None = None) -> RepairSet:
    """``data`` with G's first guess of each hole: ``"biharmonic"`` (:func:`biharmonic_fill`, or
    ``filled`` when already computed) or ``"none"`` (G starts from grey)."""
    if guess not in GUESSES:
        raise ValueError(f"unknown guess {guess!r}; choose one of: {', '.join(GUESSES)}")
    if guess == "none":
        return replace(data, guess=None)
    return replace(data, guess=biharmonic_fill(data.masked, data.mask) if filled is None else filled)


def make_repair_set(tiles: Tensor, masks_per_tile: int, seed: int = 0,
                    hole_fraction: tuple[float, float] = HOLE_FRACTION, flip: bool = False) -> RepairSet:
    """Every tile ``masks_per_tile`` times, each copy with its own hole: rectangles for the even
    copies, free-hand strokes for the odd ones (:func:`gancore.data.masks.random_masks`, from
    ``seed``); ``flip`` mirrors every other pair of copies left-right (more training content)."""
    check_masked_batch(tiles, torch.zeros_like(tiles[:, :1]), "tiles")
    if isinstance(masks_per_tile, bool) or not isinstance(masks_per_tile, int) or masks_per_tile < 1:
        raise ValueError(f"masks_per_tile must be an int >= 1, got {masks_per_tile!r}")
    n, size = len(tiles), tuple(tiles.shape[2:])
    copy = torch.arange(masks_per_tile).repeat(n)  # (N * k,) copy number of each case
    tile = torch.arange(n).repeat_interleave(masks_per_tile)  # (N * k,)
    is_rect = copy % 2 == 0
    mask = torch.empty(len(tile), 1, *size)
    n_rect = int(is_rect.sum())
    mask[is_rect] = random_masks(n_rect, size, "rect", hole_fraction, seed)
    if n_rect < len(tile):
        mask[~is_rect] = random_masks(len(tile) - n_rect, size, "irregular", hole_fraction, seed + 1)
    target = tiles[tile].clone()
    if flip:
        mirrored = (copy // 2) % 2 == 1
        target[mirrored] = target[mirrored].flip(-1)
    return RepairSet(target, mask, tuple("rect" if r else "irregular" for r in is_rect.tolist()), tile)


# --------------------------------------------------------------------------
# The two baselines
# --------------------------------------------------------------------------


def mean_fill(masked: Tensor, mask: Tensor) -> Tensor:
    """Each hole filled with its image's per-channel mean over the known pixels, (N, C, H, W):

        y = (1 - m) x + m mu,    mu_c = sum_p (1 - m_p) x_c(p) / sum_p (1 - m_p)
    """
    check_masked_batch(masked, mask, "masked")
    known = 1 - mask
    mu = (masked * known).sum(dim=(2, 3), keepdim=True) / known.sum(dim=(2, 3), keepdim=True).clamp_min(1)
    return masked * known + mu * mask


def biharmonic_fill(masked: Tensor, mask: Tensor) -> Tensor:
    """``skimage.restoration.inpaint_biharmonic`` on each image (channels last, ``channel_axis=-1``),
    clipped to [-1, 1] and composited so the known pixels stay exactly as given, (N, C, H, W)."""
    from skimage.restoration import inpaint_biharmonic

    check_masked_batch(masked, mask, "masked")
    out = torch.empty_like(masked)
    for i in range(len(masked)):
        image = masked[i].permute(1, 2, 0).double().numpy()  # (H, W, C)
        filled = inpaint_biharmonic(image, mask[i, 0].numpy().astype(bool), channel_axis=-1)
        out[i] = torch.from_numpy(np.ascontiguousarray(filled)).permute(2, 0, 1).to(masked.dtype)
    return masked * (1 - mask) + out.clamp(-1, 1) * mask


# --------------------------------------------------------------------------
# The GAN: losses, trainer, outputs
# --------------------------------------------------------------------------


def hole_l1(output: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """L1 over the hole's pixels: sum m |y_hat - y| / (C sum m). The composited output equals the
    target outside the hole, so a whole-image L1 would be this times the hole fraction and teach
    small holes less."""
    return ((output - target).abs() * mask).sum() / (output.shape[1] * mask.sum()).clamp_min(1)


class RepairLoss:
    """The generator's image terms, for ``Trainer(aux_loss=...)``, called as ``loss(fake, real, mask=m)``:

        l1 * L1_hole(y_hat, y) + perceptual * L_perc(phi(y_hat), phi(y))

    (the perceptual term is :class:`gancore.losses.StyleTransferLoss`'s, on composited images)."""

    def __init__(self, l1: float = 1.0, perceptual: float = 0.0, feature_net: FeatureNet | None = None):
        self.features = StyleTransferLoss(0.0, perceptual, 0.0, 0.0, feature_net=feature_net)
        self.l1 = StyleTransferLoss(l1).weights["l1"]  # checked as StyleTransferLoss checks it

    def __call__(self, fake: Tensor, real: Tensor, condition=(), *, mask: Tensor,
                 **unused_inputs: Tensor) -> dict[str, Tensor]:
        terms = {"l1": self.l1 * hole_l1(fake, real, mask)} if self.l1 > 0 else {}
        return {**terms, **self.features(fake, real)}


def build_repair_trainer(train: RepairSet, *, loss: str = REPAIR_DEFAULTS["loss"],
                         adv_weight: float = REPAIR_DEFAULTS["adv_weight"], l1: float = REPAIR_DEFAULTS["l1"],
                         perceptual: float = REPAIR_DEFAULTS["perceptual"], width: int = REPAIR_DEFAULTS["width"],
                         batch_size: int = REPAIR_DEFAULTS["batch_size"], lr_g: float = REPAIR_DEFAULTS["lr_g"],
                         lr_d: float = REPAIR_DEFAULTS["lr_d"], seed: int = 0, device=None,
                         loss_net: FeatureNet | None = None, progress: bool = True) -> Trainer:
    """A :class:`gancore.Trainer` for RepairGenerator vs RepairDiscriminator on ``train``:
    real = target, inputs = {"masked", "mask"} by name, aux_loss = :class:`RepairLoss`.
    ``adv_weight=0`` builds no discriminator (G on the image losses alone); ``perceptual > 0``
    needs ``loss_net``, a feature net trained on training tiles only."""
    if not isinstance(train, RepairSet):
        raise TypeError(f"train must be a RepairSet (make_repair_set), got {type(train).__name__}")
    if isinstance(adv_weight, bool) or not isinstance(adv_weight, (int, float)) \
            or not math.isfinite(adv_weight) or adv_weight < 0:
        raise ValueError(f"adv_weight must be a finite number >= 0, got {adv_weight!r}; 0 switches D off")
    aux = RepairLoss(l1, perceptual, loss_net)  # checks the weights, and that perceptual has a net
    config = TrainConfig(loss=loss, adv_weight=float(adv_weight), batch_size=batch_size, lr_g=lr_g,
                         lr_d=lr_d, seed=seed, n_samples=min(16, len(train)))
    channels = train.target.shape[1]
    with torch.random.fork_rng(devices=[]):  # models from ``seed``, the caller's RNG untouched
        torch.manual_seed(seed)
        G = RepairGenerator(channels, width=width)
        D = RepairDiscriminator(channels, width=width) if adv_weight > 0 else None
    return Trainer(G, D, train.target, inputs=train.inputs, config=config,
                   aux_loss=aux, device=as_device(device), progress=progress)


@torch.no_grad()
def gan_fill(generator: RepairGenerator, masked: Tensor, mask: Tensor, guess: Tensor | None = None,
             batch_size: int = 256) -> Tensor:
    """``generator``'s repairs (N, C, H, W) on the CPU, from its first ``guess`` of the holes (as
    it was trained: None or e.g. the biharmonic fill): eval mode, no gradients, batched, on the
    generator's device; its mode is restored."""
    check_masked_batch(masked, mask, "masked")
    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()

    def rows(x, i):
        return None if x is None else x[i:i + batch_size].to(device)

    try:
        out = [generator(masked=rows(masked, i), mask=rows(mask, i), guess=rows(guess, i)).cpu()
               for i in range(0, len(masked), batch_size)]
    finally:
        generator.train(was_training)
    return torch.cat(out)


# --------------------------------------------------------------------------
# Measuring inside the hole
# --------------------------------------------------------------------------


def hole_scores(outputs: Tensor, data: RepairSet, feature_net: FeatureNet) -> pd.DataFrame:
    """Per test case: ``ssim`` and ``psnr`` inside the hole (images mapped to [0, 1]) and the
    ``perceptual`` distance of the (composited) output to the target with ``feature_net``."""
    check_masked_batch(outputs, data.mask, "outputs")
    known = (1 - data.mask).bool().expand_as(outputs)
    if not torch.equal(outputs[known], data.target[known]):
        raise ValueError("the outputs change known pixels: composite them first, "
                         "y = mask * output + (1 - mask) * masked, so only the hole is measured")
    a, b = (outputs.double() + 1) / 2, (data.target.double() + 1) / 2  # [0, 1]
    return pd.DataFrame({"ssim": hole_ssim(a, b, data.mask).numpy(), "psnr": hole_psnr(a, b, data.mask).numpy(),
                         "perceptual": perceptual_distances(outputs, data.target, feature_net).numpy()})


def texture(data: RepairSet) -> Tensor:
    """How busy each target is where the hole is, (N,): the mean magnitude of the luminance
    gradient (forward differences, [-1, 1] units) over the hole's pixels."""
    lum = luminance(data.target)  # (N, 1, H, W)
    gy = torch.nn.functional.pad(lum[..., 1:, :] - lum[..., :-1, :], (0, 0, 0, 1))
    gx = torch.nn.functional.pad(lum[..., :, 1:] - lum[..., :, :-1], (0, 1))
    grad = (gx**2 + gy**2).sqrt()
    return (grad * data.mask).sum(dim=(1, 2, 3)) / data.mask.sum(dim=(1, 2, 3))


# --------------------------------------------------------------------------
# The study notebook 06 runs
# --------------------------------------------------------------------------


@dataclass
class RepairStudy:
    """What :func:`repair_study` found.

    ``metrics[method][metric]``: means over the test cases (metrics.json's ``"repair"``);
    ``per_image``: one row per test case, its kind, hole fraction, texture and every method's
    scores (columns ``(method, metric)``); ``examples``: images per column (masked, the three
    methods, target) of one case from each of the first test tiles; ``history``: the trainer's; ``train_seconds``.
    """

    metrics: dict[str, dict[str, float]]
    per_image: pd.DataFrame
    examples: dict[str, Tensor]
    history: pd.DataFrame
    train_seconds: float
    generator: RepairGenerator = field(repr=False)

    def table(self) -> pd.DataFrame:
        """Methods as rows, the three hole metrics as columns."""
        return pd.DataFrame(self.metrics).T.loc[list(METHODS), list(METRICS)]

    def biharmonic_wins(self) -> pd.Series:
        """Per test case, whether biharmonic's perceptual distance is below the GAN's."""
        return self.per_image[("biharmonic", "perceptual")] < self.per_image[("gan", "perceptual")]

    def where_gan_loses(self, bins: int = 3) -> pd.DataFrame:
        """The fraction of test cases where biharmonic beats the GAN (perceptual distance; and on
        SSIM and PSNR), overall, by mask kind, and by tercile (``bins``) of hole size and texture."""
        p = self.per_image
        wins = pd.DataFrame({metric: (p[("biharmonic", metric)] < p[("gan", metric)]) if metric == "perceptual"
                             else (p[("biharmonic", metric)] > p[("gan", metric)]) for metric in METRICS})
        groups = {"all": pd.Series("all", index=p.index), "kind": p[("case", "kind")],
                  "hole size": pd.qcut(p[("case", "hole_fraction")], bins, labels=_tercile_labels(bins)),
                  "texture": pd.qcut(p[("case", "texture")], bins, labels=_tercile_labels(bins))}
        rows = []
        for by, labels in groups.items():
            for label, part in wins.groupby(labels, observed=True):
                rows.append({"by": by, "group": str(label), "cases": len(part),
                             **{f"biharmonic wins: {m}": float(part[m].mean()) for m in METRICS}})
        return pd.DataFrame(rows).set_index(["by", "group"])

    def verdict(self) -> str:
        """One markdown paragraph on the target (beat biharmonic on perceptual distance), from the numbers."""
        gan, bih = self.metrics["gan"]["perceptual"], self.metrics["biharmonic"]["perceptual"]
        loses = self.where_gan_loses()
        worst = loses.drop(index="all", level="by")["biharmonic wins: perceptual"].idxmax()
        return (f"Perceptual distance inside the hole: GAN **{gan:.4f}**, biharmonic **{bih:.4f}**, so the GAN "
                f"{'**beats**' if gan < bih else '**does not beat**'} biharmonic on average. Biharmonic is "
                f"better on {self.biharmonic_wins().mean():.0%} of the {len(self.per_image)} test cases, most often "
                f"for {worst[0]} = {worst[1]} ({loses.loc[worst, 'biharmonic wins: perceptual']:.0%}).")


def _tercile_labels(bins: int) -> list[str]:
    return ["small", "middle", "large"] if bins == 3 else [f"q{i + 1}" for i in range(bins)]


def repair_study(train_tiles: Tensor, test_tiles: Tensor, *, feature_net: FeatureNet,
                 loss_net: FeatureNet | None = None, steps: int = REPAIR_DEFAULTS["steps"],
                 batch_size: int = REPAIR_DEFAULTS["batch_size"],
                 masks_per_tile: int = REPAIR_DEFAULTS["masks_per_tile"],
                 test_masks_per_tile: int = REPAIR_DEFAULTS["test_masks_per_tile"],
                 hole_fraction: tuple[float, float] = REPAIR_DEFAULTS["hole_fraction"],
                 guess: str = REPAIR_DEFAULTS["guess"], seed: int = 0,
                 device=None, n_examples: int = 6, progress: bool = True, **training) -> RepairStudy:
    """Train the repair GAN on ``train_tiles`` with random holes, repair ``test_tiles`` (each with
    ``test_masks_per_tile`` holes of their own, half rectangles, half strokes) with the three
    methods, and measure inside the holes with ``feature_net`` (the grader; keep it independent of
    ``loss_net``, the net of the perceptual term, used only when ``perceptual > 0``). ``guess``:
    where G starts in the hole (:func:`with_guess`; "biharmonic" costs one biharmonic fill per
    training case). ``training``: further keywords of :func:`build_repair_trainer` (weights, learning rates, width)."""
    if not isinstance(feature_net, FeatureNet):
        raise TypeError(f"feature_net must be a gancore FeatureNet (the grader), got {type(feature_net).__name__}")
    if loss_net is not None and loss_net is feature_net:
        raise ValueError("the grader (feature_net) must not be the perceptual loss's net (loss_net): a repair "
                         "trained against a net would be graded by it; pass two independent nets")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    if guess not in GUESSES:  # before the costly parts
        raise ValueError(f"unknown guess {guess!r}; choose one of: {', '.join(GUESSES)}")
    train = with_guess(make_repair_set(train_tiles, masks_per_tile, seed, hole_fraction, flip=True), guess)
    test = make_repair_set(test_tiles, test_masks_per_tile, seed + 1000, hole_fraction)
    masked, biharmonic = test.masked, biharmonic_fill(test.masked, test.mask)
    trainer = build_repair_trainer(train, batch_size=batch_size, seed=seed, device=device, loss_net=loss_net,
                                   progress=progress, **training)
    history = trainer.train(steps, desc="repair GAN")

    outputs = {"mean_fill": mean_fill(masked, test.mask), "biharmonic": biharmonic,
               "gan": gan_fill(trainer.G, masked, test.mask, with_guess(test, guess, biharmonic).guess)}
    case = pd.DataFrame({"kind": list(test.kind), "hole_fraction": test.hole_fraction.numpy(),
                         "texture": texture(test).numpy(), "tile": test.tile.numpy()})
    per_image = pd.concat({"case": case, **{m: hole_scores(out, test, feature_net) for m, out in outputs.items()}},
                          axis=1)
    metrics = {m: {metric: float(per_image[(m, metric)].mean()) for metric in METRICS} for m in METHODS}
    # one case per tile, rectangles and strokes in turn, so the figure shows several photos
    n_shown = min(n_examples, len(test_tiles))
    shown = torch.arange(n_shown) * test_masks_per_tile + torch.arange(n_shown) % min(2, test_masks_per_tile)
    examples = {"masked": masked[shown], **{m: out[shown] for m, out in outputs.items()}, "target": test.target[shown]}
    return RepairStudy(metrics, per_image, examples, history, trainer.train_seconds, trainer.G)


def show_repairs(study: RepairStudy, ax=None, size: float = 7.0):
    """The examples as a grid, one row per test case: masked | mean fill | biharmonic | GAN | target."""
    from gancore.workbook.viz import show_grid

    columns = list(study.examples)
    grid = torch.stack([study.examples[c] for c in columns], dim=1).flatten(0, 1)  # (n * 5, C, H, W)
    return show_grid(grid, nrow=len(columns), title=" | ".join(columns), ax=ax, size=size)
