"""Numbers for notebook 01's check of a derivation in the source texts.

``gan-quality-evaluation.txt`` (section 4.2) defines, with D a probability,

    L_D = -E_x log D(x) - E_z log(1 - D(G(z)))                       (the same as -V)

and ends its discriminator gradient with

    dL_D/dθ_D = -E_x[ ∂log D(x)/∂D(x) · ∂D(x)/∂θ_D ]
                - E_z[ -∂log(1 - D(G(z)))/∂G(z) · ∂D(G(z))/∂θ_D ].

The line before it has ∂/∂D(G(z)) and no extra minus, which gives the right result

    dL_D/dθ_D = -E_x[ 1/D(x) · ∂D(x)/∂θ_D ] + E_z[ 1/(1 - D(G(z))) · ∂D(G(z))/∂θ_D ].

∂/∂G(z) is a derivative in image space (n numbers), ∂D(G(z))/∂θ_D one in
parameter space (P numbers): their product exists only for n = 1, a one-pixel
image, so that is where we evaluate the source's last line literally.

The model: 1-pixel (or n-pixel) data, G(z) = A z + c and the probability
D(x) = sigma(w2 . tanh(W1 x + b1) + b2). Per-sample derivatives of D are taken by
the chain rule (no autograd); torch autograd of L_D is the reference.
Float64 on the CPU throughout; no other gancore module is imported.
"""
from __future__ import annotations

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

D_PARAMS = ("W1", "b1", "w2", "b2")


def tiny_pixel_gan(n_pixels: int = 1, hidden: int = 4, z_dim: int = 1, batch: int = 8,
                   seed: int = 0) -> tuple[dict[str, Tensor], Tensor, Tensor]:
    """Float64 parameters of G and D, real n-pixel images (two bumps at ±2) and noise z."""
    if min(n_pixels, hidden, z_dim, batch) < 1:
        raise ValueError(f"need n_pixels, hidden, z_dim, batch >= 1; got {n_pixels}, {hidden}, {z_dim}, {batch}")
    g = torch.Generator().manual_seed(seed)
    shapes = {"A": (n_pixels, z_dim), "c": (n_pixels,), "W1": (hidden, n_pixels), "b1": (hidden,),
              "w2": (hidden,), "b2": ()}
    params = {k: torch.randn(s, generator=g, dtype=torch.float64) for k, s in shapes.items()}
    signs = 2.0 * torch.randint(0, 2, (batch, 1), generator=g).double() - 1  # (B, 1): which bump
    x_real = 2 * signs + 0.3 * torch.randn(batch, n_pixels, generator=g, dtype=torch.float64)  # (B, n)
    z = torch.randn(batch, z_dim, generator=g, dtype=torch.float64)  # (B, z_dim)
    return params, x_real, z


def generate(p: dict[str, Tensor], z: Tensor) -> Tensor:
    """G(z) = A z + c, shape (B, n)."""
    return z @ p["A"].T + p["c"]


def d_prob(p: dict[str, Tensor], x: Tensor) -> Tensor:
    """D(x) = sigma(w2 . tanh(W1 x + b1) + b2), a probability, shape (B,)."""
    return torch.sigmoid(torch.tanh(x @ p["W1"].T + p["b1"]) @ p["w2"] + p["b2"])


