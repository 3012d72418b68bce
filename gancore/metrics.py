"""Sample quality on MNIST-like data: a small digit classifier, the Fréchet
distance on its features and the classifier ("Inception") score.

The Inception network of FID is overkill, and off-line unavailable, for 28x28
digits, so gancore trains its own LeNet-style classifier on the real training
split and uses it the same way:

    FD    = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)
    score = exp( E_x KL(p(y|x) || p(y)) ),   p(y) = E_x p(y|x)

with (mu, S) the mean and covariance of the penultimate features (float64).
FD is 0 for identical statistics; the score runs from 1 (every sample looks
the same to the classifier) to K (confident and evenly spread over K classes).
Numbers are comparable only under the same classifier and the same sample
sizes, so compare against :func:`real_data_floor`, computed the same way.

The trained classifier is cached in ``data/classifier_<dataset>.pt``. The
cache is derived data: when it is unreadable, or was trained with other
settings, :func:`get_classifier` logs why and trains again (well under a
minute on two CPU cores), then replaces the file atomically. It is not
retrained when a larger training set appears later (say, full MNIST after the
5,000 offline digits): delete the file to retrain on it.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits
from torch import Tensor, nn
from tqdm.auto import tqdm

from .augment import random_translate
from .data import holdout_split, load_dataset
from .paths import atomic_write, data_dir
from .trainer import default_device

log = logging.getLogger("gancore")

CLASSIFIER_FORMAT = "gancore-classifier-v1"


@dataclass(frozen=True)
class ClassifierSettings:
    """How the cached classifier was trained; a cache with other settings is retrained."""

    steps: int = 600           # Adam steps of ``batch_size`` images (~8 epochs of 4,500)
    batch_size: int = 64
    lr: float = 2e-3           # cosine-decayed to 0
    max_shift: int = 2         # random translation in pixels (augmentation)
    max_train: int | None = None  # use at most this many training images (quick tests)
    holdout_fraction: float = 0.1  # held out for the accuracy, at most 5,000 images
    seed: int = 0


# --------------------------------------------------------------------------
# The classifier
# --------------------------------------------------------------------------


class DigitClassifier(nn.Module):
    """LeNet-style: (1, 28, 28) -> conv 3x3 -> pool -> conv 3x3 -> pool -> fc -> K.

    Input images in [-1, 1]; ``features`` are the ReLU outputs of the hidden
    fully connected layer, shape (N, feature_dim), the FD's feature space.
    """

    def __init__(self, n_classes: int = 10, channels: tuple[int, int] = (16, 32), feature_dim: int = 128):
        super().__init__()
        c1, c2 = channels
        self.arch = {"n_classes": n_classes, "channels": [c1, c2], "feature_dim": feature_dim}
        self.body = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # (N, c1, 14, 14)
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, c2, 7, 7)
            nn.Flatten(),
            nn.Linear(c2 * 7 * 7, feature_dim), nn.ReLU(),                # (N, F)
        )
        self.head = nn.Linear(feature_dim, n_classes)
        self.heldout_accuracy = float("nan")

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features (N, F) of images (N, 1, 28, 28) in [-1, 1]."""
        return self.body(x)

    def logits(self, x: Tensor) -> Tensor:
        """Class logits (N, K)."""
        return self.head(self.body(x))

    forward = logits

    @torch.no_grad()
    def embed(self, images: Tensor, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
        """Features (N, F) float64 and class probabilities (N, K) float64, in batches, no grad."""
        _check_images(images)
        was_training = self.training
        self.eval()
        feats, probs = [], []
        for start in range(0, len(images), batch_size):
            x = images[start:start + batch_size].to(self.device, torch.float32)
            h = self.body(x)  # (B, F)
            feats.append(h.double().cpu())
            probs.append(self.head(h).double().softmax(1).cpu())
        self.train(was_training)
        return torch.cat(feats).numpy(), torch.cat(probs).numpy()

    def predict_proba(self, images: Tensor, batch_size: int = 1000) -> np.ndarray:
        """Class probabilities (N, K), batched and without gradients."""
        return self.embed(images, batch_size)[1]

    def predict(self, images: Tensor, batch_size: int = 1000) -> Tensor:
        """Predicted labels (N,) int64 on the CPU, batched and without gradients."""
        return torch.from_numpy(self.predict_proba(images, batch_size).argmax(1))

    def accuracy(self, images: Tensor, labels: Tensor) -> float:
        """Fraction of ``images`` classified as ``labels``."""
        return float((self.predict(images) == labels.cpu()).double().mean())


def _check_images(images: Tensor) -> None:
    if not isinstance(images, Tensor) or images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"the digit classifier takes a tensor of shape (N, 1, 28, 28), got {shape}; "
                         "reshape with images.view(-1, 1, 28, 28)")
    if len(images) and (images.min() < -1.01 or images.max() > 1.01):
        raise ValueError(f"images must lie in [-1, 1], got [{images.min():.3g}, {images.max():.3g}]; "
                         "scale uint8 pixels with x / 127.5 - 1")


