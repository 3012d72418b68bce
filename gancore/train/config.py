"""The GAN trainer's hyper-parameters: everything a checkpoint must agree on to resume."""
from __future__ import annotations

import math
from dataclasses import dataclass

from gancore.data.augment import parse_policy
from gancore.losses import get_gan_loss


@dataclass
class TrainConfig:
    """Hyper-parameters; everything a checkpoint must agree on to resume."""

    loss: str = "nonsaturating"   # a name from gancore.losses.LOSS_NAMES
    batch_size: int = 64
    d_steps: int = 1              # discriminator steps per generator step
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    adv_weight: float = 1.0       # weight of L_adv in L_G; 0 pauses D (neither used nor trained)
    gp_weight: float | None = None  # None: the loss's own default (10 for wgan_gp)
    augment_shift: int = 0        # D sees real and fake images shifted by up to this many pixels
    augment: str = ""             # more DiffAugment policies for D's inputs: "color", "cutout", "color,cutout"
    r1_gamma: float = 0.0         # gamma of the R1 penalty gamma / 2 * E||grad_x D(x)||^2 on real images (0: off)
    r1_every: int = 1             # lazy R1: penalise every k-th D step, weighted k times (StyleGAN2)
    cr_weight: float = 0.0        # bCR's lambda_real = lambda_fake: E(D(x) - D(T(x)))^2 on both (0: off)
    cr_shift: int = 3             # bCR's T: a random shift by up to this many pixels (1/8 of 28, rounded)
    mismatch_weight: float = 0.0  # w of matching-aware negatives (losses.matching_aware_d_loss); 0: off
    lr_decay_steps: int = 0       # cosine decay of both learning rates to 0 over this many steps (0: constant)
    sample_every: int = 100       # steps between sample grids (0: never)
    n_samples: int = 64           # images in each sample grid
    seed: int = 0

    def __post_init__(self):
        get_gan_loss(self.loss)  # unknown name -> ValueError listing the valid ones
        self.betas = tuple(self.betas)
        parse_policy(self.augment)  # unknown policy -> ValueError listing the valid ones
        if int(self.augment_shift) < 0:
            raise ValueError(f"augment_shift must be >= 0, got {self.augment_shift}")
        if int(self.cr_shift) < 1:
            raise ValueError(f"cr_shift must be >= 1 (bCR's T must change the image), got {self.cr_shift}")
        for name in ("batch_size", "d_steps", "n_samples", "r1_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lr_g", "lr_d"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("adv_weight", "gp_weight", "r1_gamma", "cr_weight"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < math.inf:  # also rejects NaN
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        if not 0 <= self.mismatch_weight < 1:  # 1 would drop the generated images from D's loss
            raise ValueError(f"mismatch_weight must be in [0, 1), got {self.mismatch_weight}")
        if int(self.lr_decay_steps) < 0:
            raise ValueError(f"lr_decay_steps must be >= 0 (0: constant rates), got {self.lr_decay_steps}")
        if self.sample_every < 0:
            raise ValueError(f"sample_every must be >= 0, got {self.sample_every}")

    def lr_factor(self, step: int) -> float:
        """The learning rates' multiplier before step ``step + 1``: 1 without decay, else the cosine
        0.5 (1 + cos(pi min(step, N) / N)) with N = ``lr_decay_steps``, from 1 down to 0 at step N.
        A function of the step alone, so a resumed run takes the same rates as an uninterrupted one."""
        n = int(self.lr_decay_steps)
        return 1.0 if n == 0 else 0.5 * (1 + math.cos(math.pi * min(step, n) / n))
