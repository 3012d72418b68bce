"""GAN losses as small pure functions of discriminator logits, plus the image
losses used by conditional style transfer.

Notation (matches notebooks/01_gan_derivations.ipynb): ``r = D(x)`` are the
logits on real images, ``f = D(G(z))`` the logits on generated ones, and
``sigma`` is the logistic sigmoid, so ``D_prob = sigma(logit)``. We write
``log sigma(t) = -softplus(-t)`` and ``log(1 - sigma(t)) = -softplus(t)``,
which is how every function below stays finite for large logits.

Every adversarial loss is reachable by name through :func:`get_gan_loss`:
``minimax``, ``nonsaturating``, ``least_squares``, ``hinge`` and ``wgan_gp``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

# --------------------------------------------------------------------------
# Adversarial losses: functions of logits
# --------------------------------------------------------------------------


def d_loss_bce(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Discriminator loss of the original GAN (minus the value function).

    L_D = -E_x[log sigma(r)] - E_z[log(1 - sigma(f))]
        = E[softplus(-r)] + E[softplus(f)]
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_loss_minimax(fake_logits: Tensor) -> Tensor:
    """Minimax (saturating) generator loss: G minimises the value function.

    L_G = E_z[log(1 - sigma(f))] = -E[softplus(f)]
    dL_G/df = -sigma(f)/B, which vanishes when D confidently rejects (f << 0).
    """
    return -F.softplus(fake_logits).mean()


def g_loss_nonsaturating(fake_logits: Tensor) -> Tensor:
    """Non-saturating generator loss (Goodfellow et al. 2014, sec. 3).

    L_G = -E_z[log sigma(f)] = E[softplus(-f)]
    dL_G/df = -(1 - sigma(f))/B, which is largest exactly when D rejects.
    """
    return F.softplus(-fake_logits).mean()


def d_loss_least_squares(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Least-squares discriminator loss (LSGAN, targets b=1 real, a=0 fake).

    L_D = 1/2 E[(r - 1)^2] + 1/2 E[f^2]
    """
    return 0.5 * ((real_logits - 1) ** 2).mean() + 0.5 * (fake_logits**2).mean()


def g_loss_least_squares(fake_logits: Tensor) -> Tensor:
    """Least-squares generator loss (LSGAN, target c=1).

    L_G = 1/2 E[(f - 1)^2]
    """
    return 0.5 * ((fake_logits - 1) ** 2).mean()


