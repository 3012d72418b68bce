"""Style transfer with a conditional GAN: build it, run it, grade it.

    splits = generator_splits(n_train, n_test)              # digits of the experiment part
    trainer = build_style_trainer(splits["train"])          # STYLE_DEFAULTS
    trainer.train(STYLE_DEFAULTS["steps"])
    out = translate(trainer.G, test.content, test.exemplar)  # (N, 3, 32, 32) in [-1, 1]
    evaluate_transfer(out, test, grader)                     # ssim, psnr, perceptual, fd, ...

The generator sees the content digit and a style exemplar (another digit in
the wanted style) and is trained towards the known target with

    L_G = adv_weight * L_adv + l1 * L1 + perceptual * L_perc + style * L_style + tv * TV

(see :class:`gancore.losses.StyleTransferLoss`). Outputs are graded by the
grader network (:func:`gancore.metrics.feature_nets.get_style_classifier`), never the one
the perceptual and style losses were computed with, and trained on its own triples
(:func:`grader_training_set`), whose digits the generator never sees.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import torch
from torch import Tensor

from gancore.data.digit_styles import STYLE_ATTRIBUTES, Style, make_style_splits, render
from gancore.data.sources import load_mnist
from gancore.data.splits import partition
from gancore.data.style_pairs import StyleTransferSet, mismatched_exemplars
from gancore.losses import LOSS_NAMES, StyleTransferLoss
from gancore.metrics.distribution import frechet_distance
from gancore.metrics.feature_nets import accuracy, get_feature_net
from gancore.metrics.per_image import _check_pair, perceptual_distance, psnr, ssim
from gancore.nets.feature import FeatureNet
from gancore.nets.filter_translation import FilterGenerator
from gancore.nets.translation import PatchDiscriminator, StyleGenerator
from gancore.runtime import as_device
from gancore.train.trainer import TrainConfig, Trainer
from gancore.workbook.notebook import number, one_of, positive_int
from gancore.workbook.params import NotebookParams, param

WEIGHT = number(0)  # loss weights are >= 0; 0 switches a term off
GENERATOR_ARCHS: tuple[str, ...] = ("unet", "filter")  # build_style_trainer(arch=...)
METRIC_NAMES: tuple[str, ...] = ("ssim", "psnr", "perceptual", "fd", "content_acc", "style_acc")


@dataclass
class StyleTransfer(NotebookParams):
    """Notebook 05's parameters; their defaults are the tuned training (:data:`STYLE_DEFAULTS`)."""

    notebook: ClassVar[str] = "05_style_transfer_cgan"
    HEADLINE: ClassVar[tuple[str, ...]] = ("seen.full.ssim", "unseen.full.ssim", "seen.full.fd")

    n_train: int = param(2000, "training triples (content, exemplar, target)", positive_int, smoke=64)
    n_test: int = param(500, "triples in each test split (seen styles, unseen styles)", positive_int, smoke=32)
    steps: int = param(500, "generator steps of each training (l1, l1+perceptual and full)", positive_int, smoke=4)
    batch_size: int = param(32, "triples per step", positive_int, smoke=16)
    width: int = param(16, "base channels of G and D", positive_int, smoke=4)
    loss: str = param("hinge", "adversarial loss of the full model, a name in gancore.losses.LOSS_NAMES",
                      one_of(*LOSS_NAMES))
    adv_weight: float = param(0.3, "weight of the adversarial term (0: no discriminator at all)", WEIGHT)
    l1: float = param(10.0, "weight of the L1 distance to the target", WEIGHT)
    perceptual: float = param(1.0, "weight of the perceptual (feature) distance to the target", WEIGHT)
    style: float = param(0.0, "weight of the Gram-matrix style distance to the exemplar", WEIGHT)
    tv: float = param(0.0, "weight of the total-variation smoothness term", WEIGHT)
    lr_g: float = param(5e-4, "generator Adam learning rate", number(0, 1, open_min=True))
    lr_d: float = param(5e-4, "discriminator Adam learning rate", number(0, 1, open_min=True))
    sweep_adv: str = param("", "extra adversarial weights to try on a short budget, e.g. \"0.1,1,3\" "
                               "('' skips the sweep)")
    sweep_steps: int = param(300, "generator steps of each sweep run", positive_int, smoke=2)
    demo_style: str = param("bold/right/fire/brick", "a named style, stroke/slant/ink/background, to translate "
                                                     "test digits into")
    n_show: int = param(8, "samples per side-by-side grid", positive_int, smoke=4)
    out_dir: str = param("runs/latest/05_style_transfer_cgan", "metrics.json and figures go here")

    def cross_checks(self) -> list[str]:
        errors = []
        try:
            parse_style(self.demo_style)
        except (ValueError, TypeError) as exc:
            errors.append(f"demo_style: {exc}")
        try:
            if not all(0 <= w < math.inf for w in self.sweep_weights()):  # NaN fails both comparisons
                errors.append(f"sweep_adv weights must be finite numbers >= 0, got {self.sweep_adv!r}")
        except ValueError:
            errors.append(f"sweep_adv must be numbers separated by commas, got {self.sweep_adv!r}")
        return errors

    def sweep_weights(self) -> list[float]:
        """The adversarial weights of the optional sweep (``sweep_adv``), as numbers."""
        return [float(w) for w in self.sweep_adv.replace(" ", "").split(",") if w]

    def smoked(self) -> "StyleTransfer":
        """Smoke runs sweep one weight at most."""
        return dataclasses.replace(super().smoked(), sweep_adv=",".join(self.sweep_adv.split(",")[:1]))

    @property
    def training(self) -> dict:
        """The keyword arguments of :func:`build_style_trainer` (plus steps and split sizes)."""
        return {name: getattr(self, name) for name in STYLE_TRAINING}


