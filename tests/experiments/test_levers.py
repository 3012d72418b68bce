"""The levers as notebook parameters: off by default, checked, and reaching the models and the trainer."""
import pytest
import torch

from gancore.experiments.class_conditional import ClassConditional
from gancore.experiments.levers import Levers, split_levers
from gancore.experiments.mnist_baseline import MNIST_DEFAULTS, MNISTBaseline, generate_digits, train_and_evaluate
from gancore.metrics.distribution import reference_stats
from gancore.nets.classifier import DigitClassifier
from gancore.nets.conditional import ClassConditionalDiscriminator
from gancore.train.config import TrainConfig
from gancore.workbook.notebook import ParameterError

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


@pytest.mark.parametrize("params", [MNISTBaseline, ClassConditional])
def test_every_lever_is_off_by_default(params):
    """Off means: the trainer's and the networks' own defaults, so a run without levers is the run before."""
    levers = params().levers
    trainer_levers, net_levers = split_levers(levers)
    assert all(getattr(TrainConfig(), k) == v for k, v in trainer_levers.items())
    assert net_levers == {"upsample": "transposed", "spectral_norm": False}
    assert params().levers_on == {}
    assert params(r1_gamma=10.0, augment="cutout").levers_on == {"r1_gamma": 10.0, "augment": "cutout"}
    cell = params.parameters_cell()
    assert cell.index("out_dir") > cell.index("upsample") > cell.index("steps")  # own parameters first


def test_bad_levers_fail_with_one_clear_error():
    with pytest.raises(ParameterError, match="unknown augmentation 'flip'"):
        MNISTBaseline(augment="flip")
    with pytest.raises(ParameterError, match="upsample must be one of"):
        ClassConditional(upsample="bilinear")
    with pytest.raises(ParameterError, match="r1_gamma"):
        MNISTBaseline(r1_gamma=-1.0)
    with pytest.raises(ParameterError, match="change the DCGAN only"):
        MNISTBaseline(model="mlp", spectral_norm=True)
    with pytest.raises(ValueError, match="unknown lever"):
        split_levers({"r2_gamma": 1.0})
    assert set(Levers.defaults()) - set(MNIST_DEFAULTS) == {"cpu_threads", "seed", "smoke", "out_dir"}


def test_train_and_evaluate_switches_the_levers_on_for_the_dcgan_only():
    torch.manual_seed(0)
    images, labels = torch.rand(300, 1, 28, 28) * 2 - 1, torch.randint(0, 10, (300,))  # any images will do
    train_x, train_y, held_x = images[:200], labels[:200], images[200:]
    classifier = DigitClassifier(channels=(4, 8), feature_dim=16).eval()
    reference = reference_stats(held_x, classifier)
    settings = dict(eval_every=2, n_eval=40, z_dim=8, width=4, loss="hinge", batch_size=16, lr_g=1e-3,
                    lr_d=1e-3, augment_shift=1, seed=0, device="cpu",
                    levers=dict(r1_gamma=1.0, r1_every=2, augment="color", cr_weight=1.0, upsample="nearest",
                                spectral_norm=True))
    trainer, curve = train_and_evaluate("dcgan", train_x, 2, reference, classifier, train_labels=train_y,
                                        **settings)
    cfg = trainer.config
    assert (cfg.r1_gamma, cfg.r1_every, cfg.augment, cfg.cr_weight) == (1.0, 2, "color", 1.0)
    assert isinstance(trainer.D, ClassConditionalDiscriminator) and trainer.D.config["spectral_norm"]
    assert trainer.G.config["upsample"] == "nearest"
    assert {"loss_r1", "loss_cr"} <= set(trainer.history.columns) and curve["fd"].notna().all()
    digits = generate_digits(trainer, 30, seed=3)
    assert digits.shape == (30, 1, 28, 28) and torch.equal(digits, generate_digits(trainer, 30, seed=3))

    mlp, _ = train_and_evaluate("mlp", train_x, 1, reference, classifier, **settings)
    assert (mlp.config.r1_gamma, mlp.config.augment, mlp.config.cr_weight) == (0.0, "", 0.0)
    assert "upsample" not in mlp.G.config and not mlp.condition


def test_a_run_with_every_lever_resumes_bit_for_bit(tmp_path):
    """Spectral norm's power-iteration vectors, the augmentation and bCR draws all live in the checkpoint."""
    from gancore import Trainer
    from gancore.nets.unconditional import build_gan

    torch.manual_seed(0)
    images = torch.rand(64, 1, 28, 28) * 2 - 1
    settings = dict(loss="hinge", batch_size=16, augment_shift=1, augment="color,cutout", r1_gamma=1.0, r1_every=2,
                    cr_weight=1.0, sample_every=0, progress=False, device="cpu", seed=3)

    def fresh():
        torch.manual_seed(1)
        return build_gan("dcgan", z_dim=8, width=4, upsample="nearest", spectral_norm=True)

    whole = Trainer(*fresh(), images, **settings)
    whole.train(4)
    first = Trainer(*fresh(), images, **settings)
    first.train(2)
    first.save_checkpoint(tmp_path / "ckpt.pt")
    resumed = Trainer.load(tmp_path / "ckpt.pt", images, progress=False, device="cpu")
    resumed.train(2)
    for a, b in [(whole.G, resumed.G), (whole.D, resumed.D)]:
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert any("_u" in k for k in resumed.D.state_dict())  # the power iteration's vector was saved


def test_condition_labels_follow_the_parameters():
    """Self-conditioning takes k-means clusters of the pixels, class_conditional the labels, neither: None."""
    from gancore.data.clusters import kmeans_labels

    torch.manual_seed(0)
    images, labels = torch.rand(120, 1, 28, 28) * 2 - 1, torch.randint(0, 10, (120,))
    clustered = MNISTBaseline(clusters=7, seed=3).condition_labels(images, labels)
    assert torch.equal(clustered, kmeans_labels(images, 7, seed=3))
    assert torch.equal(MNISTBaseline(clusters=0, class_conditional=True).condition_labels(images, labels), labels)
    assert MNISTBaseline(clusters=0).condition_labels(images, labels) is None
    with pytest.raises(ParameterError, match="choose one: set clusters 0 or class_conditional False"):
        MNISTBaseline(class_conditional=True, clusters=10)
    with pytest.raises(ParameterError, match="clusters must be"):
        MNISTBaseline(clusters=-1)
