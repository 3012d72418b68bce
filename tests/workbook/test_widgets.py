"""gancore.widgets: the loss-weight explorer, driven headlessly by setting widget
values and calling its handlers, on a tiny data set and a 3-step warm checkpoint."""
import math

import pytest
import torch

from gancore.data.digit_styles import make_style_splits
from gancore.experiments.style_transfer import build_style_trainer, translate
from gancore.losses import LOSS_NAMES
from gancore.nets.feature import FeatureNet
from gancore.nets.unconditional import build_gan
from gancore.train.trainer import CheckpointError, NonFiniteLossError, Trainer
from gancore.workbook.widgets import WEIGHT_NAMES, LossWeightExplorer, check_weights

N = 3  # steps per click
WARM = 3  # steps of the warm run


pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Splits, an untrained tiny feature net (any net defines a perceptual loss; no cache
    written), and a warm checkpoint, with the warm trainer itself for reference."""
    splits = make_style_splits(n_train=64, n_test=16)
    torch.manual_seed(0)
    net = FeatureNet({"digit": 10}, width=4, hidden=8)
    warm = build_style_trainer(splits["train"], width=4, batch_size=16, feature_net=net, progress=False,
                               device="cpu")
    warm.train(WARM)
    path = warm.save_checkpoint(tmp_path_factory.mktemp("warm") / "warm.pt")
    return {"train": splits["train"], "test": splits["test_seen"], "net": net, "path": path, "warm": warm}


def explorer(world, **kw):
    return LossWeightExplorer(world["train"], world["test"], world["path"], feature_net=world["net"],
                              steps=N, n_show=4, device="cpu", **kw)


def max_diff(a, b):
    return float((a - b).abs().max())


def test_starts_from_the_warm_checkpoint(world):
    ex = explorer(world)
    warm = world["warm"]
    assert ex.trainer.step == WARM and len(ex.trainer.history) == WARM
    reference = translate(warm.G, world["test"].content[:4], world["test"].exemplar[:4])
    assert torch.equal(ex.outputs(), reference)
    assert ex.outputs().shape == (4, 3, 32, 32)
    assert ex.loss.value == warm.config.loss and ex.sliders["adv"].value == warm.config.adv_weight
    assert all(s.min == 0 for s in ex.sliders.values()) and set(ex.sliders) == set(WEIGHT_NAMES)


def test_training_changes_outputs_grows_history_and_fills_the_bar(world):
    ex = explorer(world)
    before = ex.outputs()
    ex.steps.value = 5
    ex.on_train()
    assert ex.trainer.step == WARM + 5 and len(ex.trainer.history) == WARM + 5
    assert ex.progress.value == ex.progress.max == 5
    assert max_diff(ex.outputs(), before) > 1e-4
    row = ex.log_frame().iloc[-1]
    assert (row["from_step"], row["to_step"]) == (WARM, WARM + 5)
    expected_l1 = float((translate(ex.trainer.G, world["test"].content, world["test"].exemplar)
                         - world["test"].target).abs().mean())
    assert abs(row["l1_to_target"] - expected_l1) < 1e-6


def test_the_slider_weight_reaches_the_loss(world):
    ex = explorer(world)
    ex.set_weights(l1=2.5)
    trainer = ex.trainer
    real, inputs = trainer._batch(trainer.step * trainer.config.d_steps)  # the next step's batch
    with torch.no_grad():  # G has no batch norm or dropout: train mode computes the same
        expected = 2.5 * (trainer.G(**inputs.named) - real).abs().mean().item()
    ex.on_train()
    assert abs(trainer.history.loc[WARM + 1, "loss_l1"] - expected) < 1e-5


def test_same_weights_same_outputs_other_weights_other_outputs(world):
    a, b, c = explorer(world), explorer(world), explorer(world)
    c.sliders["l1"].value = 0.0
    for ex in (a, b, c):
        ex.on_train()
    assert torch.equal(a.outputs(), b.outputs())
    assert a.trainer.history["loss_g"].equals(b.trainer.history["loss_g"])
    assert max_diff(a.outputs(), c.outputs()) > 1e-4


def test_reset_restores_the_warm_outputs_and_replays_exactly(world):
    ex = explorer(world)
    warm_outputs = ex.outputs()
    ex.set_weights(l1=3.0, tv=0.5)
    ex.loss.value = "least_squares"
    ex.on_train()
    first = ex.outputs()
    assert max_diff(first, warm_outputs) > 1e-4
    ex.on_reset()
    assert torch.equal(ex.outputs(), warm_outputs)
    assert ex.trainer.step == WARM and ex.progress.value == 0
    assert ex.current_weights() == ex.initial_weights and ex.loss.value == world["warm"].config.loss
    ex.set_weights(l1=3.0, tv=0.5)
    ex.loss.value = "least_squares"
    ex.on_train()
    assert torch.equal(ex.outputs(), first)
    assert len(ex.log) == 2  # the log survives the reset, for comparison


def test_buttons_are_wired_to_the_handlers(world):
    ex = explorer(world)
    ex.train_button.click()
    assert ex.trainer.step == WARM + N and not ex.train_button.disabled
    ex.reset_button.click()
    assert ex.trainer.step == WARM


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_dropdown_sets_the_adversarial_loss(world, name):
    ex = explorer(world)
    ex.loss.value = name
    ex.steps.value = 1
    ex.on_train()
    assert ex.trainer.gan_loss.name == name and ex.trainer.config.loss == name
    assert ex.trainer.gp_weight == (10.0 if name == "wgan_gp" else 0.0)
    assert math.isfinite(ex.trainer.history["loss_d"].iloc[-1])


def test_zero_weight_removes_its_column_from_new_rows(world):
    ex = explorer(world)
    ex.set_weights(l1=0.0, tv=0.2)
    ex.on_train()
    new, old = ex.trainer.history.iloc[-N:], ex.trainer.history.iloc[:WARM]
    assert old["loss_l1"].notna().all() and new["loss_l1"].isna().all()
    assert new["loss_tv"].notna().all() and new["loss_perceptual"].notna().all()


def test_zero_adversarial_weight_leaves_d_untouched(world):
    ex = explorer(world)
    ex.set_weights(adv=0.0)
    d_before = {k: v.clone() for k, v in ex.trainer.D.state_dict().items()}
    g_before = ex.outputs()
    ex.on_train()
    new = ex.trainer.history.iloc[-N:]
    assert new["loss_d"].isna().all() and new["loss_adv"].isna().all()
    assert all(torch.equal(v, ex.trainer.D.state_dict()[k]) for k, v in d_before.items())
    assert max_diff(ex.outputs(), g_before) > 1e-4


def test_bad_values_are_rejected_before_anything_changes(world):
    ex = explorer(world)
    before = ex.outputs()
    ex.sliders["l1"].value = float("nan")  # a slider clamps -1 to 0, but lets NaN through
    with pytest.raises(ValueError, match="the l1 weight must be a finite number"):
        ex.on_train()
    assert "Not trained" in ex.status.value
    ex.sliders["l1"].value = 1.0
    ex.steps.value = 0
    with pytest.raises(ValueError, match="steps N must be an int >= 1, got 0"):
        ex.on_train()
    ex.steps.value = N
    for name in WEIGHT_NAMES:
        ex.sliders[name].value = 0.0
    with pytest.raises(ValueError, match="every weight is 0"):
        ex.on_train()
    assert ex.trainer.step == WARM and torch.equal(ex.outputs(), before) and ex.log == []


def test_set_weights_checks_instead_of_clamping(world):
    ex = explorer(world)
    with pytest.raises(ValueError, match="the l1 weight must be >= 0, got -1; use 0 to switch it off"):
        ex.set_weights(l1=-1)
    with pytest.raises(ValueError, match="unknown \\['l2'\\]"):
        ex.set_weights(l2=1.0)
    assert ex.current_weights() == ex.initial_weights
    ex.set_weights(style=5000.0)  # above the slider's range: the range grows
    assert ex.sliders["style"].value == 5000.0 and ex.sliders["style"].max == 5000.0


def test_check_weights():
    good = {"adv": 1, "l1": 0, "perceptual": 0.5, "style": 0, "tv": 0}
    assert check_weights(good) == {k: float(v) for k, v in good.items()}
    for bad, message in [({**good, "tv": -0.1}, "the tv weight must be >= 0"),
                         ({**good, "adv": float("inf")}, "the adv weight must be a finite number"),
                         ({**good, "adv": True}, "the adv weight must be a finite number"),
                         ({k: 0 for k in good}, "every weight is 0")]:
        with pytest.raises(ValueError, match=message):
            check_weights(bad)
    with pytest.raises(ValueError, match="missing \\['tv'\\]"):
        check_weights({k: v for k, v in good.items() if k != "tv"})


def test_missing_or_foreign_checkpoint_fails_clearly(world, tmp_path):
    with pytest.raises(CheckpointError, match="no warm checkpoint at"):
        LossWeightExplorer(world["train"], world["test"], tmp_path / "nope.pt", feature_net=world["net"])
    junk = tmp_path / "junk.pt"
    torch.save({"G": {}}, junk)
    with pytest.raises(CheckpointError, match="is not a gancore-checkpoint"):
        LossWeightExplorer(world["train"], world["test"], junk, feature_net=world["net"])
    G, D = build_gan("mlp", z_dim=2, width=2)
    digits = Trainer(G, D, torch.rand(8, 1, 28, 28) * 2 - 1, batch_size=4, progress=False, device="cpu")
    path = digits.save_checkpoint(tmp_path / "digits.pt")
    with pytest.raises(CheckpointError, match="is not a style-trainer checkpoint: its generator is a MLPGenerator"):
        LossWeightExplorer(world["train"], world["test"], path, feature_net=world["net"])
    with pytest.raises(ValueError, match="n_show must be an int in \\[1, 16\\]"):
        LossWeightExplorer(world["train"], world["test"], world["path"], feature_net=world["net"], n_show=0)


def test_a_diverging_loss_stops_with_a_message_in_the_panel(world):
    ex = explorer(world)
    ex.set_weights(l1=1e39)  # finite as a Python float, inf once it multiplies a float32 loss
    with pytest.raises(NonFiniteLossError):
        ex.on_train()
    assert "Stopped" in ex.status.value and "Reset" in ex.status.value
    assert ex.trainer.step == WARM and not ex.train_button.disabled


def test_the_models_come_from_the_checkpoint_not_the_callers_defaults(world):
    ex = explorer(world)  # the warm run's width (4) is not STYLE_DEFAULTS' (16): read from the checkpoint
    assert ex.trainer.G.config == world["warm"].G.config and ex.trainer.G.config["width"] == 4
    assert ex.trainer.D.config == world["warm"].D.config


def test_a_warm_run_without_discriminator_keeps_adv_at_zero(world, tmp_path):
    warm = build_style_trainer(world["train"], adv_weight=0.0, width=4, batch_size=16, feature_net=world["net"],
                               progress=False, device="cpu")
    warm.train(WARM)
    path = warm.save_checkpoint(tmp_path / "supervised.pt")
    ex = LossWeightExplorer(world["train"], world["test"], path, feature_net=world["net"], steps=N, n_show=4,
                            device="cpu")
    assert ex.trainer.D is None and ex.sliders["adv"].value == 0 and ex.sliders["adv"].disabled
    before = ex.outputs()
    ex.sliders["adv"].value = 1.0
    with pytest.raises(ValueError, match="the warm run has no discriminator"):
        ex.on_train()
    assert ex.trainer.step == WARM and torch.equal(ex.outputs(), before)
    ex.sliders["adv"].value = 0.0
    ex.on_train()
    assert ex.trainer.step == WARM + N and ex.trainer.history["loss_d"].isna().all()
