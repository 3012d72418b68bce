"""The network levers: spectral norm against power iteration and SVD, and the upsampling generator."""
import pytest
import torch
from torch import nn

from gancore.nets.base import build_net, spectrally_normalised, upsample_conv
from gancore.nets.conditional import ClassConditionalDiscriminator, ClassConditionalGenerator
from gancore.nets.unconditional import DCGANDiscriminator, DCGANGenerator, build_gan

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def power_iteration(w: torch.Tensor, steps: int = 500) -> float:
    """The largest singular value of a matrix, by alternating u = W v / |W v|, v = W^T u / |W^T u|."""
    v = torch.ones(w.shape[1], dtype=torch.float64)
    for _ in range(steps):
        u = w @ v
        u = u / u.norm()
        v = w.T @ u
        v = v / v.norm()
    return (u @ w @ v).item()


def test_spectral_norm_of_a_known_matrix():
    """W = U diag(3, 2, 0.5) V^T: power iteration finds 3, and torch's parametrisation divides by it."""
    torch.manual_seed(0)
    u, _ = torch.linalg.qr(torch.randn(4, 3, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(5, 3, dtype=torch.float64))
    w = u @ torch.diag(torch.tensor([3.0, 2.0, 0.5], dtype=torch.float64)) @ v.T  # (4, 5)
    assert abs(power_iteration(w) - 3.0) < 1e-9
    layer = spectrally_normalised(nn.Linear(5, 4).double())
    with torch.no_grad():
        layer.parametrizations.weight.original.copy_(w)
    for _ in range(50):  # one power iteration per training forward pass
        layer(torch.zeros(1, 5, dtype=torch.float64))
    assert torch.allclose(layer.weight, w / 3.0, atol=1e-6, rtol=0)
    assert torch.linalg.svdvals(layer.weight)[0].item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("make", [lambda: DCGANDiscriminator(width=4, spectral_norm=True),
                                  lambda: ClassConditionalDiscriminator(width=4, spectral_norm=True)])
def test_spectral_norm_covers_every_layer_of_d(make):
    torch.manual_seed(0)
    D = make()
    args = (torch.randint(0, 10, (2,)),) if isinstance(D, ClassConditionalDiscriminator) else ()
    D(torch.randn(2, 1, 28, 28), *args)  # runs in training mode
    layers = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]
    assert len(layers) == (4 if args else 3)
    for layer in layers:
        for _ in range(100):  # each read of .weight in training mode is one more power iteration
            layer.weight
        original = layer.parametrizations.weight.original.detach().double()
        matrix = original.flatten(1)  # (out, in * kh * kw): what the normalisation divides by
        sigma = power_iteration(matrix)
        assert sigma == pytest.approx(torch.linalg.svdvals(matrix)[0].item(), rel=1e-6)
        assert torch.allclose(layer.weight.detach().double(), original / sigma, atol=1e-4, rtol=1e-3)
    plain = type(D)(width=4)
    assert not any(hasattr(m, "parametrizations") for m in plain.modules())  # off by default
    assert type(build_net(type(D).__name__, D.config)) is type(D)  # a checkpoint rebuilds it
    assert build_net(type(D).__name__, D.config).state_dict().keys() == D.state_dict().keys()


def test_nearest_upsampling_has_no_checkerboard():
    """On a constant map, 'nearest then 3x3 conv' is constant away from the border; DCGAN's transposed
    conv (kernel 4, stride 2) gives each output pixel 4 taps of different weights: period-2 artefacts."""
    torch.manual_seed(0)
    constant = torch.ones(1, 3, 6, 6)
    nearest = upsample_conv(3, 2, "nearest")(constant)[0, :, 1:-1, 1:-1]  # (2, 10, 10) interior
    transposed = upsample_conv(3, 2, "transposed")(constant)[0, :, 1:-1, 1:-1]
    assert nearest.shape == transposed.shape == (2, 10, 10)
    assert (nearest - nearest[:, :1, :1]).abs().max() < 1e-6
    assert (transposed - transposed[:, :1, :1]).abs().max() > 1e-2
    # and the period-2 pattern repeats: the interior is a 2x2 tile
    assert torch.allclose(transposed[:, :-2, :-2], transposed[:, 2:, 2:], atol=1e-6)
    with pytest.raises(ValueError, match="unknown upsample mode 'bilinear'"):
        upsample_conv(3, 2, "bilinear")


@pytest.mark.parametrize("G", [DCGANGenerator(z_dim=8, width=4, upsample="nearest"),
                               ClassConditionalGenerator(z_dim=8, width=4, upsample="nearest")])
def test_upsampling_generators_make_28x28_digits(G):
    args = (torch.arange(3),) if isinstance(G, ClassConditionalGenerator) else ()
    out = G(torch.randn(3, 8), *args)
    assert out.shape == (3, 1, 28, 28) and out.abs().max() <= 1
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in G.modules())
    assert any(isinstance(m, nn.ConvTranspose2d) for m in type(G)(z_dim=8, width=4).modules())  # the default


def test_mlp_refuses_the_dcgan_levers():
    with pytest.raises(ValueError, match="DCGAN options"):
        build_gan("mlp", upsample="nearest")
    G, D = build_gan("dcgan", z_dim=8, width=4, upsample="nearest", spectral_norm=True)
    assert G.config["upsample"] == "nearest" and D.config["spectral_norm"] is True
