"""gancore.nets.base: every network records how to rebuild it, and build_net rebuilds it."""
import pytest
import torch
from torch import nn

from gancore.nets import base
from gancore.nets.base import Generator, build_net, net_spec
from gancore.nets.conditional import (
    ClassConditionalDiscriminator,
    ClassConditionalGenerator,
)
from gancore.nets.translation import PatchDiscriminator, StyleGenerator
from gancore.nets.unconditional import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    PackedDiscriminator,
)

# Each network built with some arguments by position and some by name, none all-default.
BUILDS = {
    "MLPGenerator": (lambda: MLPGenerator(3, hidden=8, out_shape=(2,), tanh=False),
                     {"z_dim": 3, "hidden": 8, "out_shape": (2,), "tanh": False}),
    "MLPDiscriminator": (lambda: MLPDiscriminator((2,), 8), {"in_shape": (2,), "hidden": 8}),
    "DCGANGenerator": (lambda: DCGANGenerator(5, width=4),
                       {"z_dim": 5, "width": 4, "channels": 1, "upsample": "transposed"}),
    "DCGANDiscriminator": (lambda: DCGANDiscriminator(4, channels=3, spectral_norm=True),
                           {"width": 4, "channels": 3, "spectral_norm": True}),
    "PackedDiscriminator": (lambda: PackedDiscriminator(3, hidden=8), {"pack": 3, "in_dim": 2, "hidden": 8}),
    "ClassConditionalGenerator": (lambda: ClassConditionalGenerator(6, 4, n_classes=3, upsample="nearest"),
                                  {"z_dim": 6, "width": 4, "n_classes": 3, "channels": 1, "upsample": "nearest"}),
    "ClassConditionalDiscriminator": (lambda: ClassConditionalDiscriminator(4, n_classes=3),
                                      {"width": 4, "n_classes": 3, "channels": 1, "spectral_norm": False}),
    "StyleGenerator": (lambda: StyleGenerator(1, 3, 3, width=4, style_dim=8),
                       {"content_channels": 1, "style_channels": 3, "out_channels": 3, "width": 4, "style_dim": 8,
                        "prepost": False}),
    "PatchDiscriminator": (lambda: PatchDiscriminator(3, 1, width=4),
                           {"image_channels": 3, "content_channels": 1, "style_channels": 3, "width": 4}),
}


@pytest.mark.parametrize("name", BUILDS)
def test_config_is_every_constructor_argument_and_rebuilds_the_same_net(name):
    make, expected_config = BUILDS[name]
    torch.manual_seed(0)
    net = make()
    assert type(net).__name__ == name and net.config == expected_config  # positional args named, defaults in
    torch.manual_seed(0)
    again = build_net(name, net.config)
    assert type(again) is type(net) and again.config == net.config
    mine, theirs = net.state_dict(), again.state_dict()
    assert list(mine) == list(theirs)
    assert all(torch.equal(mine[k], theirs[k]) for k in mine)  # same seed, same architecture: same weights
    assert net_spec(net) == {"class": name, "config": expected_config}


def test_a_subclass_records_its_own_arguments():
    class WideDCGAN(DCGANGenerator):
        def __init__(self, z_dim: int = 7):
            super().__init__(z_dim, width=2 * z_dim)

    net = WideDCGAN(3)
    assert net.config == {"z_dim": 3} and net.width == 6
    assert build_net("WideDCGAN", net.config).width == 6


def test_unknown_names_and_bad_configs_fail_clearly():
    with pytest.raises(ValueError, match="unknown network class 'NoSuchNet'; known: .*StyleGenerator"):
        build_net("NoSuchNet", {})
    with pytest.raises(TypeError, match="must be a dict"):
        build_net("StyleGenerator", None)
    with pytest.raises(TypeError, match="unexpected keyword argument 'depth'"):
        build_net("StyleGenerator", {"depth": 3})


def test_a_second_class_of_one_name_elsewhere_is_refused(monkeypatch):
    monkeypatch.setattr(base, "NET_CLASSES", dict(base.NET_CLASSES))  # leave the real registry as it was
    with pytest.raises(TypeError, match="named StyleGenerator already exists in gancore.nets.translation"):
        type("StyleGenerator", (Generator,), {"__module__": "elsewhere"})


def test_spec_of_no_model_and_of_a_plain_module():
    assert net_spec(None) is None
    assert net_spec(nn.Linear(2, 3)) == {"class": "Linear", "config": None}
