"""Each textbook bug really misbehaves, and each fix really fixes it.

References are computed independently with torch autograd on copies of the
models and ``F.binary_cross_entropy_with_logits`` / ``F.softplus``.
"""
import copy

import pytest
import torch
import torch.nn.functional as F

from gancore.nets.unconditional import MLPDiscriminator, MLPGenerator
from gancore.train import textbook as tb

SMALL = dict(hidden=16, z_dim=8)  # models small enough for fast tests


def images(n=100, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g) * 2 - 1  # (N, 1, 28, 28) in [-1, 1]


def small_gan(lr=2e-4, seed=0):
    torch.manual_seed(seed)
    G, D = MLPGenerator(z_dim=8, hidden=16), MLPDiscriminator(hidden=16)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    return G, D, opt_g, opt_d


def grads_of(loss, model):
    return torch.cat([g.flatten() for g in torch.autograd.grad(loss, list(model.parameters()))])


def grad_vector(model):
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def test_check_bugs_accepts_names_and_rejects_typos():
    assert tb.check_bugs("no_detach") == {"no_detach"}
    assert tb.check_bugs(tb.BUGS) == set(tb.BUGS)
    with pytest.raises(ValueError, match="no_sigmoid, no_detach"):
        tb.check_bugs({"no_sigmod"})


# ------------------------------------------------------------------ bug 1


def test_no_sigmoid_raises_and_sigmoid_fix_equals_bce_with_logits():
    G, D, opt_g, opt_d = small_gan()
    real, z = images(16), torch.randn(16, 8)
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        tb.textbook_step(G, D, opt_g, opt_d, real, {"no_sigmoid"}, z=z)

    G, D, opt_g, opt_d = small_gan()
    with torch.no_grad():  # reference before the step changes D
        r, f = D(real), D(G(z))
        want = F.binary_cross_entropy_with_logits(r, torch.ones(16)) + \
            F.binary_cross_entropy_with_logits(f, torch.zeros(16))
    record = tb.textbook_step(G, D, opt_g, opt_d, real, (), z=z)
    assert abs(record["loss_d"] - want.item()) < 1e-5


def test_demo_no_sigmoid_numbers():
    df = tb.demo_no_sigmoid(images(), **SMALL)
    bug, fix, better = df.index
    assert df.loc[bug, "error"].startswith("RuntimeError")
    assert df.loc[fix, "error"] == "" and abs(df.loc[fix, "first_loss_d"] - df.loc[better, "first_loss_d"]) < 1e-6
    # sigmoid + BCELoss saturates: log p is clamped at -100 and the gradient vanishes
    assert abs(df.loc[fix, "loss_at_logit_-120"] - 100.0) < 1e-4
    assert abs(df.loc[fix, "grad_at_logit_-120"]) < 1e-12
    # BCEWithLogitsLoss = softplus(-t): loss 120, gradient -sigma(120) = -1
    assert abs(df.loc[better, "loss_at_logit_-120"] - 120.0) < 1e-4
    assert abs(df.loc[better, "grad_at_logit_-120"] + 1.0) < 1e-6


# ------------------------------------------------------------------ bug 2


def test_no_detach_one_graph_raises_without_retain_graph():
    G, D, opt_g, opt_d = small_gan()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        tb.textbook_step(G, D, opt_g, opt_d, images(16), {"no_detach"})


def test_no_detach_with_retain_graph_steps_g_with_both_losses():
    G, D, opt_g, opt_d = small_gan()
    real, z = images(16), torch.randn(16, 8)
    G0, D0 = copy.deepcopy(G), copy.deepcopy(D)
    record = tb.textbook_step(G, D, opt_g, opt_d, real, {"no_detach"}, z=z, retain_graph=True)

    f = D0(G0(z))
    loss_d = F.softplus(-D0(real)).mean() + F.softplus(f).mean()
    loss_g = F.softplus(-f).mean()
    polluted, own = grads_of(loss_g + loss_d, G0), grads_of(F.softplus(-D0(G0(z))).mean(), G0)
    assert (grad_vector(G) - polluted).abs().max().item() < 1e-6
    # near sigma(f) = 1/2 the two pulls on f cancel: G keeps a small fraction of its gradient
    assert abs(record["g_grad_ratio"] - (polluted.norm() / own.norm()).item()) < 1e-4
    assert record["g_grad_ratio"] < 0.5


def test_detach_fix_steps_g_with_its_own_gradient():
    G, D, opt_g, opt_d = small_gan()
    real, z = images(16), torch.randn(16, 8)
    G0 = copy.deepcopy(G)
    record = tb.textbook_step(G, D, opt_g, opt_d, real, (), z=z)
    own = grads_of(F.softplus(-D(G0(z))).mean(), G0)  # D after its step, as the loop does
    assert (grad_vector(G) - own).abs().max().item() < 1e-6
    assert abs(record["g_grad_ratio"] - 1) < 1e-5 and abs(record["g_grad_cos"] - 1) < 1e-5
    assert abs(record["d_grad_ratio"] - 1) < 1e-5 and abs(record["d_grad_cos"] - 1) < 1e-5