STYLE_TRAINING = ("loss", "adv_weight", "l1", "perceptual", "style", "tv", "width", "batch_size", "lr_g", "lr_d",
                  "steps", "n_train", "n_test")
# The tuned defaults, shared by notebooks/05, bench/bench_style.py and the explorer (07).
STYLE_DEFAULTS: dict = {name: value for name, value in StyleTransfer.defaults().items() if name in STYLE_TRAINING}


# --------------------------------------------------------------------------
# The data: the generator's and the grader's, from disjoint digits (gancore.data.splits)
# --------------------------------------------------------------------------


def generator_splits(n_train: int, n_test: int, seed: int = 0) -> dict[str, StyleTransferSet]:
    """:func:`make_style_splits` of the experiment part of MNIST: the generator's training and
    test triples, from digits that no measuring network learns from."""
    part = partition(load_mnist(), "experiment")
    return make_style_splits(n_train, n_test, seed=seed, images=part.images, labels=part.labels)


def grader_training_set(n: int, seed: int = 0) -> StyleTransferSet:
    """``n`` triples for the grader alone: digits of the measure part, which the generator never
    sees, in the generator's training styles (``seed`` picks them as in :func:`generator_splits`)."""
    part = partition(load_mnist(), "measure")
    return make_style_splits(n, 1, seed=seed, images=part.images, labels=part.labels)["train"]


# --------------------------------------------------------------------------
# Building and running the model
# --------------------------------------------------------------------------


