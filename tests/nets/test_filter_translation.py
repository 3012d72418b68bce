"""FilterGenerator: starts as the copy, takes any even size, sees far enough, and knows the page."""
import pytest
import torch

from gancore.experiments.photo_style import filter_footprint, input_window
from gancore.data.photo_styles import NPR_ATTRIBUTES, NPRStyle
from gancore.nets.base import build_net
from gancore.nets.filter_translation import PAGE_PERIODS, FilterGenerator, page_features

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def test_untrained_generator_is_the_copy_and_rebuilds():
    torch.manual_seed(0)
    G = FilterGenerator(width=4)
    c, e = torch.rand(2, 3, 24, 40) * 2 - 1, torch.rand(2, 3, 24, 40) * 2 - 1
    assert torch.equal(G(content=c, exemplar=e), c)
    assert type(build_net("FilterGenerator", G.config)) is FilterGenerator


def test_bad_sizes_and_channels_fail_clearly():
    G = FilterGenerator(width=4)
    with pytest.raises(ValueError, match="divisible by 2"):
        G(content=torch.zeros(1, 3, 15, 16), exemplar=torch.zeros(1, 3, 15, 16))
    with pytest.raises(ValueError, match="channels"):
        G(content=torch.zeros(1, 1, 16, 16), exemplar=torch.zeros(1, 3, 16, 16))


def test_page_features_have_each_period():
    f = page_features(1, 24, 24)
    assert f.shape == (1, 4 * len(PAGE_PERIODS), 24, 24)
    for k, p in enumerate(PAGE_PERIODS):
        rows = f[0, 4 * k:4 * k + 2]  # sin and cos of the row's phase
        assert torch.allclose(rows[:, p:], rows[:, :-p], atol=1e-5)  # repeats every p rows
        assert not torch.allclose(rows[:, 1:], rows[:, :-1], atol=1e-3)  # and not every row
        assert torch.equal(f[0, 4 * k + 2], rows[0].T)  # columns as rows


def test_page_coordinates_break_shift_equivariance_only_when_asked():
    torch.manual_seed(0)
    c, e = torch.rand(1, 3, 128, 128) * 2 - 1, torch.rand(1, 3, 128, 128) * 2 - 1  # the window (77 px) misses the seam
    for page in (True, False):
        G = FilterGenerator(width=4, page=page)
        torch.nn.init.normal_(G.to_image.weight, std=0.5)  # as if trained: the correction is not 0
        with torch.no_grad():
            plain = G(content=c, exemplar=e)[..., 60:68, 60:68]
            # the same pixels two columns on (two: the body runs at half resolution); period 3 sees the shift
            shifted = G(content=c.roll(2, -1), exemplar=e)[..., 60:68, 62:70]
        assert torch.allclose(plain, shifted, atol=1e-5) is (not page)


def test_window_covers_every_filter():
    torch.manual_seed(0)
    G = FilterGenerator(width=8)
    torch.nn.init.normal_(G.to_image.weight, std=0.1)  # as if trained: the correction reaches the output
    widest = max(filter_footprint(NPRStyle(f, s)) for f in NPR_ATTRIBUTES["filter"] for s in NPR_ATTRIBUTES["scale"])
    # every output pixel can depend on a 77 px window (threshold 0: any dependence at all), wider than
    # any filter's footprint (pencil's coarse blur: 37 px), and far from the whole 160 px image
    assert widest == 37 and input_window(G, size=160, threshold=0) == 77
