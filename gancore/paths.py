"""Where gancore keeps caches and results.

``data/`` (datasets, trained feature networks) and ``runs/`` live at the
project root when gancore runs from a checkout, else under ``~/.cache/gancore``.
``GANCORE_DATA_DIR`` overrides the data folder.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def project_root() -> Path:
    """The checkout holding this package, or ``~/.cache/gancore`` for an installed wheel."""
    here = Path(__file__).resolve().parents[1]
    if (here / "pyproject.toml").is_file():
        return here
    return Path.home() / ".cache" / "gancore"


def data_dir() -> Path:
    """The cache folder for datasets and trained feature networks."""
    path = Path(os.environ.get("GANCORE_DATA_DIR") or project_root() / "data")
    path.mkdir(parents=True, exist_ok=True)
    return path


def resolve(path: str | Path) -> Path:
    """A relative path is taken from the project root, so notebooks run from
    ``notebooks/`` and papermill runs from anywhere write to the same place."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else project_root() / path


@contextmanager
def atomic_write(path: str | Path, mode: str = "wb"):
    """Open a temporary file beside ``path``; rename it over ``path`` only when the
    block finishes, so an interrupted write never replaces a good file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
