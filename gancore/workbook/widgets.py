"""A widget panel for exploring the style-transfer loss weights (notebook 07).

    explorer = LossWeightExplorer(splits["train"], splits["test_seen"], "runs/.../warm.pt")
    display(explorer.panel)

The sliders set the weights of

    L_G = adv * L_adv + l1 * L1 + perceptual * L_perc + style * L_style + tv * TV

and the drop-down picks L_adv (and D's loss with it). "Train" carries on from
the current models for N steps with those settings (``Trainer.reconfigure``:
weights and optimiser states carry on, only the objective changes); "Reset"
reloads the warm checkpoint, so every experiment starts from the same place and
the same settings give the same pictures. A weight of 0 switches its term off.
The models are rebuilt from the configs the checkpoint stores (``Trainer.load``);
a warm run without a discriminator (``adv_weight=0``) keeps the adv slider at 0.

Every callback is a plain method, so tests and notebooks drive the panel with
no browser: ``explorer.sliders["l1"].value = 0; explorer.on_train()``.
"""
from __future__ import annotations

import math
from dataclasses import asdict
from numbers import Real
from pathlib import Path

import ipywidgets as w
import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import display
from torch import Tensor

from gancore.data.style_pairs import StyleTransferSet
from gancore.experiments.style_transfer import STYLE_DEFAULTS, translate
from gancore.losses import LOSS_NAMES, StyleTransferLoss
from gancore.metrics.feature_nets import get_feature_net
from gancore.nets.feature import FeatureNet
from gancore.nets.translation import StyleGenerator
from gancore.runtime import as_device
from gancore.train.trainer import CheckpointError, NonFiniteLossError, Trainer
from gancore.workbook.viz import plot_losses, show_grid

WEIGHT_NAMES: tuple[str, ...] = ("adv", "l1", "perceptual", "style", "tv")
# name -> (slider max, slider step); min is always 0. Maxima are a few times the defaults; the
# style term's is large because Gram entries are divided by C*H*W, so its raw value is ~1e-4.
SLIDER_RANGES = {"adv": (5.0, 0.1), "l1": (50.0, 0.5), "perceptual": (10.0, 0.1),
                 "style": (2000.0, 10.0), "tv": (5.0, 0.05)}
LOSS_COLUMNS = ("loss_d", "loss_g", "loss_adv", "loss_l1", "loss_perceptual", "loss_style", "loss_tv")


def check_weights(weights: dict) -> dict[str, float]:
    """All of :data:`WEIGHT_NAMES`, each a finite number >= 0, not all 0; else one ValueError."""
    missing, unknown = set(WEIGHT_NAMES) - set(weights), set(weights) - set(WEIGHT_NAMES)
    if missing or unknown:
        raise ValueError(f"need exactly the weights {', '.join(WEIGHT_NAMES)}; missing "
                         f"{sorted(missing) or 'none'}, unknown {sorted(unknown) or 'none'}")
    for name, value in weights.items():
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            raise ValueError(f"the {name} weight must be a finite number, got {value!r}")
        if value < 0:
            raise ValueError(f"the {name} weight must be >= 0, got {value}; use 0 to switch it off")
    if not any(weights[name] > 0 for name in WEIGHT_NAMES):
        raise ValueError("every weight is 0, so nothing would train the generator; raise at least one")
    return {name: float(weights[name]) for name in WEIGHT_NAMES}


