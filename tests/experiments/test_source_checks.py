"""gancore.experiments.source_checks: the D-gradient readings against torch autograd, sample by sample."""
import math

import pytest
import torch

from gancore.experiments import source_checks as sc
from gancore.losses import GAN_LOSSES


def per_sample_autograd(p, x):
    """∂D/∂θ_D (B, P) and ∂D/∂x (B, n) by autograd, one sample at a time."""
    q = {k: v.detach().clone().requires_grad_(True) for k, v in p.items()}
    dth, dx = [], []
    for i in range(len(x)):
        xi = x[i:i + 1].detach().clone().requires_grad_(True)
        grads = torch.autograd.grad(sc.d_prob(q, xi).sum(), [q[k] for k in sc.D_PARAMS] + [xi])
        dth.append(torch.cat([g.flatten() for g in grads[:-1]]))
        dx.append(grads[-1][0])
    return torch.stack(dth), torch.stack(dx)


@pytest.mark.parametrize("seed, n_pixels, hidden", [(0, 1, 4), (5, 3, 6)])
def test_per_sample_derivatives_match_autograd(seed, n_pixels, hidden):
    p, x_real, _ = sc.tiny_pixel_gan(n_pixels=n_pixels, hidden=hidden, seed=seed)
    d, dth, dx = sc.d_derivatives(p, x_real)
    dth_ref, dx_ref = per_sample_autograd(p, x_real)
    assert dth.shape == (len(x_real), hidden * n_pixels + 2 * hidden + 1)
    assert (dth - dth_ref).abs().max().item() < 1e-12
    assert (dx - dx_ref).abs().max().item() < 1e-12
    assert (d - sc.d_prob(p, x_real)).abs().max().item() < 1e-15
    assert dth.abs().max().item() > 1e-3  # not trivially zero


def test_d_prob_by_hand():
    # hidden = 1: D(x) = sigma(w2 tanh(W1 x + b1) + b2) with tanh(0) = 0 gives sigma(b2)
    p = {"W1": torch.tensor([[2.0]], dtype=torch.float64), "b1": torch.tensor([-1.0], dtype=torch.float64),
         "w2": torch.tensor([3.0], dtype=torch.float64), "b2": torch.tensor(math.log(3), dtype=torch.float64)}
    d, dth, dx = sc.d_derivatives(p, torch.tensor([[0.5]], dtype=torch.float64))
    assert abs(d.item() - 0.75) < 1e-15  # sigma(log 3) = 3/4
    # h = 0, so ∂ℓ/∂u = w2 = 3: ∂D/∂(W1, b1, w2, b2) = 3/16 · (3 · 0.5, 3, 0, 1), ∂D/∂x = 3/16 · 3 · 2
    want = torch.tensor([4.5 / 16, 9 / 16, 0.0, 3 / 16], dtype=torch.float64)
    assert (dth[0] - want).abs().max().item() < 1e-15
    assert abs(dx.item() - 18 / 16) < 1e-15


def test_source_loss_is_gancore_d_loss_bce():
    p, x_real, z = sc.tiny_pixel_gan(seed=2)
    d_real, d_fake = sc.d_prob(p, x_real), sc.d_prob(p, sc.generate(p, z))
    source_l_d = -torch.log(d_real).mean() - torch.log1p(-d_fake).mean()
    logit = torch.special.logit
    assert abs(source_l_d.item() - GAN_LOSSES["minimax"].d_loss(logit(d_real), logit(d_fake)).item()) < 1e-12


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_correct_formula_matches_autograd_and_the_source_does_not(seed):
    p, x_real, z = sc.tiny_pixel_gan(seed=seed)
    readings = sc.d_gradient_readings(p, x_real, z)
    auto = readings["autograd"]
    assert auto.norm().item() > 0.1
    assert (readings["correct"] - auto).abs().max().item() < 1e-12
    for wrong in ("source, last line", "sign flip only"):
        assert (readings[wrong] - auto).norm().item() > 0.1 * auto.norm().item()


def test_source_last_line_literally_from_autograd_pieces():
    # -∂log(1 - D(G(z)))/∂G(z) by autograd w.r.t. the image, times ∂D(G(z))/∂θ_D by autograd
    p, x_real, z = sc.tiny_pixel_gan(seed=3)
    x_fake = sc.generate(p, z).detach().requires_grad_(True)
    (image_grad,) = torch.autograd.grad(torch.log1p(-sc.d_prob(p, x_fake)).sum(), x_fake)  # (B, 1)
    dth_real, _ = per_sample_autograd(p, x_real)
    dth_fake, _ = per_sample_autograd(p, x_fake.detach())
    d_real = sc.d_prob(p, x_real)
    want = -(dth_real / d_real[:, None]).mean(0) - (-image_grad * dth_fake).mean(0)
    got = sc.d_gradient_readings(p, x_real, z)["source, last line"]
    assert (got - want).abs().max().item() < 1e-12


def test_source_last_line_needs_one_pixel():
    p, x_real, z = sc.tiny_pixel_gan(n_pixels=2, seed=0)
    with pytest.raises(ValueError, match="1-pixel"):
        sc.d_gradient_readings(p, x_real, z)


def test_table():
    table = sc.d_gradient_table(*sc.tiny_pixel_gan(seed=0))
    assert list(table.index) == ["autograd", "correct", "source, last line", "sign flip only"]
    assert table.loc["correct", "max |Δ| vs autograd"] < 1e-12
    assert abs(table.loc["correct", "cos(·, autograd)"] - 1) < 1e-12
    assert table.loc["source, last line", "‖Δ‖ / ‖autograd‖"] > 0.1
    auto = sc.d_gradient_readings(*sc.tiny_pixel_gan(seed=0))["autograd"]
    assert abs(table.loc["autograd", "∂L_D/∂b2"] - auto[-1].item()) < 1e-15


def test_b2_gradient_closed_form():
    # ∂ℓ/∂b2 = 1, so the correct ∂L_D/∂b2 = E_z D(G(z)) - E_x (1 - D(x)); the source's has D(G(z)) ∂_x D instead
    p, x_real, z = sc.tiny_pixel_gan(hidden=8, batch=16, seed=4)
    d_real, x_fake = sc.d_prob(p, x_real), sc.generate(p, z)
    d_fake, _, dx_fake = sc.d_derivatives(p, x_fake)
    readings = sc.d_gradient_readings(p, x_real, z)
    assert abs(readings["correct"][-1].item() - (d_fake.mean() - (1 - d_real).mean()).item()) < 1e-12
    source_b2 = -(1 - d_real).mean() - (d_fake * dx_fake[:, 0]).mean()
    assert abs(readings["source, last line"][-1].item() - source_b2.item()) < 1e-12
