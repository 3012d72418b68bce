"""Matching-aware negatives (GAN-CLS): the loss against a hand computation, and the trainer's D step
against one written out by hand."""
import copy

import pytest
import torch

from gancore.losses import d_loss_bce, d_loss_hinge, matching_aware_d_loss
from gancore.nets.conditional import ClassConditionalDiscriminator, ClassConditionalGenerator, wrong_labels
from gancore.nets.translation import PatchDiscriminator, StyleGenerator
from gancore.train.checkpoint import V2_FORMAT
from gancore.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tests/conftest.py


def test_matching_aware_hinge_against_hand_computation():
    r, f, m = torch.tensor([0.5, 2.0]), torch.tensor([-0.5, 0.3]), torch.tensor([0.2, -2.0])
    # L_r = mean relu(1 - r) = (0.5 + 0) / 2; L_f(f) = (0.5 + 1.3) / 2; L_f(m) = (1.2 + 0) / 2
    expected = 0.25 + 0.5 * 0.9 + 0.5 * 0.6
    assert matching_aware_d_loss(d_loss_hinge, r, f, m, 0.5).item() == pytest.approx(expected, abs=1e-6)
    # w = 0.2: L_r + 0.8 L_f(f) + 0.2 L_f(m)
    assert matching_aware_d_loss(d_loss_hinge, r, f, m, 0.2).item() == pytest.approx(0.25 + 0.72 + 0.12, abs=1e-6)


def test_matching_aware_bce_splits_into_real_and_fake_parts():
    gen = torch.Generator().manual_seed(0)
    r, f, m = (torch.randn(5, generator=gen) for _ in range(3))
    sp = torch.nn.functional.softplus
    expected = sp(-r).mean() + 0.7 * sp(f).mean() + 0.3 * sp(m).mean()
    assert torch.allclose(matching_aware_d_loss(d_loss_bce, r, f, m, 0.3), expected, atol=1e-6)
    assert torch.equal(matching_aware_d_loss(d_loss_bce, r, f, m, 0.0), d_loss_bce(r, f))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        matching_aware_d_loss(d_loss_bce, r, f, m, 1.5)


def _data(n=8, size=8):
    gen = torch.Generator().manual_seed(1)
    content, exemplar, target, wrong = (torch.rand(n, 3, size, size, generator=gen) * 2 - 1 for _ in range(4))
    return content, exemplar, target, wrong


def _models():
    torch.manual_seed(0)
    return StyleGenerator(3, 3, 3, width=4, style_dim=8), PatchDiscriminator(3, 3, 3, width=4)