def build_style_trainer(train: StyleTransferSet, *, loss: str = STYLE_DEFAULTS["loss"],
                        adv_weight: float = STYLE_DEFAULTS["adv_weight"], l1: float = STYLE_DEFAULTS["l1"],
                        perceptual: float = STYLE_DEFAULTS["perceptual"],
                        style: float = STYLE_DEFAULTS["style"], tv: float = STYLE_DEFAULTS["tv"],
                        width: int = STYLE_DEFAULTS["width"], batch_size: int = STYLE_DEFAULTS["batch_size"],
                        lr_g: float = STYLE_DEFAULTS["lr_g"], lr_d: float = STYLE_DEFAULTS["lr_d"],
                        seed: int = 0, sample_every: int = 0, device=None, checkpoint_path=None,
                        progress: bool = True, feature_net: FeatureNet | None = None,
                        n_samples: int = 16, prepost: bool = False, mismatch_weight: float = 0.0,
                        arch: str = "unet", ssim: float = 0.0, beta1: float = 0.5,
                        lr_decay_steps: int = 0) -> Trainer:
    """A :class:`gancore.Trainer` for StyleGenerator vs PatchDiscriminator on ``train``.

    inputs = {"content", "exemplar"} (by name), real = target. ``adv_weight=0``
    builds no discriminator: G trains on the image losses alone. Every input and weight is
    checked here, before a model is built or a step is taken: content and
    exemplar shapes (the models' ``check_inputs``), loss name, weights >= 0
    (0 switches a term off exactly). The feature network of the perceptual
    and style terms is ``feature_net`` or, when one of them is > 0,
    ``get_feature_net(train)`` (trained once, then cached). Sample grids show
    the first ``n_samples`` training pairs. ``prepost``: the generator's input and output
    statistics (:class:`StyleGenerator`). ``mismatch_weight`` > 0: D also scores each real
    target shown with another style's exemplar (:func:`mismatched_exemplars`) as fake
    (:func:`gancore.losses.matching_aware_d_loss`); notebook 05 trains without it. ``arch``: the
    generator, ``"unet"`` (:class:`StyleGenerator`, notebook 05's) or ``"filter"``
    (:class:`FilterGenerator`, notebook 06's: colour content, no ``prepost``). ``ssim``: the weight
    of the SSIM term (:func:`gancore.losses.ssim_loss`). ``beta1``: Adam's first-moment decay for G and D.
    ``lr_decay_steps``: both learning rates decay to 0 along a cosine over this many steps (0: constant).
    """
    if not isinstance(train, StyleTransferSet):
        raise TypeError(f"train must be a gancore.styles.StyleTransferSet, got {type(train).__name__}")
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise ValueError(f"width must be an int >= 1, got {width!r}")
    device = as_device(device)
    content, exemplar, target = train.content, train.exemplar, train.target
    # every number first: cheap to check, and a typo must not cost a feature-net training
    StyleTransferLoss(l1, 0.0, 0.0, tv, ssim=ssim)
    if arch not in GENERATOR_ARCHS:
        raise ValueError(f"unknown arch {arch!r}; choose one of: {', '.join(GENERATOR_ARCHS)}")
    if arch == "filter" and (prepost or content.shape[1] != target.shape[1]):
        raise ValueError("arch='filter' restyles colour content in place: it needs content with the targets' "
                         f"channels ({content.shape[1]} vs {target.shape[1]}) and prepost=False")
    for name, w in (("the perceptual weight", perceptual), ("the style weight", style),
                    ("adv_weight", adv_weight)):
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {w!r}; use 0 to switch "
                             f"the term off")
    config = TrainConfig(loss=loss, adv_weight=float(adv_weight), batch_size=batch_size, lr_g=lr_g,
                         lr_d=lr_d, betas=(beta1, 0.999), lr_decay_steps=lr_decay_steps, seed=seed,
                         sample_every=sample_every,
                         mismatch_weight=float(mismatch_weight) if adv_weight > 0 else 0.0,
                         n_samples=max(1, min(n_samples, len(target))))
    if len(target) < batch_size:
        raise ValueError(f"batch_size {batch_size} exceeds the {len(target)} images")

    for name, x in (("content", content), ("exemplar", exemplar), ("target", target)):
        if x.dim() != 4:
            raise ValueError(f"train.{name} must be (N, C, H, W) images, got {tuple(x.shape)}")
    if exemplar.shape[1] != target.shape[1]:  # the exemplar shows what the output must look like
        raise ValueError(f"exemplar has {exemplar.shape[1]} channels but the targets have {target.shape[1]}; "
                         f"give the exemplars the targets' channels (e.g. RGB for both)")
    with torch.random.fork_rng(devices=[]):  # models from ``seed``, the caller's RNG untouched
        torch.manual_seed(seed)
        G = FilterGenerator(target.shape[1], width=width) if arch == "filter" else \
            StyleGenerator(content.shape[1], target.shape[1], target.shape[1], width=width, prepost=prepost)
        D = PatchDiscriminator(target.shape[1], content.shape[1], target.shape[1], width=width) \
            if adv_weight > 0 else None  # built after G, so G's weights do not depend on it
    G.check_inputs(content, exemplar)  # mismatched shapes: one clear error, before any training
    if D is not None:
        D.check_inputs(target, content, exemplar)

    if (perceptual > 0 or style > 0) and feature_net is None:
        feature_net = get_feature_net(train, device=device, progress=progress)
    aux = StyleTransferLoss(l1, perceptual, style, tv, feature_net=feature_net, ssim=ssim)
    mismatched = {"exemplar": mismatched_exemplars(train, seed)} if config.mismatch_weight > 0 else None
    return Trainer(G, D, target, inputs={"content": content, "exemplar": exemplar}, config=config,
                   aux_loss=aux, device=device, checkpoint_path=checkpoint_path, progress=progress,
                   mismatched=mismatched)


