"""The source's models are its layers, and each measured claim about its loop holds.

References: the source's own forward written out with ``torch.relu`` /
``torch.tanh``, linear algebra (the 100-unit bottleneck), hand counts.
"""
import pytest
import torch

from gancore.experiments import source_loop as sl
from gancore.metrics.distribution import evaluate_samples
from gancore.nets.classifier import DigitClassifier
from gancore.nets.unconditional import MLPDiscriminator

pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tests/conftest.py


def images(n=100, seed=0):
    """Digit-like images in [-1, 1]: background -1, a bright random blob."""
    g = torch.Generator().manual_seed(seed)
    x = -torch.ones(n, 1, 28, 28)
    x[:, :, 8:20, 10:18] = torch.rand(n, 1, 12, 8, generator=g) * 2 - 1
    return x


def source_forward(G, z):
    """The source's Generator.forward, line by line, on G's weights."""
    fc = [m for m in G.net if isinstance(m, torch.nn.Linear)]
    x = z.view(-1, 100)
    x = torch.relu(fc[0](x))
    x = torch.relu(fc[1](x))
    x = torch.relu(fc[2](x))
    x = torch.tanh(fc[3](x))
    return torch.tanh(fc[4](x))


def test_source_generator_is_the_sources_layers():
    torch.manual_seed(0)
    G = sl.SourceGenerator()
    shapes = [tuple(m.weight.shape) for m in G.net if isinstance(m, torch.nn.Linear)]
    assert shapes == [(256, 100), (256, 256), (784, 256), (100, 784), (784, 100)]
    z = torch.randn(8, 100)
    out = G(z)
    assert out.shape == (8, 1, 28, 28) and G.z_dim == 100
    assert (out.flatten(1) - source_forward(G, z)).abs().max().item() < 1e-6


def test_every_source_image_is_made_from_100_numbers():
    # atanh(G(z)) = W5 h + b5 with h the 100 tanh units: rank <= 100 after removing b5
    torch.manual_seed(0)
    G = sl.SourceGenerator().double()
    with torch.no_grad():
        pre = torch.atanh(G(torch.randn(300, 100, dtype=torch.float64)).flatten(1)) - G.net[8].bias
    s = torch.linalg.svdvals(pre)
    assert s[99] / s[0] > 1e-6 and s[100] / s[0] < 1e-10


def test_source_discriminator_returns_unbounded_logits():
    torch.manual_seed(0)
    D = sl.SourceDiscriminator()
    shapes = [tuple(m.weight.shape) for m in D.net if isinstance(m, torch.nn.Linear)]
    assert shapes == [(256, 784), (256, 256), (256, 256), (1, 256)]
    with torch.no_grad():
        D.net[-1].bias.fill_(-3.0)  # a plain Linear can say anything; BCELoss wants [0, 1]
        logits = D(images(4))
    assert logits.shape == (4,) and (logits < 0).all()


def test_peel_source_loop_errors_come_in_order_and_the_fix_is_exact():
    df = sl.peel_source_loop(images(100), batch_size=32, n_images=100)  # batches 32, 32, 32, 4
    rows = list(df.index)
    assert [r for r, *_ in sl.PEEL] == rows
    written, retained, sigmoid, labels, zero_d, fixed = rows
    assert "backward through the graph a second time" in df.loc[written, "error"]
    assert df.loc[written, "steps_run"] == 0
    # BCELoss on logits passes while every logit happens to lie in [0, 1]; it fails
    # once one leaves, or (if none did in the epoch) the labels fail at the last batch
    assert ("between 0 and 1" in df.loc[retained, "error"]
            or df.loc[retained, "steps_run"] == df.loc[retained, "batches_per_epoch"] - 1)
    assert df.loc[sigmoid, "error"].startswith("ValueError") and "torch.Size([4])" in df.loc[sigmoid, "error"]
    assert df.loc[sigmoid, "steps_run"] == 3 and df.loc[labels, "steps_run"] == 4
    assert df.loc[labels, "error"] == df.loc[zero_d, "error"] == df.loc[fixed, "error"] == ""
    # D's .grad piles up over 4 steps without its zero_grad; with it, the shared
    # graph still tilts it; fully fixed, both networks step with their own gradient
    assert df.loc[labels, "d_grad_ratio"] > 2
    assert df.loc[zero_d, "d_grad_cos"] < 0.999 and df.loc[zero_d, "g_grad_cos"] < 0.999
    for col in ("d_grad_ratio", "d_grad_cos", "g_grad_ratio", "g_grad_cos"):
        assert abs(df.loc[fixed, col] - 1) < 1e-4
    with pytest.raises(ValueError, match="split evenly"):
        sl.peel_source_loop(images(64), batch_size=32, n_images=64)


def test_range_rule_accuracy_by_hand():
    real01 = torch.rand(4, 1, 28, 28)                    # no pixel below 0
    fake = torch.rand(4, 1, 28, 28)
    fake[:3, 0, 0, 0] = -0.01                            # 3 of 4 fakes have one
    assert sl.range_rule_accuracy(real01, fake) == pytest.approx(0.5 * (1 + 0.75))
    assert sl.range_rule_accuracy(real01 * 2 - 1, fake) == pytest.approx(0.5 * (0 + 0.75))


def test_d_check_matches_hand_computation():
    torch.manual_seed(0)
    G, D = sl.source_models()
    real = images(20)
    out = sl.d_check(G, D, real, seed=5)
    z = torch.randn(20, 100, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        r, f = D(real), D(G(z))
    assert out["d_accuracy"] == pytest.approx(((r > 0).sum() + (f <= 0).sum()).item() / 40)
    assert out["d_real_logit"] == pytest.approx(r.mean().item())
    assert out["real_pixels_below_0"] == pytest.approx((real < 0).float().mean().item())


def test_demo_data_range_gives_d_a_perfect_range_rule_only_for_0_1_data():
    x = images(200)
    df = sl.demo_data_range(x, steps=20, at=(0, 20), n_check=100)
    zero_one, minus_one = df.index.get_level_values(0).unique()
    assert (df.loc[zero_one, "real_pixels_below_0"] == 0).all()
    assert (df.loc[zero_one, "rule_accuracy"] == 1.0).all()     # tanh fakes always dip below 0
    assert (df.loc[zero_one, "fake_pixels_below_0"] > 0.05).all()
    assert (df.loc[minus_one, "rule_accuracy"] == 0.5).all()    # every real digit has pixels at -1
    assert (df.loc[minus_one, "real_pixels_below_0"] > 0.5).all()
    assert list(df.loc[zero_one].index) == [0, 20]


def test_train_and_score_trains_the_given_models_and_scores_their_samples():
    torch.manual_seed(0)
    G, D = sl.SourceGenerator(), MLPDiscriminator(hidden=16)
    classifier, real = DigitClassifier().eval(), images(64)
    before = [p.detach().clone() for p in G.parameters()]
    out = sl.train_and_score(G, D, real, steps=3, reference=real, classifier=classifier, n_eval=50,
                             loss="hinge", batch_size=16, device="cpu")
    assert out["steps"] == 3 and out["trainer"].step == 3 and out["trainer"].G is G
    assert any((p - q).abs().max() > 0 for p, q in zip(G.parameters(), before))
    again = evaluate_samples(out["trainer"].generate(50), real, classifier)
    assert out["fd"] == pytest.approx(again["fd"]) and out["score"] == pytest.approx(again["score"])
