"""gancore.npr: photo tiles in non-photorealistic filters, the second style domain.

References: numpy loops for Kuwahara, scipy.ndimage for the Gaussian blur.
"""
import itertools

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch

from gancore.data.photo_styles import (
    NPR_ATTRIBUTES,
    NPRStyle,
    cartoon,
    gaussian_blur,
    halftone,
    kuwahara,
    luminance,
    make_npr_splits,
    pencil_sketch,
    photo_tiles,
    posterize,
    render_npr,
)

LUMA = np.array([0.299, 0.587, 0.114])


pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def sets():
    return make_npr_splits(60, 20, seed=0)


def rows(t):
    return {r.numpy().tobytes() for r in t.flatten(1)}


def test_npr_style_validation():
    assert NPRStyle("halftone", "coarse").index() == (4, 2)
    for combo in itertools.product(range(5), range(3)):
        assert NPRStyle.from_index(combo).index() == combo
    with pytest.raises(ValueError) as err:
        NPRStyle(filter="watercolour")
    assert all(f in str(err.value) for f in NPR_ATTRIBUTES["filter"])
    with pytest.raises(TypeError, match="NPRStyle"):
        render_npr(torch.zeros(1, 3, 8, 8), "cartoon")


def test_posterize_matches_numpy():
    x = torch.rand(2, 3, 9, 9, dtype=torch.float64)
    for levels in (3, 4, 6):
        expected = np.round(x.numpy() * (levels - 1)) / (levels - 1)
        assert np.abs(posterize(x, levels).numpy() - expected).max() < 1e-12
        assert len(np.unique(posterize(x, levels).numpy())) <= levels


@pytest.mark.parametrize("sigma", [1.0, 2.5])
def test_gaussian_blur_matches_scipy(sigma):
    x = torch.rand(2, 3, 20, 23, dtype=torch.float64)
    expected = ndi.gaussian_filter(x.numpy(), sigma=(0, 0, sigma, sigma), mode="mirror", truncate=3.0)
    assert np.abs(gaussian_blur(x, sigma).numpy() - expected).max() < 1e-10


def test_pencil_sketch_matches_numpy():
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    grey = np.tensordot(LUMA, x[0].numpy(), axes=1)
    blurred = ndi.gaussian_filter(1 - grey, 1.5, mode="mirror", truncate=3.0)
    expected = np.clip(grey / np.maximum(1 - blurred, 1e-3), 0, 1)
    out = pencil_sketch(x, 1.5).numpy()[0]
    assert out.shape == (3, 16, 16) and np.abs(out - expected).max() < 1e-10


def _kuwahara_reference(image, r):
    """Straight from the definition, one pixel at a time."""
    c, h, w = image.shape
    padded = np.pad(image, ((0, 0), (r, r), (r, r)), mode="reflect")
    lum = np.tensordot(LUMA, padded, axes=1)
    out = np.empty_like(image)
    for i, j in itertools.product(range(h), range(w)):
        best = None
        for a, b in ((0, 0), (0, r), (r, 0), (r, r)):  # windows with a corner at the pixel
            window = (slice(i + a, i + a + r + 1), slice(j + b, j + b + r + 1))
            var = lum[window].var()
            if best is None or var < best[0]:
                best = (var, padded[(slice(None),) + window].mean(axis=(1, 2)))
        out[:, i, j] = best[1]
    return out


@pytest.mark.parametrize("radius", [2, 3])
def test_kuwahara_matches_a_per_pixel_reference(radius):
    x = torch.rand(2, 3, 12, 13, dtype=torch.float64, generator=torch.Generator().manual_seed(radius))
    out = kuwahara(x, radius).numpy()
    for n in range(2):
        assert np.abs(out[n] - _kuwahara_reference(x[n].numpy(), radius)).max() < 1e-10


def test_halftone_dot_area_is_the_missing_intensity():
    for value in (0.3, 0.6, 0.9):
        x = torch.full((1, 3, 48, 48), value)
        out = halftone(x, 8)
        assert abs(out.mean().item() - value) < 0.03, value
        assert ((out < 0.05) | (out > 0.95)).float().mean().item() > 0.6  # dots, not grey (1 px soft rims)
    assert torch.equal(halftone(torch.ones(1, 3, 16, 16), 4), torch.ones(1, 3, 16, 16))


def test_cartoon_draws_lines_on_edges_and_flattens_colours():
    x = torch.full((1, 3, 32, 32), 0.8)
    x[..., 16:] = 0.2                                     # a vertical step edge
    out = cartoon(x, 1.0)
    assert out[..., 14:18].min() < 0.1                    # a dark line along the edge
    assert torch.allclose(out[..., :8], posterize(torch.tensor(0.8), 5).expand(1, 3, 32, 8))
    assert torch.allclose(out[..., 24:], posterize(torch.tensor(0.2), 5).expand(1, 3, 32, 8))


def test_every_filter_and_scale_renders_differently():
    photos = photo_tiles()[0][:4]
    outs = {(f, s): render_npr(photos, NPRStyle(f, s)) for f in NPR_ATTRIBUTES["filter"]
            for s in NPR_ATTRIBUTES["scale"]}
    for (k1, a), (k2, b) in itertools.combinations(outs.items(), 2):
        assert (a - b).abs().mean() > 0.005, (k1, k2)
    for out in outs.values():
        assert out.shape == (4, 3, 64, 64) and out.min() >= -1 and out.max() <= 1


def test_photo_tiles():
    tiles, labels = photo_tiles()
    assert tiles.shape[1:] == (3, 64, 64) and len(tiles) == len(labels) > 100
    assert tiles.min() >= -1 and tiles.max() <= 1
    assert len(rows(tiles)) == len(tiles)                         # no tile twice
    assert labels.unique().numel() >= 8
    assert (luminance((tiles + 1) / 2).flatten(1).std(1) > 0.05).all()  # no flat tiles


def test_npr_splits(sets):
    assert list(sets) == ["train", "test_seen", "test_unseen"]
    train = sets["train"].combos()
    assert sets["test_seen"].combos() <= train
    assert sets["test_unseen"].combos() and not sets["test_unseen"].combos() & train
    assert not rows(sets["train"].content) & rows(sets["test_seen"].content)
    for s in sets.values():
        assert s.target.shape == s.exemplar.shape == s.content.shape == (len(s), 3, 64, 64)
        assert (s.exemplar_digit != s.digit).all()  # the exemplar comes from another photo
        assert s.attributes == NPR_ATTRIBUTES
        for i in range(0, len(s), 5):
            style = NPRStyle.from_index(s.style[i])
            assert torch.equal(s.target[i:i + 1], render_npr(s.content[i:i + 1], style))
            assert torch.equal(s.exemplar[i:i + 1], render_npr(s.exemplar_content[i:i + 1], style))


def test_npr_splits_reproduce_from_the_seed(sets):
    again = make_npr_splits(60, 20, seed=0)
    for name in sets:
        assert torch.equal(sets[name].target, again[name].target)
        assert torch.equal(sets[name].style, again[name].style)
