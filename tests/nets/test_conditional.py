"""gancore.cond_models, and the weighted StyleTransferLoss that trains the style models."""
import math

import pytest
import torch

import gancore
from gancore.losses import LOSS_NAMES, StyleTransferLoss, gram_matrix
from gancore.nets.conditional import (
    ClassConditionalDiscriminator,
    ClassConditionalGenerator,
    class_grid,
)
from gancore.nets.feature import FeatureNet
from gancore.nets.translation import AdaIN, PatchDiscriminator, StyleGenerator

B = 4


def style_batch(b=B, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    content = torch.rand(b, 1, size, size, generator=g) * 2 - 1
    exemplar = torch.rand(b, 3, size, size, generator=g) * 2 - 1
    target = torch.rand(b, 3, size, size, generator=g) * 2 - 1
    return content, exemplar, target


# ---- class-conditional models ---------------------------------------------

def test_class_conditional_shapes():
    torch.manual_seed(0)
    G, D = ClassConditionalGenerator(z_dim=8, width=8), ClassConditionalDiscriminator(width=8)
    labels = torch.tensor([0, 3, 7, 9])
    x = G(torch.randn(B, 8), labels)
    assert x.shape == (B, 1, 28, 28)
    assert x.abs().max() <= 1  # tanh output, in the data's range
    assert D(x, labels).shape == (B,)


def test_label_changes_generator_output():
    torch.manual_seed(0)
    G = ClassConditionalGenerator(z_dim=8, width=8).eval()
    for norm in (G.norm0, G.norm1):  # per-class scales and shifts as far apart as after training
        torch.nn.init.normal_(norm.gamma.weight, 1.0, 0.5)
        torch.nn.init.normal_(norm.beta.weight, 0.0, 0.5)
    z = torch.randn(1, 8).expand(10, 8)  # the same noise for every class
    x = G(z, torch.arange(10))
    gaps = (x[:, None] - x[None]).abs().flatten(2).amax(2)  # (10, 10) max pixel gap per pair
    off_diagonal = gaps[~torch.eye(10, dtype=torch.bool)]
    assert off_diagonal.min() > 1e-2


def test_noise_changes_generator_output_within_a_class():
    torch.manual_seed(0)
    G = ClassConditionalGenerator(z_dim=8, width=8).eval()
    x = G(torch.randn(4, 8), torch.full((4,), 3))  # DCGAN's init: small outputs, so compare relatively
    assert (x[1:] - x[0]).abs().flatten(1).amax(1).min() > 0.1 * x.abs().max()


def test_label_changes_discriminator_logit():
    torch.manual_seed(0)
    D = ClassConditionalDiscriminator(width=8)
    x = torch.rand(1, 1, 28, 28).expand(10, 1, 28, 28) * 2 - 1
    logits = D(x, torch.arange(10))
    assert torch.unique(logits).numel() == 10


def test_projection_discriminator_formula():
    torch.manual_seed(0)
    D = ClassConditionalDiscriminator(width=4)
    x, y = torch.randn(3, 1, 28, 28), torch.tensor([1, 5, 5])
    h = D.phi(x)
    expected = h @ D.linear.weight[0] + D.linear.bias[0] + (D.embed.weight[y] * h).sum(1)
    assert (D(x, y) - expected).abs().max() < 1e-5


@pytest.mark.parametrize("labels, match", [
    (torch.tensor([0.0, 1.0, 2.0, 3.0]), "int64 class indices"),
    (torch.tensor([0, 1, 2]), "3 labels for a batch of 4"),
    (torch.tensor([0, 1, 2, 10]), r"lie in \[0, 10\)"),
    (torch.tensor([-1, 1, 2, 3]), r"lie in \[0, 10\)"),
])
def test_bad_labels_raise(labels, match):
    G, D = ClassConditionalGenerator(z_dim=8, width=8), ClassConditionalDiscriminator(width=8)
    with pytest.raises(ValueError, match=match):
        G(torch.randn(B, 8), labels)
    with pytest.raises(ValueError, match=match):
        D(torch.randn(B, 1, 28, 28), labels)


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_class_conditional_trains_with_every_loss(loss):
    gancore.set_seed(0)
    x, y = torch.rand(16, 1, 28, 28) * 2 - 1, torch.arange(16) % 10
    G, D = ClassConditionalGenerator(z_dim=8, width=8), ClassConditionalDiscriminator(width=8)
    before = [p.detach().clone() for p in G.parameters()]
    trainer = gancore.Trainer(G, D, x, condition=(y,), loss=loss, batch_size=8, sample_every=0,
                              progress=False, device="cpu")
    history = trainer.train(1)
    assert len(history) == 1
    assert math.isfinite(history["loss_g"].iloc[0]) and math.isfinite(history["loss_d"].iloc[0])
    assert any((p - q).abs().max() > 0 for p, q in zip(G.parameters(), before))  # G was updated
    samples = trainer.generate(10, condition=(torch.arange(10),))
    assert samples.shape == (10, 1, 28, 28)


# ---- style models ---------------------------------------------------------

@pytest.mark.parametrize("content_channels, size", [(1, 32), (3, 64)])  # digits; photos
def test_style_model_shapes(content_channels, size):
    torch.manual_seed(0)
    G = StyleGenerator(content_channels=content_channels, width=8)
    D = PatchDiscriminator(content_channels=content_channels, width=8)
    content = torch.rand(B, content_channels, size, size) * 2 - 1
    exemplar = torch.rand(B, 3, size, size) * 2 - 1
    y = G(content=content, exemplar=exemplar)
    assert G.z_dim == 0
    assert y.shape == (B, 3, size, size)
    assert y.abs().max() <= 1
    assert D(y, content=content, exemplar=exemplar).shape == (B, 1, size // 4, size // 4)  # one logit per patch


def test_exemplar_changes_the_output():
    torch.manual_seed(0)
    G = StyleGenerator(width=8).eval()
    content, exemplar, _ = style_batch()
    same_content = content[:1].expand(B, -1, -1, -1)
    y = G(content=same_content, exemplar=exemplar)
    for i in range(1, B):
        assert (y[i] - y[0]).abs().max() > 1e-3


def test_content_changes_the_output():
    torch.manual_seed(0)
    G = StyleGenerator(width=8).eval()
    content, exemplar, _ = style_batch()
    same_style = exemplar[:1].expand(B, -1, -1, -1)
    y = G(content=content, exemplar=same_style)
    for i in range(1, B):
        assert (y[i] - y[0]).abs().max() > 1e-3


def test_patch_discriminator_sees_exemplar_and_content():
    torch.manual_seed(0)
    D = PatchDiscriminator(width=8)
    content, exemplar, target = style_batch()
    base = D(target, content, exemplar)
    scale = base.abs().max()
    assert (D(target, content, exemplar.flip(0)) - base).abs().max() > 0.01 * scale
    assert (D(target, content.flip(0), exemplar) - base).abs().max() > 0.01 * scale


def test_adain_matches_its_formula():
    torch.manual_seed(0)
    layer = AdaIN(channels=2, style_dim=3)
    h, s = torch.randn(2, 2, 5, 5), torch.randn(2, 3)
    gamma, beta = (layer.affine(s)[:, :2], layer.affine(s)[:, 2:])
    mu = h.mean(dim=(2, 3), keepdim=True)
    sigma = (h.var(dim=(2, 3), unbiased=False, keepdim=True) + 1e-5).sqrt()
    expected = (1 + gamma[:, :, None, None]) * (h - mu) / sigma + beta[:, :, None, None]
    assert (layer(h, s) - expected).abs().max() < 1e-5


@pytest.mark.parametrize("content, exemplar, match", [
    (torch.randn(B, 3, 32, 32), torch.randn(B, 3, 32, 32), "content has 3 channels.*content_channels=3"),
    (torch.randn(B, 1, 32, 32), torch.randn(B, 1, 32, 32), "exemplar has 1 channels.*style_channels=1"),
    (torch.randn(B, 1, 32, 32), torch.randn(B, 3, 28, 28), r"content is \(32, 32\) pixels but exemplar is \(28, 28\)"),
    (torch.randn(B, 1, 32, 32), torch.randn(B - 1, 3, 32, 32), "one exemplar per content image"),
    (torch.randn(B, 1, 30, 30), torch.randn(B, 3, 30, 30), "divisible by 4"),
    (torch.randn(1, 32, 32), torch.randn(B, 3, 32, 32), r"\(B, C, H, W\)"),
])
def test_mismatched_style_inputs_raise(content, exemplar, match):
    G, D = StyleGenerator(width=8), PatchDiscriminator(width=8)
    with pytest.raises(ValueError, match=match):
        G.check_inputs(content, exemplar)
    with pytest.raises(ValueError, match=match):
        G(content=content, exemplar=exemplar)
    with pytest.raises(ValueError, match=match):
        D(torch.randn(len(content), 3, *content.shape[-2:]), content, exemplar)


def test_patch_discriminator_checks_the_image():
    D = PatchDiscriminator(width=8)
    content, exemplar, _ = style_batch()
    with pytest.raises(ValueError, match="image has 1 channels.*image_channels=1"):
        D(torch.randn(B, 1, 32, 32), content, exemplar)


def test_bad_shapes_fail_before_any_update():
    G, D = StyleGenerator(width=8), PatchDiscriminator(width=8)
    content, _, target = style_batch()
    gray_exemplar = torch.randn(B, 1, 32, 32)
    before = [p.detach().clone() for p in G.parameters()]
    trainer = gancore.Trainer(G, D, target, inputs={"content": content, "exemplar": gray_exemplar}, batch_size=2,
                              sample_every=0, progress=False, device="cpu")
    with pytest.raises(ValueError, match="style_channels=1"):
        trainer.train(1)
    assert all(torch.equal(p, q) for p, q in zip(G.parameters(), before))


# ---- the weighted loss ----------------------------------------------------

class IdentityFeatures:
    """A stub feature net: phi(x) = [x, 2x]; counts its calls."""

    def __init__(self):
        self.calls = 0

    def features(self, x):
        self.calls += 1
        return [x, 2 * x]


class ExplodingFeatures:
    def features(self, x):
        raise AssertionError("the feature net must not run when perceptual and style weights are 0")


# fake = [[1, 2], [3, 4]], target = 0, exemplar = 1, all (1, 1, 2, 2)
FAKE = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
TARGET = torch.zeros(1, 1, 2, 2)
EXEMPLAR = torch.ones(1, 1, 2, 2)
CONTENT = torch.zeros(1, 1, 2, 2)
# By hand:
# L1   = (1 + 2 + 3 + 4) / 4 = 2.5
# perc = mean(x^2) + mean((2x)^2) = 30/4 + 120/4 = 37.5
# Gram of [x]: sum x^2 / (C H W) = 30/4 = 7.5 against 4/4 = 1 -> (6.5)^2 = 42.25;
# of [2x]: 4 times both, 30 vs 4 -> 26^2 = 676;  style = 42.25 + 676 = 718.25
# TV   = mean(|3-1|, |4-2|) + mean(|2-1|, |4-3|) = 2 + 1 = 3
BY_HAND = {"l1": 2.5, "perceptual": 37.5, "style": 718.25, "tv": 3.0}


def test_weighted_loss_against_hand_computed_values():
    weights = {"l1": 1.0, "perceptual": 0.5, "style": 0.1, "tv": 2.0}
    loss = StyleTransferLoss(**weights, feature_net=IdentityFeatures())
    terms = loss(FAKE, TARGET, content=CONTENT, exemplar=EXEMPLAR)
    assert set(terms) == set(BY_HAND)
    for name, value in BY_HAND.items():
        assert abs(terms[name].item() - weights[name] * value) < 1e-4


def test_style_term_uses_the_exemplar_not_the_target():
    loss = StyleTransferLoss(l1=0, style=1.0, feature_net=IdentityFeatures())
    with_exemplar_as_fake = loss(EXEMPLAR, TARGET, content=CONTENT, exemplar=EXEMPLAR)["style"]
    assert abs(with_exemplar_as_fake.item()) < 1e-12
    with_target_as_fake = loss(TARGET, TARGET, content=CONTENT, exemplar=EXEMPLAR)["style"]
    assert abs(with_target_as_fake.item() - (1.0 ** 2 + 4.0 ** 2)) < 1e-5  # Gram 0 vs 1, and 0 vs 4


def test_gram_matrix_against_a_direct_sum():
    torch.manual_seed(0)
    f = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    g = gram_matrix(f)
    for b in range(2):
        for i in range(3):
            for j in range(3):
                direct = sum(float(f[b, i, y, x] * f[b, j, y, x]) for y in range(4) for x in range(5))
                assert abs(g[b, i, j].item() - direct / (3 * 4 * 5)) < 1e-12


def test_zero_weights_skip_the_feature_net_and_terms():
    loss = StyleTransferLoss(l1=1.0, perceptual=0, style=0, tv=0, feature_net=ExplodingFeatures())
    terms = loss(FAKE, TARGET, content=CONTENT, exemplar=EXEMPLAR)
    assert list(terms) == ["l1"]
    loss = StyleTransferLoss(l1=0, perceptual=0, style=0, tv=0.5)  # no feature net needed at all
    assert list(loss(FAKE, TARGET, content=CONTENT, exemplar=EXEMPLAR)) == ["tv"]


def test_feature_net_runs_only_for_the_terms_that_need_it():
    net = IdentityFeatures()
    StyleTransferLoss(l1=0, perceptual=1.0, feature_net=net)(FAKE, TARGET, content=CONTENT, exemplar=EXEMPLAR)
    assert net.calls == 2  # output and target
    net = IdentityFeatures()
    StyleTransferLoss(l1=0, style=1.0, feature_net=net)(FAKE, TARGET, content=CONTENT, exemplar=EXEMPLAR)
    assert net.calls == 2  # output and exemplar
    net = IdentityFeatures()
    both = StyleTransferLoss(l1=0, perceptual=1.0, style=1.0, feature_net=net)
    both(FAKE, TARGET, content=CONTENT, exemplar=EXEMPLAR)
    assert net.calls == 3  # the output's features are shared by both terms


@pytest.mark.parametrize("name", ["l1", "perceptual", "style", "tv"])
def test_negative_weight_raises_naming_it(name):
    with pytest.raises(ValueError, match=f"the {name} weight must be >= 0"):
        StyleTransferLoss(**{name: -0.1}, feature_net=IdentityFeatures())


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "1", True])
def test_non_numeric_weight_raises(bad):
    with pytest.raises(ValueError, match="the tv weight must be a finite number"):
        StyleTransferLoss(tv=bad)


