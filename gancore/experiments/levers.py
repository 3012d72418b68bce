"""The levers of issue 14 ("samples that look right") as notebook parameters, shared by notebooks 03 and 04.

Every lever defaults to off, so a notebook run without them is the run it was before:

    r1_gamma, r1_every  zero-centred R1 penalty on real images, optionally lazy  (gancore.losses.r1_penalty)
    spectral_norm       every layer of D divided by its largest singular value   (gancore.nets.base)
    augment             DiffAugment's colour and cutout next to the shift        (gancore.data.augment)
    cr_weight           bCR: D(x) and D(T(x)) agree, on real and fake            (gancore.losses.consistency_penalty)
    upsample            G upsamples nearest-neighbour then convolves             (gancore.nets.base.upsample_conv)

:class:`Levers` is a mixin: a notebook's params class inherits it after its own fields, so a
sweep switches each lever by name (``-p r1_gamma 10``) and ``levers`` hands them on.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gancore.data.augment import parse_policy
from gancore.nets.base import UPSAMPLE_MODES
from gancore.workbook.notebook import ParameterError, is_str, number, one_of, positive_int
from gancore.workbook.params import NotebookParams, param

TRAINER_LEVERS: tuple[str, ...] = ("r1_gamma", "r1_every", "augment", "cr_weight")  # TrainConfig fields
NET_LEVERS: tuple[str, ...] = ("upsample", "spectral_norm")  # constructor arguments of G and D


def augment_policy(name: str, value: Any) -> None:
    """A rule for notebook parameters: a comma-separated list of DiffAugment policies."""
    is_str(name, value)
    try:
        parse_policy(value)
    except ValueError as exc:
        raise ParameterError(f"{name}: {exc}") from None


@dataclass
class Levers(NotebookParams):
    """The levers, each off by default. Help texts hold no '=' (papermill's parser)."""

    r1_gamma: float = param(0.0, "gamma of D's zero-centred R1 penalty, gamma/2 times E|grad_x D(x)|^2 on real "
                                 "images (0: off)", number(0))
    r1_every: int = param(1, "lazy R1: apply it every k-th D step only, k times as strong", positive_int)
    spectral_norm: bool = param(False, "spectral normalisation of every layer of D")
    augment: str = param("", "DiffAugment policies for D's real and fake inputs besides the shift: 'color', "
                             "'cutout' or 'color,cutout' ('' for none)", augment_policy)
    cr_weight: float = param(0.0, "bCR weight: E(D(x) - D(T(x)))^2 on real and fake images, T a random shift by "
                                  "up to 3 pixels (0: off)", number(0))
    upsample: str = param("transposed", "how G doubles its maps: 'transposed' convolutions or 'nearest' "
                                        "upsampling then a 3x3 convolution", one_of(*UPSAMPLE_MODES))

    @property
    def levers(self) -> dict[str, Any]:
        """Every lever by name, for ``train_and_evaluate`` and metrics.json."""
        return {name: getattr(self, name) for name in TRAINER_LEVERS + NET_LEVERS}

    @property
    def levers_on(self) -> dict[str, Any]:
        """The levers that differ from their defaults."""
        defaults = Levers.defaults()
        return {k: v for k, v in self.levers.items() if v != defaults[k]}


def split_levers(levers: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(TrainConfig settings, network settings) from ``levers``; an unknown name raises."""
    unknown = set(levers) - set(TRAINER_LEVERS + NET_LEVERS)
    if unknown:
        raise ValueError(f"unknown lever(s) {sorted(unknown)}; known: {', '.join(TRAINER_LEVERS + NET_LEVERS)}")
    return ({k: v for k, v in levers.items() if k in TRAINER_LEVERS},
            {k: v for k, v in levers.items() if k in NET_LEVERS})
