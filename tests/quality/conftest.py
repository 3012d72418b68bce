"""A tiny hand-made world for the quality tests: random triples, untrained small nets (no cache, no MNIST)."""
import pytest
import torch

from gancore.data.style_pairs import StyleTransferSet
from gancore.nets.feature import FeatureNet
from gancore.nets.translation import PatchDiscriminator, StyleGenerator


def triples(n: int, seed: int, split: str = "test_unseen") -> StyleTransferSet:
    g = torch.Generator().manual_seed(seed)
    return StyleTransferSet(content=torch.rand(n, 1, 32, 32, generator=g) * 2 - 1,
                            exemplar=torch.rand(n, 3, 32, 32, generator=g) * 2 - 1,
                            target=torch.rand(n, 3, 32, 32, generator=g) * 2 - 1,
                            digit=torch.randint(0, 10, (n,), generator=g),
                            style=torch.randint(0, 2, (n, 4), generator=g), split=split)


@pytest.fixture(scope="module")
def world():
    torch.manual_seed(0)
    generators = {"l1": {1: StyleGenerator(width=4).eval(), 2: StyleGenerator(width=4).eval()},
                  "full": {2: StyleGenerator(width=4).eval()}}
    return {"data": triples(6, 0), "generators": generators, "D": PatchDiscriminator(width=4),
            "net": FeatureNet({"digit": 10}, width=4, hidden=8).eval()}
