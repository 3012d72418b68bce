"""The GAN theory of notebook 01, as numbers.

Part 1, densities on a 1-D grid: the optimal discriminator
D*(x) = p_data / (p_data + p_g), the value function V(D, G) and the
Jensen-Shannon divergence, so that V(D*, G) = -log 4 + 2 JSD can be checked.

Part 2, gradients by hand: a tiny GAN on 2-D data,
G(z) = A z + c and D(x) = w2 . tanh(W1 x + b1) + b2, backpropagated with
the chain rule (no autograd) for every loss in gancore.losses and compared
with torch autograd in float64.

Notation as in gancore.losses: r = D(x), f = D(G(z)) are logits, sigma is the
sigmoid and D_prob = sigma(logit).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from scipy.special import logit, xlogy
from torch import Tensor

from gancore import losses
from gancore.runtime import default_device
from gancore.workbook.notebook import number, positive_int
from gancore.workbook.params import NotebookParams, param

# --------------------------------------------------------------------------
# Part 1: densities on a 1-D grid (numpy, float64)
# --------------------------------------------------------------------------


def _softplus(t):
    return np.logaddexp(0.0, t)  # log(1 + e^t), written without torch


def make_grid(x_max: float, n_points: int) -> tuple[np.ndarray, float]:
    """``n_points`` evenly spaced points on [-x_max, x_max] and their spacing dx."""
    if x_max <= 0 or n_points < 3:
        raise ValueError(f"need x_max > 0 and n_points >= 3; got x_max={x_max}, n_points={n_points}")
    x = np.linspace(-x_max, x_max, n_points)
    return x, float(x[1] - x[0])


def gaussian_mixture(x, means, stds, weights=None) -> np.ndarray:
    """Density of sum_k w_k N(mu_k, s_k^2) at the points ``x`` (equal weights by default)."""
    x = np.asarray(x, dtype=np.float64)
    means, stds = np.atleast_1d(means).astype(float), np.atleast_1d(stds).astype(float)
    weights = (np.full(len(means), 1 / len(means)) if weights is None
               else np.atleast_1d(weights).astype(float))
    if not len(means) == len(stds) == len(weights):
        raise ValueError(f"give one mean, std and weight per component; got "
                         f"{len(means)} means, {len(stds)} stds, {len(weights)} weights")
    if np.any(stds <= 0) or np.any(weights < 0) or abs(weights.sum() - 1) > 1e-9:
        raise ValueError("stds must be > 0 and weights non-negative summing to 1; "
                         f"got stds={stds.tolist()}, weights={weights.tolist()}")
    z = (x[..., None] - means) / stds  # (N, K)
    return (weights * np.exp(-0.5 * z**2) / (stds * math.sqrt(2 * math.pi))).sum(-1)  # (N,)


def optimal_discriminator(p_data, p_g, logits: bool = False) -> np.ndarray:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x))  (Goodfellow et al. 2014, Prop. 1).

    With ``logits`` it returns t*(x) = log p_data(x) - log p_g(x), so D* = sigma(t*)
    without rounding to exactly 0 or 1 where one density is far below the other.
    Where both densities vanish every D is optimal; we return 1/2 (t* = 0) there."""
    p_data, p_g = np.asarray(p_data, dtype=np.float64), np.asarray(p_g, dtype=np.float64)
    total = p_data + p_g
    if logits:
        with np.errstate(divide="ignore"):  # log 0 = -inf is the right logit there
            return np.where(total > 0, np.log(p_data) - np.log(p_g), 0.0)
    return np.divide(p_data, total, out=np.full_like(total, 0.5), where=total > 0)


def pointwise_argmax(p_data, p_g, iters: int = 100) -> np.ndarray:
    """Maximise a log y + b log(1 - y) over y in [0, 1] at every grid point by
    golden-section search: a numerical D* that never uses the formula.

    The objective is concave in y, so the search cannot stop at a wrong peak."""
    a, b = np.asarray(p_data, dtype=np.float64), np.asarray(p_g, dtype=np.float64)
    lo, hi = np.zeros_like(a), np.ones_like(a)
    ratio = (math.sqrt(5) - 1) / 2

    def objective(y):
        return xlogy(a, y) + xlogy(b, 1 - y)

    for _ in range(iters):
        left, right = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        keep_left = objective(left) >= objective(right)  # the peak lies in [lo, right]
        hi, lo = np.where(keep_left, right, hi), np.where(keep_left, lo, left)
    return np.where(a + b > 0, (lo + hi) / 2, 0.5)


