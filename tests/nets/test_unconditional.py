"""Shapes, initialisation and batch behaviour of the unconditional models."""
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


def test_toy_generator_reaches_beyond_tanhs_range():
    """The ring has radius 2: the 2-D generator (tanh=False) must not squash its output to (-1, 1)."""
    torch.manual_seed(0)
    G = MLPGenerator(z_dim=3, hidden=8, out_shape=(2,), tanh=False)
    squashed = MLPGenerator(z_dim=3, hidden=8, out_shape=(2,), tanh=True)
    with torch.no_grad():
        G.net[4].bias.fill_(2.0)  # the last linear layer: outputs near (2, 2)
    squashed.load_state_dict(G.state_dict())  # the same weights; only the output layer differs
    z = torch.randn(4, 3)
    with torch.no_grad():
        out = G(z)
        assert out.shape == (4, 2) and MLPDiscriminator((2,), hidden=8)(out).shape == (4,)
        assert (out > 1.5).all()
        assert (squashed(z) - torch.tanh(out)).abs().max() < 1e-6


def test_dcgan_generator_depends_on_its_batch_only_in_train_mode():
    """Batch norm: in training a sample's image depends on its batch-mates' noise; in eval
    mode (running statistics) it does not, which is why sampling uses eval mode."""
    torch.manual_seed(0)
    G = DCGANGenerator(z_dim=8, width=8)
    z = torch.randn(4, 8)
    other_mates = torch.cat([z[:1], torch.randn(3, 8)])  # the same first sample, new batch-mates
    with torch.no_grad():
        a, b = G(z)[0], G(other_mates)[0]
        assert (a - b).abs().max() > 0.1 * a.abs().max()
        G.eval()
        a, b, alone = G(z)[0], G(other_mates)[0], G(z[:1])[0]
        assert (a - b).abs().max() < 1e-6 * a.abs().max() and (a - alone).abs().max() < 1e-6 * a.abs().max()


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
