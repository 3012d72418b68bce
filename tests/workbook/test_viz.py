"""gancore's image grid against torchvision's make_grid, the layout it writes out."""
import pytest
import torch
from torchvision.utils import make_grid

from gancore.workbook.viz import to_image


@pytest.mark.parametrize("n, channels, nrow", [(5, 1, 4), (64, 3, 8), (3, 3, 8), (10, 1, 3)])
def test_to_image_matches_torchvision_make_grid(n, channels, nrow):
    x = torch.rand(n, channels, 7, 9, generator=torch.Generator().manual_seed(n)) * 2 - 1
    grid = make_grid(x, nrow=nrow, padding=2, normalize=True, value_range=(-1, 1), pad_value=1.0)
    expected = grid[0].numpy() if channels == 1 else grid.permute(1, 2, 0).numpy()
    assert to_image(x, nrow).shape == expected.shape
    assert abs(to_image(x, nrow) - expected).max() == 0
