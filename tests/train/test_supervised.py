"""gancore.train.supervised.fit: bit-identical to the two loops it replaced, seeded, RNG-neutral."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gancore.data.augment import random_translate
from gancore.metrics.classifier import ClassifierSettings, train_classifier
from gancore.metrics.feature_nets import (
    FeatureNetConfig,
    head_labels,
    train_feature_net,
)
from gancore.nets.classifier import DigitClassifier
from gancore.nets.feature import FeatureNet
from gancore.train.supervised import epoch_batches, fit, steps_for
from tests.metrics.test_feature_nets import toy_set

pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tests/conftest.py


# --------------------------------------------------------------------------
# The loops fit replaced, copied verbatim (less tqdm) from gancore 9c50c38 as references
# --------------------------------------------------------------------------


def old_train_classifier(images, labels, s: ClassifierSettings):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s.seed)
        model = DigitClassifier(n_classes=int(labels.max()) + 1)
        rng = torch.Generator().manual_seed(s.seed)
        opt = torch.optim.Adam(model.parameters(), lr=s.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=s.steps)
        model.train()
        order = torch.randperm(len(images), generator=rng)
        pos = 0
        for _ in range(s.steps):
            if pos + s.batch_size > len(order):
                order, pos = torch.randperm(len(images), generator=rng), 0
            idx = order[pos:pos + s.batch_size]
            pos += s.batch_size
            x = random_translate(images[idx], s.max_shift, rng)
            loss = F.cross_entropy(model(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


def old_train_feature_net(data, cfg: FeatureNetConfig):
    images, labels = data.target, head_labels(data)
    heads = {"digit": int(data.digit.max()) + 1, **{n: len(v) for n, v in data.attributes.items()}}
    c, s = images.shape[1], images.shape[-1]
    steps_per_epoch = max(1, len(images) // cfg.batch_size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        net = FeatureNet(heads, cfg.width, cfg.hidden, channels=c, size=s)
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * steps_per_epoch)
        rng = torch.Generator().manual_seed(cfg.seed)
        net.train()
        for _ in range(cfg.epochs):
            order = torch.randperm(len(images), generator=rng)
            for i in range(steps_per_epoch):
                idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
                logits = net(images[idx])
                loss = sum(F.cross_entropy(logits[n], labels[n][idx]) for n in heads)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    return net.eval()


def assert_same_weights(a: nn.Module, b: nn.Module):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for name in sa:
        assert torch.equal(sa[name], sb[name]), name


@pytest.fixture(scope="module")
def digits():
    from gancore.data.sources import load_mnist

    images, labels = load_mnist()
    images, labels = images[::16][:300], labels[::16][:300]  # the file is sorted by class
    assert labels.unique().tolist() == list(range(10))
    return images, labels


@pytest.mark.parametrize("settings", [
    ClassifierSettings(steps=12, batch_size=64, max_shift=2, seed=0),  # crosses an epoch (4 batches)
    ClassifierSettings(steps=5, batch_size=100, max_shift=0, lr=1e-3, seed=3),  # 300 = 3 whole batches
])
def test_train_classifier_equals_the_old_loop_bit_for_bit(digits, settings):
    images, labels = digits
    new = train_classifier(images, labels, settings, device="cpu", progress=False)
    assert_same_weights(new, old_train_classifier(images, labels, settings))


@pytest.mark.parametrize("config, n", [
    (FeatureNetConfig(width=4, hidden=16, epochs=3, batch_size=16, lr=1e-2, seed=0), 40),  # 2 batches, 8 dropped
    (FeatureNetConfig(width=4, hidden=8, epochs=2, batch_size=32, lr=1e-2, seed=2), 20),   # n < batch: 1 of 20
])
def test_train_feature_net_equals_the_old_loop_bit_for_bit(config, n):
    data = toy_set(n=n)
    new = train_feature_net(data, config, device="cpu", progress=False)
    assert_same_weights(new, old_train_feature_net(data, config))


def test_trained_weights_differ_from_the_initial_ones_and_between_seeds(digits):
    """Guards the equality tests above against a fit that silently does nothing."""
    images, labels = digits
    s = ClassifierSettings(steps=3, seed=0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        initial = DigitClassifier(n_classes=10)
    trained = train_classifier(images, labels, s, device="cpu", progress=False)
    other = train_classifier(images, labels, ClassifierSettings(steps=3, seed=1), device="cpu", progress=False)
    assert initial.head.weight.shape == trained.head.weight.shape
    assert not torch.equal(initial.head.weight, trained.head.weight)
    assert not torch.equal(other.head.weight, trained.head.weight)


def test_fit_leaves_the_global_rng_and_threads_alone_and_is_deterministic(digits):
    images, labels = digits
    threads = torch.get_num_threads()
    kw = dict(steps=4, batch_size=32, seed=7, device="cpu", progress=False, threads=threads + 1,
              augment=lambda x, g: random_translate(x, 1, g))
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = fit(DigitClassifier, images, labels, F.cross_entropy, **kw)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads
    assert not a.training
    assert_same_weights(a, fit(DigitClassifier, images, labels, F.cross_entropy, **kw))


def test_fit_accepts_a_built_module_and_dict_targets():
    torch.manual_seed(0)
    x = torch.randn(64, 2)
    y = {"sign": (x[:, 0] > 0).long(), "other": (x[:, 1] > 0).long()}

    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(2, 2), nn.Linear(2, 2)

        def forward(self, v):
            return {"sign": self.a(v), "other": self.b(v)}

    def loss(out, t):
        return F.cross_entropy(out["sign"], t["sign"]) + F.cross_entropy(out["other"], t["other"])

    model = fit(TwoHeads(), x, y, loss, epochs=40, batch_size=16, lr=0.05, seed=0, progress=False,
                device="cpu")
    with torch.no_grad():
        out = model(x)
    for name in y:
        assert (out[name].argmax(1) == y[name]).double().mean() > 0.95, name


def test_epoch_batches_cover_each_epoch_once_and_drop_the_remainder():
    g = torch.Generator().manual_seed(0)
    it = epoch_batches(10, 3, g)
    epoch = [next(it) for _ in range(3)]
    assert [len(b) for b in epoch] == [3, 3, 3]
    assert len(set(torch.cat(epoch).tolist())) == 9  # no index twice; one of the ten dropped
    reference = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.cat(epoch), reference[:9])
    assert torch.equal(next(epoch_batches(2, 5, g)).sort().values, torch.arange(2))  # n < batch: all
    assert steps_for(10, 3, 4) == 12 and steps_for(2, 5, 4) == 4


def test_fit_rejects_bad_input():
    x, y = torch.randn(8, 2), torch.zeros(8, dtype=torch.long)
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="exactly one of steps and epochs"):
        fit(model, x, y, F.cross_entropy, progress=False)
    with pytest.raises(ValueError, match="exactly one of steps and epochs"):
        fit(model, x, y, F.cross_entropy, steps=2, epochs=1, progress=False)
    with pytest.raises(ValueError, match="one entry per image"):
        fit(model, x, y[:7], F.cross_entropy, steps=1, progress=False)
    with pytest.raises(ValueError, match="one entry per image"):
        fit(model, x, {"a": y, "b": y[:3]}, F.cross_entropy, steps=1, progress=False)
    with pytest.raises(ValueError, match="non-empty"):
        fit(model, x[:0], y[:0], F.cross_entropy, steps=1, progress=False)
    with pytest.raises(ValueError, match="must be positive"):
        fit(model, x, y, F.cross_entropy, steps=0, progress=False)