@torch.no_grad()
def translate(generator: StyleGenerator, content: Tensor, exemplar: Tensor, batch_size: int = 256,
              device=None) -> Tensor:
    """``generator``'s outputs (N, 3, H, W) for each (content, exemplar) pair: eval mode,
    no gradients, batched, returned on the CPU in [-1, 1]. Runs on ``device`` (default: the
    generator's own; the generator is moved there) and restores the generator's mode."""
    generator.check_inputs(content, exemplar)
    device = torch.device(device) if device is not None else next(generator.parameters()).device
    was_training = generator.training
    generator.to(device).eval()
    out = []
    try:
        for start in range(0, len(content), batch_size):
            c = content[start:start + batch_size].to(device)
            e = exemplar[start:start + batch_size].to(device)
            out.append(generator(content=c, exemplar=e).cpu())
    finally:
        generator.train(was_training)
    return torch.cat(out)


def copy_content(content: Tensor) -> Tensor:
    """The 'copy the content' baseline: the grey digit (N, 1, H, W) as an RGB output (N, 3, H, W)."""
    if content.dim() != 4 or content.shape[1] not in (1, 3):
        raise ValueError(f"content must be (N, 1 or 3, H, W), got {tuple(content.shape)}")
    return content.expand(-1, 3, -1, -1).clone()


@torch.no_grad()
def grader_features(images: Tensor, grader: FeatureNet, batch_size: int = 500) -> Tensor:
    """The grader's hidden layer (N, hidden): pooled conv features through its fully
    connected layer, the input of every head (the FD's feature space)."""
    out = []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].to(grader.device)
        out.append(grader.fc(grader.features(x)[-1]).double().cpu())
    return torch.cat(out)


def evaluate_transfer(outputs: Tensor, data: StyleTransferSet, grader: FeatureNet,
                      digit_classifier: FeatureNet | None = None) -> dict[str, float]:
    """Grade outputs (N, 3, H, W) in [-1, 1] for ``data`` (paired by index).

    ssim, psnr     to ``data.target``, images mapped to [0, 1]; mean over images
    perceptual     :func:`gancore.metrics.feature_nets.perceptual_distance` to the targets, grader's features
    fd             Fréchet distance of the grader's hidden features, outputs vs targets
    content_acc    the content's digit read back from the output by ``digit_classifier``'s
                   digit head (default: the grader's; the MNIST classifier knows no colour)
    style_acc      the grader's four style heads (stroke, slant, ink, background) right,
                   averaged over heads and images
    """
    if not isinstance(data, StyleTransferSet):
        raise TypeError(f"data must be a gancore.styles.StyleTransferSet, got {type(data).__name__}")
    outputs = outputs.detach().cpu().float()
    targets = data.target.cpu().float()
    _check_pair(outputs, targets)
    a, b = (outputs.clamp(-1, 1) + 1) / 2, (targets + 1) / 2  # (N, 3, H, W) in [0, 1]
    heads = accuracy(grader, outputs, data)
    digit = heads["digit"] if digit_classifier is None or digit_classifier is grader \
        else accuracy(digit_classifier, outputs, data)["digit"]
    return {
        "ssim": float(ssim(a, b).mean()),
        "psnr": float(psnr(a, b).mean()),
        "perceptual": perceptual_distance(outputs, targets, grader),
        "fd": frechet_distance(grader_features(outputs, grader), grader_features(targets, grader)),
        "content_acc": float(digit),
        "style_acc": float(sum(heads[name] for name in data.attributes) / len(data.attributes)),
    }


