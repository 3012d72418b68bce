"""A user's photo and named photo styles: what is accepted, and one clear error for each wrong input."""
import numpy as np
import pytest
import torch

from gancore.data.photo_input import load_photo, parse_photo_style
from gancore.data.photo_styles import NPR_ATTRIBUTES, NPRStyle
from gancore.data.style_pairs import StyleTransferSet, mismatched_exemplars


def test_uint8_rgb_array_maps_to_minus_one_one():
    array = np.arange(8 * 12 * 3, dtype=np.uint8).reshape(8, 12, 3)
    x = load_photo(array)
    assert x.shape == (1, 3, 8, 12)
    assert torch.allclose(x[0].permute(1, 2, 0), torch.from_numpy(array / 127.5 - 1).float(), atol=1e-6)


def test_grey_rgba_and_cropping_to_multiples_of_four():
    grey = np.random.default_rng(0).random((10, 9))
    x = load_photo(grey)
    assert x.shape == (1, 3, 8, 8) and torch.equal(x[0, 0], x[0, 2])
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 3] = 255  # alpha is dropped
    assert load_photo(rgba).eq(-1).all()


def test_resizing_and_a_file_round_trip(tmp_path):
    import skimage.io
    array = (np.random.default_rng(1).random((40, 60, 3)) * 255).astype(np.uint8)
    path = tmp_path / "photo.png"
    skimage.io.imsave(path, array)
    assert torch.equal(load_photo(path), load_photo(array))
    assert load_photo(array, 20).shape == (1, 3, 20, 28)     # shorter side 20, width 30 cut to 28
    assert load_photo(array, (64, 32)).shape == (1, 3, 64, 32)
    area = load_photo(np.full((8, 8), 0.5), (4, 4))
    assert torch.allclose(area, torch.zeros_like(area), atol=1e-6)  # area averaging keeps a flat grey flat


@pytest.mark.parametrize("bad, match", [
    (np.zeros((8, 8, 2), np.uint8), r"\(H, W, 3\) RGB"),
    (np.zeros((3, 8, 8), np.float32), "channels go last"),
    (np.zeros((2, 8, 8, 3)), r"\(H, W\) grey"),
    (np.full((8, 8, 3), 200.0), r"float photos must lie in \[0, 1\]"),
    (np.full((8, 8, 3), -1, np.int16), r"\[0, 255\]"),
    (np.full((8, 8, 3), np.nan), "NaN"),
    (np.zeros((8, 8, 3), bool), "dtype"),
    (np.zeros((3, 3, 3)), "at least"),
    ("no_such_photo.png", "no photo at"),
    (42, "file path or an"),
])
def test_bad_photos_raise_one_clear_error(bad, match):
    with pytest.raises(ValueError, match=match):
        load_photo(bad)


def test_corrupt_file_raises(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot read"):
        load_photo(path)


@pytest.mark.parametrize("text, expected", [
    ("kuwahara", NPRStyle("kuwahara", "medium")), ("kuwahara:3", NPRStyle("kuwahara", "medium")),
    ("kuwahara:coarse", NPRStyle("kuwahara", "coarse")), ("pencil:1.5", NPRStyle("pencil", "fine")),
    (" halftone : 8 ", NPRStyle("halftone", "coarse")),
])
def test_named_styles(text, expected):
    assert parse_photo_style(text) == expected


@pytest.mark.parametrize("text, match", [("watercolour", "unknown filter"), ("kuwahara:4", "unknown scale"),
                                         ("posterize:huge", "unknown scale"), (3, "filter:scale")])
def test_bad_style_names_raise(text, match):
    with pytest.raises(ValueError, match=match):
        parse_photo_style(text)


def test_mismatched_exemplars_always_show_another_style():
    gen = torch.Generator().manual_seed(0)
    n = 40
    style = torch.randint(3, (n, 2), generator=gen)
    exemplar = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 3, 4, 4)  # row i shows i
    data = StyleTransferSet(exemplar, exemplar, exemplar, torch.zeros(n, dtype=torch.int64), style, "train",
                            attributes=NPR_ATTRIBUTES)
    picked = mismatched_exemplars(data, seed=0)[:, 0, 0, 0].long()
    assert not (data.style[picked] == data.style).all(1).any()
    assert len(picked.unique()) > n // 4  # drawn, not one fixed row
    with pytest.raises(ValueError, match=">= 2 styles"):
        mismatched_exemplars(data.subset(data.style.eq(data.style[0]).all(1)))
