"""gancore.losses against numbers computed by hand (math, not torch)."""
import math

import pytest
import torch

from gancore.losses import (
    LOSS_NAMES,
    GANLoss,
    consistency_penalty,
    d_loss_bce,
    d_loss_hinge,
    d_loss_least_squares,
    d_loss_wasserstein,
    g_loss_hinge,
    g_loss_least_squares,
    g_loss_minimax,
    g_loss_nonsaturating,
    g_loss_wasserstein,
    get_gan_loss,
    gradient_penalty,
    gram_matrix,
    l1_loss,
    perceptual_loss,
    r1_penalty,
    style_loss,
    total_variation,
)

TOL = 1e-6
R = torch.tensor([0.5, 2.0], dtype=torch.float64)   # logits on real samples
F = torch.tensor([-1.0, 3.0], dtype=torch.float64)  # logits on fake samples


def softplus(t: float) -> float:
    return math.log1p(math.exp(t))


def sigmoid(t: float) -> float:
    return 1 / (1 + math.exp(-t))


# ---- adversarial losses ---------------------------------------------------

def test_softplus_reference_is_what_we_think():
    assert abs(softplus(0.0) - 0.6931471805599453) < 1e-15  # log 2


def test_d_loss_bce():
    expected = (softplus(-0.5) + softplus(-2.0)) / 2 + (softplus(-1.0) + softplus(3.0)) / 2
    assert abs(d_loss_bce(R, F).item() - expected) < TOL


def test_g_loss_minimax():
    expected = -(softplus(-1.0) + softplus(3.0)) / 2  # E log(1 - sigma(f))
    assert abs(g_loss_minimax(F).item() - expected) < TOL
    expected_log_form = (math.log(1 - sigmoid(-1.0)) + math.log(1 - sigmoid(3.0))) / 2
    assert abs(g_loss_minimax(F).item() - expected_log_form) < TOL


def test_g_loss_nonsaturating():
    expected = (softplus(1.0) + softplus(-3.0)) / 2  # -E log sigma(f)
    assert abs(g_loss_nonsaturating(F).item() - expected) < TOL
    expected_log_form = -(math.log(sigmoid(-1.0)) + math.log(sigmoid(3.0))) / 2
    assert abs(g_loss_nonsaturating(F).item() - expected_log_form) < TOL


def test_generator_gradients_match_docstrings():
    # minimax: dL/df = -sigma(f)/B; non-saturating: dL/df = -(1 - sigma(f))/B
    for fn, expected in [(g_loss_minimax, [-sigmoid(-1.0) / 2, -sigmoid(3.0) / 2]),
                         (g_loss_nonsaturating, [-(1 - sigmoid(-1.0)) / 2, -(1 - sigmoid(3.0)) / 2])]:
        f = F.clone().requires_grad_(True)
        fn(f).backward()
        for got, want in zip(f.grad.tolist(), expected):
            assert abs(got - want) < TOL


def test_least_squares():
    # D: 1/2 * ((0.5-1)^2 + (2-1)^2)/2 + 1/2 * ((-1)^2 + 3^2)/2 = 0.3125 + 2.5
    assert abs(d_loss_least_squares(R, F).item() - 2.8125) < TOL
    # G: 1/2 * ((-1-1)^2 + (3-1)^2)/2 = 2
    assert abs(g_loss_least_squares(F).item() - 2.0) < TOL


def test_hinge():
    # D: (max(0, 0.5) + max(0, -1))/2 + (max(0, 0) + max(0, 4))/2 = 0.25 + 2
    assert abs(d_loss_hinge(R, F).item() - 2.25) < TOL
    assert abs(g_loss_hinge(F).item() - (-1.0)) < TOL


