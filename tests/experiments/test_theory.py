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


def _wrong_tanh_derivative(p, x, h, delta):
    """theory._backprop_d with tanh' = 1 - h instead of 1 - h^2: a plausible slip."""
    du = delta[:, None] * p["w2"] * (1 - h)
    return {"W1": du.T @ x, "b1": du.sum(0), "w2": h.T @ delta, "b2": delta.sum()}, du @ p["W1"]


def _minimax_g_grad_for_all(loss, r, f):
    """theory.logit_grads, but always with the minimax generator gradient -sigma(f)/B."""
    d_r, d_f, _ = _right_logit_grads(loss, r, f)
    return d_r, d_f, -torch.sigmoid(f) / len(f)


_right_logit_grads = theory.logit_grads


@pytest.mark.parametrize("name", ["nonsaturating", "least_squares"])
def test_max_grad_error_is_small_when_right_and_large_when_wrong(monkeypatch, name):
    kwargs = dict(hidden=6, batch=10, seed=1, device="cpu")
    assert theory.max_grad_error(name, **kwargs) < 1e-12
    with monkeypatch.context() as m:
        m.setattr(theory, "_backprop_d", _wrong_tanh_derivative)
        assert theory.max_grad_error(name, **kwargs) > 1e-3
    with monkeypatch.context() as m:
        m.setattr(theory, "logit_grads", _minimax_g_grad_for_all)
        assert theory.max_grad_error(name, **kwargs) > 1e-3
        assert theory.max_grad_error("minimax", **kwargs) < 1e-12  # right for minimax itself


def test_loss_table_against_hand_values():
    # r = (0, log 3), f = (0, -log 3): softplus(0) = log 2, softplus(log 3) = log 4,
    # softplus(-log 3) = log(4/3); hinge has one logit on each side of its kink
    l3 = math.log(3)
    table = theory.loss_table([0.0, l3], [0.0, -l3])
    bce_d = math.log(2) + math.log(4 / 3)  # mean softplus(-r) + mean softplus(f) = log(8/3)
    hand = {  # loss: (L_D, L_G)
        "minimax": (bce_d, -bce_d / 2),
        "nonsaturating": (bce_d, (math.log(2) + math.log(4)) / 2),
        "least_squares": ((1 + (l3 - 1) ** 2) / 4 + l3**2 / 4, (1 + (l3 + 1) ** 2) / 4),
        "hinge": (1.0, l3 / 2),
        "wgan_gp": (-l3, l3 / 2),
    }
    assert tuple(table.index) == LOSS_NAMES and set(hand) == set(LOSS_NAMES)
    for name, (l_d, l_g) in hand.items():
        for column in ("L_D gancore", "L_D formula"):
            assert abs(table.loc[name, column] - l_d) < 1e-12, (name, column)
        for column in ("L_G gancore", "L_G formula"):
            assert abs(table.loc[name, column] - l_g) < 1e-12, (name, column)
        assert table.loc[name, "max |diff|"] < 1e-12


def test_loss_table_max_diff_sees_a_wrong_formula(monkeypatch):
    # a formula that disagrees with gancore (the hinge L_G sign flipped) must show up in "max |diff|"
    d_text, g_text, d_np, _ = theory.LOSS_FORMULAS["hinge"]
    monkeypatch.setitem(theory.LOSS_FORMULAS, "hinge", (d_text, g_text, d_np, lambda f: f.mean()))
    table = theory.loss_table([0.5, 2.0], [-1.0, 3.0])
    assert abs(table.loc["hinge", "max |diff|"] - 2.0) < 1e-12  # |-mean f - mean f| = 2 |mean f| = 2
    assert table.drop(index="hinge")["max |diff|"].max() < 1e-12


def test_make_grid():
    x, dx = theory.make_grid(2.0, 5)
    assert np.abs(x - np.array([-2.0, -1.0, 0.0, 1.0, 2.0])).max() < 1e-15 and abs(dx - 1.0) < 1e-15
    with pytest.raises(ValueError, match="n_points"):
        theory.make_grid(2.0, 2)
