"""Shapes and initialisation of the unconditional models."""
import pytest
import torch

from gancore.nets.unconditional import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    build_gan,
)


@pytest.mark.parametrize("model", ["mlp", "dcgan"])
def test_gan_shapes(model):
    G, D = build_gan(model, z_dim=16, width=8)
    z = torch.randn(5, 16)
    x = G(z)
    assert x.shape == (5, 1, 28, 28)
    assert x.min() >= -1 and x.max() <= 1
    assert D(x).shape == (5,)


def test_toy_shapes():
    G, D = MLPGenerator(z_dim=3, hidden=8, out_shape=(2,), tanh=False), MLPDiscriminator((2,), hidden=8)
    out = G(torch.randn(4, 3))
    assert out.shape == (4, 2) and D(out).shape == (4,)


def test_dcgan_init_follows_the_paper():
    torch.manual_seed(0)
    G, D = DCGANGenerator(z_dim=32, width=32), DCGANDiscriminator(width=32)
    convs = torch.cat([m.weight.flatten() for m in [*G.modules(), *D.modules()]
                       if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))])
    assert abs(convs.std().item() - 0.02) < 0.001
    assert abs(convs.mean().item()) < 0.001
    bn = torch.cat([m.weight for m in G.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)])
    assert abs(bn.mean().item() - 1.0) < 0.01


def test_discriminator_logits_are_per_sample():
    D = DCGANDiscriminator(width=8)
    x = torch.randn(4, 1, 28, 28)
    single = torch.stack([D(x[i:i + 1])[0] for i in range(4)])
    assert torch.allclose(D(x), single, atol=1e-6)


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="'mlp' or 'dcgan'"):
        build_gan("resnet")
