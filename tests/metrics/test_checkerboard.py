"""The checkerboard score against numpy's FFT and patterns whose answer is known."""
import numpy as np
import pytest
import torch

from gancore.metrics.checkerboard import checkerboard_score, stride_energy
from gancore.nets.translation import StyleGenerator


def _numpy_share(grey: np.ndarray, periods=(2, 4)) -> float:
    power = np.abs(np.fft.fft2(grey)) ** 2
    power[0, 0] = 0
    n = grey.shape[0]
    bins = sorted({0} | {k for p in periods for k in (n // p, (n - n // p) % n)})
    return float(power[np.ix_(bins, bins)].sum() / power.sum())


def test_stride_energy_matches_numpy():
    x = torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    expected = [_numpy_share(img[0].numpy().astype(np.float64)) for img in x]
    assert stride_energy(x).tolist() == pytest.approx(expected, rel=1e-9)


def test_known_patterns():
    i = torch.arange(32)
    checker = ((i[:, None] + i[None, :]) % 2).float()[None, None] * 2 - 1  # period 2 in both axes
    slow = torch.sin(2 * torch.pi * i / 16)[None, :].expand(32, 32)[None, None]  # period 16 only
    assert float(stride_energy(checker)) == pytest.approx(1.0, abs=1e-9)
    assert float(stride_energy(slow)) == pytest.approx(0.0, abs=1e-9)
    assert checkerboard_score(checker.expand(2, 3, -1, -1), slow.expand(2, 3, -1, -1)) > 1e6


def test_score_is_one_for_the_target_and_high_for_transposed_convolutions():
    torch.manual_seed(0)
    content = torch.rand(8, 3, 64, 64) * 2 - 1
    smooth = torch.nn.functional.avg_pool2d(content, 5, 1, 2)  # a target with little periodic energy
    assert checkerboard_score(smooth, smooth) == pytest.approx(1.0)
    with torch.no_grad():
        unet = StyleGenerator(3, 3, 3, width=8)(content=content, exemplar=content)
    assert checkerboard_score(unet, smooth) > 2  # the untrained U-Net's transposed convolutions leave a grid


@pytest.mark.parametrize("bad, match", [(np.zeros((1, 3, 8, 8)), "tensor"), (torch.zeros(0, 3, 8, 8), "non-empty"),
                                        (torch.zeros(1, 3, 10, 10), "multiple of the period")])
def test_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        stride_energy(bad)
