"""gancore.features: the feature network, its training, cache and helpers."""
import logging

import pytest
import torch

from gancore.data.style_pairs import StyleTransferSet
from gancore.losses import perceptual_loss
from gancore.metrics import feature_nets as fe
from gancore.metrics.feature_nets import FeatureNetConfig
from gancore.metrics.per_image import perceptual_distance
from gancore.nets.feature import FeatureNet

pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tests/conftest.py

TINY = FeatureNetConfig(width=4, hidden=16, epochs=8, batch_size=16, lr=1e-2, seed=0)
ATTRIBUTES = {"ink": ("red", "blue"), "side": ("left", "right")}


def paint(digit, ink, side, g):
    """One lit quadrant per image: its row half given by the digit (0 top, 1 bottom),
    its column half by ``side``, its channel by ``ink``; plus a little noise."""
    x = torch.full((len(digit), 3, 32, 32), -1.0)
    for i in range(len(digit)):
        rows, cols = (slice(0, 16) if half == 0 else slice(16, 32) for half in (digit[i], side[i]))
        x[i, 0 if ink[i] == 0 else 2, rows, cols] = 1.0
    return x + 0.05 * torch.randn(x.shape, generator=g)


def toy_set(n=64, seed=0) -> StyleTransferSet:
    """Targets whose labels are easy to see (:func:`paint`). Each exemplar is the other digit
    in the triple's style; the plain images are flat, one grey level each, and the exemplar's
    is another triple's content for even i, a drawing of its own for odd i (unseen)."""
    g = torch.Generator().manual_seed(seed)
    digit, ink, side = (torch.randint(0, 2, (n,), generator=g) for _ in range(3))
    x = paint(digit, ink, side, g)
    exemplar = paint(1 - digit, ink, side, g)
    level = torch.linspace(-1, 1, 2 * n).view(2 * n, 1, 1, 1).expand(2 * n, 1, 32, 32)
    content, exemplar_content = level[:n].clone(), level[n:].clone()
    exemplar_content[::2] = content.roll(-1, 0)[::2]
    return StyleTransferSet(content, exemplar=exemplar, target=x, digit=digit,
                            style=torch.stack([ink, side], 1), split="train", attributes=ATTRIBUTES,
                            exemplar_content=exemplar_content, exemplar_digit=1 - digit)


def test_feature_shapes_and_heads():
    net = FeatureNet({"digit": 10, "ink": 9}, width=4, hidden=8)
    feats = net.features(torch.randn(2, 3, 32, 32))
    assert [tuple(f.shape) for f in feats] == [(2, 4, 32, 32), (2, 8, 16, 16), (2, 16, 8, 8)]
    assert all((f >= 0).all() for f in feats)  # ReLU outputs
    logits = net(torch.randn(2, 3, 32, 32))
    assert {k: tuple(v.shape) for k, v in logits.items()} == {"digit": (2, 10), "ink": (2, 9)}


@pytest.mark.parametrize("shape", [(2, 1, 32, 32), (2, 3, 28, 28), (3, 32, 32)])
def test_wrong_image_shape_raises(shape):
    net = FeatureNet({"digit": 10}, width=4, hidden=8)
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\)"):
        net.features(torch.randn(shape))


def test_training_learns_every_head_and_is_deterministic():
    data = toy_set()
    net = fe.train_feature_net(data, TINY, device="cpu", progress=False)
    acc = fe.accuracy(net, toy_set(seed=1).target, toy_set(seed=1))  # fresh samples
    assert set(acc) == {"digit", "ink", "side", "style"}
    assert min(acc.values()) > 0.9
    again = fe.train_feature_net(data, TINY, device="cpu", progress=False)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))


def test_training_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fe.train_feature_net(toy_set(n=16), TINY, device="cpu", progress=False)
    assert torch.equal(torch.rand(3), expected)


class FixedPredictions:
    def __init__(self, predictions):
        self.predictions = predictions

    def predict(self, images):
        return self.predictions


def test_accuracy_by_hand():
    data = toy_set(n=4)
    data.digit, data.style = torch.tensor([0, 1, 1, 0]), torch.tensor([[0, 0], [1, 1], [0, 1], [1, 0]])
    net = FixedPredictions({"digit": torch.tensor([0, 1, 0, 0]),   # 3 of 4 right
                            "ink": torch.tensor([0, 1, 0, 0]),     # 3 of 4 (sample 3 wrong)
                            "side": torch.tensor([0, 0, 1, 0])})   # 3 of 4 (sample 1 wrong)
    acc = fe.accuracy(net, data.target, data)
    assert acc == {"digit": 0.75, "ink": 0.75, "side": 0.75, "style": 0.5}  # samples 0 and 2


def test_perceptual_distance_is_the_perceptual_loss_in_batches():
    torch.manual_seed(0)
    net = FeatureNet({"digit": 10}, width=4, hidden=8).eval()
    a, b = torch.randn(10, 3, 32, 32), torch.randn(10, 3, 32, 32)
    with torch.no_grad():
        direct = perceptual_loss(net.features(a), net.features(b)).item()
    assert abs(perceptual_distance(a, b, net, batch_size=5) - direct) < 1e-5 * direct
    assert perceptual_distance(a, a, net) == 0.0
    with pytest.raises(ValueError, match="same shape"):
        perceptual_distance(a, b[:9], net)