def test_demo_no_detach_numbers():
    df = tb.demo_no_detach(images(), steps=3, **SMALL)
    bug, patch, fix = df.index[0], df.index[1], df.index[-1]
    assert "backward through the graph a second time" in df.loc[bug, "error"]
    assert df.loc[bug, "steps_run"] == 0
    assert df.loc[patch, "error"] == "" and df.loc[patch, "steps_run"] == 3
    assert df.loc[patch, "g_grad_ratio"] < 0.5 and df.loc[patch, "d_grad_cos"] < 0.999
    assert abs(df.loc[fix, "g_grad_ratio"] - 1) < 1e-5 and abs(df.loc[fix, "g_grad_cos"] - 1) < 1e-5


# ------------------------------------------------------------------ bug 3


@pytest.mark.parametrize("bugs, factor", [({"no_zero_grad"}, lambda t: t), ((), lambda t: 1)])
def test_no_zero_grad_accumulates_exactly(bugs, factor):
    # lr = 0 freezes both models, so every step has the same fresh gradient g:
    # without zero_grad, step t steps with t * g; with it, with g.
    G, D, opt_g, opt_d = small_gan(lr=0.0)
    real, z = images(16), torch.randn(16, 8)
    fresh = grads_of(F.softplus(-D(G(z))).mean(), G)
    for t in range(1, 6):
        record = tb.textbook_step(G, D, opt_g, opt_d, real, bugs, z=z)
        assert abs(record["g_grad_ratio"] - factor(t)) < 1e-4
        assert abs(record["g_grad_cos"] - 1) < 1e-5
    assert (grad_vector(G) - factor(5) * fresh).abs().max().item() < 1e-5


def test_demo_no_zero_grad_numbers():
    df = tb.demo_no_zero_grad(images(), steps=10, at=(1, 10), **SMALL)
    assert abs(df.loc[1, "bug_g_grad_ratio"] - 1) < 1e-5  # nothing to accumulate yet
    assert df.loc[10, "bug_g_grad_ratio"] > 2
    assert (df["fix_g_grad_ratio"] - 1).abs().max() < 1e-5
    assert (df["fix_g_grad_cos"] - 1).abs().max() < 1e-5


# ------------------------------------------------------------------ bug 4


def test_batch_labels_crash_at_the_last_batch_only():
    x = images(100)  # batches of 32: 32, 32, 32, 4
    bug = tb.run_textbook(x, {"batch_labels"}, batch_size=32, probe=False, **SMALL)
    assert bug.batches_per_epoch == 4 and len(bug.history) == 3
    assert bug.error.startswith("ValueError") and "torch.Size([4])" in bug.error
    fixed = tb.run_textbook(x, (), batch_size=32, probe=False, **SMALL)
    assert fixed.error is None and fixed.history["batch"].tolist() == [32, 32, 32, 4]


def test_demo_batch_labels_numbers():
    df = tb.demo_batch_labels(images(100), batch_size=32, n_images=100, **SMALL)
    bug, fix, drop = df.index
    assert df.loc[bug, "error"].startswith("ValueError") and df.loc[bug, "steps_run"] == 3
    assert df.loc[fix, "error"] == ""
    assert (df.loc[fix, "steps_run"], df.loc[fix, "last_batch"], df.loc[fix, "images_used"]) == (4, 4, 100)
    assert (df.loc[drop, "steps_run"], df.loc[drop, "last_batch"], df.loc[drop, "images_used"]) == (3, 32, 96)
    with pytest.raises(ValueError, match="split evenly"):
        tb.demo_batch_labels(images(64), batch_size=32)


# ------------------------------------------------------------------ the loop


def test_run_textbook_is_deterministic_and_spans_epochs():
    x = images(50)
    a = tb.run_textbook(x, (), steps=5, batch_size=16, seed=3, **SMALL)
    b = tb.run_textbook(x, (), steps=5, batch_size=16, seed=3, **SMALL)
    assert a.error is None and a.history.equals(b.history)
    assert a.history["batch"].tolist() == [16, 16, 16, 2, 16]  # into the second epoch


def test_run_textbook_rejects_bad_input():
    with pytest.raises(ValueError, match="device='cpu'"):
        tb.run_textbook(images(10), {"no_sigmoid"}, device="cuda")
    with pytest.raises(ValueError, match="batch_size must be in 1..10"):
        tb.run_textbook(images(10), (), batch_size=11)


# ------------------------------------------------------------------ the source's variants


