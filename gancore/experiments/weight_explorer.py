"""Notebook 07's parameters: the loss-weight explorer, warm-started from a short style-transfer run."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from gancore.experiments.style_transfer import STYLE_DEFAULTS
from gancore.losses import LOSS_NAMES
from gancore.workbook.notebook import one_of, positive_int
from gancore.workbook.params import NotebookParams, param


@dataclass
class WeightExplorer(NotebookParams):
    notebook: ClassVar[str] = "07_loss_weight_explorer"
    HEADLINE: ClassVar[tuple[str, ...]] = ("l1_to_target.warm", "l1_to_target.defaults")

    n_train: int = param(1000, "training triples (content, exemplar, target)", positive_int, smoke=64)
    n_test: int = param(128, "test pairs in training styles; L1 to target is measured on all of them",
                        positive_int, smoke=16)
    n_show: int = param(8, "test pairs shown in the output grid", positive_int, smoke=4)
    warm_steps: int = param(200, "generator steps of the warm run that every experiment starts from",
                            positive_int, smoke=3)
    steps_per_click: int = param(60, "generator steps one click of \"Train\" adds", positive_int, smoke=3)
    width: int = param(16, "base channels of the generator and the discriminator", positive_int, smoke=4)
    loss: str = param("hinge", "adversarial loss of the warm run (the drop-down changes it later)",
                      one_of(*LOSS_NAMES))
    out_dir: str = param("runs/latest/07_loss_weight_explorer", "metrics.json, warm.pt and figures go here")

    def cross_checks(self) -> list[str]:
        errors = []
        if self.n_train < STYLE_DEFAULTS["batch_size"]:
            errors.append(f"n_train must be >= {STYLE_DEFAULTS['batch_size']} (one batch), got {self.n_train}")
        if self.n_show > self.n_test:
            errors.append(f"n_show must be <= n_test ({self.n_test}), got {self.n_show}")
        return errors
