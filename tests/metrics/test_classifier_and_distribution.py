"""Tests of gancore.metrics against closed forms, scipy and torchmetrics."""
import logging
from dataclasses import asdict

import numpy as np
import pytest
import scipy.linalg
import torch
from torchmetrics.image.fid import _compute_fid
from torchmetrics.image.inception import InceptionScore

from gancore.data.sources import ImageSplit, holdout_split, load_dataset
from gancore.data.splits import count_shared, partition
from gancore.metrics import classifier as metrics
from gancore.metrics.classifier import (
    ClassifierSettings,
    classifier_path,
    get_classifier,
    train_classifier,
)
from gancore.metrics.distribution import (
    FeatureStats,
    SmallSampleWarning,
    classifier_score,
    evaluate_samples,
    frechet_distance,
    real_data_floor,
    reference_stats,
)
from gancore.nets.classifier import DigitClassifier
from gancore.train.net_cache import save_net

pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tests/conftest.py

TINY = ClassifierSettings(steps=120)  # a few seconds on one CPU thread


def scipy_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """The textbook formula with scipy's general matrix square root."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s_a @ s_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * covmean))


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory):
    """An empty temporary data folder, offline, for the whole module: the classifier's cache and
    its training digits come from the same place, whatever sits in the project's data/."""
    with pytest.MonkeyPatch.context() as mp:
        folder = tmp_path_factory.mktemp("data")
        mp.setenv("GANCORE_DATA_DIR", str(folder))
        mp.setenv("GANCORE_OFFLINE", "1")
        yield folder


@pytest.fixture(scope="module")
def tiny_classifier(one_cpu_thread, data_folder):
    """A classifier trained briefly into the temporary data folder, shared by the module."""
    yield get_classifier("mnist", device="cpu", progress=False, settings=TINY), classifier_path("mnist")


@pytest.fixture(scope="module")
def held_out(data_folder):
    """The tiny classifier's held-out digits: the same source, part and split rule as get_classifier."""
    images, labels = partition(load_dataset("mnist", "train"), "measure")
    n_holdout = min(5000, max(1, round(TINY.holdout_fraction * len(images))))
    _, _, held_x, held_y = holdout_split(images, labels, n_holdout, seed=TINY.seed)
    return held_x, held_y


@pytest.fixture(scope="module")
def digits(data_folder):
    """500 real digits of the experiment part, which the classifier never learns from."""
    images, labels = partition(load_dataset("mnist", "train"), "experiment")
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:500]  # the split is sorted by class
    return images[pick], labels[pick]  # plenty, and the tests stay fast


@torch.no_grad()
def reference_scores(model, first, second):
    """FD by scipy's sqrtm and the score by torchmetrics' InceptionScore, from the model's own
    layers (features, logits) rather than through embed, evaluate_samples or frechet_distance."""
    model.eval()
    feats_a, feats_b = model.features(first).double().numpy(), model.features(second).double().numpy()
    # ReLU units dead on both sets add exactly 0 to every FD term; dropped, the covariances are
    # no longer singular and sqrtm is accurate (it warns otherwise).
    alive = (feats_a.std(0) > 0) | (feats_b.std(0) > 0)
    feats_a, feats_b = feats_a[:, alive], feats_b[:, alive]
    score = InceptionScore(feature=torch.nn.Identity(), splits=1)
    score.update(model.logits(first).double())
    return scipy_frechet(feats_a, feats_b), score.compute()[0].item()


# --------------------------------------------------------------------------
# Fréchet distance
# --------------------------------------------------------------------------


def test_frechet_distance_of_diagonal_gaussians_matches_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([0.5, 1.0, 1.0])
    s1, s2 = np.array([1.0, 2.0, 0.5]), np.array([3.0, 1.0, 0.5])  # standard deviations
    expected = ((mu1 - mu2) ** 2).sum() + ((s1 - s2) ** 2).sum()  # 9.25 + 5
    fd = frechet_distance(FeatureStats(mu1, np.diag(s1**2), 100), FeatureStats(mu2, np.diag(s2**2), 100))
    assert abs(fd - expected) < 1e-9
    assert abs(expected - 14.25) < 1e-12


