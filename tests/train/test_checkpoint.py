"""Checkpoints that rebuild their own models (Trainer.load, load_models), and files of the
first format, which name their models only."""
import pytest
import torch

from gancore import CheckpointError, Trainer, set_seed
from gancore.nets.unconditional import DCGANGenerator, build_gan
from gancore.train.checkpoint import CHECKPOINT_FORMAT, V1_FORMAT, load_models
from tests.train.test_trainer import assert_same_run, digits, make_trainer  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tests/conftest.py


def test_the_checkpoint_names_each_model_and_its_arguments(digits, tmp_path):
    path = make_trainer(digits, width=4).save_checkpoint(tmp_path / "ckpt.pt")
    state = torch.load(path, weights_only=True)
    assert state["format"] == CHECKPOINT_FORMAT
    assert state["models"] == {"G": {"class": "DCGANGenerator", "config": {"z_dim": 8, "width": 4, "channels": 1,
                                                                         "upsample": "transposed"}},
                               "D": {"class": "DCGANDiscriminator", "config": {"width": 4, "channels": 1,
                                                                             "spectral_norm": False}}}


def test_trainer_load_rebuilds_the_run_and_resumes_bit_for_bit(digits, tmp_path):
    whole = make_trainer(digits, "hinge", width=6)
    whole.train(5)
    make_trainer(digits, "hinge", width=6, checkpoint_path=tmp_path / "ckpt.pt").train(2)
    set_seed(123)  # the checkpoint restores the global RNG as well
    resumed = Trainer.load(tmp_path / "ckpt.pt", digits, device="cpu", progress=False)
    assert resumed.step == 2 and resumed.config == whole.config  # the saved TrainConfig, not the defaults
    assert resumed.G.width == 6  # width 6 is nobody's default: it came from the checkpoint
    resumed.train_until(5)
    assert_same_run(whole, resumed)


def test_load_models_returns_trained_models_and_config(digits, tmp_path):
    t = make_trainer(digits, width=4)
    t.train(1)
    G, D, config = load_models(t.save_checkpoint(tmp_path / "ckpt.pt"))
    assert isinstance(G, DCGANGenerator) and not G.training and config == t.config
    assert all(torch.equal(p, q) for p, q in zip(G.state_dict().values(), t.G.state_dict().values()))
    assert all(torch.equal(p, q) for p, q in zip(D.state_dict().values(), t.D.state_dict().values()))


def as_v1(path, out):
    """The checkpoint at ``path`` as the first format wrote it: model class names only."""
    state = torch.load(path, weights_only=True)
    state["format"] = V1_FORMAT
    del state["sha256"]  # the first format had no checksum
    state["models"] = [spec["class"] for spec in (state["models"]["G"], state["models"]["D"])]
    torch.save(state, out)
    return out


def test_a_v1_checkpoint_loads_into_the_models_you_pass(digits, tmp_path):
    whole = make_trainer(digits)
    whole.train(5)
    make_trainer(digits, checkpoint_path=tmp_path / "ckpt.pt").train(2)
    old = as_v1(tmp_path / "ckpt.pt", tmp_path / "v1.pt")
    resumed = make_trainer(digits).load_checkpoint(old)
    resumed.train_until(5)
    assert_same_run(whole, resumed)
    with pytest.raises(CheckpointError, match="does not fit these models"):  # shapes still checked
        make_trainer(digits, width=8).load_checkpoint(old)


def test_a_v1_checkpoint_cannot_rebuild_its_models_and_says_what_to_do(digits, tmp_path):
    make_trainer(digits).save_checkpoint(tmp_path / "ckpt.pt")
    old = as_v1(tmp_path / "ckpt.pt", tmp_path / "v1.pt")
    for attempt in (lambda: Trainer.load(old, digits, device="cpu"), lambda: load_models(old)):
        with pytest.raises(CheckpointError, match="names its models but not their arguments.*load_checkpoint"):
            attempt()


def test_corrupt_or_missing_files_are_checkpoint_errors_when_rebuilding(digits, tmp_path):
    good = make_trainer(digits).save_checkpoint(tmp_path / "good.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:1000])
    torch.save({"weights": 1}, tmp_path / "foreign.pt")
    for path, match in ((truncated, "corrupt"), (tmp_path / "foreign.pt", "not a gancore-checkpoint"),
                        (tmp_path / "missing.pt", "no checkpoint")):
        with pytest.raises(CheckpointError, match=match):
            Trainer.load(path, digits, device="cpu")
        with pytest.raises(CheckpointError, match=match):
            load_models(path)


def test_other_model_arguments_are_named_in_the_error(digits, tmp_path):
    path = make_trainer(digits, width=4).save_checkpoint(tmp_path / "ckpt.pt")
    with pytest.raises(CheckpointError, match=r"does not fit these models: G was saved .*'width': \(4, 8\)"):
        make_trainer(digits, width=8).load_checkpoint(path)
    set_seed(0)
    G, D = build_gan("mlp", z_dim=8, width=4)
    other = Trainer(G, D, digits, batch_size=16, d_steps=2, sample_every=2, n_samples=4, device="cpu", progress=False)
    with pytest.raises(CheckpointError, match="holds models \\['DCGANGenerator', 'DCGANDiscriminator'\\]"):
        other.load_checkpoint(path)