def d_loss_hinge(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Hinge discriminator loss (Lim & Ye 2017; Miyato et al. 2018).

    L_D = E[max(0, 1 - r)] + E[max(0, 1 + f)]
    """
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def g_loss_hinge(fake_logits: Tensor) -> Tensor:
    """Hinge generator loss.

    L_G = -E[f]
    """
    return -fake_logits.mean()


def d_loss_wasserstein(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Wasserstein critic loss without its penalty (WGAN).

    L_D = E[f] - E[r]      (add lambda * gradient_penalty for WGAN-GP)
    """
    return fake_logits.mean() - real_logits.mean()


def g_loss_wasserstein(fake_logits: Tensor) -> Tensor:
    """Wasserstein generator loss.

    L_G = -E[f]
    """
    return -fake_logits.mean()


def gradient_penalty(critic: Callable[..., Tensor], real: Tensor, fake: Tensor,
                     *condition: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017), one interpolation per sample.

    x_hat = eps * x + (1 - eps) * G(z),  eps ~ U[0, 1] drawn per sample
    GP = E[(||grad_x_hat D(x_hat)||_2 - 1)^2]

    ``condition`` is passed through to the critic, so conditional
    discriminators D(x, *condition) are penalised the same way.
    """
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)  # (B, 1, 1, 1)
    eps = torch.rand(eps_shape, device=real.device, dtype=real.dtype, generator=generator)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat, *condition)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    grad_norm = grad.flatten(1).norm(2, dim=1)  # (B,)
    return ((grad_norm - 1) ** 2).mean()


def r1_penalty(critic: Callable[..., Tensor], real: Tensor, *condition: Tensor) -> Tensor:
    """Zero-centred gradient penalty on real images (Mescheder et al. 2018), without its weight.

    R1 = E_x ||grad_x D(x)||_2^2      (the trainer adds gamma / 2 * R1 to L_D)

    Unlike WGAN-GP's it pulls the gradient towards 0, not 1, and only on the data: once G matches
    the data, D is pushed to a flat, uninformative critic instead of oscillating around it. The
    graph is kept (``create_graph``) so D's parameters get the penalty's gradient.
    """
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x, *condition).sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).mean()  # (B,) squared norms, averaged


def consistency_penalty(logits: Tensor, augmented_logits: Tensor) -> Tensor:
    """Consistency regularisation (bCR, Zhao et al. 2021), one side of it, without its weight.

    CR = E ||D(x) - D(T(x))||^2      for x real (lambda_real) or generated (lambda_fake)

    D is asked to give an image and its augmented copy T(x) the same logit, so it cannot rely on
    what the augmentation changes. Gradients flow through both logits.
    """
    if logits.shape != augmented_logits.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and augmented logits {tuple(augmented_logits.shape)} "
                         "differ in shape; pass D's logits on the same images before and after T")
    return (logits - augmented_logits).pow(2).mean()


def matching_aware_d_loss(d_loss: Callable[[Tensor, Tensor], Tensor], real_logits: Tensor,
                          fake_logits: Tensor, mismatch_logits: Tensor, weight: float = 0.5) -> Tensor:
    """D's loss with matching-aware negatives (GAN-CLS, Reed et al. 2016): a real image shown
    with a *wrong* condition (another style's exemplar in notebooks 05 and 06, another class's
    label in notebook 04) is scored as fake too.

    Every D loss here is a real part plus a fake part, L_D(r, f) = L_r(r) + L_f(f), so

    L_D = (1 - w) L_D(r, f) + w L_D(r, m) = L_r(r) + (1 - w) L_f(f) + w L_f(m)

    with r = D(y, c, s), f = D(G(c, s), c, s), m = D(y, c, s') and s' an exemplar of another
    style; w = 1/2 is Reed et al.'s weighting, w = 0 the plain loss. Without the m term D
    can ignore the exemplar (real targets and fakes share it), and then the adversarial term
    cannot teach G anything about the style.
    """
    if not 0 <= weight <= 1:
        raise ValueError(f"the mismatch weight must be in [0, 1], got {weight}")
    return (1 - weight) * d_loss(real_logits, fake_logits) + weight * d_loss(real_logits, mismatch_logits)


@dataclass(frozen=True)
class GANLoss:
    """One adversarial objective: a D loss, a G loss and an optional penalty.

    ``gp_weight`` is lambda in L_D + lambda * GP; it is 0 for all losses but
    ``wgan_gp``.
    """

    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    gp_weight: float = 0.0


GAN_LOSSES: dict[str, GANLoss] = {
    "minimax": GANLoss("minimax", d_loss_bce, g_loss_minimax),
    "nonsaturating": GANLoss("nonsaturating", d_loss_bce, g_loss_nonsaturating),
    "least_squares": GANLoss("least_squares", d_loss_least_squares, g_loss_least_squares),
    "hinge": GANLoss("hinge", d_loss_hinge, g_loss_hinge),
    "wgan_gp": GANLoss("wgan_gp", d_loss_wasserstein, g_loss_wasserstein, gp_weight=10.0),
}
LOSS_NAMES: tuple[str, ...] = tuple(GAN_LOSSES)


def get_gan_loss(name: str) -> GANLoss:
    """The adversarial loss called ``name``; a ValueError lists the valid names."""
    if isinstance(name, GANLoss):
        return name
    try:
        return GAN_LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown GAN loss {name!r}; choose one of: {', '.join(LOSS_NAMES)}"
        ) from None


# --------------------------------------------------------------------------
# Image losses for conditional style transfer
# --------------------------------------------------------------------------


def l1_loss(output: Tensor, target: Tensor) -> Tensor:
    """L1 reconstruction: L_rec = mean |y_hat - y| over all pixels."""
    return (output - target).abs().mean()


def total_variation(images: Tensor) -> Tensor:
    """Anisotropic total variation, mean absolute difference of neighbours.

    TV(y) = mean |y[i+1, j] - y[i, j]| + mean |y[i, j+1] - y[i, j]|
    """
    dy = (images[..., 1:, :] - images[..., :-1, :]).abs().mean()
    dx = (images[..., :, 1:] - images[..., :, :-1]).abs().mean()
    return dx + dy


def gram_matrix(features: Tensor) -> Tensor:
    """Normalised Gram matrix of a feature map (Gatys et al. 2016).

    G[b, c, c'] = sum_{h,w} F[b, c, h, w] F[b, c', h, w] / (C * H * W)
    """
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)  # (B, C, HW)
    return flat @ flat.transpose(1, 2) / (c * h * w)  # (B, C, C)


def perceptual_loss(output_features: Sequence[Tensor], target_features: Sequence[Tensor]) -> Tensor:
    """Feature (perceptual) loss: mean squared distance of features per layer.

    L_perc = sum_l mean (phi_l(y_hat) - phi_l(y))^2
    """
    return sum(F.mse_loss(o, t) for o, t in zip(output_features, target_features))


def style_loss(output_features: Sequence[Tensor], style_features: Sequence[Tensor]) -> Tensor:
    """Style loss: squared Frobenius distance of Gram matrices per layer.

    L_style = sum_l mean (Gram(phi_l(y_hat)) - Gram(phi_l(s)))^2
    """
    return sum(F.mse_loss(gram_matrix(o), gram_matrix(s))
               for o, s in zip(output_features, style_features))


def ssim_loss(output: Tensor, target: Tensor, win_size: int = 7, k1: float = 0.01, k2: float = 0.03) -> Tensor:
    """One minus the structural similarity of images in [-1, 1] (data range L = 2), averaged:

    L_ssim = 1 - mean_{images, channels, windows} SSIM(y_hat, y),
    SSIM = (2 mu_a mu_b + C1)(2 s_ab + C2) / ((mu_a^2 + mu_b^2 + C1)(s_a^2 + s_b^2 + C2)),
    C1 = (k1 L)^2, C2 = (k2 L)^2, local means and sample (co)variances over a uniform
    ``win_size`` window where it fits (scikit-image's ``structural_similarity`` defaults).

    SSIM compares each window's mean, contrast and structure separately, so a filter's flat
    patches and sharp edges count as much as its colours; L1 alone rewards a safe blur.
    ``output`` is clamped to [-1, 1] first: SSIM of values outside the range means nothing.
    """
    a, b = output.clamp(-1, 1), target
    n_px = win_size * win_size
    cov_norm = n_px / (n_px - 1)

    def mean(x):
        return F.avg_pool2d(x, win_size, stride=1)

    mu_a, mu_b = mean(a), mean(b)
    var_a = cov_norm * (mean(a * a) - mu_a**2)
    var_b = cov_norm * (mean(b * b) - mu_b**2)
    cov = cov_norm * (mean(a * b) - mu_a * mu_b)
    c1, c2 = (k1 * 2) ** 2, (k2 * 2) ** 2
    similarity = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return 1 - similarity.mean()


# --------------------------------------------------------------------------
# The weighted total, as the trainer's aux_loss
# --------------------------------------------------------------------------

IMAGE_LOSS_TERMS: tuple[str, ...] = ("l1", "perceptual", "style", "tv", "ssim")


class StyleTransferLoss:
    """Weighted sum of the image losses, for ``Trainer(aux_loss=...)``.

    L_aux = w_l1 L1(y_hat, y) + w_perc L_perc(phi(y_hat), phi(y))
          + w_style L_style(phi(y_hat), phi(s)) + w_tv TV(y_hat) + w_ssim L_ssim(y_hat, y)

    y_hat is the output, y the target, s the style exemplar and phi_l the
    layers of ``feature_net.features``. Called as ``loss(fake, real,
    exemplar=s)`` (the trainer passes its named inputs: ``content`` and
    ``exemplar``), it returns ``{name: weighted term}`` for the terms whose
    weight is > 0: a term of weight 0 is not computed at all, and the feature
    network is not run unless the perceptual or style weight is > 0.

    The style term compares the output with the exemplar, not the target: the
    exemplar is the style as the user gives it (and the only one there is when
    no paired target exists), while against the target the Gram term would
    only repeat what L1 and the perceptual term already measure. Gram matrices
    sum over positions, so the exemplar showing another digit matters little.
    """

    def __init__(self, l1: float = 1.0, perceptual: float = 0.0, style: float = 0.0, tv: float = 0.0,
                 feature_net=None, ssim: float = 0.0):
        self.weights = {"l1": l1, "perceptual": perceptual, "style": style, "tv": tv, "ssim": ssim}
        for name, w in self.weights.items():
            finite = isinstance(w, (int, float)) and float("-inf") < w < float("inf")  # False for NaN
            if isinstance(w, bool) or not finite:
                raise ValueError(f"the {name} weight must be a finite number, got {w!r}")
            if w < 0:
                raise ValueError(f"the {name} weight must be >= 0, got {w}; use 0 to switch "
                                 f"the {name} term off")
        self.uses_features = perceptual > 0 or style > 0
        if self.uses_features and feature_net is None:
            raise ValueError("the perceptual and style terms need a feature network: pass "
                             "feature_net=gancore.features.get_feature_net(splits['train']), or "
                             "set both weights to 0")
        if isinstance(feature_net, torch.nn.Module):
            feature_net.eval().requires_grad_(False)  # a fixed instrument: gradients reach only y_hat
        self.feature_net = feature_net

    def __repr__(self) -> str:
        on = ", ".join(f"{k}={v:g}" for k, v in self.weights.items() if v > 0)
        return f"StyleTransferLoss({on or 'all terms off'})"

    def _features(self, x: Tensor) -> list[Tensor]:
        net = self.feature_net
        if isinstance(net, torch.nn.Module) and next(net.parameters()).device != x.device:
            net.to(x.device)  # the trainer moves G and D, not the loss
        return net.features(x)

    def __call__(self, fake: Tensor, real: Tensor, condition: Sequence[Tensor] = (), *,
                 exemplar: Tensor | None = None, **unused_inputs: Tensor) -> dict[str, Tensor]:
        """The weighted terms; ``condition`` and inputs other than ``exemplar`` (the content) are
        accepted, as the trainer passes everything, and not used."""
        if fake.shape != real.shape:
            raise ValueError(f"output {tuple(fake.shape)} and target {tuple(real.shape)} differ in shape")
        w, terms = self.weights, {}
        if w["l1"] > 0:
            terms["l1"] = w["l1"] * l1_loss(fake, real)
        if self.uses_features:
            fake_features = self._features(fake)
            if w["perceptual"] > 0:
                with torch.no_grad():
                    real_features = self._features(real)
                terms["perceptual"] = w["perceptual"] * perceptual_loss(fake_features, real_features)
            if w["style"] > 0:
                if exemplar is None:
                    raise ValueError("the style term needs the exemplar by name: loss(fake, real, "
                                     "exemplar=s), or Trainer(..., inputs={'content': c, 'exemplar': s})")
                with torch.no_grad():
                    style_features = self._features(exemplar)
                terms["style"] = w["style"] * style_loss(fake_features, style_features)
        if w["tv"] > 0:
            terms["tv"] = w["tv"] * total_variation(fake)
        if w["ssim"] > 0:
            terms["ssim"] = w["ssim"] * ssim_loss(fake, real)
        return terms