def test_frechet_distance_of_sampled_gaussians_approaches_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2, s1, s2 = np.zeros(4), np.array([1.0, 0, 0, 2]), np.ones(4), np.array([2.0, 1, 1, 0.5])
    a = mu1 + s1 * rng.standard_normal((50_000, 4))
    b = mu2 + s2 * rng.standard_normal((50_000, 4))
    expected = ((mu1 - mu2) ** 2).sum() + ((s1 - s2) ** 2).sum()  # 5 + 1.25
    assert abs(frechet_distance(a, b) - expected) < 0.1


def test_frechet_distance_matches_scipy_and_torchmetrics_on_correlated_features():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((400, 16)) @ rng.standard_normal((16, 16))
    b = rng.standard_normal((300, 16)) @ rng.standard_normal((16, 16)) + 0.3
    fd = frechet_distance(a, b)
    sa, sb = FeatureStats(a.mean(0), np.cov(a, rowvar=False), 400), FeatureStats(b.mean(0), np.cov(b, rowvar=False), 300)
    tm = _compute_fid(*(torch.from_numpy(v) for v in (sa.mu, sa.sigma, sb.mu, sb.sigma))).item()
    assert abs(fd - scipy_frechet(a, b)) < 1e-6 * fd
    assert abs(fd - tm) < 1e-6 * fd
    assert abs(fd - frechet_distance(b, a)) < 1e-9 * fd  # symmetric
    assert abs(fd - frechet_distance(torch.from_numpy(a).float(), b)) < 1e-4 * fd  # tensors accepted


def test_frechet_distance_of_a_set_with_itself_is_zero_even_when_rank_deficient():
    rng = np.random.default_rng(2)
    full = rng.standard_normal((500, 8))
    deficient = rng.standard_normal((10, 32))  # 10 samples in 32 dimensions: singular covariance
    assert abs(frechet_distance(full, full)) < 1e-8
    with pytest.warns(SmallSampleWarning):  # it says so
        assert abs(frechet_distance(deficient, deficient)) < 1e-6
    assert frechet_distance(full, full + 1.0) == pytest.approx(8.0, abs=1e-8)  # mean shift only


def test_frechet_distance_rejects_bad_shapes():
    with pytest.raises(ValueError, match="feature sizes differ"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="N >= 2"):
        frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))


# --------------------------------------------------------------------------
# Classifier score
# --------------------------------------------------------------------------


def test_classifier_score_of_confident_predictions_spread_over_k_classes_is_k():
    for k in (2, 5, 10):
        probs = np.eye(10)[np.arange(200) % k]  # each of k classes equally often, fully confident
        assert abs(classifier_score(probs) - k) < 1e-9


def test_classifier_score_of_identical_predictions_is_one():
    probs = np.tile([0.1, 0.6, 0.3], (50, 1))
    assert abs(classifier_score(probs) - 1.0) < 1e-12


def test_classifier_score_matches_torchmetrics_inception_score():
    logits = torch.randn(300, 10, generator=torch.Generator().manual_seed(0)).double() * 3
    reference = InceptionScore(feature=torch.nn.Identity(), splits=1)
    reference.update(logits)
    expected = reference.compute()[0].item()
    assert abs(classifier_score(logits) - expected) < 1e-9
    assert abs(classifier_score(logits.softmax(1)) - expected) < 1e-9  # probabilities detected
    assert abs(classifier_score(logits, logits=True) - expected) < 1e-9


def test_classifier_score_rejects_bad_shape():
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        classifier_score(np.ones(10))


# --------------------------------------------------------------------------
# The classifier and its cache
# --------------------------------------------------------------------------


def test_tiny_classifier_is_far_above_chance_on_held_out_digits(tiny_classifier, held_out, digits):
    model, path = tiny_classifier
    held_x, held_y = held_out
    assert path.is_file() and len(held_x) == 150  # 10% of the 1,500 digits of the measure part
    assert 0.85 < model.heldout_accuracy <= 1.0  # chance is 0.1
    assert 0.85 < model.accuracy(*digits) <= 1.0  # also on the experiment part, which it never saw
    with torch.no_grad():
        logits = model.logits(held_x)  # (150, 10), one batch, not through predict/embed
    by_hand = (logits.argmax(1) == held_y).double().mean().item()
    assert abs(by_hand - model.heldout_accuracy) < 1e-12  # the fixture holds the classifier's held-out set
    assert abs(model.accuracy(held_x, held_y) - by_hand) < 1e-12
    feats, probs = model.embed(held_x[:7], batch_size=3)  # batched: 3 + 3 + 1
    assert feats.shape == (7, 128) and feats.dtype == np.float64
    assert np.abs(probs - logits[:7].double().softmax(1).numpy()).max() < 1e-6
    assert torch.equal(model.predict(held_x[:7], batch_size=2), logits[:7].argmax(1))
    assert model.features(held_x[:3]).shape == (3, 128) and model.logits(held_x[:3]).shape == (3, 10)