def test_wasserstein():
    assert abs(d_loss_wasserstein(R, F).item() - (1.0 - 1.25)) < TOL
    assert abs(g_loss_wasserstein(F).item() - (-1.0)) < TOL


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_large_logits_stay_finite(dtype):
    big = torch.tensor([100.0, -100.0], dtype=dtype)
    # softplus(100) = 100 and softplus(-100) = 3.7e-44: every BCE term is 0 or 100
    assert abs(d_loss_bce(big, big).item() - 100.0) < TOL
    assert abs(g_loss_minimax(big).item() - (-50.0)) < TOL
    assert abs(g_loss_nonsaturating(big).item() - 50.0) < TOL
    for name in LOSS_NAMES:
        gan = get_gan_loss(name)
        r = (1000 * big).requires_grad_(True)
        f = (-1000 * big).requires_grad_(True)
        total = gan.d_loss(r, f) + gan.g_loss(f)
        total.backward()
        assert torch.isfinite(total) and torch.isfinite(r.grad).all() and torch.isfinite(f.grad).all()


# ---- gradient penalty -----------------------------------------------------

def test_gradient_penalty_linear_critic():
    w = torch.tensor([1.0, 2.0, 2.0, 4.0], dtype=torch.float64, requires_grad=True)  # ||w|| = 5

    def critic(x):
        return x.flatten(1) @ w  # (B,)

    real = torch.randn(6, 1, 2, 2, dtype=torch.float64)
    fake = torch.randn(6, 1, 2, 2, dtype=torch.float64)
    gp = gradient_penalty(critic, real, fake)
    assert abs(gp.item() - (5.0 - 1.0) ** 2) < TOL
    # the penalty is differentiable: d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    gp.backward()
    expected = [2 * 4 * wi / 5 for wi in [1.0, 2.0, 2.0, 4.0]]
    for got, want in zip(w.grad.tolist(), expected):
        assert abs(got - want) < TOL


def test_r1_penalty_linear_critic_and_its_parameter_gradient():
    w = torch.tensor([1.0, 2.0, 2.0, 4.0], dtype=torch.float64, requires_grad=True)  # ||w||^2 = 25
    real = torch.randn(5, 1, 2, 2, dtype=torch.float64)
    r1 = r1_penalty(lambda x: x.flatten(1) @ w, real)  # grad_x D = w for every x
    assert abs(r1.item() - 25.0) < TOL
    r1.backward()  # d/dw ||w||^2 = 2 w: the penalty reaches D's parameters
    assert torch.allclose(w.grad, 2 * w.detach(), atol=TOL, rtol=0)
    assert not real.requires_grad  # the data are left as they were


