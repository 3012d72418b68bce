"""One GAN trainer for unconditional, conditional and translation models.

The data are in-memory tensors: ``real`` (N, ...), an optional tuple
``condition`` of tensors (N, ...) passed to both networks by position, as in
``G(z, *condition)`` and ``D(x, *condition)``, and optional named ``inputs``
passed by name, as in ``G(content=c, exemplar=e)`` and ``D(x, content=c,
exemplar=e)``. A generator without noise (``z_dim`` 0 or absent) is called
without ``z``; with no discriminator (``D=None``) G trains on its auxiliary
losses alone. Batches are drawn by index,
from a permutation that depends only on (seed, epoch), so the batch of any
step is known without replaying the run: that, plus saved RNG states, makes a
resumed run on CPU equal the uninterrupted one bit for bit. ``fit`` runs callbacks
(evaluations, time budgets) between steps without disturbing either.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from gancore.data.augment import diff_augment
from gancore.losses import get_gan_loss
from gancore.runtime import as_device
from gancore.train.callbacks import Callback, StatusFile, check_callbacks, run_callbacks
from gancore.train.checkpoint import (  # noqa: F401  (CHECKPOINT_FORMAT, CheckpointError: re-exported)
    CHECKPOINT_FORMAT,
    CheckpointError,
    check_config_matches,
    check_models_fit,
    load_weights,
    model_specs,
    read_checkpoint,
    rebuild_models,
    restore_rng_states,
    rng_states,
    saved_config,
    write_checkpoint,
)
from gancore.train.checks import check_finite_data, check_image_range
from gancore.train.config import TrainConfig
from gancore.train.d_step import d_objective
from gancore.train.inputs import ModelInputs

STABLE_LOSSES = ("nonsaturating", "wgan_gp")  # what the NaN guard suggests, bar the loss in use

# aux_loss(fake, real, condition, **inputs) -> {name: weighted term}
AuxLoss = Callable[..., "dict[str, Tensor]"]


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or inf; training stopped before the models were updated."""


