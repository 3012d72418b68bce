"""gancore.train.net_cache: round trip, and a rebuild with a warning for each kind of bad file."""
import logging

import pytest
import torch

from gancore.nets.classifier import DigitClassifier
from gancore.train import net_cache
from gancore.train.net_cache import CorruptNet, StaleNet, cached_net, load_net, save_net

SETTINGS = {"steps": 3, "shape": (1, 2), "note": None}


def build(arch):
    return DigitClassifier(arch["n_classes"], tuple(arch["channels"]), arch["feature_dim"])


def small_net(seed=0):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return DigitClassifier(n_classes=3, channels=(2, 4), feature_dim=8)


def same_weights(a, b):
    return a.state_dict().keys() == b.state_dict().keys() and all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


class Trainings:
    """A stand-in for training: counts calls and returns a fresh net each time."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return small_net(seed=self.calls), 0.5 + self.calls / 10, {"source": "test"}


def get(path, trainings, settings=SETTINGS):
    return cached_net(path, "test net", settings, build, trainings)


def test_round_trip_keeps_weights_arch_accuracy_and_info(tmp_path):
    net, path = small_net(), tmp_path / "net.pt"
    save_net(path, net, "test net", SETTINGS, {"digit": 0.75, "style": 0.5}, {"source": "here"})
    loaded = load_net(path, "test net", {"note": None, "shape": [1, 2], "steps": 3}, build)  # tuples as lists
    assert same_weights(net, loaded) and loaded.arch == net.arch
    assert loaded.heldout_accuracy == {"digit": 0.75, "style": 0.5}
    assert loaded.cache_info == {"source": "here"}
    assert not loaded.training
    assert [p.name for p in tmp_path.iterdir()] == ["net.pt"]  # no temporary left over


def test_trains_once_then_loads(tmp_path):
    trainings, path = Trainings(), tmp_path / "net.pt"
    first = get(path, trainings)
    second = get(path, trainings)
    assert trainings.calls == 1
    assert same_weights(first, second) and not same_weights(second, small_net(seed=0))
    assert first.heldout_accuracy == second.heldout_accuracy == pytest.approx(0.6, abs=1e-12)


def flip_a_weight_byte(path, net):
    """Flip one bit inside the stored bytes of the net's largest tensor (the zip stores them raw)."""
    raw = bytearray(path.read_bytes())
    weights = net.body[7].weight.detach().numpy().tobytes()
    at = raw.find(weights)
    assert at >= 0 and raw.find(weights, at + 1) < 0
    raw[at + len(weights) // 2] ^= 0x10
    path.write_bytes(bytes(raw))


def corrupt(path, net):
    path.write_bytes(b"not a torch file")


def stale(path, net):
    save_net(path, net, "test net", {**SETTINGS, "steps": 4}, 0.9)


def old_format(path, net):  # a classifier cache written before net_cache existed
    torch.save({"format": "gancore-classifier-v1", "arch": net.arch, "state_dict": net.state_dict()}, path)


@pytest.mark.parametrize("spoil, why", [(corrupt, "unreadable"), (flip_a_weight_byte, "checksum"),
                                        (stale, "trained with"), (old_format, "not a gancore-cached-net-v1")])
def test_a_bad_file_is_retrained_with_a_warning_naming_it(tmp_path, caplog, spoil, why):
    trainings, path = Trainings(), tmp_path / "net.pt"
    net = get(path, trainings)
    spoil(path, net)
    with caplog.at_level(logging.WARNING, logger="gancore"):
        again = get(path, trainings)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and why in warnings[0] and str(path) in warnings[0]
    assert trainings.calls == 2 and not same_weights(net, again)
    assert same_weights(again, load_net(path, "test net", SETTINGS, build))  # rewritten, valid


def test_the_checksum_catches_the_flipped_byte_itself(tmp_path):
    net, path = small_net(), tmp_path / "net.pt"
    save_net(path, net, "test net", SETTINGS, 0.9)
    flip_a_weight_byte(path, net)
    with pytest.raises(CorruptNet, match="checksum"):
        load_net(path, "test net", SETTINGS, build)
    save_net(path, net, "test net", SETTINGS, 0.9)
    with pytest.raises(StaleNet, match="other net"):
        load_net(path, "other net", SETTINGS, build)


def test_an_interrupted_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "net.pt"
    save_net(path, small_net(), "test net", SETTINGS, 0.9)
    before = path.read_bytes()

    def half_a_save(obj, fh):
        fh.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(net_cache.torch, "save", half_a_save)
    with pytest.raises(KeyboardInterrupt):
        save_net(path, small_net(seed=1), "test net", SETTINGS, 0.1)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["net.pt"]


def test_a_net_without_arch_is_refused(tmp_path):
    with pytest.raises(TypeError, match="arch"):
        save_net(tmp_path / "net.pt", torch.nn.Linear(2, 2), "test net", SETTINGS, 0.9)
    assert not (tmp_path / "net.pt").exists()
