"""Notebook 06's cached style models: trained once, loaded bit for bit, retrained when stale or corrupt."""
import logging

import pytest
import torch

from gancore.data.photo_styles import make_npr_splits
from gancore.experiments.photo_models import cached_photo_model, loss_curve
from gancore.experiments.photo_style import PhotoStyleTransfer

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


@pytest.fixture(scope="module")
def train():
    return make_npr_splits(16, 4, seed=0)["train"]


def test_cached_model_loads_what_was_trained(tmp_path, monkeypatch, train, caplog):
    monkeypatch.setenv("GANCORE_DATA_DIR", str(tmp_path))
    cfg = PhotoStyleTransfer(steps=3, width=4, batch_size=4, adv_weight=0.3, perceptual=0.0, style=0.0)
    first = cached_photo_model(cfg, "full", train, loss_net=None, progress=False)
    files = list(tmp_path.glob("photo_style_full_*.pt"))
    assert len(files) == 1 and first.D is not None
    assert first.cache_info["steps"] == 3 and len(first.cache_info["curve"]["step"]) == 3
    again = cached_photo_model(cfg, "full", train, loss_net=None, progress=False)
    for a, b in zip(first.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    l1_only = cached_photo_model(cfg, "l1", train, loss_net=None, progress=False)
    assert l1_only.D is None and len(list(tmp_path.glob("photo_style_*.pt"))) == 2

    raw = bytearray(files[0].read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte: a warning, then a fresh training
    files[0].write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING, logger="gancore"):
        rebuilt = cached_photo_model(cfg, "full", train, loss_net=None, progress=False)
    assert "retraining the photo style model" in caplog.text
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), rebuilt.state_dict().values()))


def test_loss_curve_bins_the_history():
    import pandas as pd

    history = pd.DataFrame({"loss_g": range(10), "loss_d": [float("nan")] * 10, "d_real": range(10)})
    curve = loss_curve(history, points=5)
    assert curve == {"step": [2.0, 4.0, 6.0, 8.0, 10.0], "loss_g": [0.5, 2.5, 4.5, 6.5, 8.5]}