def value_function(d, p_data, p_g, dx: float, logits: bool = False) -> float:
    """V(D, G) = int p_data log D + p_g log(1 - D) dx, a Riemann sum (0 log 0 = 0).

    With ``logits``, ``d`` holds t = logit D and V = -int p_data softplus(-t) + p_g softplus(t) dx,
    i.e. minus gancore.losses.d_loss_bce with integrals for expectations; this form
    stays accurate where D is within 1e-16 of 0 or 1, which float64 rounds to 0 or 1."""
    d = np.asarray(d, dtype=np.float64)
    p_data, p_g = np.asarray(p_data, dtype=np.float64), np.asarray(p_g, dtype=np.float64)
    if logits:
        with np.errstate(invalid="ignore"):  # 0 * softplus(inf) is nan; we want 0
            terms = (np.where(p_data > 0, p_data * _softplus(-d), 0.0)
                     + np.where(p_g > 0, p_g * _softplus(d), 0.0))
        return -float(np.sum(terms) * dx)
    if np.any((d < 0) | (d > 1)):
        raise ValueError("D must be a probability in [0, 1]; pass sigma(logits), "
                         "or the logits with logits=True")
    return float(np.sum(xlogy(p_data, d) + xlogy(p_g, 1 - d)) * dx)


def kl_divergence(p, q, dx: float) -> float:
    """KL(p || q) = int p log(p / q) dx, in nats."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    return float(np.sum(xlogy(p, p) - xlogy(p, q)) * dx)


def jensen_shannon(p, q, dx: float) -> float:
    """JSD(p || q) = KL(p || m)/2 + KL(q || m)/2 with m = (p + q)/2, in nats (<= log 2)."""
    m = (np.asarray(p, dtype=np.float64) + np.asarray(q, dtype=np.float64)) / 2
    return 0.5 * kl_divergence(p, m, dx) + 0.5 * kl_divergence(q, m, dx)


# --------------------------------------------------------------------------
# Part 2: gradients of the losses with respect to logits, derived by hand
# --------------------------------------------------------------------------


def logit_grads(loss: str, r: Tensor, f: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(dL_D/dr, dL_D/df, dL_G/df), each per sample, for the loss called ``loss``.

    Uses d softplus(t)/dt = sigma(t), d relu(t)/dt = [t > 0] (torch's choice
    at the kink), d/dt (t - 1)^2/2 = t - 1; the 1/B comes from the batch mean.
    The WGAN-GP penalty needs second derivatives and is not included."""
    name = losses.get_gan_loss(loss).name  # raises, listing the names, if unknown
    s_r, s_f, one = torch.sigmoid(r), torch.sigmoid(f), torch.ones_like(f)
    if name in ("minimax", "nonsaturating"):   # L_D = E softplus(-r) + E softplus(f)
        d_r, d_f = -(1 - s_r), s_f             # d softplus(-r)/dr = -sigma(-r) = -(1 - sigma(r))
        g_f = -s_f if name == "minimax" else -(1 - s_f)
    elif name == "least_squares":              # L_D = E (r-1)^2/2 + E f^2/2, L_G = E (f-1)^2/2
        d_r, d_f, g_f = r - 1, f, f - 1
    elif name == "hinge":                      # L_D = E relu(1 - r) + E relu(1 + f), L_G = -E f
        d_r, d_f, g_f = -(r < 1).to(r.dtype), (f > -1).to(f.dtype), -one
    else:                                      # wgan_gp: L_D = E f - E r, L_G = -E f
        d_r, d_f, g_f = -torch.ones_like(r), one, -one
    return d_r / len(r), d_f / len(f), g_f / len(f)


def saturation_curves(d_fake) -> dict[str, np.ndarray]:
    """dL_G/df for one fake sample as a function of D(G(z)) = sigma(f):
    minimax -D(G(z)) (vanishes as D rejects), non-saturating -(1 - D(G(z)))."""
    f = torch.as_tensor(logit(np.asarray(d_fake, dtype=np.float64)))  # (N,)
    # logit_grads divides by the batch size; multiply back for one sample's gradient
    return {name: (len(f) * logit_grads(name, f, f)[2]).numpy() for name in ("minimax", "nonsaturating")}


