"""gancore.theory against hand values, scipy and torch autograd."""
import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon as scipy_js_distance
from scipy.stats import entropy, norm

from gancore.experiments import theory
from gancore.losses import GAN_LOSSES, LOSS_NAMES

X = np.linspace(-12, 12, 2401)
DX = X[1] - X[0]
P_DATA = theory.gaussian_mixture(X, [-2.0, 2.0], [0.6, 0.8])
P_G = theory.gaussian_mixture(X, [0.5], [1.5])


# ---- densities, D*, V and JSD ---------------------------------------------

def test_gaussian_mixture_matches_scipy_and_integrates_to_one():
    p = theory.gaussian_mixture(X, [-1.0, 3.0], [0.5, 1.0], [0.3, 0.7])
    reference = 0.3 * norm.pdf(X, -1.0, 0.5) + 0.7 * norm.pdf(X, 3.0, 1.0)
    assert np.abs(p - reference).max() < 1e-12
    assert abs(p.sum() * DX - 1) < 1e-6


@pytest.mark.parametrize("kwargs", [dict(means=[0, 1], stds=[1]), dict(means=[0], stds=[0]),
                                    dict(means=[0, 1], stds=[1, 1], weights=[0.5, 0.6])])
def test_gaussian_mixture_rejects_bad_components(kwargs):
    with pytest.raises(ValueError):
        theory.gaussian_mixture(X, **kwargs)


def test_optimal_discriminator_by_hand():
    d = theory.optimal_discriminator([1.0, 0.0, 0.3, 0.0], [1.0, 2.0, 0.1, 0.0])
    for got, want in zip(d, [0.5, 0.0, 0.75, 0.5]):  # 0/0 -> 1/2: any D is optimal there
        assert abs(got - want) < 1e-12


def test_numerical_argmax_finds_the_formula():
    d_star = theory.optimal_discriminator(P_DATA, P_G)
    assert np.abs(theory.pointwise_argmax(P_DATA, P_G) - d_star).max() < 1e-6


def test_value_function_of_equal_densities_is_minus_log_4():
    half = np.full_like(X, 0.5)
    assert abs(theory.value_function(half, P_DATA, P_DATA, DX) - (-math.log(4))) < 1e-6


def test_value_function_rejects_logits():
    with pytest.raises(ValueError, match="sigma"):
        theory.value_function(np.full_like(X, 2.0), P_DATA, P_G, DX)


def test_kl_and_jsd_match_scipy():
    kl = theory.kl_divergence(P_DATA, P_G, DX)
    assert abs(kl - entropy(P_DATA * DX, P_G * DX)) < 1e-6
    jsd = theory.jensen_shannon(P_DATA, P_G, DX)
    assert abs(jsd - scipy_js_distance(P_DATA * DX, P_G * DX) ** 2) < 1e-6
    assert 0.01 < jsd < math.log(2)


def test_jsd_extremes():
    assert abs(theory.jensen_shannon(P_DATA, P_DATA, DX)) < 1e-12
    assert abs(theory.jensen_shannon([1.0, 0.0], [0.0, 1.0], 1.0) - math.log(2)) < 1e-12


@pytest.mark.parametrize("g_mean, g_std", [(0.5, 1.5), (-2.0, 0.6), (5.0, 0.3)])
def test_value_at_optimum_is_minus_log4_plus_2_jsd(g_mean, g_std):
    p_g = theory.gaussian_mixture(X, [g_mean], [g_std])
    t_star = theory.optimal_discriminator(P_DATA, p_g, logits=True)
    value = theory.value_function(t_star, P_DATA, p_g, DX, logits=True)
    identity = -math.log(4) + 2 * theory.jensen_shannon(P_DATA, p_g, DX)
    assert abs(value - identity) < 1e-6


def test_value_function_logits_agrees_with_probabilities():
    t = np.sin(X) * 3  # D = sigma(t) stays well inside (0, 1)
    by_prob = theory.value_function(1 / (1 + np.exp(-t)), P_DATA, P_G, DX)
    assert abs(theory.value_function(t, P_DATA, P_G, DX, logits=True) - by_prob) < 1e-9
    t_star = theory.optimal_discriminator(P_DATA, P_G, logits=True)
    d_star = theory.optimal_discriminator(P_DATA, P_G)
    assert np.abs(1 / (1 + np.exp(-t_star)) - d_star).max() < 1e-12


def test_probability_form_is_minus_inf_where_d_star_rounds_to_one():
    # why the logit form exists: p_g ~ 1e-118 next to p_data makes D* == 1.0 in float64
    p_g = theory.gaussian_mixture(X, [5.0], [0.3])
    d_star = theory.optimal_discriminator(P_DATA, p_g)
    assert theory.value_function(d_star, P_DATA, p_g, DX) == -math.inf