# --------------------------------------------------------------------------
# Comparing methods: the notebook-05 table and its targets
# --------------------------------------------------------------------------

SPLITS: dict[str, str] = {"seen": "test_seen", "unseen": "test_unseen"}  # metrics.json key -> split
L1_ONLY: dict = {"adv_weight": 0.0, "perceptual": 0.0, "style": 0.0, "tv": 0.0}  # the l1 baseline: one term
NO_ADVERSARIAL: dict = {"adv_weight": 0.0}  # "l1+perceptual": the full loss without its adversarial term
METHODS: dict[str, dict] = {"l1": L1_ONLY, "l1+perceptual": NO_ADVERSARIAL, "full": {}}  # overrides of the settings


def method_outputs(generators: dict[str, StyleGenerator], splits: dict[str, StyleTransferSet],
                   baselines: dict | None = None) -> dict[str, dict[str, Tensor]]:
    """``outputs[split_key][method]`` for :func:`evaluate_methods`: the baselines (default: "copy";
    each ``baseline(content, exemplar)`` -> outputs), then each named generator's translations
    of the test splits in :data:`SPLITS`."""
    baselines = {"copy": lambda content, exemplar: copy_content(content)} if baselines is None else baselines
    return {key: {**{method: fn(splits[name].content, splits[name].exemplar) for method, fn in baselines.items()},
                  **{method: translate(G, splits[name].content, splits[name].exemplar)
                     for method, G in generators.items()}}
            for key, name in SPLITS.items()}


def graded_targets(splits: dict[str, StyleTransferSet], grader: FeatureNet) -> dict[str, dict[str, float]]:
    """The real targets of each test split, graded like outputs: the ceiling of both accuracies."""
    return {key: evaluate_transfer(splits[name].target, splits[name], grader) for key, name in SPLITS.items()}


def evaluate_methods(outputs: dict[str, dict[str, Tensor]], splits: dict[str, StyleTransferSet],
                     grader: FeatureNet) -> dict[str, dict[str, dict[str, float]]]:
    """``{"seen": {method: metrics}, "unseen": {...}}`` from ``outputs[split_key][method]``,
    each graded by :func:`evaluate_transfer` against ``splits[SPLITS[split_key]]``."""
    return {key: {method: evaluate_transfer(out, splits[SPLITS[key]], grader)
                  for method, out in outputs[key].items()} for key in outputs}


def metrics_table(metrics: dict[str, dict[str, dict[str, float]]]) -> pd.DataFrame:
    """The nested metrics as a pandas DataFrame, one row per (split, method)."""
    rows = {(split, method): m for split, by_method in metrics.items() for method, m in by_method.items()}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.names = ["split", "method"]
    return table


def check_targets(metrics: dict[str, dict[str, dict[str, float]]], fd_gain: float = 0.30,
                  max_ssim_drop: float = 0.05) -> pd.DataFrame:
    """The notebook-05 targets per split, each with its number and whether it is met:

    full beats copy on SSIM;  FD(full) <= (1 - fd_gain) FD(l1);  SSIM(l1) - SSIM(full) <= max_ssim_drop.
    """
    rows = []
    for split, m in metrics.items():
        copy, l1, full = m["copy"], m["l1"], m["full"]
        gain = 1 - full["fd"] / l1["fd"] if l1["fd"] > 0 else float("nan")
        drop = l1["ssim"] - full["ssim"]
        rows += [
            (split, "SSIM: full > copy", f"{full['ssim']:.3f} vs {copy['ssim']:.3f}", full["ssim"] > copy["ssim"]),
            (split, f"FD: full >= {fd_gain:.0%} below l1", f"{-gain:+.1%} ({full['fd']:.1f} vs {l1['fd']:.1f})",
             bool(gain >= fd_gain)),
            (split, f"SSIM drop vs l1 <= {max_ssim_drop}", f"{drop:+.3f}", bool(drop <= max_ssim_drop)),
        ]
    return pd.DataFrame(rows, columns=["split", "target", "measured", "met"]).set_index(["split", "target"])


