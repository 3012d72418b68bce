"""Conditional generators and discriminators.

Two conditions, one calling convention (``G(z, *condition)``, ``D(x, *condition)``):

class label  ``G(z, labels)`` and ``D(x, labels)`` on 28x28 MNIST. G takes the label
             through conditional batch norm; D is a projection discriminator.
style        ``G(z, content, exemplar)`` restyles a grey content image like a
             colour exemplar: a U-Net on the content, whose decoder is modulated
             by AdaIN with a code from a style encoder. ``z_dim = 0``: the style
             is given, not sampled. ``D(image, content, exemplar)`` is a
             conditional PatchGAN that returns one logit per patch, (B, 1, h, w).

Style models check their inputs with ``check_inputs`` (also called in forward),
so a content or exemplar of the wrong shape fails with one clear ValueError on
the first batch, before any parameter is updated.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .models import Discriminator, Generator, init_weights


def check_labels(labels: Tensor, n_classes: int, batch: int) -> None:
    """Labels must be integer class indices (B,) in [0, n_classes)."""
    if labels.dtype.is_floating_point or labels.dtype == torch.bool or labels.dim() != 1:
        raise ValueError(f"labels must be int64 class indices of shape (B,), got dtype "
                         f"{labels.dtype} and shape {tuple(labels.shape)}")
    if len(labels) != batch:
        raise ValueError(f"got {len(labels)} labels for a batch of {batch}; pass one label per sample")
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got values in "
                         f"[{labels.min().item()}, {labels.max().item()}]")


# --------------------------------------------------------------------------
# Class-conditional GAN (MNIST)
# --------------------------------------------------------------------------


class ClassBatchNorm(nn.Module):
    """Conditional batch norm (de Vries et al. 2017): normalise, then scale and shift per class.

    CBN(h, y) = gamma_y * (h - mu_batch) / sigma_batch + beta_y

    per channel of (B, C, H, W) maps with ``spatial=True`` (BatchNorm2d), per unit of
    (B, C) vectors otherwise (BatchNorm1d).
    """

    def __init__(self, features: int, n_classes: int, spatial: bool = True):
        super().__init__()
        self.norm = (nn.BatchNorm2d if spatial else nn.BatchNorm1d)(features, affine=False)
        self.gamma = nn.Embedding(n_classes, features)
        self.beta = nn.Embedding(n_classes, features)
        nn.init.normal_(self.gamma.weight, 1.0, 0.02)  # DCGAN's batch-norm init, per class
        nn.init.zeros_(self.beta.weight)

    def forward(self, h: Tensor, labels: Tensor) -> Tensor:
        shape = (len(h), -1) + (1,) * (h.dim() - 2)  # (B, C, 1, 1) or (B, C)
        return self.gamma(labels).view(shape) * self.norm(h) + self.beta(labels).view(shape)


class ClassConditionalGenerator(Generator):
    """G(z, y) for 28x28: z -> (2w, 7, 7) -> (w, 14, 14) -> (C, 28, 28), DCGAN-like.

    The label enters through conditional batch norm after the projection (per
    unit) and after the first transposed conv (per channel). It is *not*
    concatenated to z: batch norm would then normalise the label's variation
    together with z's, and G can let z fade while the ten labels keep up the
    batch variance, ending with one image per class whatever the noise (in our
    runs the pixel spread within a class fell below a fifth of the real
    digits'). With the label outside the normalisation, batch norm restores
    z's variation at every step and the label only modulates it.
    """

    def __init__(self, z_dim: int = 64, width: int = 32, n_classes: int = 10, channels: int = 1):
        super().__init__()
        self.z_dim, self.width, self.n_classes = z_dim, width, n_classes
        self.project = nn.Linear(z_dim, 2 * width * 7 * 7, bias=False)
        self.norm0 = ClassBatchNorm(2 * width * 7 * 7, n_classes, spatial=False)
        self.up1 = nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False)  # (B, w, 14, 14)
        self.norm1 = ClassBatchNorm(width, n_classes)
        self.up2 = nn.ConvTranspose2d(width, channels, 4, 2, 1)  # (B, C, 28, 28)
        for layer in (self.project, self.up1, self.up2):
            init_weights(layer)

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        check_labels(labels, self.n_classes, len(z))
        h = F.relu(self.norm0(self.project(z), labels))  # (B, 2w*49)
        h = F.relu(self.norm1(self.up1(h.view(-1, 2 * self.width, 7, 7)), labels))  # (B, w, 14, 14)
        return torch.tanh(self.up2(h))  # (B, C, 28, 28)


class ClassConditionalDiscriminator(Discriminator):
    """Projection discriminator (Miyato & Koyama 2018) for 28x28.

    phi(x): (C, 28, 28) -> (w, 14, 14) -> (2w, 7, 7) -> flattened (B, 2w*49)
    D(x, y) = w^T phi(x) + b + embed(y)^T phi(x)

    The inner product asks "does x look like class y", which conditions D far
    more sharply than concatenating the label to the input. No batch norm, so
    the gradient penalty of WGAN-GP stays per sample.
    """

    def __init__(self, width: int = 32, n_classes: int = 10, channels: int = 1):
        super().__init__()
        self.n_classes = n_classes
        self.phi = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True),  # (B, w, 14, 14)
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2, True),  # (B, 2w, 7, 7)
            nn.Flatten(),  # (B, 2w*49)
        )
        self.linear = nn.Linear(2 * width * 7 * 7, 1)
        self.embed = nn.Embedding(n_classes, 2 * width * 7 * 7)
        init_weights(self)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        check_labels(labels, self.n_classes, len(x))
        h = self.phi(x)  # (B, F)
        return self.linear(h).squeeze(1) + (self.embed(labels) * h).sum(1)  # (B,)


@torch.no_grad()
def class_grid(generator: ClassConditionalGenerator, n_noise: int, seed: int = 0) -> Tensor:
    """Every class (rows) times ``n_noise`` noise vectors (columns), in eval mode, on the CPU.

    Returns (n_classes * n_noise, C, H, W) row by row, for ``show_grid(x, nrow=n_noise)``.
    Column j uses the same z for every class, so down a column only the label changes.
    """
    device = next(generator.parameters()).device
    z = generator.sample_noise(n_noise, torch.Generator().manual_seed(seed))  # (n_noise, z_dim)
    z = z.repeat(generator.n_classes, 1)  # (K * n_noise, z_dim): the same columns in every row
    labels = torch.arange(generator.n_classes).repeat_interleave(n_noise)  # (K * n_noise,)
    was_training = generator.training
    generator.eval()
    out = generator(z.to(device), labels.to(device)).cpu()
    generator.train(was_training)
    return out


# --------------------------------------------------------------------------
# Style-conditioned GAN (32x32 colour)
# --------------------------------------------------------------------------


def _check_image(name: str, x: Tensor, channels: int, argument: str) -> None:
    if not isinstance(x, Tensor) or x.dim() != 4:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a (B, C, H, W) image tensor, got {shape}")
    if x.shape[1] != channels:
        raise ValueError(f"{name} has {x.shape[1]} channels but the model was built for {channels}; "
                         f"rebuild it with {argument}={x.shape[1]} or convert the images")


def check_style_inputs(content: Tensor, exemplar: Tensor, content_channels: int,
                       style_channels: int) -> None:
    """Content (B, Cc, H, W) and exemplar (B, Cs, H, W): channels as built, same B, H, W."""
    _check_image("content", content, content_channels, "content_channels")
    _check_image("exemplar", exemplar, style_channels, "style_channels")
    if content.shape[0] != exemplar.shape[0]:
        raise ValueError(f"content has {content.shape[0]} images but exemplar has "
                         f"{exemplar.shape[0]}; pass one exemplar per content image")
    if content.shape[2:] != exemplar.shape[2:]:
        raise ValueError(f"content is {tuple(content.shape[2:])} pixels but exemplar is "
                         f"{tuple(exemplar.shape[2:])}; resize them to the same size")
    h, w = content.shape[2:]
    if h % 4 or w % 4:
        raise ValueError(f"image size must be divisible by 4 (two 2x down-samplings), got {h}x{w}")


class AdaIN(nn.Module):
    """Adaptive instance norm (Huang & Belongie 2017), as FiLM on normalised features.

    AdaIN(h, s) = (1 + gamma(s)) * (h - mu(h)) / sigma(h) + beta(s),
    mu, sigma per sample and channel; gamma, beta linear in the style code s.
    """

    def __init__(self, channels: int, style_dim: int):
        super().__init__()
        self.affine = nn.Linear(style_dim, 2 * channels)

    def forward(self, h: Tensor, style: Tensor) -> Tensor:
        gamma, beta = self.affine(style)[:, :, None, None].chunk(2, dim=1)  # (B, C, 1, 1) each
        return (1 + gamma) * F.instance_norm(h) + beta


class StyleEncoder(nn.Module):
    """Exemplar (Cs, H, W) -> (w, H/2) -> (2w, H/4) -> (4w, H/8) -> mean over space -> (code_dim,).

    Averaging over space keeps what the style is (colours, texture statistics)
    and throws away where things are, i.e. the exemplar's own digit.
    """

    def __init__(self, channels: int, width: int, code_dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * width, 4 * width, 4, 2, 1), nn.LeakyReLU(0.2, True),
        )
        self.out = nn.Linear(4 * width, code_dim)

    def forward(self, exemplar: Tensor) -> Tensor:
        return self.out(self.net(exemplar).mean(dim=(2, 3)))  # (B, code_dim)


class _UpBlock(nn.Module):
    """x2 transposed conv, add the encoder's skip, AdaIN, ReLU.

    Adding the skip instead of concatenating it (as LinkNet does) halves the
    decoder's cost, which is what keeps a training step CPU-fast."""

    def __init__(self, in_channels: int, out_channels: int, style_dim: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1)
        self.adain = AdaIN(out_channels, style_dim)

    def forward(self, h: Tensor, skip: Tensor, style: Tensor) -> Tensor:
        return F.relu(self.adain(self.up(h) + skip, style))


class StyleGenerator(Generator):
    """G(z, content, exemplar): a small U-Net on the content, styled by AdaIN.

    encoder  content (Cc, H, W) -> e1 (w, H) -> e2 (2w, H/2) -> e3 (4w, H/4)
    decoder  AdaIN(e3) -> up + e2 -> AdaIN -> up + e1 -> AdaIN -> 1x1 conv -> (Cout, H, W)

    The skips carry the content's shape; every decoder layer's statistics come
    from the exemplar's style code. ``z`` is accepted for the trainer's sake
    and ignored (``z_dim = 0``).
    """

    z_dim = 0

    def __init__(self, content_channels: int = 1, style_channels: int = 3, out_channels: int = 3,
                 width: int = 16, style_dim: int = 64):
        super().__init__()
        self.content_channels, self.style_channels = content_channels, style_channels
        self.out_channels, self.width = out_channels, width
        w = width
        self.enc1 = nn.Sequential(nn.Conv2d(content_channels, w, 3, 1, 1), nn.LeakyReLU(0.2, True))
        self.enc2 = nn.Sequential(nn.Conv2d(w, 2 * w, 3, 2, 1), nn.LeakyReLU(0.2, True))
        self.enc3 = nn.Sequential(nn.Conv2d(2 * w, 4 * w, 3, 2, 1), nn.LeakyReLU(0.2, True))
        self.style = StyleEncoder(style_channels, w, style_dim)
        self.mid = AdaIN(4 * w, style_dim)
        self.dec2 = _UpBlock(4 * w, 2 * w, style_dim)
        self.dec1 = _UpBlock(2 * w, w, style_dim)
        self.to_image = nn.Conv2d(w, out_channels, 1)  # 1x1, as StyleGAN's toRGB: colour, no shape

    def check_inputs(self, content: Tensor, exemplar: Tensor) -> None:
        """Raise ValueError unless content and exemplar fit this generator and each other."""
        check_style_inputs(content, exemplar, self.content_channels, self.style_channels)

    def forward(self, z: Tensor, content: Tensor, exemplar: Tensor) -> Tensor:
        self.check_inputs(content, exemplar)
        s = self.style(exemplar)  # (B, style_dim)
        e1 = self.enc1(content)  # (B, w, H, W)
        e2 = self.enc2(e1)  # (B, 2w, H/2, W/2)
        e3 = self.enc3(e2)  # (B, 4w, H/4, W/4)
        h = F.relu(self.mid(e3, s))
        h = self.dec2(h, e2, s)  # (B, 2w, H/2, W/2)
        h = self.dec1(h, e1, s)  # (B, w, H, W)
        return torch.tanh(self.to_image(h))  # (B, Cout, H, W)


class PatchDiscriminator(Discriminator):
    """Conditional PatchGAN D(image, content, exemplar) -> (B, 1, H/4, W/4) logits.

    The content is pixel-aligned with the image, so it is concatenated as extra
    input channels (pix2pix). The exemplar is not aligned (it shows another
    digit), so it enters by projection: a style code c from a small encoder,
    and each patch's logit is  w^T h_p + b + c^T h_p.  Each logit sees an
    18x18-pixel patch, which judges texture and local colour, not global layout.
    No batch norm, so WGAN-GP's per-sample gradient penalty applies.
    """

    def __init__(self, image_channels: int = 3, content_channels: int = 1, style_channels: int = 3,
                 width: int = 16):
        super().__init__()
        self.image_channels, self.content_channels = image_channels, content_channels
        self.style_channels = style_channels
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(image_channels + content_channels, w, 4, 2, 1), nn.LeakyReLU(0.2, True),  # H/2
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.LeakyReLU(0.2, True),  # H/4
            nn.Conv2d(2 * w, 2 * w, 3, 1, 1), nn.LeakyReLU(0.2, True),  # (B, 2w, H/4, W/4)
        )
        self.logit = nn.Conv2d(2 * w, 1, 1)
        self.style = StyleEncoder(style_channels, max(1, w // 2), 2 * w)
        for layer in (self.body, self.logit):  # not the style encoder: with N(0, 0.02) weights
            init_weights(layer)                # its code, and so the projection term, starts near 0

    def check_inputs(self, image: Tensor, content: Tensor, exemplar: Tensor) -> None:
        """Raise ValueError unless image, content and exemplar fit this D and each other."""
        check_style_inputs(content, exemplar, self.content_channels, self.style_channels)
        _check_image("image", image, self.image_channels, "image_channels")
        if image.shape[0] != content.shape[0] or image.shape[2:] != content.shape[2:]:
            raise ValueError(f"image {tuple(image.shape)} and content {tuple(content.shape)} must "
                             "have the same batch size and pixel size")

    def forward(self, image: Tensor, content: Tensor, exemplar: Tensor) -> Tensor:
        self.check_inputs(image, content, exemplar)
        h = self.body(torch.cat([image, content], dim=1))  # (B, 2w, H/4, W/4)
        code = self.style(exemplar)[:, :, None, None]  # (B, 2w, 1, 1)
        return self.logit(h) + (code * h).sum(1, keepdim=True)  # (B, 1, H/4, W/4)