def test_g_backward_first_needs_no_detach():
    with pytest.raises(ValueError, match="add no_detach"):
        tb.check_bugs({"g_backward_first"})


def test_g_backward_first_raises_then_sums_the_same_gradients_bit_for_bit():
    real, z = images(16), torch.randn(16, 8)
    G, D, opt_g, opt_d = small_gan()
    G0, D0 = copy.deepcopy(G), copy.deepcopy(D)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        tb.textbook_step(G, D, opt_g, opt_d, real, {"no_detach", "g_backward_first"}, z=z)
    # the first backward, the one that went through, was G's loss
    assert (grad_vector(G) - grads_of(F.softplus(-D0(G0(z))).mean(), G0)).abs().max().item() < 1e-6

    grads = {}
    for order in ({"no_detach"}, {"no_detach", "g_backward_first"}):
        G, D, opt_g, opt_d = small_gan()
        G0, D0 = copy.deepcopy(G), copy.deepcopy(D)
        record = tb.textbook_step(G, D, opt_g, opt_d, real, order, z=z, retain_graph=True)
        grads[len(order)] = (grad_vector(G), grad_vector(D))
    def loss_d():
        return F.softplus(-D0(real)).mean() + F.softplus(D0(G0(z))).mean()

    own_d = grads_of(loss_d(), D0)
    both_d = grads_of(loss_d() + F.softplus(-D0(G0(z))).mean(), D0)
    assert torch.equal(grads[1][0], grads[2][0]) and torch.equal(grads[1][1], grads[2][1])
    assert (grads[2][1] - both_d).abs().max().item() < 1e-6  # D steps with dL_D + dL_G
    cos = F.cosine_similarity(both_d, own_d, dim=0).item()
    assert abs(record["d_grad_cos"] - cos) < 1e-4 and cos < 0.999
    assert abs(record["d_grad_ratio"] - (both_d.norm() / own_d.norm()).item()) < 1e-4


@pytest.mark.parametrize("bugs, retain", [({"no_zero_grad_d"}, False),
                                          ({"no_zero_grad_d", "no_detach", "g_backward_first"}, True)])
def test_no_zero_grad_d_accumulates_d_and_g_losses(bugs, retain):
    # lr = 0 freezes both models. D steps at step t with t dL_D + (t - 1) dL_G
    # with detach (G's backward of the step before also went through D), and
    # with t (dL_D + dL_G) in the source's shared graph; both end the step at the latter.
    G, D, opt_g, opt_d = small_gan(lr=0.0)
    real, z = images(16), torch.randn(16, 8)
    f = D(G(z))
    own_d = grads_of(F.softplus(-D(real)).mean() + F.softplus(f).mean(), D)
    of_g = grads_of(F.softplus(-D(G(z))).mean(), D)
    for t in range(1, 6):
        record = tb.textbook_step(G, D, opt_g, opt_d, real, bugs, z=z, retain_graph=retain)
        want = t * own_d + (t if "no_detach" in bugs else t - 1) * of_g
        assert (grad_vector(D) - t * (own_d + of_g)).abs().max().item() < 1e-5
        assert abs(record["d_grad_ratio"] - (want.norm() / own_d.norm()).item()) < 1e-3
        assert abs(record["d_grad_cos"] - F.cosine_similarity(want, own_d, dim=0).item()) < 1e-4
        assert abs(record["g_grad_cos"] - 1) < 1e-5 or "no_detach" in bugs  # G's zero_grad is there
    assert record["d_grad_ratio"] > 2  # grows with t


def test_demo_no_detach_source_order_rows():
    df = tb.demo_no_detach(images(), steps=3, **SMALL)
    patch, source_bug, source = df.index[1:4]
    assert "backward through the graph a second time" in df.loc[source_bug, "error"]
    assert df.loc[source_bug, "steps_run"] == 0
    assert df.loc[source, "max_grad_diff"] == 0.0  # same sums, same training
    for col in ("g_grad_ratio", "g_grad_cos", "d_grad_ratio", "d_grad_cos"):
        assert df.loc[source, col] == df.loc[patch, col]
    assert df.loc[source, "d_grad_cos"] < 0.999


def test_demo_no_zero_grad_d_columns():
    df = tb.demo_no_zero_grad(images(), steps=10, at=(1, 2, 10), **SMALL)
    assert abs(df.loc[1, "bug_d_grad_ratio"] - 1) < 1e-5 and abs(df.loc[1, "bug_d_grad_cos"] - 1) < 1e-5
    assert df.loc[2, "bug_d_grad_ratio"] > 1.5 and df.loc[2, "bug_d_grad_cos"] < 0.999
    assert (df["fix_d_grad_ratio"] - 1).abs().max() < 1e-5
    assert (df["fix_d_grad_cos"] - 1).abs().max() < 1e-5
