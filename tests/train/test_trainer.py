"""The trainer: bit-exact resume, the NaN guard, checkpoints and bad input."""
import pytest
import torch

from gancore import CheckpointError, NonFiniteLossError, TrainConfig, Trainer, set_seed
from gancore.data.sources import load_mnist
from gancore.nets.unconditional import build_gan
from gancore.train.checkpoint import V2_FORMAT


@pytest.fixture(scope="module")
def digits():
    return load_mnist().images[::50]  # (100, 1, 28, 28): 100 real digits, every class


def make_trainer(digits, loss="nonsaturating", width=4, seed=0, **kw):
    set_seed(seed)
    G, D = build_gan("dcgan", z_dim=8, width=width)
    kw = {"batch_size": 16, "d_steps": 2, "sample_every": 2, "n_samples": 4, "seed": seed, **kw}
    return Trainer(G, D, digits, loss=loss, device="cpu", progress=False, **kw)


def assert_same_run(a: Trainer, b: Trainer):
    for role in ("G", "D"):  # G and D apart: their parameter names may coincide
        theirs = getattr(b, role).state_dict()
        for name, p in getattr(a, role).state_dict().items():
            assert torch.equal(p, theirs[name]), f"{role}.{name}"
    cols = ["loss_d", "loss_g", "d_real", "d_fake"]
    assert a.history[cols].equals(b.history[cols])
    assert a.samples.keys() == b.samples.keys()
    assert all(torch.equal(a.samples[k], b.samples[k]) for k in a.samples)


@pytest.mark.parametrize("loss, shift", [("nonsaturating", 0), ("wgan_gp", 0), ("hinge", 2)])
def test_resume_equals_the_uninterrupted_run_bit_for_bit(digits, tmp_path, loss, shift):
    # 6 steps x 2 D batches of 16 over 100 images crosses epoch boundaries (6 batches/epoch).
    whole = make_trainer(digits, loss, augment_shift=shift)
    whole.train(7)

    first = make_trainer(digits, loss, augment_shift=shift, checkpoint_path=tmp_path / "ckpt.pt")
    first.train(3)
    resumed = make_trainer(digits, loss, augment_shift=shift, seed=0)
    set_seed(123)  # a different global RNG state must not matter: the checkpoint restores it
    resumed.load_checkpoint(tmp_path / "ckpt.pt")
    assert resumed.step == 3
    resumed.train_until(7)
    assert_same_run(whole, resumed)


def test_different_seeds_give_different_runs(digits):
    a, b = make_trainer(digits, seed=0), make_trainer(digits, seed=1)
    a.train(2), b.train(2)
    assert not torch.equal(a.samples[2], b.samples[2])


def test_history_and_samples(digits):
    t = make_trainer(digits)
    hist = t.train(4)
    assert list(hist.index) == [1, 2, 3, 4]
    assert {"loss_d", "loss_g", "d_real", "d_fake", "seconds"} <= set(hist.columns)
    assert sorted(t.samples) == [2, 4] and t.samples[2].shape == (4, 1, 28, 28)
    assert t.steps_for_epochs(1) == 3  # 6 batches per epoch, 2 D batches per G step
    seconds = t.train(2)["seconds"]
    assert seconds.is_monotonic_increasing  # one clock across calls


def test_nan_guard_stops_before_updating(digits, tmp_path):
    t = make_trainer(digits, checkpoint_path=tmp_path / "ckpt.pt")
    t.D.register_forward_hook(lambda module, args, out: out * float("nan"))  # D's logits turn nan
    before = {k: v.clone() for k, v in t.D.state_dict().items()}
    with pytest.raises(NonFiniteLossError, match="D loss became nan at step 1.*Lower lr_g/lr_d"):
        t.train(3)
    assert all(torch.equal(before[k], v) for k, v in t.D.state_dict().items())
    assert t.step == 0 and not (tmp_path / "ckpt.pt").exists()


@pytest.mark.parametrize("loss, suggested", [("nonsaturating", ["'wgan_gp'"]), ("wgan_gp", ["'nonsaturating'"]),
                                             ("hinge", ["'nonsaturating'", "'wgan_gp'"])])
def test_nan_guard_never_suggests_the_loss_in_use(digits, loss, suggested):
    t = make_trainer(digits, loss)
    t.D.register_forward_hook(lambda module, args, out: out * float("nan"))
    with pytest.raises(NonFiniteLossError) as err:
        t.train(1)
    advice = str(err.value).split("Lower lr_g/lr_d")[1]
    tried = sorted(name for name in ("'nonsaturating'", "'wgan_gp'", "'hinge'") if f"loss={name}" in advice)
    assert tried == suggested


