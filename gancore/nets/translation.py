"""Style-transfer models: a U-Net restyled by AdaIN, and a conditional PatchGAN.

``G(content=..., exemplar=...)`` restyles a grey content image like a colour
exemplar: a U-Net on the content, whose decoder is modulated by AdaIN with a
code from a style encoder. There is no noise (``z_dim = 0``): the style is
given, not sampled. ``D(image, content=..., exemplar=...)`` is a conditional
PatchGAN that returns one logit per patch, (B, 1, h, w). The trainer passes
both inputs by name (``Trainer(..., inputs={"content": c, "exemplar": e})``).

Both check their inputs with ``check_inputs`` (also called in forward), so a
content or exemplar of the wrong shape fails with one clear ValueError on the
first batch, before any parameter is updated.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gancore.nets.base import Discriminator, Generator, init_weights

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
                       style_channels: int, multiple: int = 4) -> None:
    """Content (B, Cc, H, W) and exemplar (B, Cs, H, W): channels as built, same B, H, W, and
    H, W divisible by ``multiple`` (2 ** the model's down-samplings)."""
    _check_image("content", content, content_channels, "content_channels")
    _check_image("exemplar", exemplar, style_channels, "style_channels")
    if content.shape[0] != exemplar.shape[0]:
        raise ValueError(f"content has {content.shape[0]} images but exemplar has "
                         f"{exemplar.shape[0]}; pass one exemplar per content image")
    if content.shape[2:] != exemplar.shape[2:]:
        raise ValueError(f"content is {tuple(content.shape[2:])} pixels but exemplar is "
                         f"{tuple(exemplar.shape[2:])}; resize them to the same size")
    h, w = content.shape[2:]
    if h % multiple or w % multiple:
        raise ValueError(f"image size must be divisible by {multiple} (the model's 2x down-samplings), "
                         f"got {h}x{w}; crop or pad the images")


def channel_stats(x: Tensor, eps: float = 1e-2) -> tuple[Tensor, Tensor]:
    """Per image and channel mean and standard deviation over the pixels, (B, C, 1, 1) each;
    the deviation is kept >= ``eps`` so that dividing by it is safe on flat images."""
    return x.mean(dim=(2, 3), keepdim=True), x.std(dim=(2, 3), keepdim=True, unbiased=False).clamp_min(eps)


def clamp_straight_through(x: Tensor, low: float = -1.0, high: float = 1.0) -> Tensor:
    """Clamped forward, identity backward: a pixel pushed past the range still gets the
    gradient that pulls it back (a plain clamp would leave it stuck with gradient 0)."""
    return x + (x.clamp(low, high) - x).detach()


def colour_transfer(content: Tensor, exemplar: Tensor) -> Tensor:
    """The exemplar's colour statistics on the content, per channel (Reinhard et al. 2001, in RGB):

    out = (c - mu(c)) / sigma(c) * sigma(s) + mu(s), clamped to [-1, 1]

    content (B, 1 or C, H, W), exemplar (B, C, H', W'); no learning. It is the pre- and
    post-processing of ``StyleGenerator(prepost=True)`` with the identity in between and both of
    its gates open (the exemplar's statistics taken whole)."""
    if content.dim() != 4 or exemplar.dim() != 4 or content.shape[0] != exemplar.shape[0]:
        raise ValueError(f"content and exemplar must be (B, C, H, W) with the same B, got "
                         f"{tuple(content.shape)} and {tuple(exemplar.shape)}")
    if content.shape[1] not in (1, exemplar.shape[1]):
        raise ValueError(f"content has {content.shape[1]} channels, exemplar {exemplar.shape[1]}: "
                         f"give the content 1 channel or the exemplar's")
    mu_c, sd_c = channel_stats(content)
    mu_s, sd_s = channel_stats(exemplar)
    return ((content - mu_c) / sd_c * sd_s + mu_s).clamp(-1, 1)


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


STATS_GATE_BIAS = -3.0  # sigmoid(-3) = 0.05: prepost starts with the content's own statistics


class StyleGenerator(Generator):
    """G(content, exemplar): a small U-Net on the content, styled by AdaIN.

    encoder  content (Cc, H, W) -> e1 (w, H) -> e2 (2w, H/2) -> e3 (4w, H/4)
    decoder  AdaIN(e3) -> up + e2 -> AdaIN -> up + e1 -> AdaIN -> 1x1 conv -> (Cout, H, W)

    The skips carry the content's shape; every decoder layer's statistics come
    from the exemplar's style code. No noise: ``z_dim = 0``, so the trainer
    calls it without ``z``.

    ``prepost=True`` wraps the U-Net in per-channel statistics, the style choosing whose:

        c' = (c - mu(c)) / sigma(c)                    (per image and channel, before the network)
        y  = (c' + U(c', s)) * sigma_out + mu_out      (after it)
        mu_out    = (1 - a) mu(c) + a mu(e)            a, b = sigmoid(W s + b0), per channel, from the
        sigma_out = sigma(c)^(1 - b) sigma(e)^b        style code s of the exemplar e

    with U's last layer linear (no tanh) and y clamped to [-1, 1] straight-through. Why a gate: an
    exemplar shows its style on *another* picture, so its colour statistics are partly that
    picture's. Filters that keep the photo's colours (cartoon, oil paint, posterize) want the
    content's statistics back (a = b = 0); a grey pencil sketch or a digit's ink and paper colours
    want the exemplar's (a = b = 1), as plain colour transfer would give. Restoring the exemplar's
    always (a = b = 1) paints photos in the other photo's palette, which notebook 06 measured to be
    worse than copying. U's last layer starts at zero and b0 = STATS_GATE_BIAS (a = b = 0.05), so the
    untrained generator is almost the copy and training learns a correction of it. Needs
    out_channels == style_channels, and content_channels 1 or the same.
    """

    z_dim = 0

    def __init__(self, content_channels: int = 1, style_channels: int = 3, out_channels: int = 3,
                 width: int = 16, style_dim: int = 64, prepost: bool = False):
        super().__init__()
        if prepost and (out_channels != style_channels or content_channels not in (1, out_channels)):
            raise ValueError(f"prepost can restore the exemplar's statistics onto the content, so out_channels "
                             f"({out_channels}) must equal style_channels ({style_channels}) and "
                             f"content_channels ({content_channels}) be 1 or the same")
        self.content_channels, self.style_channels = content_channels, style_channels
        self.prepost = bool(prepost)
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
        if prepost:  # start (almost) as the copy: U = 0 until training moves it (a zero-init residual)
            nn.init.zeros_(self.to_image.weight)
            nn.init.zeros_(self.to_image.bias)
            self.stats_gate = nn.Linear(style_dim, 2 * out_channels)  # -> a, b of the docstring
            nn.init.zeros_(self.stats_gate.weight)
            nn.init.constant_(self.stats_gate.bias, STATS_GATE_BIAS)

    def check_inputs(self, content: Tensor, exemplar: Tensor) -> None:
        """Raise ValueError unless content and exemplar fit this generator and each other."""
        check_style_inputs(content, exemplar, self.content_channels, self.style_channels)

    def forward(self, content: Tensor, exemplar: Tensor) -> Tensor:
        self.check_inputs(content, exemplar)
        return self._generate(content, exemplar)

    def output_stats(self, mu_c: Tensor, sd_c: Tensor, exemplar: Tensor, style: Tensor) -> tuple[Tensor, Tensor]:
        """prepost's mu_out and sigma_out (B, Cout, 1, 1): the content's and the exemplar's statistics
        mixed by the gates a, b that the style code sets (see the class docstring)."""
        a, b = torch.sigmoid(self.stats_gate(style))[:, :, None, None].chunk(2, dim=1)  # (B, Cout, 1, 1) each
        mu_s, sd_s = channel_stats(exemplar)
        return (1 - a) * mu_c + a * mu_s, sd_c ** (1 - b) * sd_s ** b

    def _generate(self, content: Tensor, exemplar: Tensor) -> Tensor:
        """The network, inputs already checked (subclasses check theirs, then call this)."""
        s = self.style(exemplar)  # (B, style_dim)
        if self.prepost:
            mu_c, sd_c = channel_stats(content)
            content = (content - mu_c) / sd_c  # (B, Cc, H, W), zero mean and unit variance per channel
        e1 = self.enc1(content)  # (B, w, H, W)
        e2 = self.enc2(e1)  # (B, 2w, H/2, W/2)
        e3 = self.enc3(e2)  # (B, 4w, H/4, W/4)
        h = F.relu(self.mid(e3, s))
        h = self.dec2(h, e2, s)  # (B, 2w, H/2, W/2)
        h = self.dec1(h, e1, s)  # (B, w, H, W)
        if self.prepost:
            mu, sd = self.output_stats(mu_c, sd_c, exemplar, s)
            return clamp_straight_through((content + self.to_image(h)) * sd + mu)  # (B, Cout, H, W)
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
        return self._logits(image, content, exemplar)

    def _logits(self, image: Tensor, content: Tensor, exemplar: Tensor) -> Tensor:
        """The network, inputs already checked (subclasses check theirs, then call this)."""
        h = self.body(torch.cat([image, content], dim=1))  # (B, 2w, H/4, W/4)
        code = self.style(exemplar)[:, :, None, None]  # (B, 2w, 1, 1)
        return self.logit(h) + (code * h).sum(1, keepdim=True)  # (B, 1, H/4, W/4)


# --------------------------------------------------------------------------
# Image repair (inpainting): the same two networks on masked images
# --------------------------------------------------------------------------


class RepairGenerator(StyleGenerator):
    """G(masked, mask, guess) -> repaired image: the style U-Net with x ⊕ m as its content and
    also as its "exemplar", whose spatially averaged code carries the known pixels' colours and
    textures to every decoder layer. x is the masked image with its hole holding ``guess`` (a
    first guess, e.g. the biharmonic fill) or, without one, 0. G paints a correction of x,
    composited so known pixels come back exactly and every loss sees the hole alone:

        y = m * clip(x + G_raw(x ⊕ m), -1, 1) + (1 - m) * masked,     m = 1 in the hole.

    The last layer starts at zero, so an untrained G returns x: with a guess, training starts
    from the guess and learns what it misses (texture), as coarse-to-fine inpainting does.
    """

    def __init__(self, channels: int = 3, width: int = 16, style_dim: int = 64):
        super().__init__(content_channels=channels + 1, style_channels=channels + 1, out_channels=channels,
                         width=width, style_dim=style_dim)
        self.channels = channels
        nn.init.zeros_(self.to_image.weight)
        nn.init.zeros_(self.to_image.bias)

    def check_inputs(self, masked: Tensor, mask: Tensor, guess: Tensor | None = None) -> None:
        """Raise ValueError unless masked (B, C, H, W), mask (B, 1, H, W) and guess (as masked)
        fit G and each other."""
        _check_mask_pair(masked, mask, self.channels)
        if guess is not None and (not isinstance(guess, Tensor) or guess.shape != masked.shape):
            shape = tuple(guess.shape) if isinstance(guess, Tensor) else type(guess).__name__
            raise ValueError(f"guess must have masked's shape {tuple(masked.shape)}, got {shape}")

    def forward(self, masked: Tensor, mask: Tensor, guess: Tensor | None = None) -> Tensor:
        self.check_inputs(masked, mask, guess)
        x = masked if guess is None else masked * (1 - mask) + guess * mask  # (B, C, H, W)
        given = torch.cat([x, mask], dim=1)  # (B, C + 1, H, W)
        raw = self._generate(given, given)  # (B, C, H, W)
        return mask * (x + raw).clamp(-1, 1) + (1 - mask) * masked


class RepairDiscriminator(PatchDiscriminator):
    """Conditional PatchGAN D(image, masked, mask) -> (B, 1, H/4, W/4) logits: pix2pix's
    D with masked ⊕ mask as the aligned condition, which tells each patch where the hole is.
    It takes G's ``guess`` too (the trainer passes every input to both) and ignores it: D
    judges a repair against what was known, not against G's starting point."""

    def __init__(self, channels: int = 3, width: int = 16):
        super().__init__(image_channels=channels, content_channels=channels + 1,
                         style_channels=channels + 1, width=width)
        self.channels = channels

    def check_inputs(self, image: Tensor, masked: Tensor, mask: Tensor) -> None:
        _check_mask_pair(masked, mask, self.channels)
        _check_image("image", image, self.channels, "channels")
        if image.shape != masked.shape:
            raise ValueError(f"image {tuple(image.shape)} and masked {tuple(masked.shape)} must have one shape")

    def forward(self, image: Tensor, masked: Tensor, mask: Tensor, guess: Tensor | None = None) -> Tensor:
        self.check_inputs(image, masked, mask)
        given = torch.cat([masked, mask], dim=1)  # (B, C + 1, H, W)
        return self._logits(image, given, given)


def _check_mask_pair(masked: Tensor, mask: Tensor, channels: int) -> None:
    _check_image("masked", masked, channels, "channels")
    if not isinstance(mask, Tensor) or mask.dim() != 4 or mask.shape[1] != 1 \
            or mask.shape[0] != masked.shape[0] or mask.shape[2:] != masked.shape[2:]:
        shape = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(f"the mask must be (B, 1, H, W) with masked's B, H, W {tuple(masked.shape)}, "
                         f"got {shape}")
    if masked.shape[2] % 4 or masked.shape[3] % 4:
        raise ValueError(f"image size must be divisible by 4 (two 2x down-samplings), got "
                         f"{masked.shape[2]}x{masked.shape[3]}")
