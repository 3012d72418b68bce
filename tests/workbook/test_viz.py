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


def test_show_closest_puts_each_sample_above_its_nearest_training_image():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gancore.metrics.memorisation import memorisation_check
    from gancore.workbook.viz import show_closest

    g = torch.Generator().manual_seed(0)
    train = torch.rand(20, 1, 6, 6, generator=g) * 2 - 1
    samples = torch.cat([train[[3, 7]], torch.rand(5, 1, 6, 6, generator=g) * 2 - 1])  # two exact copies
    check = memorisation_check(samples, train, torch.rand(10, 1, 6, 6, generator=g) * 2 - 1, k=3)
    fig = show_closest(samples, train, check)
    axes = fig.axes
    assert len(axes) == 6  # 2 rows of k = 3
    assert [ax.get_title() for ax in axes[:2]] == ["d 0.0", "d 0.0"]  # the copies come first
    for j in range(2):  # the top image is the sample, the bottom one the training image it copies
        assert abs(axes[j].images[0].get_array() - samples[check["closest"][j], 0].numpy()).max() == 0
        assert abs(axes[3 + j].images[0].get_array() - train[check["closest_train"][j], 0].numpy()).max() == 0
    assert sorted(check["closest_train"][:2]) == [3, 7]
    plt.close(fig)
