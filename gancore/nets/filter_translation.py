"""A style generator for filters: a dilated CNN steered by the exemplar, drawing on the page.

``FilterGenerator(content=c, exemplar=s)`` renders a photo ``c`` in the look of an
exemplar ``s`` (another photo in that look). It is built for what a painting or
cartoon filter is: a *local* operation applied the same way everywhere.

    code   s -> convs (H, H/2, H/4) -> [mean, std] over space -> MLP -> code (code_dim,)
    body   [c, page(H, W)] -> conv (w, H) -> conv (w, H) -> conv /2 (2w, H/2)
           -> dilated residual blocks at H/2 (dilations 1, 2, 4, 8, 1)
           -> bilinear x2, conv (w, H) -> [., skip] -> conv (w, H)
    head   [., c] -> 1x1 conv (4w) -> 1x1 conv (4w) -> 1x1 conv -> delta (3, H, W)
    out    y = clamp(c + delta)                       (clamped straight-through)

Every conv's output is modulated by FiLM from the code, ``(1 + gamma(code)) * h + beta(code)``,
so the exemplar chooses *which* filter the shared body applies. Why each piece:

* **Mean and deviation pooling** of the exemplar's features: a filter shows in the statistics
  of local texture (flat patches, dots, strokes), not in where they are; the deviation is what
  tells a coarse version from a fine one.
* **Dilated convolutions** give the body a window of 77 px at little cost, wider than the
  widest filter here (pencil's blur at scale "coarse" reaches 37 px).
* **Bilinear upsampling then a convolution**, not a transposed convolution: every output pixel
  sees the same number of inputs, so no checkerboard (Odena et al. 2016).
* **Page coordinates** ``page(H, W)``: sines and cosines of the row and column at periods of
  2 to 8 px. A halftone screen is fixed to the page, not to the picture, so no
  translation-equivariant network can tell where its dots go; with the page's phase as input
  it can.
* **A pointwise head** at full resolution that sees the content's own pixel again: posterize
  and the cartoon's flat colours are sharp per-pixel steps, which need many units per pixel.
* **The residual output** starts at the copy (the last layer is zero at initialisation), and
  the network learns what the filter changes.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gancore.nets.base import Generator
from gancore.nets.translation import check_style_inputs, clamp_straight_through

PAGE_PERIODS: tuple[int, ...] = (2, 3, 4, 6, 8)  # px: the phases a screen of up to 8 px cells needs
BODY_DILATIONS: tuple[int, ...] = (1, 2, 4, 8, 1)


def page_features(n: int, height: int, width: int, periods=PAGE_PERIODS, device=None) -> Tensor:
    """(n, 4 * len(periods), H, W): sin and cos of 2 pi row / p and of 2 pi column / p per period p,
    row and column counted from the image's top-left pixel."""
    rows = torch.arange(height, dtype=torch.float32, device=device)[:, None].expand(height, width)
    cols = torch.arange(width, dtype=torch.float32, device=device)[None, :].expand(height, width)
    maps = []
    for p in periods:
        for pos in (rows, cols):
            maps += [torch.sin(2 * math.pi * pos / p), torch.cos(2 * math.pi * pos / p)]
    return torch.stack(maps)[None].expand(n, -1, -1, -1)


class FiLMConv(nn.Module):
    """Conv (3x3, dilated, or 1x1), then FiLM from the style code, then LeakyReLU. FiLM starts at
    the identity (gamma = beta = 0), so at initialisation the code changes nothing."""

    def __init__(self, in_channels: int, out_channels: int, code_dim: int, dilation: int = 1, kernel: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, 1, dilation * (kernel // 2), dilation=dilation)
        self.film = nn.Linear(code_dim, 2 * out_channels)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, h: Tensor, code: Tensor) -> Tensor:
        gamma, beta = self.film(code)[:, :, None, None].chunk(2, dim=1)  # (B, C, 1, 1) each
        return F.leaky_relu(self.conv(h) * (1 + gamma) + beta, 0.2)


class TextureCode(nn.Module):
    """Exemplar (C, H, W) -> (code_dim,): conv features at H, H/2 and H/4, pooled to their mean and
    standard deviation over space, then a two-layer MLP."""

    def __init__(self, channels: int, width: int, code_dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 3, 1, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(width, 2 * width, 3, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * width, 2 * width, 3, 1, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * width, 4 * width, 3, 2, 1), nn.LeakyReLU(0.2, True),
        )
        self.mlp = nn.Sequential(nn.Linear(8 * width, code_dim), nn.LeakyReLU(0.2, True),
                                 nn.Linear(code_dim, code_dim))

    def forward(self, exemplar: Tensor) -> Tensor:
        h = self.net(exemplar)  # (B, 4w, H/4, W/4)
        return self.mlp(torch.cat([h.mean(dim=(2, 3)), h.std(dim=(2, 3))], dim=1))  # (B, code_dim)


class FilterGenerator(Generator):
    """G(content, exemplar) -> the content in the exemplar's filter (see the module docstring).
    Content and output are colour images of ``channels`` channels; the exemplar too."""

    z_dim = 0

    def __init__(self, channels: int = 3, width: int = 16, code_dim: int = 64, page: bool = True):
        super().__init__()
        self.content_channels = self.style_channels = self.out_channels = channels
        self.width, self.page = width, bool(page)
        w, extra = width, 4 * len(PAGE_PERIODS) if page else 0
        self.code = TextureCode(channels, w, code_dim)
        self.enc1 = FiLMConv(channels + extra, w, code_dim)
        self.enc2 = FiLMConv(w, w, code_dim)
        self.down = nn.Conv2d(w, 2 * w, 3, 2, 1)
        self.body = nn.ModuleList([FiLMConv(2 * w, 2 * w, code_dim, d) for d in BODY_DILATIONS])
        self.up = FiLMConv(2 * w, w, code_dim)
        self.dec = FiLMConv(2 * w, w, code_dim)
        self.head = nn.ModuleList([FiLMConv(w + channels, 4 * w, code_dim, kernel=1),
                                   FiLMConv(4 * w, 4 * w, code_dim, kernel=1)])
        self.to_image = nn.Conv2d(4 * w, channels, 1)
        nn.init.zeros_(self.to_image.weight)  # start as the copy: delta = 0
        nn.init.zeros_(self.to_image.bias)

    def check_inputs(self, content: Tensor, exemplar: Tensor) -> None:
        """Raise ValueError unless content and exemplar fit this generator and each other."""
        check_style_inputs(content, exemplar, self.content_channels, self.style_channels, multiple=2)

    def forward(self, content: Tensor, exemplar: Tensor) -> Tensor:
        self.check_inputs(content, exemplar)
        code = self.code(exemplar)  # (B, code_dim)
        n, _, h, w = content.shape
        x = torch.cat([content, page_features(n, h, w, device=content.device)], 1) if self.page else content
        skip = self.enc2(self.enc1(x, code), code)  # (B, w, H, W)
        t = F.leaky_relu(self.down(skip), 0.2)  # (B, 2w, H/2, W/2)
        for block in self.body:
            t = t + block(t, code)
        t = F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)  # (B, 2w, H, W)
        u = self.dec(torch.cat([self.up(t, code), skip], dim=1), code)  # (B, w, H, W)
        p = self.head[1](self.head[0](torch.cat([u, content], dim=1), code), code)  # (B, 4w, H, W)
        return clamp_straight_through(content + self.to_image(p))  # (B, C, H, W)
