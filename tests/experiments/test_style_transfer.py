"""gancore.style_transfer: building the style cGAN, translating, and the metrics.

References: scikit-image's structural_similarity and peak_signal_noise_ratio for
SSIM and PSNR, hand-counted predictions for the accuracies.
"""
import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import gancore.data
from gancore.data.digit_styles import DigitStyleDomain, make_style_splits, pad_to_32
from gancore.data.splits import count_shared, partition
from gancore.data.style_pairs import style_splits
from gancore.experiments.style_transfer import (
    METHODS,
    METRIC_NAMES,
    adversarial_credit,
    build_style_trainer,
    check_targets,
    copy_content,
    evaluate_transfer,
    generator_splits,
    graded_targets,
    grader_features,
    grader_training_set,
    method_outputs,
    parse_style,
    side_by_side,
    style_exemplars,
    translate,
)
from gancore.losses import StyleTransferLoss
from gancore.metrics.per_image import PSNR_CAP, psnr, ssim
from gancore.nets.feature import FeatureNet

HEADS = {"digit": 10, "stroke": 3, "slant": 3, "ink": 9, "background": 7}


pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def sets():
    images, labels = gancore.data.load_mnist()
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:400]  # every digit,
    return make_style_splits(48, 24, seed=0, images=images[pick], labels=labels[pick])  # not 400 zeros


@pytest.fixture(scope="module")
def net():
    """An untrained (seeded) feature net: enough for shapes, zeros and finiteness."""
    torch.manual_seed(0)
    return FeatureNet(HEADS, width=4, hidden=16).eval().requires_grad_(False)


def constant_grader(classes: dict[str, int], seed=0) -> FeatureNet:
    """A grader whose heads predict ``classes[head]`` for every image: known predictions,
    so the accuracies can be counted from the labels alone."""
    torch.manual_seed(seed)
    net = FeatureNet(HEADS, width=4, hidden=16).eval().requires_grad_(False)
    for name, head in net.heads.items():
        head.weight.zero_()
        head.bias.copy_(5.0 * torch.nn.functional.one_hot(torch.tensor(classes[name]), HEADS[name]))
    return net


def commonest(values: torch.Tensor) -> int:
    return int(values.bincount().argmax())


def hand_accuracies(data, classes):
    """content_acc and style_acc of a constant grader, counted from the labels with numpy."""
    digit = np.mean(data.digit.numpy() == classes["digit"])
    style = data.style.numpy()
    per_head = [np.mean(style[:, i] == classes[name])
                for i, name in enumerate(("stroke", "slant", "ink", "background"))]
    return digit, float(np.mean(per_head))