class Trainer:
    """Train ``G`` against ``D`` on in-memory data.

    ``aux_loss(fake, real, condition, **inputs)`` returns extra, already
    weighted, generator terms by name (L1, perceptual, ...); each is added to
    L_G and recorded in the history. ``discriminator=None`` makes a supervised
    trainer: no D, no D step, L_G = the auxiliary terms (``adv_weight`` must
    be 0); the D columns of the history are then NaN.

    ``mismatched`` (with ``config.mismatch_weight`` > 0): named inputs that replace some of
    ``inputs`` row for row to make a *wrong* condition, e.g. ``{"exemplar": another style's
    exemplar}``; D then also learns to score (real, wrong condition) as fake
    (:func:`gancore.losses.matching_aware_d_loss`).
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module | None, real: Tensor,
                 condition: Sequence[Tensor] = (), config: TrainConfig | None = None,
                 aux_loss: AuxLoss | None = None, device: str | torch.device | None = None,
                 checkpoint_path: str | Path | None = None, progress: bool = True,
                 inputs: Mapping[str, Tensor] | None = None,
                 mismatched: Mapping[str, Tensor] | None = None, **overrides):
        self.config = config or TrainConfig(**overrides)
        if config is not None and overrides:
            self.config = TrainConfig(**{**asdict(config), **overrides})
        cfg = self.config
        self.gan_loss = get_gan_loss(cfg.loss)
        self.device = as_device(device)
        self.G = generator.to(self.device)
        self.D = None if discriminator is None else discriminator.to(self.device)
        self._check_adversarial(cfg.adv_weight)
        self.real, self.condition = real, tuple(condition)
        self.model_inputs = ModelInputs.checked(self.condition, inputs, len(real))
        self.inputs = self.model_inputs.named
        self.mismatched = ModelInputs.checked((), mismatched, len(real)).named
        unknown = set(self.mismatched) - set(self.inputs)
        if unknown:
            raise ValueError(f"mismatched inputs {sorted(unknown)} replace named inputs, and there are only "
                             f"{sorted(self.inputs)}")
        self._check_mismatch(cfg.mismatch_weight)
        on_images = [name for name in ("augment_shift", "augment", "cr_weight") if getattr(cfg, name)]
        if on_images and real.dim() != 4:
            raise ValueError(f"{' and '.join(on_images)} {'needs' if len(on_images) == 1 else 'need'} images "
                             f"(N, C, H, W), got real of shape {tuple(real.shape)}")
        if len(real) < cfg.batch_size:
            raise ValueError(f"batch_size {cfg.batch_size} exceeds the {len(real)} images")
        check_finite_data({"real": real, **{f"condition[{i}]": c for i, c in enumerate(self.condition)},
                           **self.inputs, **{f"mismatched {k}": v for k, v in self.mismatched.items()}})
        check_image_range("real", real)
        self.aux_loss = aux_loss
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        self.progress = progress

        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=cfg.betas)
        self.opt_d = None if self.D is None else \
            torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=cfg.betas)
        self.noise_rng = torch.Generator().manual_seed(cfg.seed)
        self.augment_rng = torch.Generator().manual_seed(cfg.seed + 3)
        self.z_dim = int(getattr(self.G, "z_dim", 0) or 0)  # 0: G takes no noise
        n_fixed = min(cfg.n_samples, len(real))
        self.fixed_noise = torch.randn(n_fixed, self.z_dim, generator=torch.Generator().manual_seed(cfg.seed + 1))
        self.fixed_condition = tuple(c[:n_fixed] for c in self.condition)
        self.fixed_inputs = {k: v[:n_fixed] for k, v in self.inputs.items()}
        self.step = 0
        self.records: list[dict] = []
        self.eval_records: list[dict] = []  # one per callback round that returned results
        self.stop_reason: str | None = None  # set by request_stop; why the last fit ended early
        self.samples: dict[int, Tensor] = {}  # step -> (n_samples, C, H, W) on CPU
        self._perm_cache: tuple[int, Tensor] | None = None

    def reconfigure(self, aux_loss: AuxLoss | None | str = "keep", **changes) -> None:
        """Change the loss, weights or learning rates between calls to ``train``
        (what the loss-weight explorer's sliders do); the models and optimizer
        states carry on. Bad values raise before anything changes."""
        config = TrainConfig(**{**asdict(self.config), **changes})
        self._check_adversarial(config.adv_weight)
        self._check_mismatch(config.mismatch_weight)
        self.config, self.gan_loss = config, get_gan_loss(config.loss)
        self._set_rates(config.lr_factor(self.step))
        if aux_loss != "keep":
            self.aux_loss = aux_loss

    @property
    def gp_weight(self) -> float:
        """Lambda of the gradient penalty: the config's, or else the loss's own (10 for wgan_gp, else 0)."""
        return self.gan_loss.gp_weight if self.config.gp_weight is None else self.config.gp_weight

    def _check_adversarial(self, adv_weight: float) -> None:
        if self.D is None and adv_weight > 0:
            raise ValueError(f"adv_weight={adv_weight} needs a discriminator, and this trainer has none; "
                             "pass adv_weight=0 for a supervised run, or pass a discriminator")

    def _check_mismatch(self, mismatch_weight: float) -> None:
        if mismatch_weight > 0 and not self.mismatched:
            raise ValueError(f"mismatch_weight={mismatch_weight} needs wrong conditions to show D: pass "
                             "mismatched={'exemplar': exemplars of other styles}, or mismatch_weight=0")

    @classmethod
    def load(cls, path: str | Path, real: Tensor, condition: Sequence[Tensor] = (), *,
             inputs: Mapping[str, Tensor] | None = None, mismatched: Mapping[str, Tensor] | None = None,
             aux_loss: AuxLoss | None = None,
             device: str | torch.device | None = None, checkpoint_path: str | Path | None = None,
             progress: bool = True) -> "Trainer":
        """A trainer rebuilt from the checkpoint at ``path`` alone: G and D from their saved
        classes and configs, the saved TrainConfig, then weights, optimisers, RNG, step and
        history. The data and ``aux_loss`` (code, not state) are passed again."""
        path = Path(path)
        state = read_checkpoint(path)
        G, D = rebuild_models(state, path)
        trainer = cls(G, D, real, condition, config=saved_config(state), aux_loss=aux_loss, device=device,
                      checkpoint_path=checkpoint_path, progress=progress, inputs=inputs,
                      mismatched=mismatched)
        return trainer._restore(state, path)

    # ---------------------------------------------------------------- batches

    @property
    def batches_per_epoch(self) -> int:
        return len(self.real) // self.config.batch_size  # drop the ragged last batch

    def steps_for_epochs(self, epochs: float) -> int:
        """Generator steps that make ``epochs`` passes over the data with D's batches."""
        return max(1, math.ceil(epochs * self.batches_per_epoch / self.config.d_steps))

    def _indices(self, batch_number: int) -> Tensor:
        epoch, i = divmod(batch_number, self.batches_per_epoch)
        if self._perm_cache is None or self._perm_cache[0] != epoch:
            rng = torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch)
            self._perm_cache = (epoch, torch.randperm(len(self.real), generator=rng))
        bs = self.config.batch_size
        return self._perm_cache[1][i * bs:(i + 1) * bs]

    def _batch(self, batch_number: int) -> tuple[Tensor, ModelInputs]:
        idx = self._indices(batch_number)
        real = self.real[idx].to(self.device, non_blocking=True)
        return real, self.model_inputs.rows(idx, self.device)

    def _noise(self, n: int) -> tuple[Tensor, ...]:
        """G's leading arguments: (z,) with z ~ N(0, I) of shape (n, z_dim), or () for no noise."""
        if not self.z_dim:
            return ()
        return (torch.randn(n, self.z_dim, generator=self.noise_rng).to(self.device),)

    def _for_d(self, images: Tensor) -> Tensor:
        """What D is shown: the images, randomly shifted when ``augment_shift`` > 0, and coloured or
        cut out as ``augment`` says (DiffAugment). Real and fake are augmented alike, so D cannot
        tell them apart by it, and G's gradient flows through it; only the judged image changes,
        never the condition."""
        return diff_augment(images, self.config.augment, self.config.augment_shift, self.augment_rng)

    # --------------------------------------------------------------- training

    def fit(self, steps: int, *, every: int = 0, callbacks: Sequence[Callback] = (),
            desc: str | None = None) -> pd.DataFrame:
        """Run ``steps`` more generator steps; returns the whole history.

        Each ``callback(trainer)`` runs before the first step of a fresh trainer, after every
        ``every``-th step (0: never) and after the last; the dicts they return become rows of
        :attr:`evals`. They cannot change the run and the clock stops while they run
        (:mod:`gancore.train.callbacks`); one may end training early with :meth:`request_stop`.
        """
        for name, value in (("steps", steps), ("every", every)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        callbacks, total, self.stop_reason = check_callbacks(callbacks), self.step + int(steps), None
        self.G.train()
        if self.D is not None:
            self.D.train()
        bar = tqdm(total=total, initial=self.step, desc=desc or self.gan_loss.name,
                   disable=not self.progress, leave=False)
        status = StatusFile(total, desc or self.gan_loss.name)  # a batch's live display reads it
        # the clocks accumulate over calls, so chunked or resumed runs keep one clock
        last = self.records[-1] if self.records else {}
        start = time.perf_counter() - last.get("seconds", 0.0)
        cpu_start = time.process_time() - last.get("cpu_seconds", 0.0)
        due = self.step == 0 and steps > 0  # a fresh trainer: evaluate the untrained models too
        try:
            while True:
                if callbacks and due:
                    paused, cpu_paused = run_callbacks(self, callbacks)
                    start, cpu_start = start + paused, cpu_start + cpu_paused  # evaluations are not training
                if self.step >= total or self.stop_reason is not None:
                    break
                record = self._train_step()
                record["seconds"] = time.perf_counter() - start
                record["cpu_seconds"] = time.process_time() - cpu_start
                self.records.append(record)
                self.step += 1
                bar.update(1)
                status.update(self.step)
                if self.step % 10 == 0:
                    shown = ("loss_d", "loss_g") if self.D is not None else ("loss_g",)  # no D, no loss_d=nan
                    bar.set_postfix({k: f"{record[k]:.3f}" for k in shown})
                if self.config.sample_every and self.step % self.config.sample_every == 0:
                    self.samples[self.step] = self.sample_grid()
                due = self.step == total or (every > 0 and self.step % every == 0)
        finally:
            bar.close()
        if self.checkpoint_path is not None:
            self.save_checkpoint(self.checkpoint_path)
        return self.history

    def train(self, steps: int, desc: str | None = None) -> pd.DataFrame:
        """Run ``steps`` more generator steps, no callbacks; returns the whole history."""
        return self.fit(steps, desc=desc)

    def train_until(self, total_steps: int, desc: str | None = None) -> pd.DataFrame:
        """Train until ``self.step == total_steps`` (a resumed run continues)."""
        if isinstance(total_steps, bool) or not isinstance(total_steps, (int, np.integer)) or total_steps < 0:
            raise ValueError(f"total_steps must be a non-negative int, got {total_steps!r}")
        return self.fit(max(0, total_steps - self.step), desc=desc)

    def request_stop(self, reason: str) -> None:
        """Called by a callback: end :meth:`fit` after this callback round (``stop_reason`` says why)."""
        self.stop_reason = str(reason)

    @property
    def train_seconds(self) -> float:
        """Wall seconds spent training so far, evaluations by callbacks excluded."""
        return self.records[-1]["seconds"] if self.records else 0.0

    def _set_rates(self, factor: float = 1.0) -> None:
        """The optimisers' learning rates (times ``factor``) and betas, from the config."""
        for opt, lr in ((self.opt_g, self.config.lr_g), (self.opt_d, self.config.lr_d)):
            for group in opt.param_groups if opt is not None else ():
                group["lr"], group["betas"] = lr * factor, self.config.betas

    def _train_step(self) -> dict:
        cfg, loss = self.config, self.gan_loss
        record = {"step": self.step + 1}
        if cfg.lr_decay_steps:
            self._set_rates(cfg.lr_factor(self.step))
        batch_number = self.step * cfg.d_steps
        adversarial = self.D is not None and cfg.adv_weight > 0
        if adversarial:
            for k in range(cfg.d_steps):
                real, inputs = self._batch(batch_number + k)
                with torch.no_grad():
                    fake = inputs.call(self.G, *self._noise(len(real)))
                real_d, fake_d = self._for_d(real), self._for_d(fake)
                loss_d, d_record, real_logits, fake_logits = d_objective(self, inputs, real_d, fake_d,
                                                                         batch_number + k)
                record.update(d_record)
                self._check_finite("D", loss_d)
                self.opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                self.opt_d.step()
            record.update(loss_d=loss_d.item(), d_real=real_logits.mean().item(),
                          d_fake=fake_logits.mean().item())
        else:
            if self.aux_loss is None:  # checked here, as reconfigure may remove it later
                raise ValueError("nothing trains G: there is no discriminator (or adv_weight is 0) and no "
                                 "aux_loss; pass aux_loss=..., or a discriminator with adv_weight > 0")
            real, inputs = self._batch(batch_number)
            record.update(loss_d=float("nan"), d_real=float("nan"), d_fake=float("nan"))

        fake = inputs.call(self.G, *self._noise(len(real)))
        loss_g = torch.zeros((), device=self.device)
        if adversarial:
            adv = loss.g_loss(inputs.call(self.D, self._for_d(fake)))
            record["loss_adv"] = adv.item()
            loss_g = loss_g + cfg.adv_weight * adv
        if self.aux_loss is not None:
            for name, term in self.aux_loss(fake, real, inputs.args, **inputs.named).items():
                record[f"loss_{name}"] = term.item()
                loss_g = loss_g + term
        self._check_finite("G", loss_g)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        record["loss_g"] = loss_g.item()
        return record

    def _check_finite(self, which: str, value: Tensor) -> None:
        if not torch.isfinite(value):
            cfg = self.config
            advice = f"Lower lr_g/lr_d (now {cfg.lr_g}/{cfg.lr_d})"
            if cfg.adv_weight > 0:  # only then is an adversarial loss in use to be swapped
                advice += ", or try " + " or ".join(f"loss={n!r}" for n in STABLE_LOSSES if n != cfg.loss)
            if which == "G" and self.aux_loss is not None:
                advice += ", or lower the auxiliary loss weights"
            where = f"; the last checkpoint at {self.checkpoint_path} is untouched" \
                if self.checkpoint_path else ""
            raise NonFiniteLossError(f"{which} loss became {value.item()} at step {self.step + 1} "
                                     f"with loss {cfg.loss!r}. {advice}{where}.")

    # ---------------------------------------------------------------- outputs

    @property
    def history(self) -> pd.DataFrame:
        """One row per generator step: losses, mean logits, elapsed seconds."""
        return pd.DataFrame.from_records(self.records, index="step") if self.records \
            else pd.DataFrame(columns=["loss_d", "loss_g"])

    @property
    def evals(self) -> pd.DataFrame:
        """One row per callback round of :meth:`fit` that returned results: what the callbacks
        returned, ``seconds`` of training before it and its own ``eval_seconds``."""
        return pd.DataFrame.from_records(self.eval_records, index="step") if self.eval_records \
            else pd.DataFrame(columns=["seconds", "eval_seconds"]).rename_axis("step")

    @torch.no_grad()
    def sample_grid(self) -> Tensor:
        """G on the fixed noise (and fixed condition and inputs), in eval mode, on the CPU."""
        was_training = self.G.training
        self.G.eval()
        fixed = ModelInputs(self.fixed_condition, self.fixed_inputs).rows(slice(None), self.device)
        noise = (self.fixed_noise.to(self.device),) if self.z_dim else ()
        out = fixed.call(self.G, *noise)
        self.G.train(was_training)
        return out.cpu()

    @torch.no_grad()
    def generate(self, n: int, condition: Sequence[Tensor] = (), batch_size: int = 500,
                 seed: int | None = None, inputs: Mapping[str, Tensor] | None = None) -> Tensor:
        """``n`` samples in eval mode, on the CPU, for ``condition`` and named ``inputs`` (n rows
        each); noise from ``seed`` (default: config seed + 2)."""
        rng = torch.Generator().manual_seed(self.config.seed + 2 if seed is None else seed)
        given = ModelInputs.checked(condition, inputs, n)
        was_training = self.G.training
        self.G.eval()
        out = []
        for start in range(0, n, batch_size):
            stop = min(n, start + batch_size)
            noise = (torch.randn(stop - start, self.z_dim, generator=rng).to(self.device),) if self.z_dim else ()
            out.append(given.rows(slice(start, stop), self.device).call(self.G, *noise).cpu())
        self.G.train(was_training)
        return torch.cat(out)

    # ------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "config": asdict(self.config),
            "models": model_specs(self.G, self.D),  # class names and configs: enough to rebuild them
            "G": self.G.state_dict(), "D": None if self.D is None else self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": None if self.D is None else self.opt_d.state_dict(),
            "step": self.step, "records": self.records, "samples": self.samples,
            "eval_records": self.eval_records,
            "rng": rng_states(self.noise_rng, self.augment_rng),
        }

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write atomically: a temporary file in the same folder, then a rename,
        so an interrupted save never replaces a good checkpoint. The file holds tensors and
        plain data only, with a sha256 checksum (:mod:`gancore.train.checkpoint`)."""
        return write_checkpoint(self.state_dict(), path)

    def load_checkpoint(self, path: str | Path) -> "Trainer":
        """Restore models, optimizers, RNG states, step and history from ``path`` into this
        trainer's models (which must match the saved ones; both checkpoint formats load)."""
        path = Path(path)
        return self._restore(read_checkpoint(path), path)

    def _restore(self, state: dict, path: Path) -> "Trainer":
        check_models_fit(state, self.G, self.D, path)
        check_config_matches(state, self.config, path)
        load_weights(self.G, self.D, state, path)
        self.opt_g.load_state_dict(state["opt_g"])
        if self.D is not None:
            self.opt_d.load_state_dict(state["opt_d"])
        self.step, self.records, self.samples = state["step"], state["records"], state["samples"]
        self.eval_records = state.get("eval_records", [])  # absent from checkpoints older than fit
        restore_rng_states(state["rng"], self.noise_rng, self.augment_rng)
        return self