# --------------------------------------------------------------------------
# Part 3: a tiny GAN, backpropagated by hand
# --------------------------------------------------------------------------

D_PARAMS, G_PARAMS = ("W1", "b1", "w2", "b2"), ("A", "c")


def tiny_gan(hidden: int = 8, z_dim: int = 2, batch: int = 16, seed: int = 0,
             device: torch.device | str | None = None) -> tuple[dict[str, Tensor], Tensor, Tensor]:
    """Float64 parameters of G and D, real points from two 2-D Gaussians, and noise z."""
    g = torch.Generator().manual_seed(seed)
    shapes = {"A": (2, z_dim), "c": (2,), "W1": (hidden, 2), "b1": (hidden,), "w2": (hidden,), "b2": ()}
    params = {k: torch.randn(s, generator=g, dtype=torch.float64) for k, s in shapes.items()}
    centres = torch.tensor([[-2.0, 0.0], [2.0, 0.0]], dtype=torch.float64)
    x_real = (centres[torch.randint(0, 2, (batch,), generator=g)]
              + 0.3 * torch.randn(batch, 2, generator=g, dtype=torch.float64))  # (B, 2)
    z = torch.randn(batch, z_dim, generator=g, dtype=torch.float64)  # (B, z_dim)
    device = device or default_device()
    return {k: v.to(device) for k, v in params.items()}, x_real.to(device), z.to(device)


def generate(p: dict[str, Tensor], z: Tensor) -> Tensor:
    """G(z) = A z + c, shape (B, 2)."""
    return z @ p["A"].T + p["c"]


def discriminate(p: dict[str, Tensor], x: Tensor) -> tuple[Tensor, Tensor]:
    """Logits D(x) = w2 . tanh(W1 x + b1) + b2, shape (B,), and the hidden h (B, H)."""
    h = torch.tanh(x @ p["W1"].T + p["b1"])  # (B, H)
    return h @ p["w2"] + p["b2"], h


def _backprop_d(p: dict[str, Tensor], x: Tensor, h: Tensor, delta: Tensor):
    """From delta = dL/dlogit (B,) to the grads of D's parameters and of its input x."""
    du = delta[:, None] * p["w2"] * (1 - h**2)  # (B, H); tanh'(u) = 1 - tanh(u)^2
    grads = {"W1": du.T @ x, "b1": du.sum(0), "w2": h.T @ delta, "b2": delta.sum()}
    return grads, du @ p["W1"]  # dL/dx: (B, 2)


def manual_gradients(p: dict[str, Tensor], x_real: Tensor, z: Tensor, loss: str) -> dict:
    """L_D and L_G (from gancore.losses) and their parameter gradients by hand.

    The D step holds G fixed; the G step backpropagates through D into A and c."""
    gan = losses.get_gan_loss(loss)
    x_fake = generate(p, z)  # (B, 2)
    (r, h_r), (f, h_f) = discriminate(p, x_real), discriminate(p, x_fake)
    d_r, d_f, g_f = logit_grads(gan.name, r, f)
    from_real, _ = _backprop_d(p, x_real, h_r, d_r)
    from_fake, _ = _backprop_d(p, x_fake, h_f, d_f)
    _, dx_fake = _backprop_d(p, x_fake, h_f, g_f)  # (B, 2)
    return {"d_loss": gan.d_loss(r, f), "g_loss": gan.g_loss(f),
            "D": {k: from_real[k] + from_fake[k] for k in D_PARAMS},
            "G": {"A": dx_fake.T @ z, "c": dx_fake.sum(0)}}


def autograd_gradients(p: dict[str, Tensor], x_real: Tensor, z: Tensor, loss: str) -> dict:
    """The same as :func:`manual_gradients`, by torch autograd."""
    gan = losses.get_gan_loss(loss)
    p = {k: v.detach().clone().requires_grad_(True) for k, v in p.items()}
    x_fake = generate(p, z)
    r, f_fixed_g = discriminate(p, x_real)[0], discriminate(p, x_fake.detach())[0]
    d_loss = gan.d_loss(r, f_fixed_g)
    g_loss = gan.g_loss(discriminate(p, x_fake)[0])
    d_grads = torch.autograd.grad(d_loss, [p[k] for k in D_PARAMS])
    g_grads = torch.autograd.grad(g_loss, [p[k] for k in G_PARAMS])
    return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
            "D": dict(zip(D_PARAMS, d_grads)), "G": dict(zip(G_PARAMS, g_grads))}


