"""The LeNet-style digit classifier whose features measure MNIST samples."""
from __future__ import annotations

import logging

import numpy as np
import torch
from torch import Tensor, nn

log = logging.getLogger("gancore")


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
