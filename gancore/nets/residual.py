"""The grader's design: a small residual network with average pooling.

It shares the :class:`gancore.nets.feature.MultiHeadNet` interface with the
loss's VGG-like :class:`~gancore.nets.feature.FeatureNet`, and nothing else:
strided residual stages instead of max-pooled plain convolutions, SiLU instead
of ReLU, and a 4x4 average of its last stage instead of a max-pooled one, so it
does not see through the loss net's filters and cannot reward the same pixel
patterns they reward. A measure that looked through the loss's eyes would grade
the generator on what it was optimised for, not on what the images are.

    stem     conv 3x3 (w)                                      (B, w, S, S)
    stage 1  residual block (w)                                (B, w, S, S)
    stage 2  residual block, stride 2 (2w)                     (B, 2w, S/2, S/2)
    stage 3  residual block, stride 2 (4w)                     (B, 4w, S/4, S/4)
    fc       4x4 average pool -> linear (hidden) -> SiLU       (B, hidden)

with block(x) = SiLU(skip(x) + BN(conv(SiLU(BN(conv(x)))))), skip a strided 1x1
conv (and BN) where the shape changes.
"""
from __future__ import annotations

from torch import Tensor, nn

from gancore.nets.feature import MultiHeadNet


def _norm(channels: int) -> nn.BatchNorm2d:
    """Batch norm, as the short training needs; in eval mode a fixed affine map per channel."""
    return nn.BatchNorm2d(channels)


class ResidualBlock(nn.Module):
    """x -> SiLU(skip(x) + BN(conv3(SiLU(BN(conv3_stride(x))))))."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), _norm(c_out), nn.SiLU(),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), _norm(c_out))
        self.skip = nn.Identity() if stride == 1 and c_in == c_out else \
            nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), _norm(c_out))
        self.act = nn.SiLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.skip(x) + self.body(x))


class ResidualFeatureNet(MultiHeadNet):
    """Residual stages, an average over each cell of a 4x4 grid and one linear head per
    label (module doc).

    ``heads`` maps each head's name to its number of classes. Any image size >= 4 works.
    """

    def __init__(self, heads: dict[str, int], width: int = 16, hidden: int = 128, channels: int = 3,
                 size: int = 32):
        super().__init__()
        if size < 4:
            raise ValueError(f"image size must be >= 4 (two stride-2 stages), got {size}")
        self.arch = {"heads": dict(heads), "width": width, "hidden": hidden, "channels": channels,
                     "size": size}
        w = width
        self.blocks = nn.ModuleList([
            nn.Sequential(nn.Conv2d(channels, w, 3, 1, 1, bias=False), _norm(w), nn.SiLU(),
                          ResidualBlock(w, w)),          # (B, w, S, S)
            ResidualBlock(w, 2 * w, stride=2),           # (B, 2w, S/2, S/2)
            ResidualBlock(2 * w, 4 * w, stride=2),       # (B, 4w, S/4, S/4)
        ])
        self.fc = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(64 * w, hidden), nn.SiLU())
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, n) for name, n in heads.items()})
