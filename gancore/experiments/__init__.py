"""One module per notebook experiment: its parameters (a :class:`gancore.workbook.params.NotebookParams`)
next to the code it runs. :data:`NOTEBOOK_PARAMS` maps each notebook to its parameters class."""
from __future__ import annotations

import importlib

_WHERE = {
    "00_overview": "overview:Overview",
    "01_gan_derivations": "theory:Derivations",
    "02_toy_2d": "toy:Toy2D",
    "03_mnist_baseline": "mnist_baseline:MNISTBaseline",
    "04_conditional_gan": "class_conditional:ClassConditional",
    "05_style_transfer_cgan": "style_transfer:StyleTransfer",
    "06_photo_style_transfer": "photo_style:PhotoStyleTransfer",
    "07_loss_weight_explorer": "weight_explorer:WeightExplorer",
    "08_quality_evaluation": "quality:QualityEvaluation",
}
NOTEBOOKS: tuple[str, ...] = tuple(_WHERE)


def params_class(notebook: str):
    """The parameters class of ``notebook`` (its stem, e.g. ``"03_mnist_baseline"``)."""
    if notebook not in _WHERE:
        raise KeyError(f"no parameters class for notebook {notebook!r}; known: {', '.join(_WHERE)}")
    module, name = _WHERE[notebook].split(":")
    return getattr(importlib.import_module(f"gancore.experiments.{module}"), name)
