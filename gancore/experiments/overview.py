"""Notebook 00's parameters: the overview of the series and of this machine's data."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from gancore.workbook.notebook import positive_int
from gancore.workbook.params import NotebookParams, param


@dataclass
class Overview(NotebookParams):
    notebook: ClassVar[str] = "00_overview"
    HEADLINE: ClassVar[tuple[str, ...]] = ("mnist_source", "mnist_images")

    n_examples: int = param(32, "images shown from each data set", positive_int, smoke=8)
    out_dir: str = param("runs/latest/00_overview", "where metrics.json goes")
