"""Image files of every common mode read right (16-bit, CMYK, grey+alpha, 1-bit, palette), and
photos past the size limit refused before they are decoded or resized."""
import numpy as np
import pytest
import torch
from PIL import Image

from gancore.data import photo_input
from gancore.data.photo_input import MAX_SIDE, load_photo


def saved(image: Image.Image, path):
    image.save(path)
    return path


def test_a_16_bit_png_keeps_its_16_bits(tmp_path):
    dark = saved(Image.fromarray(np.full((8, 8), 1000, np.uint16)), tmp_path / "dark16.png")
    assert Image.open(dark).mode.startswith("I")  # Pillow reads it as 16-bit grey
    x = load_photo(dark)
    assert x.shape == (1, 3, 8, 8)
    assert torch.allclose(x, torch.full_like(x, 1000 / 65535 * 2 - 1), atol=1e-6)  # nearly black, not grey
    white = saved(Image.fromarray(np.full((8, 8), 65535, np.uint16)), tmp_path / "white16.png")
    assert torch.allclose(load_photo(white), torch.ones(1, 3, 8, 8), atol=1e-6)


@pytest.mark.parametrize("cmyk, rgb", [((0, 0, 0, 255), (0, 0, 0)), ((0, 0, 0, 0), (255, 255, 255)),
                                       ((255, 0, 0, 0), (0, 255, 255))])
def test_a_cmyk_jpeg_becomes_rgb(tmp_path, cmyk, rgb):
    path = saved(Image.new("CMYK", (16, 16), cmyk), tmp_path / "cmyk.jpg")
    x = load_photo(path)
    assert x.shape == (1, 3, 16, 16)
    want = torch.tensor(rgb, dtype=torch.float32).view(1, 3, 1, 1) / 127.5 - 1
    assert torch.allclose(x, want.expand_as(x), atol=0.05)  # JPEG: within a few levels


def test_grey_alpha_one_bit_and_palette_pngs_read_as_what_they_show(tmp_path):
    la = load_photo(saved(Image.new("LA", (8, 8), (51, 128)), tmp_path / "la.png"))
    assert torch.allclose(la, torch.full((1, 3, 8, 8), 51 / 127.5 - 1), atol=1e-6)  # alpha dropped
    bits = np.zeros((8, 8), bool)
    bits[:, 4:] = True
    one = load_photo(saved(Image.fromarray(bits), tmp_path / "one.png"))
    assert one[0, :, :, :4].eq(-1).all() and one[0, :, :, 4:].eq(1).all()
    palette = Image.new("P", (8, 8), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    red = load_photo(saved(palette, tmp_path / "p.png"))
    assert red[0, 0].eq(1).all() and red[0, 1:].eq(-1).all()


def test_a_strip_that_resizing_would_blow_up_is_refused(tmp_path):
    strip = np.zeros((4, 20000), np.uint8)
    with pytest.raises(ValueError, match=r"past the limit.*shrink or crop it first"):
        load_photo(saved(Image.fromarray(strip), tmp_path / "strip.png"), 64)  # the file itself is too wide
    with pytest.raises(ValueError, match=r"resized to size=64 would be 64 x 64000 pixels, past the limit"):
        load_photo(strip[:, :4000], 64)
    with pytest.raises(ValueError, match="past the limit"):
        load_photo(np.zeros((8, 8)), (MAX_SIDE + 4, 8))
    assert load_photo(strip[:, :400], 8).shape == (1, 3, 8, 800)  # within the limit: fine


def test_a_file_past_the_limit_is_refused_before_it_is_decoded(tmp_path, monkeypatch):
    path = saved(Image.new("RGB", (64, 48)), tmp_path / "big.png")
    monkeypatch.setattr(photo_input, "MAX_PIXELS", 64 * 48 - 1)
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("decoded a photo past the limit"))
    with pytest.raises(ValueError, match=r"big.png would be 48 x 64 pixels, past the limit"):
        load_photo(path)