def d_derivatives(p: dict[str, Tensor], x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """D(x) (B,), ∂D(x)/∂θ_D per sample (B, P) flattened in D_PARAMS order, ∂D(x)/∂x (B, n).

    Chain rule: ℓ = w2 . h + b2, h = tanh(u), u = W1 x + b1, D = sigma(ℓ), so
    ∂D/∂· = D (1 - D) ∂ℓ/∂·, with ∂ℓ/∂u = w2 ⊙ (1 - h²)."""
    h = torch.tanh(x @ p["W1"].T + p["b1"])  # (B, H)
    d = torch.sigmoid(h @ p["w2"] + p["b2"])  # (B,)
    k = p["w2"] * (1 - h**2)  # (B, H): ∂ℓ/∂u
    dl_dtheta = torch.cat([(k[:, :, None] * x[:, None, :]).flatten(1), k, h,  # W1, b1, w2
                           torch.ones_like(d)[:, None]], dim=1)               # b2
    slope = (d * (1 - d))[:, None]  # dsigma/dℓ
    return d, slope * dl_dtheta, slope * (k @ p["W1"])


def autograd_d_gradient(p: dict[str, Tensor], x_real: Tensor, z: Tensor) -> Tensor:
    """dL_D/dθ_D by torch autograd, L_D = -mean log D(x) - mean log(1 - D(G(z))), G fixed; (P,)."""
    q = {k: v.detach().clone().requires_grad_(k in D_PARAMS) for k, v in p.items()}
    x_fake = generate(q, z).detach()  # a discriminator step: G is held fixed
    d_real, d_fake = d_prob(q, x_real), d_prob(q, x_fake)
    loss = -torch.log(d_real).mean() - torch.log1p(-d_fake).mean()
    return torch.cat([g.flatten() for g in torch.autograd.grad(loss, [q[k] for k in D_PARAMS])])


def d_gradient_readings(p: dict[str, Tensor], x_real: Tensor, z: Tensor) -> dict[str, Tensor]:
    """dL_D/dθ_D (P,) three ways from per-sample derivatives, and by autograd.

    correct         -E_x[1/D · ∂D/∂θ] + E_z[1/(1-D) · ∂D/∂θ]
    source, last    -E_x[1/D · ∂D/∂θ] - E_z[-∂log(1-D(G(z)))/∂G(z) · ∂D/∂θ],
                    where -∂log(1-D)/∂G(z) = (∂D/∂x at G(z)) / (1-D): needs n = 1
    sign flip only  the last line read kindly, ∂/∂G(z) taken as ∂/∂D(G(z)):
                    -E_x[1/D · ∂D/∂θ] - E_z[1/(1-D) · ∂D/∂θ]"""
    x_fake = generate(p, z)  # (B, n)
    if x_fake.shape[1] != 1:
        raise ValueError(f"G(z) has {x_fake.shape[1]} pixels: ∂/∂G(z) is then a {x_fake.shape[1]}-vector, "
                         f"which cannot multiply the {sum(p[k].numel() for k in D_PARAMS)}-vector "
                         "∂D(G(z))/∂θ_D; the source's last line is computable only for 1-pixel images")
    d_r, dth_r, _ = d_derivatives(p, x_real)
    d_f, dth_f, dx_f = d_derivatives(p, x_fake)
    real_term = -(dth_r / d_r[:, None]).mean(0)  # the same in every reading
    fake = dth_f / (1 - d_f)[:, None]  # (B, P): 1/(1-D) · ∂D/∂θ
    return {"autograd": autograd_d_gradient(p, x_real, z),
            "correct": real_term + fake.mean(0),
            "source, last line": real_term - (dx_f * fake).mean(0),  # dx_f: (B, 1), the image-space factor
            "sign flip only": real_term - fake.mean(0)}


def d_gradient_table(p: dict[str, Tensor], x_real: Tensor, z: Tensor) -> pd.DataFrame:
    """Each reading of dL_D/dθ_D against autograd: max |Δ|, ‖Δ‖/‖autograd‖, cosine, and ∂L_D/∂b2."""
    readings = d_gradient_readings(p, x_real, z)
    auto = readings["autograd"]
    rows = {}
    for name, grad in readings.items():
        rows[name] = {"max |Δ| vs autograd": (grad - auto).abs().max().item(),
                      "‖Δ‖ / ‖autograd‖": ((grad - auto).norm() / auto.norm()).item(),
                      "cos(·, autograd)": F.cosine_similarity(grad, auto, dim=0).item(),
                      "∂L_D/∂b2": grad[-1].item()}
    return pd.DataFrame(rows).T