def test_trainer_d_step_matches_a_hand_written_one():
    content, exemplar, target, wrong = _data()
    G, D = _models()
    D_ref, G_ref = copy.deepcopy(D), copy.deepcopy(G)
    trainer = Trainer(G, D, target, inputs={"content": content, "exemplar": exemplar},
                      mismatched={"exemplar": wrong}, loss="hinge", batch_size=4, mismatch_weight=0.5,
                      lr_d=1e-2, sample_every=0, progress=False)
    idx = trainer._indices(0)
    c, e, y, w = content[idx], exemplar[idx], target[idx], wrong[idx]
    with torch.no_grad():
        fake = G_ref(content=c, exemplar=e)
    loss = matching_aware_d_loss(d_loss_hinge, D_ref(y, content=c, exemplar=e), D_ref(fake, content=c, exemplar=e),
                                 D_ref(y, content=c, exemplar=w), 0.5)
    opt = torch.optim.Adam(D_ref.parameters(), lr=1e-2, betas=(0.5, 0.999))
    opt.zero_grad()
    loss.backward()
    opt.step()
    record = trainer._train_step()
    assert record["loss_d"] == pytest.approx(loss.item(), rel=1e-5)
    for p, q in zip(D.parameters(), D_ref.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_weight_zero_is_the_plain_trainer():
    content, exemplar, target, wrong = _data()
    runs = []
    for kwargs in ({}, {"mismatched": {"exemplar": wrong}}):
        G, D = _models()
        t = Trainer(G, D, target, inputs={"content": content, "exemplar": exemplar}, loss="hinge", batch_size=4,
                    sample_every=0, progress=False, **kwargs)
        t.train(2)
        runs.append(t.history.drop(columns=["seconds", "cpu_seconds"]))
    assert runs[0].equals(runs[1]) and "d_mismatch" not in runs[0]


def test_mismatch_needs_wrong_inputs_with_known_names():
    content, exemplar, target, wrong = _data()
    G, D = _models()
    inputs = {"content": content, "exemplar": exemplar}
    with pytest.raises(ValueError, match="needs wrong conditions"):
        Trainer(G, D, target, inputs=inputs, batch_size=4, mismatch_weight=0.5, progress=False)
    with pytest.raises(ValueError, match="replace named inputs"):
        Trainer(G, D, target, inputs=inputs, mismatched={"style": wrong}, batch_size=4, progress=False)
    with pytest.raises(ValueError, match="mismatch_weight"):
        Trainer(G, D, target, inputs=inputs, mismatched={"exemplar": wrong}, batch_size=4, mismatch_weight=1.0)


def test_checkpoint_saved_before_prepost_and_mismatch_still_loads(tmp_path):
    content, exemplar, target, wrong = _data()
    G, D = _models()
    inputs = {"content": content, "exemplar": exemplar}
    trainer = Trainer(G, D, target, inputs=inputs, batch_size=4, sample_every=0, progress=False)
    trainer.train(1)
    path = trainer.save_checkpoint(tmp_path / "old.pt")
    state = torch.load(path, weights_only=True)
    del state["models"]["G"]["config"]["prepost"], state["config"]["mismatch_weight"]  # as an older gancore wrote it
    del state["sha256"]  # which had no checksum either
    state["format"] = V2_FORMAT
    torch.save(state, path)
    G2, D2 = _models()
    Trainer(G2, D2, target, inputs=inputs, batch_size=4, sample_every=0, progress=False).load_checkpoint(path)
    assert torch.equal(G2.to_image.weight, G.to_image.weight)
    assert Trainer.load(path, target, inputs=inputs, progress=False).step == 1


def test_wrong_labels_are_always_another_class_spread_over_all_others():
    labels = torch.arange(10).repeat(500)  # (5000,)
    wrong = wrong_labels(labels, 10, seed=3)
    assert wrong.dtype == torch.int64 and not (wrong == labels).any()
    assert torch.equal(wrong, wrong_labels(labels, 10, seed=3)) and not torch.equal(wrong, wrong_labels(labels, 10))
    shift = (wrong - labels) % 10  # uniform on 1..9: 5000 / 9 = 556 each, binomial sd about 22
    counts = shift.bincount(minlength=10)
    assert counts[0] == 0 and 470 < counts[1:].min() and counts[1:].max() < 640
    with pytest.raises(ValueError, match="labels must lie in"):
        wrong_labels(torch.tensor([0, 10]), 10)
    with pytest.raises(ValueError, match=">= 2 classes"):
        wrong_labels(torch.tensor([0, 0]), 1)


def test_class_conditional_d_step_with_wrong_labels_matches_a_hand_written_one():
    """Notebook 04's use: labels as the named input ``labels``, wrong ones as its mismatch; the D loss
    of the first step, on the fakes G made in it, written out by hand."""
    gen = torch.Generator().manual_seed(2)
    images, labels = torch.rand(8, 1, 28, 28, generator=gen) * 2 - 1, torch.arange(8) % 10
    wrong = wrong_labels(labels, 10, seed=1)
    torch.manual_seed(0)
    G, D = ClassConditionalGenerator(z_dim=4, width=4), ClassConditionalDiscriminator(width=4)
    D_ref = copy.deepcopy(D)
    trainer = Trainer(G, D, images, inputs={"labels": labels}, mismatched={"labels": wrong}, loss="hinge",
                      batch_size=4, mismatch_weight=0.5, augment_shift=0, sample_every=0, progress=False)
    made = []  # (fake, labels) of every G call: the first is the D step's
    G.register_forward_hook(lambda module, args, kwargs, out: made.append((out.detach(), kwargs["labels"])),
                            with_kwargs=True)
    idx = trainer._indices(0)
    record = trainer._train_step()
    fake, fake_labels = made[0]
    assert torch.equal(fake_labels, labels[idx])
    with torch.no_grad():
        expected = matching_aware_d_loss(d_loss_hinge, D_ref(images[idx], labels[idx]), D_ref(fake, labels[idx]),
                                         D_ref(images[idx], wrong[idx]), 0.5)
        assert record["d_mismatch"] == pytest.approx(D_ref(images[idx], wrong[idx]).mean().item(), rel=1e-5)
    assert record["loss_d"] == pytest.approx(expected.item(), rel=1e-5)
