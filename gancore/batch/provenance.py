"""How a run was made: the gancore source it ran, the git commit, the library versions.

``source_digest()`` is part of every run's key (:attr:`gancore.batch.grid.Run.key`): editing any
file of the gancore package makes the runs made before stale, so a re-run does them again.
``made_with()`` is recorded in each run's row of ``results.csv`` (``made_with.*`` columns).
"""
from __future__ import annotations

import hashlib
import importlib
import subprocess
from importlib import metadata
from pathlib import Path

import gancore

PACKAGE = Path(gancore.__file__).resolve().parent
LIBRARIES = ("torch", "numpy", "papermill")
_digests: dict[tuple, str] = {}


def _source_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix not in (".pyc", ".pyo"))


def source_digest(root: Path = PACKAGE) -> str:
    """sha256 (16 hex digits) of every source file of the package at ``root``: their paths and
    bytes. Cached while no file's size or modification time changes."""
    files = _source_files(root)
    signature = (str(root), *((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files))
    if signature not in _digests:
        h = hashlib.sha256()
        for path in files:
            h.update(f"{path.relative_to(root).as_posix()}\0".encode())
            h.update(hashlib.sha256(path.read_bytes()).digest())
        _digests[signature] = h.hexdigest()[:16]
    return _digests[signature]


def git_state(folder: Path = PACKAGE) -> tuple[str, bool | None]:
    """(commit, dirty) of the git checkout holding ``folder``; ("", None) outside one or without git.
    ``dirty``: files differ from that commit (untracked ones included), so the commit alone does
    not say what ran."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True,
                                timeout=30, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain"], cwd=folder, capture_output=True, text=True,
                                timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return "", None
    return commit, bool(status.strip())


def version(name: str) -> str:
    """The library's own ``__version__`` (torch's says which build: ``+cpu``, ``+cu130``), else its
    installed distribution's; "" when it is not installed."""
    try:
        return str(importlib.import_module(name).__version__)
    except (ImportError, AttributeError):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return ""


def made_with() -> dict:
    """What a run's row records about how it was made: gancore's source digest, the git commit and
    whether the checkout was dirty, and the versions of gancore's main libraries."""
    commit, dirty = git_state()
    return {"gancore_source": source_digest(), "git_commit": commit, "git_dirty": dirty,
            **{lib: version(lib) for lib in LIBRARIES}}