@contextmanager
def _cpu_threads(n: int | None):
    """Temporarily use ``n`` torch CPU threads (None: leave as is)."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_classifier(images: Tensor, labels: Tensor, settings: ClassifierSettings = ClassifierSettings(),
                     device=None, progress: bool = True, threads: int | None = 1) -> DigitClassifier:
    """Train a :class:`DigitClassifier` on in-memory images; deterministic from ``settings.seed``.

    The caller's global RNG state is left untouched, so training it (or not,
    when cached) never changes a seeded notebook's results. ``threads=1``:
    batches of 64 small images gain little from a second CPU thread, and are
    ~10x slower with two when other processes share the cores.
    """
    device = torch.device(device) if device is not None else default_device()
    s = settings
    with torch.random.fork_rng(devices=[]), _cpu_threads(threads if device.type == "cpu" else None):
        torch.manual_seed(s.seed)
        model = DigitClassifier(n_classes=int(labels.max()) + 1).to(device)
        rng = torch.Generator().manual_seed(s.seed)
        opt = torch.optim.Adam(model.parameters(), lr=s.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=s.steps)
        model.train()
        order = torch.randperm(len(images), generator=rng)
        pos = 0
        for _ in tqdm(range(s.steps), desc="digit classifier", disable=not progress, leave=False):
            if pos + s.batch_size > len(order):
                order, pos = torch.randperm(len(images), generator=rng), 0
            idx = order[pos:pos + s.batch_size]
            pos += s.batch_size
            x = random_translate(images[idx], s.max_shift, rng).to(device)
            loss = F.cross_entropy(model(x), labels[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


# --------------------------------------------------------------------------
# The cache
# --------------------------------------------------------------------------


def classifier_path(dataset: str = "mnist") -> Path:
    """Where :func:`get_classifier` caches the classifier of ``dataset``."""
    return data_dir() / f"classifier_{dataset}.pt"


def get_classifier(dataset: str = "mnist", device=None, progress: bool = True,
                   settings: ClassifierSettings | None = None) -> DigitClassifier:
    """The feature classifier of ``dataset`` ('mnist' or 'fashion'), from the cache or trained now.

    Training uses the real training split (``load_dataset(dataset, 'train')``)
    minus a seeded held-out part, whose accuracy is logged and kept in
    ``.heldout_accuracy``. A corrupt or out-of-date cache is retrained, with a
    logged warning. ``settings`` (e.g. ``ClassifierSettings(steps=100,
    max_train=1000)``) is for quick tests.
    """
    settings = settings or ClassifierSettings()
    device = torch.device(device) if device is not None else default_device()
    path = classifier_path(dataset)
    if path.exists():
        try:
            return _load(path, dataset, settings).to(device)
        except _StaleCache as exc:
            log.info("retraining the %s classifier: %s", dataset, exc)
        except Exception as exc:  # unreadable: a cache, so rebuild rather than fail
            log.warning("the cached classifier %s is unreadable (%s: %s); training a new one",
                        path, type(exc).__name__, exc)

    split = load_dataset(dataset, "train")
    images, labels, images_source = split.images, split.labels, split.source
    n_holdout = min(5000, max(1, round(settings.holdout_fraction * len(images))))
    train_x, train_y, held_x, held_y = holdout_split(images, labels, n_holdout, seed=settings.seed)
    if settings.max_train is not None:
        train_x, train_y = train_x[:settings.max_train], train_y[:settings.max_train]
    model = train_classifier(train_x, train_y, settings, device, progress)
    model.heldout_accuracy = model.accuracy(held_x, held_y)
    log.info("%s classifier: %.2f%% accuracy on %d held-out images (trained on %d); cached in %s",
             dataset, 100 * model.heldout_accuracy, n_holdout, len(train_x), path)
    _save(model, path, dataset, settings, source=images_source)
    return model


class _StaleCache(Exception):
    pass


def _save(model: DigitClassifier, path: Path, dataset: str, settings: ClassifierSettings,
          source: str) -> None:
    state = {"format": CLASSIFIER_FORMAT, "dataset": dataset, "settings": asdict(settings), "source": source,
             "arch": model.arch, "heldout_accuracy": model.heldout_accuracy,
             "state_dict": {k: v.cpu() for k, v in model.state_dict().items()}}
    with atomic_write(path) as fh:  # readers see the old file or the new one, never half
        torch.save(state, fh)


def _load(path: Path, dataset: str, settings: ClassifierSettings) -> DigitClassifier:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != CLASSIFIER_FORMAT:
        raise ValueError(f"not a {CLASSIFIER_FORMAT} file")
    if state["dataset"] != dataset or state["settings"] != asdict(settings):
        raise _StaleCache(f"{path} was trained on {state['dataset']!r} with {state['settings']}")
    arch = state["arch"]
    model = DigitClassifier(arch["n_classes"], tuple(arch["channels"]), arch["feature_dim"])
    model.load_state_dict(state["state_dict"])
    model.heldout_accuracy = float(state["heldout_accuracy"])
    return model.eval()


# --------------------------------------------------------------------------
# Fréchet distance and classifier score
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureStats:
    """Mean (F,) and covariance (F, F) of n feature vectors, float64."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int