def adversarial_credit(metrics: dict[str, dict[str, dict[str, float]]], split: str = "seen") -> str:
    """Sentences comparing ``full`` with ``l1+perceptual`` (the same loss, adversarial weight 0) on
    ``split``: what the adversarial term adds on top of the perceptual term, so that a gain of
    full over l1 is credited to the term that made it."""
    m = metrics[split]
    l1, no_adv, full = m["l1"], m["l1+perceptual"], m["full"]
    fd_total, fd_adv = full["fd"] / l1["fd"] - 1, full["fd"] / no_adv["fd"] - 1
    fd_perc = no_adv["fd"] / l1["fd"] - 1
    return (f"On {split} styles, going from l1 to full changes the Fréchet distance by {fd_total:+.0%}. "
            f"The perceptual term alone (l1+perceptual, no discriminator) changes it by {fd_perc:+.0%} against l1, "
            f"and the adversarial term on top of it by {fd_adv:+.0%} (full {full['fd']:.1f} vs "
            f"l1+perceptual {no_adv['fd']:.1f}); SSIM {full['ssim']:.3f} (full) vs {no_adv['ssim']:.3f} "
            f"(l1+perceptual), style accuracy {full['style_acc']:.3f} vs {no_adv['style_acc']:.3f}. "
            + _log_share(l1["fd"], no_adv["fd"], full["fd"]))


def _log_share(l1: float, no_adv: float, full: float) -> str:
    """log(full / l1) = log(no_adv / l1) + log(full / no_adv): each term's share of the FD change."""
    if min(l1, no_adv, full) <= 0 or full == l1:
        return ""
    share = math.log(no_adv / l1) / math.log(full / l1)
    return (f"In log FD, {share:.0%} of the change from l1 to full is the perceptual term's and "
            f"{1 - share:.0%} the adversarial term's.")


def side_by_side(data: StyleTransferSet, outputs: dict[str, Tensor], n: int = 8) -> tuple[Tensor, list[str]]:
    """Rows of [content | exemplar | target | one column per output] for the first ``n``
    samples, as one batch (n * columns, 3, H, W) for ``viz.show_grid(images, nrow=columns)``;
    also the column names."""
    columns = {"content": copy_content(data.content[:n]), "exemplar": data.exemplar[:n],
               "target": data.target[:n], **{name: out[:n].cpu() for name, out in outputs.items()}}
    grid = torch.stack(list(columns.values()), dim=1)  # (n, columns, 3, H, W)
    return grid.flatten(0, 1), list(columns)


# --------------------------------------------------------------------------
# Named styles: exemplars the user asks for by name
# --------------------------------------------------------------------------


def parse_style(text: str | dict) -> Style:
    """A :class:`gancore.data.digit_styles.Style` from ``"bold/right/fire/brick"`` (every attribute, in the
    order of :data:`STYLE_ATTRIBUTES`, as ``str(style)`` prints it), ``"ink=fire, background=brick"``
    or a dict; attributes left out keep their defaults (regular, upright, black, white)."""
    if isinstance(text, str) and "=" not in text:
        values = [v.strip() for v in text.split("/")]
        if len(values) != len(STYLE_ATTRIBUTES):
            raise ValueError(f"a style is written {'/'.join(STYLE_ATTRIBUTES)} or 'attribute=value, ...', "
                             f"got {text!r}")
        text = dict(zip(STYLE_ATTRIBUTES, values))
    elif isinstance(text, str):
        pairs = [[x.strip() for x in p.split("=", 1)] for p in text.split(",") if p.strip()]
        if any(len(p) != 2 for p in pairs):
            raise ValueError(f"a style is written 'attribute=value, ...', got {text!r}")
        text = dict(pairs)
    if not isinstance(text, dict):
        raise TypeError(f"a style is a str or dict, got {type(text).__name__}")
    for name in text:
        if name not in STYLE_ATTRIBUTES:
            raise ValueError(f"unknown style attribute {name!r}; valid attributes: "
                             f"{', '.join(STYLE_ATTRIBUTES)}")
    return Style(**text)  # an unknown value: ValueError listing the valid ones


def style_exemplars(style: Style | str | dict, digits: Tensor) -> Tensor:
    """Exemplars (N, 3, 32, 32) of a named style: plain ``digits`` (N, 1, 32, 32) rendered in it."""
    return render(digits, style if isinstance(style, Style) else parse_style(style))