def image_pairs(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(n, 3, 32, 32, generator=g, dtype=torch.float64)
    b = (a + 0.2 * torch.randn(a.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    return a, b


# ------------------------------------------------------------------------- metrics


def test_ssim_matches_skimage():
    a, b = image_pairs()
    b[1] = a[1] * 0.5 + 0.25  # a contrast change, not just noise
    ours = ssim(a, b)
    for i in range(len(a)):
        ref = structural_similarity(a[i].numpy(), b[i].numpy(), channel_axis=0, data_range=1)
        assert abs(float(ours[i]) - ref) < 1e-5


def test_psnr_matches_skimage():
    a, b = image_pairs(seed=1)
    ours = psnr(a, b)
    for i in range(len(a)):
        ref = peak_signal_noise_ratio(a[i].numpy(), b[i].numpy(), data_range=1)
        assert abs(float(ours[i]) - ref) < 1e-4


def test_identical_images_score_perfectly():
    a, _ = image_pairs()
    assert (ssim(a, a) - 1).abs().max() < 1e-6
    assert torch.equal(psnr(a, a), torch.full((len(a),), PSNR_CAP))


def test_metrics_reject_mismatched_batches():
    a, b = image_pairs()
    with pytest.raises(ValueError, match="one shape"):
        ssim(a, b[:, :1])
    with pytest.raises(ValueError, match="one shape"):
        psnr(a, b[:2])


def test_copy_content_is_the_grey_digit_in_three_channels(sets):
    content = sets["test_seen"].content
    out = copy_content(content)
    assert out.shape == (len(content), 3, 32, 32)
    assert all(torch.equal(out[:, c:c + 1], content) for c in range(3))


def test_evaluate_targets_against_themselves(sets, net):
    data = sets["test_seen"]
    m = evaluate_transfer(data.target, data, net)
    assert set(m) == set(METRIC_NAMES)
    assert abs(m["ssim"] - 1) < 1e-6
    assert m["psnr"] == PSNR_CAP
    assert abs(m["perceptual"]) < 1e-9
    assert abs(m["fd"]) < 1e-6
    copied = evaluate_transfer(copy_content(data.content), data, net)
    assert copied["ssim"] < 0.5 and copied["perceptual"] > 1e-3 and copied["fd"] > 1e-3
    assert all(math.isfinite(v) for v in copied.values())


def test_accuracies_count_matching_predictions(sets):
    data = sets["test_unseen"]
    # each head predicts its commonest label, the style heads each a different column's
    classes = {"digit": commonest(data.digit), **{name: commonest(data.style[:, i]) for i, name in
                                                  enumerate(("stroke", "slant", "ink", "background"))}}
    m = evaluate_transfer(copy_content(data.content), data, constant_grader(classes))
    digit, style = hand_accuracies(data, classes)
    assert 0 < digit < 1 and 0 < style < 1  # neither all right nor all wrong: a count that can be off
    assert abs(m["content_acc"] - digit) < 1e-12
    assert abs(m["style_acc"] - style) < 1e-12


def test_content_accuracy_can_come_from_another_net(sets):
    data = sets["test_seen"]
    grader_classes = {"digit": commonest(data.digit), "stroke": 0, "slant": 1, "ink": 2, "background": 0}
    other_digit = int(data.digit.bincount(minlength=10).argsort()[-2])  # the second commonest digit
    grader = constant_grader(grader_classes)
    other = constant_grader({**grader_classes, "digit": other_digit, "stroke": 2})
    m = evaluate_transfer(data.target, data, grader, digit_classifier=other)
    digit, style = hand_accuracies(data, grader_classes)
    other_digit_acc, _ = hand_accuracies(data, {**grader_classes, "digit": other_digit})
    assert other_digit_acc != digit  # so the test tells the two nets apart
    assert abs(m["content_acc"] - other_digit_acc) < 1e-12
    assert abs(m["style_acc"] - style) < 1e-12  # still the grader's, not the other net's stroke head


def test_fd_uses_what_the_graders_heads_see(sets, net):
    data = sets["test_seen"]
    seen = []  # the input of the digit head during an ordinary forward pass
    hook = net.heads["digit"].register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    with torch.no_grad():
        net(data.target)
    hook.remove()
    feats = grader_features(data.target, net, batch_size=5)  # batched: 5 + 5 + ... + 4
    assert feats.shape == (len(data), 16) and feats.dtype == torch.float64  # the fc layer's width
    assert (feats - seen[0].double()).abs().max() < 1e-6


# --------------------------------------------------------------------- the trainer


def test_build_runs_a_few_steps_with_finite_losses(sets, net):
    trainer = build_style_trainer(sets["train"], perceptual=1.0, style=1.0, tv=0.1, batch_size=8,
                                  feature_net=net, progress=False, device="cpu")
    history = trainer.train(3)
    assert len(history) == 3
    for column in ("loss_d", "loss_g", "loss_adv", "loss_l1", "loss_perceptual", "loss_style", "loss_tv"):
        assert np.isfinite(history[column]).all(), column
    assert trainer.fixed_condition == () and set(trainer.fixed_inputs) == {"content", "exemplar"}  # by name
    assert trainer.fixed_inputs["content"].shape == (16, 1, 32, 32)  # the first 16 training pairs
    assert torch.equal(trainer.fixed_inputs["exemplar"], sets["train"].exemplar[:16])


def test_models_come_from_the_seed_and_leave_the_global_rng_alone(sets):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = build_style_trainer(sets["train"], perceptual=0.0, seed=3, progress=False, device="cpu")
    assert torch.equal(torch.get_rng_state(), before)
    b = build_style_trainer(sets["train"], perceptual=0.0, seed=3, progress=False, device="cpu")
    c = build_style_trainer(sets["train"], perceptual=0.0, seed=4, progress=False, device="cpu")
    first = lambda t: next(t.G.parameters())  # noqa: E731
    assert torch.equal(first(a), first(b)) and not torch.equal(first(a), first(c))


def test_weight_zero_switches_a_term_off_exactly(sets):
    trainer = build_style_trainer(sets["train"], adv_weight=0.0, l1=1.0, perceptual=0.0, style=0.0,
                                  tv=0.0, batch_size=8, progress=False, device="cpu")
    assert trainer.aux_loss.feature_net is None  # never fetched, never run
    assert trainer.D is None and trainer.opt_d is None  # no adversarial term: no discriminator built
    history = trainer.train(2)
    assert history["loss_d"].isna().all() and "loss_adv" not in history
    assert [c for c in history if c.startswith("loss_")] == ["loss_d", "loss_l1", "loss_g"]
    assert (history["loss_g"] == history["loss_l1"]).all()  # L_G is the L1 term and nothing else


def test_mismatched_content_and_exemplar_fail_before_training(sets):
    train = sets["train"]
    grey_exemplar = train.subset(slice(None))
    grey_exemplar.exemplar = train.exemplar[:, :1]  # (N, 1, 32, 32): a channel count G cannot take
    with pytest.raises(ValueError, match="exemplar has 1 channels"):
        build_style_trainer(grey_exemplar, progress=False, device="cpu")
    small = train.subset(slice(None))
    small.exemplar = train.exemplar[:, :, :28, :28]
    with pytest.raises(ValueError, match=r"content is \(32, 32\) pixels but exemplar is \(28, 28\)"):
        build_style_trainer(small, progress=False, device="cpu")
    fewer = train.subset(slice(None))
    fewer.exemplar = train.exemplar[:-1]
    with pytest.raises(ValueError, match="one exemplar per content image"):
        build_style_trainer(fewer, progress=False, device="cpu")


@pytest.mark.parametrize("weights, match", [
    ({"l1": -1.0}, "l1 weight must be >= 0"),
    ({"tv": -0.1}, "tv weight must be >= 0"),
    ({"perceptual": -0.5}, "the perceptual weight must be a finite number >= 0"),
    ({"style": float("nan")}, "style weight must be a finite number >= 0"),
    ({"adv_weight": -1.0}, "adv_weight must be a finite number >= 0"),
])
def test_bad_weights_fail_before_any_feature_net_is_fetched(sets, weights, match, monkeypatch):
    def no_fetch(*args, **kwargs):
        raise AssertionError("get_feature_net called before the weights were checked")
    monkeypatch.setattr("gancore.experiments.style_transfer.get_feature_net", no_fetch)
    with pytest.raises(ValueError, match=match):
        build_style_trainer(sets["train"], progress=False, device="cpu", **weights)


def test_unknown_loss_and_bad_sizes(sets, net):
    with pytest.raises(ValueError, match="unknown GAN loss 'hingee'"):
        build_style_trainer(sets["train"], loss="hingee", feature_net=net, progress=False, device="cpu")
    with pytest.raises(ValueError, match="width must be an int >= 1"):
        build_style_trainer(sets["train"], width=0, progress=False, device="cpu")
    with pytest.raises(ValueError, match="batch_size 64 exceeds the 48 images"):
        build_style_trainer(sets["train"], batch_size=64, feature_net=net, progress=False, device="cpu")


# ----------------------------------------------------------------------- translate


def test_translate_shape_range_mode_and_batching(sets):
    trainer = build_style_trainer(sets["train"], perceptual=0.0, progress=False, device="cpu")
    G, data = trainer.G.train(), sets["test_unseen"]
    out = translate(G, data.content, data.exemplar, batch_size=5)
    assert out.shape == (len(data), 3, 32, 32) and out.device.type == "cpu"
    assert out.min() >= -1 and out.max() <= 1 and out.std() > 0
    assert G.training  # the caller's mode is restored
    whole = translate(G, data.content, data.exemplar, batch_size=1000)
    assert (out - whole).abs().max() < 1e-5  # no batch statistics: batching changes nothing
    with pytest.raises(ValueError, match="exemplar has 1 channels"):
        translate(G, data.content, data.exemplar[:, :1])


def test_method_outputs_and_graded_targets_cover_both_test_splits(sets):
    G = build_style_trainer(sets["train"], perceptual=0.0, progress=False, device="cpu").G
    outputs = method_outputs({"full": G}, sets)
    assert list(outputs) == ["seen", "unseen"] and all(list(o) == ["copy", "full"] for o in outputs.values())
    for key, name in (("seen", "test_seen"), ("unseen", "test_unseen")):
        data = sets[name]
        assert all(torch.equal(outputs[key]["copy"][:, c], data.content[:, 0]) for c in range(3))
        with torch.no_grad():
            direct = G.eval()(content=data.content, exemplar=data.exemplar)
        assert (outputs[key]["full"] - direct).abs().max() < 1e-5
    classes = {"digit": 3, "stroke": 0, "slant": 1, "ink": 2, "background": 3}
    targets = graded_targets(sets, constant_grader(classes))
    hand = {key: hand_accuracies(sets[name], classes) for key, name in (("seen", "test_seen"),
                                                                       ("unseen", "test_unseen"))}
    assert hand["seen"] != hand["unseen"]  # so a swapped split would show
    for key in ("seen", "unseen"):  # each target graded against itself, by its own split's labels
        t = targets[key]
        assert abs(t["ssim"] - 1) < 1e-6 and t["psnr"] == PSNR_CAP
        assert abs(t["perceptual"]) < 1e-9 and abs(t["fd"]) < 1e-6
        assert abs(t["content_acc"] - hand[key][0]) < 1e-12 and abs(t["style_acc"] - hand[key][1]) < 1e-12


def test_style_transfer_loss_is_what_the_trainer_uses(sets, net):
    trainer = build_style_trainer(sets["train"], l1=2.0, perceptual=0.5, style=0.0, tv=0.0,
                                  feature_net=net, progress=False, device="cpu")
    assert isinstance(trainer.aux_loss, StyleTransferLoss)
    assert trainer.aux_loss.weights == {"l1": 2.0, "perceptual": 0.5, "style": 0.0, "tv": 0.0, "ssim": 0.0}
    assert trainer.aux_loss.feature_net is net


# -------------------------------------------------------------------- named styles


def test_parse_style_forms_and_errors():
    from gancore.data.digit_styles import Style
    assert parse_style("bold/right/fire/brick") == Style("bold", "right", "fire", "brick")
    assert parse_style("ink=fire, background=brick") == Style(ink="fire", background="brick")
    assert parse_style({"slant": "left"}) == Style(slant="left")
    assert str(parse_style(str(Style("thin", "left", "red", "sky")))) == "thin/left/red/sky"  # round trip
    with pytest.raises(ValueError, match="unknown style attribute 'colour'; valid attributes: stroke, slant"):
        parse_style("colour=red")
    with pytest.raises(ValueError, match="unknown ink 'purple'; valid values: black, red"):
        parse_style("ink=purple")
    with pytest.raises(ValueError, match="stroke/slant/ink/background"):
        parse_style("bold/right")


def test_style_exemplars_render_the_named_style():
    digit = torch.full((1, 1, 32, 32), -1.0)  # background ...
    digit[0, 0, 10:20, 14:18] = 1.0            # ... a full-ink bar ...
    digit[0, 0, 5, 5] = 0.0                    # ... and one half-covered pixel
    out = style_exemplars("ink=red", digit)    # regular, upright, red (0.8, 0.08, 0.08) on white
    assert out.shape == (1, 3, 32, 32)
    red, white = torch.tensor([0.8, 0.08, 0.08]), torch.ones(3)
    for (y, x), colour in (((0, 0), white), ((15, 15), red), ((5, 5), (red + white) / 2)):
        assert (out[0, :, y, x] - (2 * colour - 1)).abs().max() < 1e-6, (y, x)  # [0, 1] -> [-1, 1]
    assert (out[0, :, 10:20, 14:18] - (2 * red - 1)[:, None, None]).abs().max() < 1e-6  # no stroke change
    sky = style_exemplars({"background": "sky"}, digit)[0, :, 0, 0]
    assert (sky - (2 * torch.tensor([0.8, 0.9, 1.0]) - 1)).abs().max() < 1e-6


def test_side_by_side_columns(sets):
    data = sets["test_seen"]
    fake = -data.target
    grid, names = side_by_side(data, {"full": fake}, n=3)
    assert names == ["content", "exemplar", "target", "full"]
    assert grid.shape == (12, 3, 32, 32)
    assert torch.equal(grid[4 + 1], data.exemplar[1]) and torch.equal(grid[4 * 2 + 3], fake[2])
    assert torch.equal(grid[0], data.content[0].expand(3, -1, -1))


def test_check_targets_reads_the_metrics():
    def m(ssim, fd):
        return {"ssim": ssim, "fd": fd}
    good = {"seen": {"copy": m(0.1, 900), "l1": m(0.60, 100), "full": m(0.56, 69)}}
    assert check_targets(good)["met"].all()
    bad = {"seen": {"copy": m(0.1, 900), "l1": m(0.60, 100), "full": m(0.54, 71)}}
    assert check_targets(bad)["met"].tolist() == [True, False, False]  # FD 29% lower; SSIM down 0.06


def test_adversarial_credit_splits_the_fd_change_by_hand():
    m = {"seen": {"l1": {"fd": 100.0, "ssim": 0.8, "style_acc": 0.5},
                  "l1+perceptual": {"fd": 50.0, "ssim": 0.79, "style_acc": 0.6},
                  "full": {"fd": 25.0, "ssim": 0.78, "style_acc": 0.7}}}
    text = adversarial_credit(m)
    assert "by -75%" in text and "changes it by -50% against l1" in text and "on top of it by -50%" in text
    assert "50% of the change from l1 to full is the perceptual term's and 50% the adversarial term's" in text
    m["seen"]["full"]["fd"] = 50.0 * 0.9  # log share: log 0.5 / log 0.45
    assert f"{math.log(0.5) / math.log(0.45):.0%} of the change" in adversarial_credit(m)
    assert METHODS["l1+perceptual"] == {"adv_weight": 0.0} and METHODS["full"] == {}


def test_grader_digits_are_none_of_the_generators_and_its_styles_are_the_training_styles():
    """The grader learns from the measure part, the generator's three splits come from the experiment part."""
    splits, grader_set = generator_splits(48, 24, seed=0), grader_training_set(48, seed=0)
    generator_digits = torch.cat([t for s in splits.values() for t in (s.content, s.exemplar_content)])
    grader_digits = torch.cat([grader_set.content, grader_set.exemplar_content])
    assert len(grader_set) == 48 and count_shared(grader_digits, generator_digits) == 0
    mnist = gancore.data.load_mnist()
    measure, experiment = (pad_to_32(partition(mnist, part).images) for part in ("measure", "experiment"))
    assert count_shared(generator_digits, experiment) == len(generator_digits)
    assert count_shared(grader_digits, measure) == len(grader_digits)
    # the same seed, the same training styles: the grader never learns the generator's unseen styles
    training_styles = set(style_splits(DigitStyleDomain(*mnist), seed=0)["train"])
    assert grader_set.combos() <= training_styles and splits["train"].combos() <= training_styles
    assert grader_set.combos().isdisjoint(splits["test_unseen"].combos())