def _one_blas_thread():
    """Matrices of 128 x 128 gain nothing from BLAS threads; on shared cores
    the threads' waiting for each other makes an eigh 100x slower."""
    return threadpool_limits(1, user_api="blas")


def feature_stats(features) -> FeatureStats:
    """Mean and (unbiased) covariance of features (N, F), in float64."""
    if isinstance(features, FeatureStats):
        return features
    f = features.detach().cpu().numpy() if isinstance(features, Tensor) else np.asarray(features)
    f = f.astype(np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"features must have shape (N, F) with N >= 2, got {f.shape}")
    with _one_blas_thread():
        sigma = np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])
    return FeatureStats(f.mean(0), sigma, len(f))


def _sqrt_psd(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (clipped at 0) and square root of a symmetric PSD matrix."""
    vals, vecs = np.linalg.eigh((matrix + matrix.T) / 2)
    vals = np.clip(vals, 0.0, None)  # round-off makes tiny eigenvalues negative
    return vals, (vecs * np.sqrt(vals)) @ vecs.T


def frechet_distance(feats_a, feats_b) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, F), in float64.

    FD = ||mu_a - mu_b||^2 + Tr(S_a) + Tr(S_b) - 2 Tr((S_a^1/2 S_b S_a^1/2)^1/2)

    The last trace equals Tr((S_a S_b)^1/2); computing it from symmetric
    eigendecompositions keeps it real, so no imaginary round-off to discard.
    Either argument may also be a :class:`FeatureStats`.
    """
    a, b = feature_stats(feats_a), feature_stats(feats_b)
    if a.mu.shape != b.mu.shape:
        raise ValueError(f"feature sizes differ: {a.mu.shape[0]} vs {b.mu.shape[0]}")
    with _one_blas_thread():
        _, root_a = _sqrt_psd(a.sigma)
        cross_vals, _ = _sqrt_psd(root_a @ b.sigma @ root_a)
    fd = np.sum((a.mu - b.mu) ** 2) + np.trace(a.sigma) + np.trace(b.sigma) - 2 * np.sqrt(cross_vals).sum()
    return float(max(fd, 0.0))


def classifier_score(probs_or_logits, logits: bool | None = None) -> float:
    """Inception score with the digit classifier, over all N samples at once.

    score = exp( mean_x sum_y p(y|x) (log p(y|x) - log p(y)) ),  p(y) = mean_x p(y|x)

    Input (N, K): probabilities, or logits when ``logits=True``. With the
    default ``None``, rows that are non-negative and sum to 1 are taken as
    probabilities, anything else as logits.
    """
    t = torch.as_tensor(probs_or_logits).detach().cpu().double()
    if t.dim() != 2 or len(t) == 0:
        raise ValueError(f"expected probabilities or logits of shape (N, K), got {tuple(t.shape)}")
    if logits is None:
        logits = not (bool((t >= 0).all()) and torch.allclose(t.sum(1), torch.ones(len(t), dtype=t.dtype), atol=1e-4))
    log_p = t.log_softmax(1) if logits else t.clamp_min(1e-300).log()
    p = log_p.exp()
    log_marginal = p.mean(0).clamp_min(1e-300).log()
    kl = (p * (log_p - log_marginal)).sum(1)  # (N,)
    return float(kl.mean().exp())


# --------------------------------------------------------------------------
# Evaluating samples
# --------------------------------------------------------------------------


def reference_stats(images: Tensor, classifier: DigitClassifier) -> FeatureStats:
    """Feature statistics of a reference set, to reuse across many evaluations."""
    return feature_stats(classifier.embed(images)[0])


def evaluate_samples(samples: Tensor, reference, classifier: DigitClassifier) -> dict:
    """``{'fd': ..., 'score': ...}`` of generated ``samples`` (N, 1, 28, 28) in [-1, 1].

    ``reference`` is real images or their :func:`reference_stats`. Use the
    same number of samples as :func:`real_data_floor` did: FD is biased
    upwards for small N.
    """
    feats, probs = classifier.embed(samples)
    ref = reference if isinstance(reference, FeatureStats) else reference_stats(reference, classifier)
    return {"fd": frechet_distance(feats, ref), "score": classifier_score(probs, logits=False)}


def real_data_floor(train_images: Tensor, heldout_images: Tensor, classifier: DigitClassifier) -> dict:
    """What real data scores: FD between two real sets, and the score of each.

    ``{'fd': FD(train, heldout), 'score': score(heldout), 'score_train': score(train)}``.
    A generator trained on ``train_images`` cannot be expected to beat this FD.
    """
    feats_train, probs_train = classifier.embed(train_images)
    feats_held, probs_held = classifier.embed(heldout_images)
    return {"fd": frechet_distance(feats_train, feats_held),
            "score": classifier_score(probs_held, logits=False),
            "score_train": classifier_score(probs_train, logits=False)}