class LossWeightExplorer:
    """Sliders, a loss drop-down, train/reset buttons, a progress bar, an output grid
    and a loss curve around one style trainer warm-started from ``checkpoint``.

    ``test``'s first ``n_show`` pairs are the fixed batch shown in the grid;
    ``l1_to_target`` is measured on all of ``test``. The initial slider values are
    ``weights`` (names of :data:`WEIGHT_NAMES`) over :data:`STYLE_DEFAULTS`, with the
    adversarial weight and loss of the warm run. The feature network is loaded once
    (``get_feature_net(train)`` unless given) and shared by every loss built here.
    """

    def __init__(self, train: StyleTransferSet, test: StyleTransferSet, checkpoint: str | Path, *,
                 weights: dict | None = None, steps: int = 100, n_show: int = 8,
                 feature_net: FeatureNet | None = None, device: str | torch.device | None = None):
        if not isinstance(n_show, int) or not 1 <= n_show <= len(test):
            raise ValueError(f"n_show must be an int in [1, {len(test)}] (the test pairs), got {n_show!r}")
        self.train_set, self.test_set, self.checkpoint = train, test, Path(checkpoint)
        self.n_show = n_show
        if not self.checkpoint.is_file():
            raise CheckpointError(f"no warm checkpoint at {self.checkpoint}; train a short run with "
                                  "build_style_trainer and save it with trainer.save_checkpoint(path)")
        self.device = as_device(device)
        warm = self._load_warm()  # models rebuilt from the configs the checkpoint holds
        self.config = asdict(warm.config)
        defaults = {"adv": self.config["adv_weight"], **{k: STYLE_DEFAULTS[k] for k in WEIGHT_NAMES[1:]}}
        self.initial_weights = check_weights({**defaults, **(weights or {})})
        self.feature_net = feature_net if feature_net is not None else \
            get_feature_net(train, device=self.device)
        self.log: list[dict] = []  # one row per training click, kept across resets
        self.marks: list[int] = []  # steps where a click began, since the last reset

        self.sliders = {name: w.FloatSlider(value=self.initial_weights[name], min=0.0, max=top, step=step,
                                            description=name, continuous_update=False)
                        for name, (top, step) in SLIDER_RANGES.items()}
        self.loss = w.Dropdown(options=LOSS_NAMES, value=self.config["loss"], description="adv. loss")
        self.steps = w.IntText(value=steps, description="steps N")
        self.train_button = w.Button(description="Train N steps", button_style="primary", icon="play")
        self.reset_button = w.Button(description="Reset to warm", icon="undo")
        self.progress = w.IntProgress(value=0, min=0, max=steps, description="progress")
        self.status = w.HTML()
        self.grid_out, self.loss_out = w.Output(), w.Output()
        self.sliders["adv"].disabled = warm.D is None  # no discriminator to weigh
        self.train_button.on_click(self.on_train)
        self.reset_button.on_click(self.on_reset)
        controls = w.VBox([self.loss, self.steps, self.train_button, self.reset_button, self.progress])
        self.panel = w.VBox([w.HBox([w.VBox(list(self.sliders.values())), controls]), self.status,
                             w.HBox([self.grid_out, self.loss_out])])

        self.trainer = self._warm_trainer(warm)
        self.warm_step = self.trainer.step
        self.refresh()

    # ------------------------------------------------------------ settings

    def current_weights(self) -> dict[str, float]:
        """The slider values, by name (unchecked: :meth:`on_train` checks them)."""
        return {name: slider.value for name, slider in self.sliders.items()}

    def set_weights(self, **weights: float) -> None:
        """Set some sliders from code, checked first: a slider would silently clamp
        -1 to 0, this raises instead. A value above a slider's max raises the max."""
        checked = check_weights({**self.current_weights(), **weights})
        for name in weights:
            slider = self.sliders[name]
            slider.max = max(slider.max, checked[name])
            slider.value = checked[name]

    def _aux_loss(self, weights: dict[str, float]) -> StyleTransferLoss:
        return StyleTransferLoss(weights["l1"], weights["perceptual"], weights["style"], weights["tv"],
                                 feature_net=self.feature_net)

    def _load_warm(self) -> Trainer:
        """The warm checkpoint as a trainer (models, optimisers, RNG, history), with no aux loss yet."""
        data = self.train_set
        trainer = Trainer.load(self.checkpoint, data.target, inputs={"content": data.content,
                                                                    "exemplar": data.exemplar},
                               device=self.device, progress=False)
        if not isinstance(trainer.G, StyleGenerator):
            raise CheckpointError(f"{self.checkpoint} is not a style-trainer checkpoint: its generator is a "
                                  f"{type(trainer.G).__name__}; save one from build_style_trainer")
        trainer.G.check_inputs(data.content, data.exemplar)  # another data set's shapes: fail here
        return trainer

    def _warm_trainer(self, warm: Trainer | None = None) -> Trainer:
        """``warm`` (default: a fresh load of the warm checkpoint) with the initial image losses."""
        trainer = warm if warm is not None else self._load_warm()
        trainer.reconfigure(aux_loss=self._aux_loss(self.initial_weights))
        return trainer

    # ------------------------------------------------------------ callbacks

    def on_train(self, _=None) -> None:
        """Apply the sliders and drop-down, then train N more steps (a callback of
        ``Trainer.fit`` moves the progress bar). Bad settings raise ValueError before any change."""
        try:
            weights = check_weights(self.current_weights())
            steps = self.steps.value
            if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
                raise ValueError(f"steps N must be an int >= 1, got {steps!r}")
            if self.loss.value not in LOSS_NAMES:
                raise ValueError(f"unknown adversarial loss {self.loss.value!r}; choose one of {LOSS_NAMES}")
            if self.trainer.D is None and weights["adv"] > 0:
                raise ValueError("the warm run has no discriminator (it trained with adv_weight=0), so the adv "
                                 "weight must stay 0; warm-start with adv_weight > 0 to explore it")
        except ValueError as exc:
            self.status.value = f"<b style='color:#b00'>Not trained: {exc}</b>"
            raise
        trainer, start = self.trainer, self.trainer.step
        trainer.reconfigure(loss=self.loss.value, adv_weight=weights["adv"], aux_loss=self._aux_loss(weights))
        self.progress.max, self.progress.value = steps, 0

        def show_progress(trainer: Trainer) -> None:
            self.progress.value = trainer.step - start

        self.train_button.disabled = True  # a second click would queue a second run
        try:  # the bar moves about 20 times
            trainer.fit(steps, every=max(1, math.ceil(steps / 20)), callbacks=[show_progress])
        except NonFiniteLossError as exc:  # too large a weight or learning rate: say so in the panel
            self.status.value = f"<b style='color:#b00'>Stopped: {exc} Press Reset to start again.</b>"
            raise
        finally:
            self.train_button.disabled = False
        self.marks.append(start)
        self.refresh()
        self.log.append({"from_step": start, "to_step": trainer.step, "loss": self.loss.value, **weights,
                         "l1_to_target": self.last_l1})

    def on_reset(self, _=None) -> None:
        """Reload the warm checkpoint and put the controls back to their initial values.
        The log of earlier runs is kept, for comparison."""
        self.trainer, self.marks = self._warm_trainer(), []
        for name, slider in self.sliders.items():
            slider.value = self.initial_weights[name]
        self.loss.value = self.config["loss"]
        self.progress.value = 0
        self.refresh()

    # ------------------------------------------------------------- outputs

    def outputs(self) -> Tensor:
        """The generator's outputs (n_show, 3, H, W) on the fixed test batch, on the CPU."""
        data = self.test_set
        return translate(self.trainer.G, data.content[:self.n_show], data.exemplar[:self.n_show],
                         device=self.device)

    def l1_to_target(self) -> float:
        """Mean |output - target| over the whole test set, images in [-1, 1]."""
        out = translate(self.trainer.G, self.test_set.content, self.test_set.exemplar, device=self.device)
        return float((out - self.test_set.target.cpu()).abs().mean())

    def log_frame(self) -> pd.DataFrame:
        """One row per training click: steps, settings and L1 to target afterwards."""
        return pd.DataFrame(self.log)

    def grid_figure(self, title: str | None = None):
        """One grid of the fixed test batch; rows: content, exemplar, output, target."""
        n, data = self.n_show, self.test_set
        rows = {"content": data.content[:n].expand(-1, 3, -1, -1), "exemplar": data.exemplar[:n],
                f"output\nstep {self.trainer.step}": self.outputs(), "target": data.target[:n]}
        fig, ax = plt.subplots(figsize=(0.55 * n + 1.2, 0.55 * len(rows) + 0.5))
        show_grid(torch.cat([r.cpu() for r in rows.values()]), nrow=n, title=title, ax=ax)
        size = data.target.shape[-2] + 2  # one row of the grid: image plus make_grid's padding
        for i, name in enumerate(rows):
            ax.text(-3, 2 + size * i + size / 2, name, ha="right", va="center", fontsize=8)
        fig.subplots_adjust(left=1.2 / (0.55 * n + 1.2), right=0.98, bottom=0.02, top=0.85 if title else 0.98)
        return fig

    def loss_figure(self):
        """The trainer's loss curves; dashed lines mark where each training click began."""
        fig, ax = plt.subplots(figsize=(6, 3.5))
        plot_losses(self.trainer.history, columns=LOSS_COLUMNS, smooth=10, ax=ax)
        for step in self.marks:
            ax.axvline(step + 0.5, color="k", ls="--", lw=0.8)
        fig.tight_layout()
        return fig

    def refresh(self) -> None:
        """Redraw the grid, the loss curve and the status line (which sets ``last_l1``)."""
        for out, fig in ((self.grid_out, self.grid_figure()), (self.loss_out, self.loss_figure())):
            with out:
                out.clear_output(wait=True)
                display(fig)
            plt.close(fig)
        self.last_l1 = self.l1_to_target()
        weights = ", ".join(f"{k}={v:g}" for k, v in self.current_weights().items())
        self.status.value = (f"step {self.trainer.step} (warm: {self.warm_step}); {self.loss.value}, {weights}; "
                             f"L1 to target on {len(self.test_set)} test pairs: {self.last_l1:.4f}")
