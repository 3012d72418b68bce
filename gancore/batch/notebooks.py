"""The numbered notebooks a batch can run, found by stem, prefix or path."""
from __future__ import annotations

from pathlib import Path

from gancore.paths import project_root

NOTEBOOK_DIR = project_root() / "notebooks"

# seconds each notebook took at its defaults in `make run` (2 cores, two notebooks side by side on one
# thread each, README's timings): on a fresh clone, with no results table yet, the batch starts the
# longest first from these, so the last one does not run alone for minutes
EXPECTED_SECONDS = {"03_mnist_baseline": 468, "06_photo_style_transfer": 440, "08_quality_evaluation": 396,
                    "05_style_transfer_cgan": 237, "04_conditional_gan": 119, "02_toy_2d": 95,
                    "07_loss_weight_explorer": 82, "00_overview": 16, "01_gan_derivations": 13}


def list_notebooks(names: list[str] | None = None) -> list[Path]:
    """Every ``NN_*.ipynb`` in run order (new ones are picked up by themselves); ``names``
    picks some by stem (``03_mnist_baseline``) or prefix (``03``)."""
    return [find_notebook(name) for name in names] if names else _series()


def _series() -> list[Path]:
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def find_notebook(name: str, base: Path | None = None) -> Path:
    """One notebook: a stem or prefix of the series, or a path (``.ipynb``) taken from the
    current folder, else from ``base`` (a grid file's folder)."""
    if str(name).endswith(".ipynb"):
        for path in (Path(name), (base or Path.cwd()) / name):
            if path.is_file():
                return path.resolve()
        raise ValueError(f"notebook file {name!r} not found (looked in {Path.cwd()} and {base or Path.cwd()})")
    found = _series()
    hits = [p for p in found if p.stem == name] or [p for p in found if p.stem.startswith(str(name))]
    if len(hits) != 1:
        raise ValueError(f"{name!r} matches {len(hits)} notebooks; choose from: " + ", ".join(p.stem for p in found))
    return hits[0]


def headline(stem: str) -> tuple[str, ...]:
    """The few metrics a notebook declares worth a glance (its params class's ``HEADLINE``)."""
    from gancore.experiments import params_class

    try:
        return tuple(params_class(stem).HEADLINE)
    except KeyError:  # a notebook outside the series (a path) has no params class
        return ()