def test_d_star_maximises_value():
    t_star = theory.optimal_discriminator(P_DATA, P_G, logits=True)
    best = theory.value_function(t_star, P_DATA, P_G, DX, logits=True)
    assert abs(best - theory.value_function(theory.optimal_discriminator(P_DATA, P_G), P_DATA, P_G, DX)) < 1e-9
    rng = np.random.default_rng(0)
    for direction in [np.sin(X), np.ones_like(X), rng.standard_normal(X.shape)]:
        for eps in (-0.3, -0.01, 0.01, 0.3):
            perturbed = t_star + eps * direction
            assert theory.value_function(perturbed, P_DATA, P_G, DX, logits=True) < best
            assert theory.value_function(1 / (1 + np.exp(-perturbed)), P_DATA, P_G, DX) < best
    for _ in range(5):  # any other discriminator, too
        assert theory.value_function(rng.uniform(0, 1, X.shape), P_DATA, P_G, DX) < best


# ---- gradients w.r.t. logits ----------------------------------------------

@pytest.mark.parametrize("name", LOSS_NAMES)
def test_logit_grads_match_autograd(name):
    g = torch.Generator().manual_seed(0)
    r = (3 * torch.randn(7, generator=g, dtype=torch.float64)).requires_grad_(True)
    f = (3 * torch.randn(5, generator=g, dtype=torch.float64)).requires_grad_(True)
    gan = GAN_LOSSES[name]
    d_r, d_f = torch.autograd.grad(gan.d_loss(r, f), [r, f])
    (g_f,) = torch.autograd.grad(gan.g_loss(f), [f])
    by_hand = theory.logit_grads(name, r.detach(), f.detach())
    for hand, auto in zip(by_hand, (d_r, d_f, g_f)):
        assert (hand - auto).abs().max().item() < 1e-12


def test_logit_grads_unknown_loss():
    with pytest.raises(ValueError, match="nonsaturating"):
        theory.logit_grads("vanilla", torch.zeros(2), torch.zeros(2))


def test_saturation_curves():
    d = np.array([1e-4, 0.25, 0.5, 0.9])
    curves = theory.saturation_curves(d)
    assert np.abs(curves["minimax"] - (-d)).max() < 1e-12
    assert np.abs(curves["nonsaturating"] - (-(1 - d))).max() < 1e-12
    # when D confidently rejects a fake, only the non-saturating loss still pushes G
    assert abs(curves["minimax"][0]) < 1e-3 < abs(curves["nonsaturating"][0])


# ---- the tiny GAN, backpropagated by hand ----------------------------------

@pytest.mark.parametrize("name", LOSS_NAMES)
@pytest.mark.parametrize("seed, hidden, z_dim", [(0, 8, 2), (3, 5, 3)])
def test_manual_gradients_match_autograd(name, seed, hidden, z_dim):
    errors = theory.gradient_errors(name, hidden=hidden, z_dim=z_dim, batch=12, seed=seed, device="cpu")
    assert set(errors) == {"D.W1", "D.b1", "D.w2", "D.b2", "G.A", "G.c", "d_loss", "g_loss"}
    assert max(errors.values()) < 1e-6
    assert abs(theory.max_grad_error(name, hidden=hidden, z_dim=z_dim, batch=12, seed=seed,
                                     device="cpu") - max(errors.values())) < 1e-15


def test_gradient_check_can_fail():
    # the check must tell apart the minimax and non-saturating G gradients
    p, x_real, z = theory.tiny_gan(seed=0, device="cpu")
    by_hand = theory.manual_gradients(p, x_real, z, "minimax")
    auto = theory.autograd_gradients(p, x_real, z, "nonsaturating")
    assert (by_hand["G"]["A"] - auto["G"]["A"]).abs().max().item() > 1e-3


def test_manual_gradients_have_parameter_shapes():
    p, x_real, z = theory.tiny_gan(hidden=6, z_dim=3, batch=4, device="cpu")
    grads = theory.manual_gradients(p, x_real, z, "hinge")
    for net in ("D", "G"):
        for k, grad in grads[net].items():
            assert grad.shape == p[k].shape


def test_loss_table_matches_gancore():
    table = theory.loss_table([0.5, 2.0, -3.0], [-1.0, 3.0, 0.2])
    assert tuple(table.index) == LOSS_NAMES
    assert table["max |diff|"].max() < 1e-12
    for name in LOSS_NAMES:
        assert table.loc[name, "d_loss fn"] == GAN_LOSSES[name].d_loss.__name__
        assert table.loc[name, "g_loss fn"] == GAN_LOSSES[name].g_loss.__name__
    assert abs(table.loc["least_squares", "L_G gancore"] - ((4 + 4 + 0.64) / 3) / 2) < 1e-12


def test_make_grid():
    x, dx = theory.make_grid(2.0, 5)
    assert np.abs(x - np.array([-2.0, -1.0, 0.0, 1.0, 2.0])).max() < 1e-15 and abs(dx - 1.0) < 1e-15
    with pytest.raises(ValueError, match="n_points"):
        theory.make_grid(2.0, 2)