def test_cached_classifier_is_loaded_without_training(tiny_classifier, monkeypatch):
    model, path = tiny_classifier
    monkeypatch.setenv("GANCORE_DATA_DIR", str(path.parent))
    monkeypatch.setattr(metrics, "train_classifier", lambda *a, **k: pytest.fail("retrained a valid cache"))
    loaded = get_classifier("mnist", device="cpu", progress=False, settings=TINY)
    assert loaded.heldout_accuracy == model.heldout_accuracy
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name


def _fast_untrained(*args, **kwargs):
    return DigitClassifier().eval()


@pytest.fixture
def fake_training(digits, tmp_path, monkeypatch):
    """An empty data folder, a small data set and a training stub, for the cache logic alone."""
    monkeypatch.setenv("GANCORE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(metrics, "load_dataset", lambda *a, **k: ImageSplit(*digits, source="test"))
    calls = []
    monkeypatch.setattr(metrics, "train_classifier", lambda *a, **k: calls.append(1) or _fast_untrained())
    return calls


def test_corrupt_cache_is_retrained_with_a_warning(fake_training, digits, caplog):
    path = classifier_path("mnist")
    path.write_bytes(b"not a torch file")
    with caplog.at_level(logging.WARNING, logger="gancore"):
        model = get_classifier("mnist", device="cpu", progress=False, settings=TINY)
    assert any("unreadable" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert fake_training == [1]
    # get_classifier held out 10% of the measure part (150 of the 500 stubbed digits), by the seeded permutation
    measure_x, measure_y = partition(ImageSplit(*digits, source="test"), "measure")
    held = torch.randperm(len(measure_x), generator=torch.Generator().manual_seed(TINY.seed))[:15]
    with torch.no_grad():
        by_hand = (model.logits(measure_x[held]).argmax(1) == measure_y[held]).double().mean().item()
    assert abs(model.heldout_accuracy - by_hand) < 1e-12
    reloaded = get_classifier("mnist", device="cpu", progress=False, settings=TINY)
    assert fake_training == [1] and reloaded.heldout_accuracy == model.heldout_accuracy  # rewritten, valid


def test_cache_with_other_settings_is_retrained(tiny_classifier, fake_training, caplog):
    _, path = tiny_classifier
    classifier_path("mnist").write_bytes(path.read_bytes())
    get_classifier("mnist", device="cpu", progress=False, settings=TINY)
    assert fake_training == [1]  # trained on other digits than the stub's: retrained
    get_classifier("mnist", device="cpu", progress=False, settings=TINY)
    assert fake_training == [1]  # same settings and data: loaded
    fake_training.clear()
    with caplog.at_level(logging.WARNING, logger="gancore"):
        get_classifier("mnist", device="cpu", progress=False, settings=ClassifierSettings(steps=7, max_train=100))
    assert fake_training == [1]
    assert any("trained with" in r.getMessage() and str(classifier_path("mnist")) in r.getMessage()
               for r in caplog.records)


def test_a_cache_trained_on_other_data_is_retrained(digits, fake_training, monkeypatch, caplog):
    """The 5,000 offline digits, then the full set downloaded: the cache key holds the data."""
    get_classifier("mnist", device="cpu", progress=False, settings=TINY)
    get_classifier("mnist", device="cpu", progress=False, settings=TINY)
    assert fake_training == [1]
    more = ImageSplit(torch.cat([digits[0], digits[0]]), torch.cat([digits[1], digits[1]]),
                      source="torchvision download into /somewhere")
    monkeypatch.setattr(metrics, "load_dataset", lambda *a, **k: more)
    with caplog.at_level(logging.WARNING, logger="gancore"):
        model = get_classifier("mnist", device="cpu", progress=False, settings=TINY)
    assert fake_training == [1, 1]
    assert any("'source': 'torchvision download'" in r.getMessage() for r in caplog.records)
    assert model.cache_info["source"].startswith("torchvision download into /somewhere")


def test_a_cache_trained_on_the_whole_split_is_retrained(tiny_classifier, fake_training, caplog):
    """Caches from before the measure/experiment partition lack its settings: stale, so retrained."""
    model, _ = tiny_classifier
    old = {k: v for k, v in {"dataset": "mnist", **asdict(TINY)}.items() if k != "part"}
    save_net(classifier_path("mnist"), model, "mnist classifier", old, 0.99)
    with caplog.at_level(logging.WARNING, logger="gancore"):
        retrained = get_classifier("mnist", device="cpu", progress=False, settings=TINY)
    assert fake_training == [1] and retrained.heldout_accuracy != 0.99
    assert any("trained with" in r.getMessage() for r in caplog.records)


def test_classifier_trains_on_the_measure_part_only(data_folder, tmp_path, monkeypatch):
    """What train_classifier receives, compared by pixels with the two parts of the real split."""
    monkeypatch.setenv("GANCORE_DATA_DIR", str(tmp_path))  # no cache: it must train
    seen = []
    monkeypatch.setattr(metrics, "train_classifier", lambda x, y, *a, **k: seen.append((x, y)) or _fast_untrained())
    model = get_classifier("mnist", device="cpu", progress=False, settings=TINY)
    split = load_dataset("mnist", "train")
    measure, experiment = partition(split, "measure"), partition(split, "experiment")
    (train_x, train_y), = seen
    assert len(train_x) == 1350 and len(measure) == 1500  # 90% of the measure part; 10% held out
    assert count_shared(train_x, measure.images) == len(train_x)
    assert count_shared(train_x, experiment.images) == 0
    label_of = {image.numpy().tobytes(): int(y) for image, y in zip(measure.images, measure.labels)}
    assert [label_of[image.numpy().tobytes()] for image in train_x] == train_y.tolist()  # with their labels
    assert "measure part" in model.cache_info["source"]
    with pytest.raises(ValueError, match="unknown part"):
        get_classifier("mnist", device="cpu", progress=False, settings=ClassifierSettings(part="all"))


def test_training_is_seeded_and_leaves_the_global_rng_alone(digits):
    images, labels = digits
    settings = ClassifierSettings(steps=3, max_train=None)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = train_classifier(images, labels, settings, device="cpu", progress=False)
    assert torch.equal(torch.get_rng_state(), state)
    b = train_classifier(images, labels, settings, device="cpu", progress=False)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_classifier_rejects_wrong_shape_and_range(tiny_classifier):
    model, _ = tiny_classifier
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        model.embed(torch.zeros(4, 784))
    with pytest.raises(ValueError, match="127.5"):
        model.embed(torch.full((4, 1, 28, 28), 255.0))


# --------------------------------------------------------------------------
# Evaluating samples
# --------------------------------------------------------------------------


def test_evaluate_samples_matches_the_parts_and_separates_noise_from_digits(tiny_classifier, digits):
    model, _ = tiny_classifier
    held_x, _ = digits
    first, second = held_x[:250], held_x[250:]
    fd, score = reference_scores(model, first, second)
    result = evaluate_samples(first, second, model)
    # 1e-5: the square roots of the covariances' round-off eigenvalues (~1e-16) shift FD by ~1e-6
    assert abs(result["fd"] - fd) < 1e-5 * fd
    assert abs(result["score"] - score) < 1e-9
    assert abs(evaluate_samples(first, reference_stats(second, model), model)["fd"] - fd) < 1e-5 * fd
    assert evaluate_samples(first, first, model)["fd"] < 1e-6
    noise = torch.rand(250, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert evaluate_samples(noise, second, model)["fd"] > 10 * result["fd"]


def test_real_data_floor_is_fd_between_real_sets_and_their_scores(tiny_classifier, digits):
    model, _ = tiny_classifier
    held_x, _ = digits
    floor = real_data_floor(held_x[:250], held_x[250:], model)
    fd, score_train = reference_scores(model, held_x[:250], held_x[250:])
    _, score = reference_scores(model, held_x[250:], held_x[:250])
    assert abs(floor["fd"] - fd) < 1e-5 * fd
    assert abs(floor["score_train"] - score_train) < 1e-9
    assert abs(floor["score"] - score) < 1e-9
    assert 5.0 < floor["score"] < 10.0  # ten classes, 500 real digits, an imperfect classifier