def gradient_errors(loss: str, hidden: int = 8, z_dim: int = 2, batch: int = 16, seed: int = 0,
                    device: torch.device | str | None = None) -> dict[str, float]:
    """Max |manual - autograd| per parameter (keys 'D.W1', ..., 'G.c') and per loss value."""
    p, x_real, z = tiny_gan(hidden, z_dim, batch, seed, device)
    by_hand, auto = manual_gradients(p, x_real, z, loss), autograd_gradients(p, x_real, z, loss)
    errors = {f"{net}.{k}": (by_hand[net][k] - auto[net][k]).abs().max().item()
              for net in ("D", "G") for k in by_hand[net]}
    errors.update({k: abs(by_hand[k].item() - auto[k].item()) for k in ("d_loss", "g_loss")})
    return errors


def max_grad_error(loss: str, **kwargs) -> float:
    """The largest entry of :func:`gradient_errors`."""
    return max(gradient_errors(loss, **kwargs).values())


# --------------------------------------------------------------------------
# Part 4: the five losses side by side
# --------------------------------------------------------------------------

LOSS_FORMULAS = {  # name: (L_D, L_G, numpy L_D(r, f), numpy L_G(f))
    "minimax": ("E softplus(-r) + E softplus(f)", "-E softplus(f)",
                lambda r, f: _softplus(-r).mean() + _softplus(f).mean(), lambda f: -_softplus(f).mean()),
    "nonsaturating": ("E softplus(-r) + E softplus(f)", "E softplus(-f)",
                      lambda r, f: _softplus(-r).mean() + _softplus(f).mean(),
                      lambda f: _softplus(-f).mean()),
    "least_squares": ("E (r-1)^2/2 + E f^2/2", "E (f-1)^2/2",
                      lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean(),
                      lambda f: 0.5 * ((f - 1) ** 2).mean()),
    "hinge": ("E max(0, 1-r) + E max(0, 1+f)", "-E f",
              lambda r, f: np.maximum(0, 1 - r).mean() + np.maximum(0, 1 + f).mean(), lambda f: -f.mean()),
    "wgan_gp": ("E f - E r  (+ 10 GP)", "-E f", lambda r, f: f.mean() - r.mean(), lambda f: -f.mean()),
}


def loss_table(r, f) -> pd.DataFrame:
    """One row per loss: formulas, gancore function names, and L_D, L_G on the
    logits ``r``, ``f`` by gancore and by the formula in numpy (without the GP)."""
    r, f = np.asarray(r, dtype=np.float64), np.asarray(f, dtype=np.float64)
    rt, ft = torch.as_tensor(r), torch.as_tensor(f)
    rows = []
    for name in losses.LOSS_NAMES:
        gan, (d_text, g_text, d_np, g_np) = losses.get_gan_loss(name), LOSS_FORMULAS[name]
        d_val, g_val = gan.d_loss(rt, ft).item(), gan.g_loss(ft).item()
        rows.append({"loss": name, "L_D": d_text, "d_loss fn": gan.d_loss.__name__,
                     "L_D gancore": d_val, "L_D formula": d_np(r, f),
                     "L_G": g_text, "g_loss fn": gan.g_loss.__name__,
                     "L_G gancore": g_val, "L_G formula": g_np(f),
                     "max |diff|": max(abs(d_val - d_np(r, f)), abs(g_val - g_np(f)))})
    return pd.DataFrame(rows).set_index("loss")


@dataclass
class Derivations(NotebookParams):
    """Notebook 01's parameters."""

    notebook: ClassVar[str] = "01_gan_derivations"
    HEADLINE: ClassVar[tuple[str, ...]] = ("max_grad_error_all", "d_star_gap", "jsd")

    n_grid: int = param(2401, "points of the 1-D grid for the densities", positive_int, smoke=401)
    x_max: float = param(12.0, "the grid spans [-x_max, x_max]", number(0, open_min=True))
    g_mean: float = param(0.5, "mean of the generator density p_g, a Gaussian", number())
    g_std: float = param(1.5, "standard deviation of p_g", number(0, open_min=True))
    hidden: int = param(8, "hidden units of the tiny discriminator in the gradient check", positive_int)
    batch: int = param(16, "samples per batch in the gradient check", positive_int)
    out_dir: str = param("runs/latest/01_gan_derivations", "metrics.json and figures go here")