def test_feature_terms_need_a_feature_net():
    with pytest.raises(ValueError, match="feature_net=gancore.features.get_feature_net"):
        StyleTransferLoss(perceptual=1.0)


def test_loss_freezes_a_real_feature_net_but_passes_gradients_to_the_output():
    net = FeatureNet({"digit": 10}, width=4, hidden=8)
    loss = StyleTransferLoss(l1=0, perceptual=1.0, style=1.0, feature_net=net)
    content, exemplar, target = style_batch(b=2)
    fake = torch.rand(2, 3, 32, 32, requires_grad=True)
    sum(loss(fake, target, content=content, exemplar=exemplar).values()).backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in net.parameters())


# ---- everything together in the trainer -----------------------------------

def test_style_term_needs_the_exemplar_by_name():
    loss = StyleTransferLoss(l1=0, style=1.0, feature_net=IdentityFeatures())
    with pytest.raises(ValueError, match="the style term needs the exemplar by name"):
        loss(FAKE, TARGET, (CONTENT, EXEMPLAR))  # by position it is not read
    assert list(StyleTransferLoss(l1=1.0)(FAKE, TARGET, (CONTENT, EXEMPLAR))) == ["l1"]  # nor needed


# ---- everything together in the trainer -----------------------------------

@pytest.mark.parametrize("loss_name, with_d", [("nonsaturating", True), ("wgan_gp", True), ("hinge", False)])
def test_style_gan_trains_three_steps(loss_name, with_d):
    gancore.set_seed(0)
    content, exemplar, target = style_batch(b=8)
    G, D = StyleGenerator(width=8), PatchDiscriminator(width=8) if with_d else None
    net = FeatureNet({"digit": 10, "ink": 3}, width=4, hidden=8)
    aux = StyleTransferLoss(l1=1.0, perceptual=0.5, style=10.0, tv=0.1, feature_net=net)
    inputs = {"content": content, "exemplar": exemplar}
    trainer = gancore.Trainer(G, D, target, inputs=inputs, aux_loss=aux, loss=loss_name,
                              adv_weight=1.0 if with_d else 0.0, batch_size=4, sample_every=3,
                              n_samples=3, progress=False, device="cpu")
    history = trainer.train(3)
    assert len(history) == 3
    for column in ("loss_g", "loss_l1", "loss_perceptual", "loss_style", "loss_tv"):
        assert history[column].map(math.isfinite).all(), column
    if with_d:
        assert history["loss_d"].map(math.isfinite).all()
        assert history["loss_adv"].map(math.isfinite).all()
    else:
        assert history["loss_d"].isna().all() and "loss_adv" not in history
    out = trainer.generate(8, inputs=inputs, batch_size=3)
    G.eval()
    with torch.no_grad():
        # no noise: generate is G on the inputs (batches of 3 vs 8 round differently)
        assert (out - G(content, exemplar)).abs().max() < 1e-5
        assert (trainer.samples[3] - G(content[:3], exemplar[:3])).abs().max() < 1e-5  # the first 3 pairs


def test_class_grid_rows_are_classes_and_columns_share_noise():
    torch.manual_seed(0)
    G = ClassConditionalGenerator(z_dim=8, width=8)
    grid = class_grid(G, n_noise=3, seed=5)
    assert grid.shape == (30, 1, 28, 28)
    assert G.training  # left as it was
    z = G.sample_noise(3, torch.Generator().manual_seed(5))
    G.eval()
    with torch.no_grad():
        expected = G(z.repeat(10, 1), torch.arange(10).repeat_interleave(3))
    assert (grid - expected).abs().max() < 1e-6
    with torch.no_grad():
        row_7 = G(z, torch.full((3,), 7))  # row 7 is digit 7 with the three noise vectors
    assert (grid[21:24] - row_7).abs().max() < 1e-6