@pytest.mark.parametrize("where", ["real", "condition"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_data_is_refused_before_the_first_step(digits, where, value):
    real, cond = digits.clone(), digits.clone()
    (real if where == "real" else cond)[[37, 61], 0, 5, 9] = value  # samples 37 and 61, one pixel each
    set_seed(0)
    G, D = build_gan("dcgan", z_dim=8, width=4)
    name = "real" if where == "real" else "condition\\[0\\]"
    with pytest.raises(ValueError, match=rf"{name}\[37\] holds {value} \(2 of 100 samples"):
        Trainer(G, D, real, condition=(cond,) if where == "condition" else (), batch_size=16,
                device="cpu", progress=False)
    # labels are integers and cannot be non-finite; a clean pair of tensors passes
    Trainer(G, D, digits, condition=(torch.arange(100),), batch_size=16, device="cpu", progress=False)


@pytest.mark.parametrize("scale, match", [(lambda x: (x + 1) * 127.5, r"\[0, 255\].*look like 0..255 values"),
                                          (lambda x: x * 1.01, r"\[-1.01, 1.01\], outside \[-1, 1\]")])
def test_images_outside_minus_one_one_are_refused_before_the_first_step(digits, scale, match):
    set_seed(0)
    G, D = build_gan("dcgan", z_dim=8, width=4)
    with pytest.raises(ValueError, match=match + r".*x / 127.5 - 1 for 0..255 values, x \* 2 - 1 for \[0, 1\]"):
        Trainer(G, D, scale(digits), batch_size=16, device="cpu", progress=False)
    assert float(digits.min()) == -1 and float(digits.max()) == 1  # the digits themselves span it exactly
    Trainer(G, D, digits, batch_size=16, device="cpu", progress=False)


def test_unknown_loss_lists_the_valid_names(digits):
    with pytest.raises(ValueError) as err:
        make_trainer(digits, loss="wasserstein")
    for name in ["minimax", "nonsaturating", "least_squares", "hinge", "wgan_gp"]:
        assert name in str(err.value)


@pytest.mark.parametrize("field,value", [("batch_size", 0), ("d_steps", -1), ("lr_g", 0.0),
                                         ("adv_weight", -1.0), ("adv_weight", float("nan")),
                                         ("gp_weight", float("inf")), ("sample_every", -5),
                                         ("augment_shift", -1)])
def test_bad_config_values_raise(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_bad_step_counts_raise(digits):
    t = make_trainer(digits)
    with pytest.raises(ValueError, match="non-negative"):
        t.train_until(-1)
    with pytest.raises(ValueError, match="batch_size 500 exceeds"):
        make_trainer(digits, batch_size=500)


def test_corrupt_checkpoint_is_an_error(digits, tmp_path):
    t = make_trainer(digits)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="corrupt"):
        t.load_checkpoint(garbage)
    good = t.save_checkpoint(tmp_path / "good.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="corrupt"):
        t.load_checkpoint(truncated)
    torch.save({"weights": 1}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a gancore-checkpoint"):
        t.load_checkpoint(tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        t.load_checkpoint(tmp_path / "missing.pt")


def test_mismatched_checkpoint_is_an_error(digits, tmp_path):
    path = make_trainer(digits).save_checkpoint(tmp_path / "ckpt.pt")
    with pytest.raises(CheckpointError, match="different config.*loss"):
        make_trainer(digits, loss="hinge").load_checkpoint(path)
    with pytest.raises(CheckpointError, match="does not fit these models"):
        make_trainer(digits, width=8).load_checkpoint(path)


def test_interrupted_save_keeps_the_good_checkpoint(digits, tmp_path, monkeypatch):
    t = make_trainer(digits)
    path = t.save_checkpoint(tmp_path / "ckpt.pt")
    good_bytes = path.read_bytes()
    t.train(1)

    def dies_midway(obj, fh, *a, **k):
        fh.write(b"half a checkpoint")
        raise KeyboardInterrupt
    monkeypatch.setattr(torch, "save", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        t.save_checkpoint(path)
    assert path.read_bytes() == good_bytes
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temporary file left behind


def test_adv_weight_zero_pauses_the_discriminator(digits):
    calls = []

    def l1(fake, real, cond):
        calls.append(1)
        return {"l1": (fake - real).abs().mean()}
    t = make_trainer(digits, adv_weight=0.0, aux_loss=l1)
    d_before = {k: v.clone() for k, v in t.D.state_dict().items()}
    hist = t.train(2)
    assert len(calls) == 2 and hist["loss_l1"].notna().all()
    assert hist["loss_d"].isna().all() and "loss_adv" not in hist
    assert all(torch.equal(d_before[k], v) for k, v in t.D.state_dict().items())
    assert abs(hist["loss_g"].iloc[-1] - hist["loss_l1"].iloc[-1]) < 1e-7


def test_reconfigure_changes_loss_and_rates_between_calls(digits):
    t = make_trainer(digits)
    t.train(1)
    t.reconfigure(loss="hinge", lr_d=1e-3, adv_weight=0.5)
    assert t.gan_loss.name == "hinge" and t.config.adv_weight == 0.5
    assert [g["lr"] for g in t.opt_d.param_groups] == [1e-3]
    with pytest.raises(ValueError, match="unknown GAN loss"):
        t.reconfigure(loss="nope")
    assert t.gan_loss.name == "hinge"  # a refused change leaves the trainer as it was
    t.train(1)
    assert t.step == 2


def test_augment_shift_moves_what_d_sees_and_g_still_learns_through_it(digits):
    seen = []
    t = make_trainer(digits, "hinge", augment_shift=3, d_steps=1)
    t.D.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    t.train(1)
    real_seen = seen[0]  # D's step sees real then fake; G's step sees fake
    real_batch, _ = t._batch(0)
    assert real_seen.shape == real_batch.shape and not torch.equal(real_seen, real_batch)
    assert abs(real_seen.mean().item() - real_batch.mean().item()) < 0.05  # moved, not changed
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in t.G.parameters() if p.dim() > 1)
    plain = make_trainer(digits, "hinge", d_steps=1)
    plain.train(1)
    first = lambda trainer: next(iter(trainer.G.parameters()))  # noqa: E731
    assert not torch.equal(first(t), first(plain))  # the same seed, so only the shift differs


def test_augment_shift_needs_images(digits):
    flat = digits.flatten(1)  # (100, 784), as the 2-D toy data would be
    G, D = build_gan("mlp", z_dim=8, width=4)
    with pytest.raises(ValueError, match="augment_shift needs images"):
        Trainer(G, D, flat, augment_shift=2, batch_size=16, device="cpu", progress=False)


def test_checkpoint_from_before_augment_shift_still_resumes(digits, tmp_path):
    whole = make_trainer(digits)
    whole.train(5)
    first = make_trainer(digits, checkpoint_path=tmp_path / "ckpt.pt")
    first.train(2)
    state = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    del state["config"]["augment_shift"], state["rng"]["augment"]  # as saved before the field existed
    del state["sha256"]  # and before checksums
    state["format"] = V2_FORMAT
    torch.save(state, tmp_path / "old.pt")
    resumed = make_trainer(digits).load_checkpoint(tmp_path / "old.pt")
    resumed.train_until(5)
    assert_same_run(whole, resumed)
    with pytest.raises(CheckpointError, match="augment_shift"):  # but a run that shifted is a different run
        make_trainer(digits, augment_shift=1).load_checkpoint(tmp_path / "old.pt")


def test_progress_bar_shows_no_d_loss_without_a_discriminator(capsys):
    from gancore.data.photo_styles import make_npr_splits
    from gancore.experiments.style_transfer import build_style_trainer

    train = make_npr_splits(8, 2, seed=0)["train"]
    trainer = build_style_trainer(train, adv_weight=0.0, perceptual=0.0, width=4, batch_size=4, arch="filter",
                                  progress=True)
    trainer.fit(10)
    shown = capsys.readouterr().err
    assert "loss_g=" in shown and "loss_d" not in shown and "nan" not in shown


def test_cosine_learning_rate_decay(digits):
    import math

    from gancore.train.config import TrainConfig

    cfg = TrainConfig(lr_decay_steps=4)
    assert [cfg.lr_factor(s) for s in (0, 2, 4, 9)] == pytest.approx([1.0, 0.5, 0.0, 0.0], abs=1e-12)
    assert TrainConfig().lr_factor(1000) == 1.0
    with pytest.raises(ValueError, match="lr_decay_steps"):
        TrainConfig(lr_decay_steps=-1)
    trainer = make_trainer(digits, lr_decay_steps=4, lr_g=1e-3, lr_d=2e-3)
    trainer.fit(3)  # the third step ran at the factor of step 2, halfway down the cosine
    assert trainer.opt_g.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * 2 / 4)))
    assert trainer.opt_d.param_groups[0]["lr"] == pytest.approx(2e-3 * 0.5)