def test_r1_penalty_against_finite_differences_on_a_small_net():
    """E ||grad_x D(x)||^2 with the input gradient taken by central differences, one pixel at a time."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 2), torch.nn.Tanh(), torch.nn.Flatten(),
                              torch.nn.Linear(3 * 2 * 2, 1)).double()
    critic = lambda x, scale: net(x).squeeze(1) * scale  # noqa: E731  (a condition passed through)
    real = torch.randn(2, 1, 3, 3, dtype=torch.float64)
    scale = torch.tensor([2.0, -0.5], dtype=torch.float64)
    h, squared = 1e-6, []
    with torch.no_grad():
        for b in range(2):
            g = torch.zeros(9, dtype=torch.float64)
            for i in range(9):
                step = torch.zeros(9, dtype=torch.float64)
                step[i] = h
                up, down = real[b] + step.view(1, 3, 3), real[b] - step.view(1, 3, 3)
                g[i] = (critic(up[None], scale[b:b + 1]) - critic(down[None], scale[b:b + 1])).item() / (2 * h)
            squared.append((g ** 2).sum().item())
    got = r1_penalty(critic, real, scale).item()
    assert abs(got - sum(squared) / 2) < 1e-6 * max(1.0, got)
    assert got > 1e-3  # not vacuous


def test_consistency_penalty_by_hand_and_shape_check():
    a = torch.tensor([0.5, -1.0, 2.0])
    b = torch.tensor([1.0, -1.0, 0.0])
    assert abs(consistency_penalty(a, b).item() - (0.25 + 0.0 + 4.0) / 3) < TOL
    with pytest.raises(ValueError, match="differ in shape"):
        consistency_penalty(a, b[:2])


def test_gradient_penalty_draws_eps_per_sample():
    def critic(x):  # D(x) = ||x||^2 / 2, so grad = x_hat and the norm depends on x_hat
        return 0.5 * (x.flatten(1) ** 2).sum(1)

    real = torch.tensor([[1.0, 0.0], [0.0, 3.0], [2.0, 2.0], [-1.0, 4.0]], dtype=torch.float64)
    fake = torch.tensor([[0.0, 1.0], [1.0, -1.0], [0.5, 0.0], [3.0, 3.0]], dtype=torch.float64)
    gp = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(7))

    eps = torch.rand(4, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    per_sample = [(math.sqrt(sum(v * v for v in (e * x + (1 - e) * y).tolist())) - 1) ** 2
                  for e, x, y in zip(eps[:, 0].tolist(), real, fake)]
    assert abs(gp.item() - sum(per_sample) / 4) < TOL
    assert len(set(eps[:, 0].tolist())) == 4  # the draws really are different
    shared = eps[0, 0] * real + (1 - eps[0, 0]) * fake  # one eps for the whole batch
    shared_gp = ((shared.norm(dim=1) - 1) ** 2).mean().item()
    assert abs(gp.item() - shared_gp) > 1e-3


def test_gradient_penalty_passes_condition():
    scale = torch.tensor([[3.0, 4.0], [0.0, 2.0], [1.0, 0.0]], dtype=torch.float64)  # norms 5, 2, 1

    def critic(x, s):
        return (x * s).sum(1)  # grad_x = s, per sample

    real, fake = torch.randn(3, 2, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    expected = ((5 - 1) ** 2 + (2 - 1) ** 2 + (1 - 1) ** 2) / 3
    assert abs(gradient_penalty(critic, real, fake, scale).item() - expected) < TOL


# ---- lookup by name -------------------------------------------------------

EXPECTED = {
    "minimax": (d_loss_bce, g_loss_minimax, 0.0),
    "nonsaturating": (d_loss_bce, g_loss_nonsaturating, 0.0),
    "least_squares": (d_loss_least_squares, g_loss_least_squares, 0.0),
    "hinge": (d_loss_hinge, g_loss_hinge, 0.0),
    "wgan_gp": (d_loss_wasserstein, g_loss_wasserstein, 10.0),
}


def test_loss_names():
    assert LOSS_NAMES == tuple(EXPECTED)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_get_gan_loss(name):
    gan = get_gan_loss(name)
    d_loss, g_loss, gp_weight = EXPECTED[name]
    assert isinstance(gan, GANLoss) and gan.name == name
    assert gan.d_loss is d_loss and gan.g_loss is g_loss
    assert abs(gan.gp_weight - gp_weight) < TOL
    assert get_gan_loss(gan) is gan


@pytest.mark.parametrize("bad", ["wgan", "Minimax", "", None, ["hinge"]])
def test_get_gan_loss_unknown_lists_names(bad):
    with pytest.raises(ValueError) as info:
        get_gan_loss(bad)
    for name in LOSS_NAMES:
        assert name in str(info.value)


# ---- image losses ---------------------------------------------------------

def test_l1_loss():
    out = torch.tensor([[1.0, -2.0], [3.0, 0.0]])
    target = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    assert abs(l1_loss(out, target).item() - (1 + 2 + 2 + 1) / 4) < TOL


def test_total_variation():
    y = torch.tensor([[[[1.0, 4.0, 2.0],
                        [0.0, 3.0, 7.0]]]])  # (1, 1, 2, 3)
    vertical = (abs(0 - 1) + abs(3 - 4) + abs(7 - 2)) / 3             # 7/3
    horizontal = (abs(4 - 1) + abs(2 - 4) + abs(3 - 0) + abs(7 - 3)) / 4  # 3
    assert abs(total_variation(y).item() - (vertical + horizontal)) < TOL
    assert abs(total_variation(torch.full((1, 1, 2, 3), 5.0)).item()) < TOL


def test_gram_matrix_by_hand():
    feats = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # (1, 2, 1, 2): channels [1,2], [3,4]
    expected = [[5 / 4, 11 / 4], [11 / 4, 25 / 4]]         # dot products / (C*H*W = 4)
    got = gram_matrix(feats)[0].tolist()
    for i in range(2):
        for j in range(2):
            assert abs(got[i][j] - expected[i][j]) < TOL


def test_gram_matrix_double_loop():
    feats = torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    gram = gram_matrix(feats)
    assert gram.shape == (2, 3, 3)
    b, c, h, w = feats.shape
    for i in range(b):
        for ch in range(c):
            for ch2 in range(c):
                direct = sum(feats[i, ch, y, x].item() * feats[i, ch2, y, x].item()
                             for y in range(h) for x in range(w)) / (c * h * w)
                assert abs(gram[i, ch, ch2].item() - direct) < TOL


def test_perceptual_loss():
    out = [torch.tensor([[1.0, 2.0]]), torch.tensor([[[1.0]]])]
    target = [torch.tensor([[0.0, 0.0]]), torch.tensor([[[3.0]]])]
    assert abs(perceptual_loss(out, target).item() - ((1 + 4) / 2 + 4)) < TOL

    g = torch.Generator().manual_seed(1)
    out = [torch.randn(2, 3, 4, 4, generator=g), torch.randn(2, 5, 2, 2, generator=g)]
    target = [torch.randn(2, 3, 4, 4, generator=g), torch.randn(2, 5, 2, 2, generator=g)]
    direct = sum(((o - t) ** 2).sum().item() / o.numel() for o, t in zip(out, target))
    assert abs(perceptual_loss(out, target).item() - direct) < 1e-5


def test_style_loss():
    out = [torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])]    # Gram [[5, 11], [11, 25]] / 4
    style = [torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]]])]  # Gram [[1, 0], [0, 1]] / 4
    expected = ((4 / 4) ** 2 + (11 / 4) ** 2 + (11 / 4) ** 2 + (24 / 4) ** 2) / 4
    assert abs(style_loss(out, style).item() - expected) < TOL

    g = torch.Generator().manual_seed(2)
    out = [torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64),
           torch.randn(2, 2, 3, 3, generator=g, dtype=torch.float64)]
    style = [torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64),
             torch.randn(2, 2, 3, 3, generator=g, dtype=torch.float64)]
    direct = 0.0
    for o, s in zip(out, style):
        b, c, h, w = o.shape
        diffs = []
        for i in range(b):
            for ch in range(c):
                for ch2 in range(c):
                    go = (o[i, ch] * o[i, ch2]).sum().item() / (c * h * w)
                    gs = (s[i, ch] * s[i, ch2]).sum().item() / (c * h * w)
                    diffs.append((go - gs) ** 2)
        direct += sum(diffs) / len(diffs)
    assert abs(style_loss(out, style).item() - direct) < TOL



def test_ssim_loss_is_one_minus_scikit_image_ssim():
    from skimage.metrics import structural_similarity

    from gancore.losses import StyleTransferLoss, ssim_loss

    gen = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 3, 20, 24, generator=gen) * 2 - 1, torch.rand(2, 3, 20, 24, generator=gen) * 2 - 1
    b = 0.5 * a + 0.5 * b  # related, so SSIM is well away from 0
    by_skimage = [structural_similarity(x.double().numpy(), y.double().numpy(), data_range=2, channel_axis=0)
                  for x, y in zip(a, b)]
    assert float(ssim_loss(a, b)) == pytest.approx(1 - sum(by_skimage) / 2, abs=1e-5)
    assert float(ssim_loss(b, b)) == pytest.approx(0.0, abs=1e-6)
    terms = StyleTransferLoss(l1=0, ssim=3.0)(a, b)
    assert list(terms) == ["ssim"] and float(terms["ssim"]) == pytest.approx(3 * float(ssim_loss(a, b)), rel=1e-6)
    with pytest.raises(ValueError, match="ssim weight"):
        StyleTransferLoss(ssim=-1.0)
