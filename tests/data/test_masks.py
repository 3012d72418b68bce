"""gancore.data.masks: random hole masks, their checks and the masked images."""
import pytest
import scipy.ndimage as ndi
import torch

from gancore.data.masks import apply_mask, check_masked_batch, random_masks


@pytest.mark.parametrize("kind", ["rect", "irregular", "mixed"])
def test_masks_have_the_shape_values_and_hole_fraction_asked_for(kind):
    masks = random_masks(24, (32, 48), kind, hole_fraction=(0.1, 0.2), seed=3)
    assert masks.shape == (24, 1, 32, 48) and masks.dtype == torch.float32
    assert set(masks.unique().tolist()) == {0.0, 1.0}
    fraction = masks.mean(dim=(1, 2, 3))
    assert float(fraction.min()) >= 0.1 and float(fraction.max()) <= 0.2
    assert float(fraction.max() - fraction.min()) > 0.03  # drawn across the range, not one size


def test_rectangles_are_rectangles_and_strokes_are_not():
    def is_box(mask):  # the hole fills its bounding box
        rows, cols = mask.any(1).nonzero(), mask.any(0).nonzero()
        return int(mask.sum()) == (int(rows.max() - rows.min()) + 1) * (int(cols.max() - cols.min()) + 1)

    rect = random_masks(10, 32, "rect", seed=0)[:, 0].bool()
    strokes = random_masks(10, 32, "irregular", seed=0)[:, 0].bool()
    assert all(is_box(m) for m in rect)
    assert not any(is_box(m) for m in strokes)
    # strokes are a few connected pieces, not scattered pixels
    assert all(ndi.label(m.numpy())[1] <= 6 for m in strokes)


def test_masks_are_a_function_of_the_seed():
    a, b = random_masks(8, 32, "mixed", seed=5), random_masks(8, 32, "mixed", seed=5)
    assert torch.equal(a, b)
    assert not torch.equal(a, random_masks(8, 32, "mixed", seed=6))


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "n must be an int >= 1"),
    ({"n": 2.5}, "n must be an int >= 1"),
    ({"kind": "circle"}, "unknown mask kind 'circle'; choose one of: rect, irregular, mixed"),
    ({"hole_fraction": (0.3, 0.2)}, r"0 < low <= high < 1"),
    ({"hole_fraction": (0.0, 0.2)}, r"0 < low <= high < 1"),
    ({"hole_fraction": 0.2}, "must be a pair"),
    ({"size": 4}, "at least 8x8"),
])
def test_bad_mask_arguments_fail_with_one_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        random_masks(**{"n": 2, "size": 16, **kwargs})


def test_apply_mask_greys_the_hole_and_keeps_the_rest():
    images = torch.rand(3, 3, 16, 16) * 2 - 1
    masks = random_masks(3, 16, seed=0)
    masked = apply_mask(images, masks)
    hole = masks.bool().expand_as(images)
    assert torch.equal(masked[~hole], images[~hole])
    assert bool((masked[hole] == 0).all())


def test_masked_batches_are_checked():
    images, masks = torch.zeros(2, 3, 16, 16), random_masks(2, 16, seed=0)
    check_masked_batch(images, masks)  # fine
    with pytest.raises(ValueError, match=r"the mask must be \(2, 1, 16, 16\)"):
        check_masked_batch(images, masks[:, :, :8])
    with pytest.raises(ValueError, match=r"the mask must be \(2, 1, 16, 16\)"):
        check_masked_batch(images, masks.expand(2, 3, 16, 16))
    with pytest.raises(ValueError, match="only 0 .* and 1"):
        check_masked_batch(images, masks * 0.5)
    with pytest.raises(ValueError, match=r"span \[0, 255\].*in \[-1, 1\]"):
        check_masked_batch(images + torch.linspace(0, 255, 16), masks)
    with pytest.raises(ValueError, match="NaN or inf"):
        check_masked_batch(images.index_fill(0, torch.tensor([1]), float("nan")), masks)
