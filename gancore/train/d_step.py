"""The discriminator's objective on one batch: its GAN loss, with matching-aware negatives when
asked, plus the weighted penalties (WGAN-GP, lazy R1, bCR). The trainer calls it once per D step;
it only computes, the trainer steps the optimiser.

    loss_d, record = d_objective(trainer, inputs, real_d, fake_d, d_step)
"""
from __future__ import annotations

from torch import Tensor

from gancore.data.augment import random_translate
from gancore.losses import (
    consistency_penalty,
    gradient_penalty,
    matching_aware_d_loss,
    r1_penalty,
)
from gancore.train.inputs import ModelInputs


def d_objective(trainer, inputs: ModelInputs, real_d: Tensor, fake_d: Tensor,
                d_step: int) -> tuple[Tensor, dict[str, float], Tensor, Tensor]:
    """L_D on D step ``d_step`` (counted from 0) for images as D sees them (``real_d``, ``fake_d``,
    already augmented); returns the loss, the numbers to record, and D's real and fake logits.

    With ``mismatch_weight`` w > 0 the real images are also shown with wrong conditions (the
    trainer's ``mismatched`` inputs) and scored as fake (:func:`gancore.losses.matching_aware_d_loss`).
    """
    cfg, loss, record = trainer.config, trainer.gan_loss, {}
    real_logits, fake_logits = inputs.call(trainer.D, real_d), inputs.call(trainer.D, fake_d)
    if cfg.mismatch_weight > 0:  # the real image with a wrong condition, scored as fake
        idx = trainer._indices(d_step)
        wrong = {name: x[idx].to(trainer.device) for name, x in trainer.mismatched.items()}
        mismatch_logits = ModelInputs(inputs.args, {**inputs.named, **wrong}).call(trainer.D, real_d)
        loss_d = matching_aware_d_loss(loss.d_loss, real_logits, fake_logits, mismatch_logits, cfg.mismatch_weight)
        record["d_mismatch"] = mismatch_logits.mean().item()
    else:
        loss_d = loss.d_loss(real_logits, fake_logits)
    for name, term in d_penalties(trainer, inputs, real_d, fake_d, real_logits, fake_logits, d_step).items():
        record[f"loss_{name}"] = term.item()
        loss_d = loss_d + term
    return loss_d, record, real_logits, fake_logits


def d_penalties(trainer, inputs: ModelInputs, real_d: Tensor, fake_d: Tensor, real_logits: Tensor,
                fake_logits: Tensor, d_step: int) -> dict[str, Tensor]:
    """The weighted penalties added to L_D on D step ``d_step``, by name:

    gp  lambda * GP (WGAN-GP, on interpolates)
    r1  gamma / 2 * R1 * k on real images, every k-th D step (lazy R1 with k = r1_every)
    cr  lambda * (E(D(x) - D(T(x)))^2 + E(D(G(z)) - D(T(G(z))))^2), T a random shift (bCR)
    """
    cfg, terms = trainer.config, {}
    critic = lambda x: inputs.call(trainer.D, x)  # noqa: E731
    if trainer.gp_weight > 0:
        terms["gp"] = trainer.gp_weight * gradient_penalty(critic, real_d, fake_d, generator=None)
    if cfg.r1_gamma > 0 and d_step % cfg.r1_every == 0:
        terms["r1"] = cfg.r1_gamma / 2 * cfg.r1_every * r1_penalty(critic, real_d)
    if cfg.cr_weight > 0:
        shifted = [random_translate(x, cfg.cr_shift, trainer.augment_rng) for x in (real_d, fake_d)]
        terms["cr"] = cfg.cr_weight * (consistency_penalty(real_logits, critic(shifted[0]))
                                       + consistency_penalty(fake_logits, critic(shifted[1])))
    return terms
