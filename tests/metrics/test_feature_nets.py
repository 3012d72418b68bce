"""gancore.features: the feature network, its training, cache and helpers."""
import pytest
import torch

from gancore.data.digit_styles import StyleTransferSet
from gancore.losses import perceptual_loss
from gancore.metrics.per_image import perceptual_distance
from gancore.metrics import feature_nets as fe
from gancore.metrics.feature_nets import FeatureNetConfig
from gancore.nets.feature import FeatureNet

pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tests/conftest.py

TINY = FeatureNetConfig(width=4, hidden=16, epochs=8, batch_size=16, lr=1e-2, seed=0)
ATTRIBUTES = {"ink": ("red", "blue"), "side": ("left", "right")}


def toy_set(n=64, seed=0) -> StyleTransferSet:
    """Targets whose labels are easy to see: one lit quadrant, its row half given by
    the digit (0 top, 1 bottom), its column half by ``side``, its channel by ``ink``."""
    g = torch.Generator().manual_seed(seed)
    digit, ink, side = (torch.randint(0, 2, (n,), generator=g) for _ in range(3))
    x = torch.full((n, 3, 32, 32), -1.0)
    for i in range(n):
        rows, cols = (slice(0, 16) if half == 0 else slice(16, 32) for half in (digit[i], side[i]))
        x[i, 0 if ink[i] == 0 else 2, rows, cols] = 1.0
    x += 0.05 * torch.randn(x.shape, generator=g)
    content = torch.zeros(n, 1, 32, 32)
    return StyleTransferSet(content, exemplar=x.clone(), target=x, digit=digit,
                            style=torch.stack([ink, side], 1), split="train", attributes=ATTRIBUTES)


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
    fe.feature_net_path(data, TINY).write_bytes(b"not a checkpoint")
    net = fe.get_feature_net(data, TINY, device="cpu", progress=False)
    assert isinstance(net, FeatureNet)
    assert fe._load(fe.feature_net_path(data, TINY)).arch == net.arch  # rewritten, readable


def test_grader_is_a_different_network(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCORE_DATA_DIR", str(tmp_path))
    data = toy_set(n=32)
    assert fe.GRADER_NET.seed != fe.LOSS_NET.seed and fe.GRADER_NET.width != fe.LOSS_NET.width
    grader = fe.get_style_classifier(data, device="cpu", progress=False)
    assert grader.arch["width"] == fe.GRADER_NET.width
    assert fe.feature_net_path(data, fe.GRADER_NET) != fe.feature_net_path(data, fe.LOSS_NET)
    assert fe.feature_net_path(data, fe.GRADER_NET).exists()
