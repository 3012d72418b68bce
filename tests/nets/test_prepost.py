"""StyleGenerator(prepost=True) and colour transfer, against hand computations in numpy."""
import numpy as np
import pytest
import torch

from gancore.nets.base import build_net
from gancore.nets.translation import StyleGenerator, channel_stats, clamp_straight_through, colour_transfer

pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tests/conftest.py


def _images(n=2, c=3, size=16, scale=0.3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(n, c, size, size, generator=gen) * 2 - 1) * scale


def test_colour_transfer_against_numpy():
    content, exemplar = _images(seed=0), _images(seed=1)
    c, e = content.double().numpy(), exemplar.double().numpy()
    mu_c, sd_c = c.mean((2, 3), keepdims=True), c.std((2, 3), keepdims=True)
    mu_e, sd_e = e.mean((2, 3), keepdims=True), e.std((2, 3), keepdims=True)
    expected = np.clip((c - mu_c) / sd_c * sd_e + mu_e, -1, 1)
    np.testing.assert_allclose(colour_transfer(content, exemplar).numpy(), expected, atol=1e-5)
    out = colour_transfer(content, exemplar)  # small ranges: nothing clamped, statistics moved exactly
    mu, sd = channel_stats(out)
    assert torch.allclose(mu, torch.from_numpy(mu_e).float(), atol=1e-5)
    assert torch.allclose(sd, torch.from_numpy(sd_e).float(), atol=1e-5)


def test_colour_transfer_rejects_mismatched_channels():
    with pytest.raises(ValueError, match="channels"):
        colour_transfer(_images(c=2), _images())
    with pytest.raises(ValueError, match="same B"):
        colour_transfer(_images(n=3), _images(n=2))


def _gated(bias: float) -> StyleGenerator:
    torch.manual_seed(0)
    G = StyleGenerator(3, 3, 3, width=4, style_dim=8, prepost=True)  # its last layer starts at zero
    torch.nn.init.constant_(G.stats_gate.bias, bias)
    return G


def test_untrained_prepost_generator_mixes_the_statistics_by_hand():
    G = StyleGenerator(3, 3, 3, width=4, style_dim=8, prepost=True)
    content, exemplar = _images(), _images(seed=1)
    c, e = content.double().numpy(), exemplar.double().numpy()
    mu_c, sd_c = c.mean((2, 3), keepdims=True), c.std((2, 3), keepdims=True)
    mu_e, sd_e = e.mean((2, 3), keepdims=True), e.std((2, 3), keepdims=True)
    gate = 1 / (1 + np.exp(3.0))  # sigmoid(STATS_GATE_BIAS): both gates, every channel, before training
    mu = (1 - gate) * mu_c + gate * mu_e
    sd = sd_c ** (1 - gate) * sd_e ** gate
    expected = np.clip((c - mu_c) / sd_c * sd + mu, -1, 1)
    np.testing.assert_allclose(G(content=content, exemplar=exemplar).detach().numpy(), expected, atol=1e-5)


def test_prepost_gates_closed_give_the_copy_and_open_give_colour_transfer():
    content, exemplar = _images(), _images(seed=1)
    closed, opened = _gated(-40.0), _gated(40.0)  # sigmoid is 0 and 1 to float precision
    assert torch.allclose(closed(content=content, exemplar=exemplar), content, atol=1e-5)
    assert torch.allclose(opened(content=content, exemplar=exemplar), colour_transfer(content, exemplar), atol=1e-5)
    assert not torch.allclose(content, colour_transfer(content, exemplar), atol=1e-2)  # the two differ


def test_prepost_gates_learn_from_the_loss():
    G = StyleGenerator(3, 3, 3, width=4, style_dim=8, prepost=True)
    G(content=_images(), exemplar=_images(seed=1)).pow(2).sum().backward()
    assert G.stats_gate.bias.grad.abs().sum() > 0


def test_prepost_is_in_the_config_and_rebuilds():
    G = StyleGenerator(3, 3, 3, width=4, style_dim=8, prepost=True)
    assert G.config["prepost"] is True
    assert build_net("StyleGenerator", G.config).prepost
    assert not StyleGenerator(1, 3, 3, width=4).prepost  # notebook 05's default unchanged
    with pytest.raises(ValueError, match="out_channels"):
        StyleGenerator(3, 3, 1, prepost=True)


def test_prepost_output_is_in_range_and_clamp_passes_gradients():
    G = StyleGenerator(3, 3, 3, width=4, style_dim=8, prepost=True)
    out = G(content=_images(scale=1.0), exemplar=_images(scale=1.0, seed=2))
    assert out.min() >= -1 and out.max() <= 1
    x = torch.tensor([-3.0, 0.5, 2.0], requires_grad=True)
    y = clamp_straight_through(x)
    y.sum().backward()
    assert torch.equal(y.detach(), torch.tensor([-1.0, 0.5, 1.0])) and torch.equal(x.grad, torch.ones(3))
