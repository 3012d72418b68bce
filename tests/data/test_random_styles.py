"""gancore.data.random_styles: random looks for the hallucinator's training, painted as the split styles are.

References: the digit styles' own compositing (mask * ink + (1 - mask) * background), checked through
the pixels a content and its exemplar share, and numpy's compositing of per-pixel fields.
"""
import numpy as np
import pytest
import torch

import gancore.data.sources
from gancore.data.digit_styles import (STYLE_ATTRIBUTES, TEXTURES, UNSEEN_VALUES, make_style_splits, paint,
                                       style_masks)
from gancore.data.random_styles import ATTRIBUTES, PHOTOS, random_field, random_style_set

pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def train():
    images, labels = gancore.data.load_mnist()
    return make_style_splits(200, 10, seed=0, images=images[::10], labels=labels[::10])["train"]


def test_no_photo_behind_an_unseen_texture_is_used():
    unseen_sources = {TEXTURES[v][0] for values in UNSEEN_VALUES.values() for v in values}
    assert unseen_sources == {"immunohistochemistry", "gravel"}
    assert not unseen_sources & set(PHOTOS) and len(PHOTOS) >= 12


def test_a_triple_is_one_style_painted_twice(train):
    extra = random_style_set(train, 40, seed=3)
    assert len(extra) == 40 and extra.split == "random_styles" and extra.attributes == ATTRIBUTES
    assert extra.target.shape == (40, 3, 32, 32) and extra.exemplar.shape == (40, 3, 32, 32)
    assert (extra.exemplar_digit != extra.digit).all()  # the exemplar shows another class
    stroke, slant = extra.style[:, 0], extra.style[:, 1]
    content_ink = style_masks(extra.content, stroke, slant)
    exemplar_ink = style_masks(extra.exemplar_content, stroke, slant)
    both_blank = (content_ink == 0) & (exemplar_ink == 0)  # (N, 1, S, S): the background shows in both
    both_inked = (content_ink == 1) & (exemplar_ink == 1)
    for shared in (both_blank, both_inked):
        where = shared.expand(-1, 3, -1, -1)
        assert where.any() and torch.equal(extra.target[where], extra.exemplar[where])
    # every triple its own look: the background colours at a shared blank corner differ across triples
    assert len({tuple(x.round(decimals=3).tolist()) for x in extra.target[:, :, 0, 0]}) > 30


def test_seeded_and_bad_input_fails_loudly(train):
    a, b = random_style_set(train, 8, seed=1), random_style_set(train, 8, seed=1)
    assert torch.equal(a.target, b.target) and torch.equal(a.exemplar, b.exemplar)
    assert not torch.equal(a.target, random_style_set(train, 8, seed=2).target)
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        random_style_set(train, 0)
    with pytest.raises(ValueError, match="kind must be"):
        random_field(torch.Generator(), "paper")


def test_fields_keep_the_styles_ranges():
    g = torch.Generator().manual_seed(0)
    inks = torch.stack([random_field(g, "ink") for _ in range(50)])
    backgrounds = torch.stack([random_field(g, "background") for _ in range(50)])
    assert inks.min() >= 0 and inks.max() <= 0.85 + 1e-6  # dark enough to read as ink
    assert backgrounds.min() >= 0.7 - 1e-6 and backgrounds.max() <= 1 + 1e-6


def test_paint_is_numpy_compositing_of_any_fields_on_the_plain_shape(train):
    """Per pixel fields (the random styles' textures), against numpy: mask * ink + (1 - mask) * background,
    mapped to [-1, 1]; upright regular strokes leave the digit's own coverage as the mask."""
    digits = train.content[:4]
    regular, upright = (torch.full((4,), STYLE_ATTRIBUTES[a].index(v)) for a, v in (("stroke", "regular"),
                                                                                     ("slant", "upright")))
    mask = style_masks(digits, regular, upright)
    m = (digits.double().numpy() + 1) / 2                                      # (4, 1, S, S)
    assert np.abs(mask.numpy() - m).max() < 1e-6
    g = torch.Generator().manual_seed(5)
    ink, background = torch.rand(4, 3, 32, 32, generator=g), torch.rand(4, 3, 32, 32, generator=g)
    expected = (m * ink.double().numpy() + (1 - m) * background.double().numpy()) * 2 - 1
    assert np.abs(paint(mask, ink, background).numpy() - expected).max() < 1e-5