def test_cache_trains_once_then_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCORE_DATA_DIR", str(tmp_path))
    data = toy_set(n=32)
    net = fe.get_feature_net(data, TINY, device="cpu", progress=False)
    files = list(tmp_path.iterdir())
    assert [f.name for f in files] == [fe.feature_net_path(data, TINY).name]  # no temporary left over

    def no_training(*args, **kwargs):
        raise AssertionError("a cached net must not be retrained")

    monkeypatch.setattr(fe, "train_feature_net", no_training)
    loaded = fe.get_feature_net(data, TINY, device="cpu", progress=False)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), loaded.state_dict().values()))
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())


def test_cache_key_follows_config_and_data(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCORE_DATA_DIR", str(tmp_path))
    data = toy_set(n=32)
    path = fe.feature_net_path(data, TINY)
    assert fe.feature_net_path(data, FeatureNetConfig(**{**TINY.__dict__, "seed": 1})) != path
    assert fe.feature_net_path(toy_set(n=32, seed=5), TINY) != path
    assert fe.feature_net_path(toy_set(n=32), TINY) == path


def test_corrupt_cache_is_retrained(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("GANCORE_DATA_DIR", str(tmp_path))
    data = toy_set(n=32)
    path = fe.feature_net_path(data, TINY)
    path.write_bytes(b"not a checkpoint")
    with caplog.at_level(logging.WARNING, logger="gancore"):
        net = fe.get_feature_net(data, TINY, device="cpu", progress=False)
    assert isinstance(net, FeatureNet)
    assert any("unreadable" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)
    monkeypatch.setattr(fe, "train_feature_net", lambda *a, **k: pytest.fail("retrained a rewritten cache"))
    assert fe.get_feature_net(data, TINY, device="cpu", progress=False).arch == net.arch  # rewritten, valid


def test_unseen_exemplars_are_those_whose_drawing_is_no_content():
    data = toy_set(n=8)
    held = fe.unseen_exemplars(data)
    assert torch.equal(held.target, data.exemplar[1::2])
    assert torch.equal(held.digit, data.exemplar_digit[1::2]) and torch.equal(held.style, data.style[1::2])
    assert torch.equal(held.content, data.exemplar_content[1::2])
    data.exemplar_content[1::2] = data.content[:4]  # every drawing now some triple's content
    assert fe.unseen_exemplars(data) is None
    data.exemplar_content = None
    assert fe.unseen_exemplars(data) is None


def test_cached_net_trains_on_everything_and_keeps_its_held_out_accuracy(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCORE_DATA_DIR", str(tmp_path))
    data = toy_set(n=64)
    net = fe.get_feature_net(data, TINY, device="cpu", progress=False)
    held = fe.unseen_exemplars(data)
    assert len(held) == 32 and net.heldout_accuracy == fe.accuracy(net, held.target, held)
    assert set(net.heldout_accuracy) == {"digit", "ink", "side", "style"}
    assert min(net.heldout_accuracy.values()) > 0.8  # toy labels are easy; chance is 0.5 or 0.25
    whole = fe.train_feature_net(data, TINY, device="cpu", progress=False)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), whole.state_dict().values()))
    monkeypatch.setattr(fe, "train_feature_net", lambda *a, **k: pytest.fail("retrained a valid cache"))
    assert fe.get_feature_net(data, TINY, device="cpu", progress=False).heldout_accuracy == net.heldout_accuracy
    data.exemplar_content = None  # nothing held out: no accuracy, but still a net
    monkeypatch.setenv("GANCORE_DATA_DIR", str(tmp_path / "other"))
    monkeypatch.setattr(fe, "train_feature_net", lambda *a, **k: whole)
    assert fe.get_feature_net(data, TINY, device="cpu", progress=False).heldout_accuracy is None


def test_the_grader_differs_from_the_loss_net_in_design():
    from gancore.nets.residual import ResidualFeatureNet

    assert fe.LOSS_NET.net_class is FeatureNet and fe.GRADER_NET.net_class is ResidualFeatureNet
    assert fe.GRADER_NET.seed != fe.LOSS_NET.seed
    same_numbers = FeatureNetConfig(**{k: v for k, v in fe.GRADER_NET.__dict__.items() if k != "design"})
    data = toy_set(n=8)
    assert fe.feature_net_path(data, same_numbers) != fe.feature_net_path(data, fe.GRADER_NET)  # design in the key
    net = ResidualFeatureNet({"digit": 10, "ink": 9}, width=4, hidden=8)
    feats = net.features(torch.randn(2, 3, 32, 32))
    assert [tuple(f.shape) for f in feats] == [(2, 4, 32, 32), (2, 8, 16, 16), (2, 16, 8, 8)]
    assert {k: tuple(v.shape) for k, v in net(torch.randn(2, 3, 32, 32)).items()} == {"digit": (2, 10), "ink": (2, 9)}
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\)"):
        net.features(torch.randn(2, 1, 32, 32))


def test_a_residual_grader_trains_caches_and_reloads(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCORE_DATA_DIR", str(tmp_path))
    config = fe.ResidualNetConfig(**{**TINY.__dict__, "epochs": 1})
    data = toy_set(n=32)
    net = fe.get_feature_net(data, config, device="cpu", progress=False)
    monkeypatch.setattr(fe, "train_feature_net", lambda *a, **k: pytest.fail("retrained a cached net"))
    again = fe.get_feature_net(data, config, device="cpu", progress=False)
    assert type(again).__name__ == "ResidualFeatureNet"
    x = data.target[:4]
    assert torch.equal(net.fc(net.features(x)[-1]), again.fc(again.features(x)[-1]))
    card = fe.net_card(again, config, data)
    assert card["design"] == "ResidualFeatureNet" and card["triples"] == 32 and card["seed"] == config.seed
