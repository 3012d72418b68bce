"""Random translation: against a direct per-image loop, with gradients."""
import pytest
import torch

from gancore.data.augment import random_translate


def shifted_by_hand(img, dy, dx, s, fill):
    """img (C, H, W) moved so that output[y, x] = padded[y + dy, x + dx]."""
    c, h, w = img.shape
    padded = torch.full((c, h + 2 * s, w + 2 * s), fill)
    padded[:, s:s + h, s:s + w] = img
    return padded[:, dy:dy + h, dx:dx + w]


def test_matches_a_per_image_loop():
    x = torch.randn(6, 3, 9, 7)
    out = random_translate(x, 2, torch.Generator().manual_seed(4), fill=-1.0)
    dy, dx = torch.randint(0, 5, (2, 6), generator=torch.Generator().manual_seed(4))
    for i in range(6):
        expected = shifted_by_hand(x[i], int(dy[i]), int(dx[i]), 2, -1.0)
        assert torch.equal(out[i], expected)
    assert not torch.equal(out, x)  # seed 4 moves at least one image


def test_zero_shift_is_the_identity_and_bad_input_raises():
    x = torch.randn(2, 1, 5, 5)
    assert random_translate(x, 0) is x
    with pytest.raises(ValueError, match="max_shift must be >= 0"):
        random_translate(x, -1)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        random_translate(x.flatten(1), 1)


def test_gradients_flow_back_to_the_uncovered_pixels():
    x = torch.randn(4, 1, 6, 6, requires_grad=True)
    random_translate(x, 1, torch.Generator().manual_seed(0)).sum().backward()
    per_image = x.grad.sum(dim=(1, 2, 3))
    assert ((x.grad == 0) | (x.grad == 1)).all()  # each pixel lands at most once
    assert (per_image >= 25).all() and (per_image <= 36).all()  # a 1-pixel shift drops <= 11 of 36
