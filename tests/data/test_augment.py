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


# ---- DiffAugment's colour and cutout ------------------------------------------------------

from gancore.data.augment import diff_augment, parse_policy, random_color, random_cutout  # noqa: E402


def test_color_matches_diffaugment_written_per_image():
    """Brightness, saturation, contrast with the same three uniform draws, image by image in Python."""
    x = torch.rand(4, 3, 5, 5) * 2 - 1
    out = random_color(x, torch.Generator().manual_seed(2))
    draws = torch.rand(3, 4, generator=torch.Generator().manual_seed(2)).tolist()  # 3 calls of rand(4, 1, 1, 1)
    for i in range(4):
        img = x[i].clone() + (draws[0][i] - 0.5)
        grey = img.mean(0, keepdim=True)
        img = (img - grey) * (2 * draws[1][i]) + grey
        mean = img.mean().item()
        img = (img - mean) * (draws[2][i] + 0.5) + mean
        assert torch.allclose(out[i], img, atol=1e-6, rtol=0)


def test_color_on_grey_images_is_brightness_and_contrast():
    """One channel: saturation is the identity, so each image is an affine map a * x + b with a in [0.5, 1.5]."""
    x = torch.rand(6, 1, 7, 7) * 2 - 1
    out = random_color(x, torch.Generator().manual_seed(0))
    for i in range(6):
        centred, out_centred = x[i] - x[i].mean(), out[i] - out[i].mean()
        a = (out_centred * centred).sum() / (centred * centred).sum()  # least squares; no division by a pixel near the mean
        assert torch.allclose(out_centred, a * centred, atol=1e-5) and 0.5 <= a <= 1.5


def test_cutout_zeroes_one_clipped_square_and_passes_gradients():
    x = (torch.rand(32, 2, 8, 8) + 1).requires_grad_(True)  # no zero pixels of its own
    out = random_cutout(x, ratio=0.5, generator=torch.Generator().manual_seed(1))
    out.sum().backward()
    clipped = 0
    for i in range(32):
        zero = out[i, 0] == 0
        assert torch.equal(zero, out[i, 1] == 0)  # the same square in every channel
        rows, cols = zero.any(1).nonzero().flatten(), zero.any(0).nonzero().flatten()
        assert zero.sum() == len(rows) * len(cols)  # a rectangle
        assert 1 <= len(rows) <= 4 and 1 <= len(cols) <= 4  # side 4, less where the border cuts it
        edge = {0, 7}
        assert len(rows) == 4 or {rows[0].item(), rows[-1].item()} & edge
        assert len(cols) == 4 or {cols[0].item(), cols[-1].item()} & edge
        clipped += (len(rows), len(cols)) != (4, 4)
        assert torch.equal(out[i][:, ~zero], x[i][:, ~zero])  # the rest untouched
        assert torch.equal(x.grad[i, 0], (~zero).float())  # the gradient is the mask
    assert 0 < clipped < 32  # both kinds occur


def test_diff_augment_policy_names_and_the_identity():
    x = torch.randn(2, 1, 6, 6)
    assert parse_policy(" color, cutout ") == ("color", "cutout") and parse_policy("") == ()
    assert diff_augment(x, "", 0) is x
    with pytest.raises(ValueError, match="unknown augmentation 'flip'"):
        diff_augment(x, "color,flip")
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        diff_augment(x[0], "cutout")
