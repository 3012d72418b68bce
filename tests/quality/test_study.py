"""The quality study's pieces on small synthetic inputs, against scipy and hand-computed values."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import kendalltau, spearmanr

from gancore.data.digit_styles import make_style_splits
from gancore.experiments.style_transfer import evaluate_transfer
from gancore.metrics.distribution import frechet_distance
from gancore.metrics.per_image import style_distance
from gancore.nets.feature import FeatureNet
from gancore.nets.residual import ResidualFeatureNet
from gancore.quality import checkpoints as ck
from gancore.quality import judges, sample_size, study
from gancore.quality.degradations import IMAGE_DEGRADATIONS

pytestmark = pytest.mark.usefixtures("one_cpu_thread")
HEADS = {"digit": 10, "stroke": 3, "slant": 3, "ink": 9, "background": 7}


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def style_splits():
    digits = torch.rand(60, 1, 28, 28, generator=gen(2)) * 2 - 1
    return make_style_splits(16, 12, seed=0, images=digits, labels=torch.arange(60) % 10)


# ------------------------------------------------------------------------------ sweeping

def test_degraded_sets_cover_every_kind_and_strength():
    x = torch.rand(6, 1, 8, 8, generator=gen()) * 2 - 1
    sets = list(study.degraded_sets(x, (0.0, 0.5, 1.0), labels=torch.arange(6) % 3, train=x.flip(0)))
    assert sets[0][:2] == ("none", 0.0) and torch.equal(sets[0][2], x)
    kinds = [k for k, _, _ in sets[1:]]
    assert kinds == [k for k in [*IMAGE_DEGRADATIONS, "drop_modes", "memorise"] for _ in (0.5, 1.0)]
    assert all(img.shape == x.shape for _, _, img in sets)


class MSEJudge:
    """A judge with known answers: 'fd' = MSE to the clean set (grows with damage), 'ssim' = -MSE
    (falls), 'precision' = constant (blind)."""

    def __init__(self, clean):
        self.clean = clean

    def __call__(self, images):
        mse = float((images - self.clean).pow(2).mean())
        self.last_distances = {"grader": (images - self.clean).pow(2).flatten(1).mean(1),
                               "loss_net": (images - self.clean).abs().flatten(1).mean(1)}
        return {"fd": mse, "ssim": -mse, "precision": 0.5}


def test_sweep_table_and_catches_by_hand():
    x = torch.rand(8, 1, 12, 12, generator=gen()) * 2 - 1
    keep = {}
    curves = study.sweep(MSEJudge(x), study.degraded_sets(x, (0.0, 0.5, 1.0)), "toy", progress=False, keep=keep)
    noise = curves[(curves.degradation == "noise") & (curves.metric == "fd")].sort_values("strength")
    assert noise["strength"].tolist() == [0.0, 0.5, 1.0] and noise["value"].iloc[0] == 0
    table = study.curve_table(curves)
    assert table.loc[("toy", "noise", "fd"), "rho"] == 1.0 and table.loc[("toy", "noise", "ssim"), "rho"] == 1.0
    assert table.loc[("toy", "noise", "precision"), "rho"] == 0.0
    assert not table.loc[("toy", "noise", "precision"), "caught"]
    assert table.loc[("toy", "noise", "fd"), "monotonic"]
    marks = study.catches(table)
    assert marks.loc["fd", ("toy", "blur")] == "yes" and marks.loc["precision", ("toy", "blur")] == "no"
    js = study.metrics_json(table)
    assert js["fd"]["toy/noise"] == 1.0 and set(js) == {"fd", "ssim", "precision"}
    assert set(keep) == {("none", 0.0)} | {(k, s) for k in IMAGE_DEGRADATIONS for s in (0.5, 1.0)}


def test_curve_table_rho_is_scipy_spearman_signed_worse():
    values = [0.9, 0.95, 0.7, 0.5]  # a "higher is better" metric that mostly falls
    curves = pd.DataFrame({"domain": "d", "degradation": "k", "strength": [0, 0.3, 0.6, 1.0], "metric": "ssim",
                           "value": values})
    row = study.curve_table(curves).iloc[0]
    assert row["rho"] == pytest.approx(-spearmanr([0, 0.3, 0.6, 1.0], values).statistic)
    assert not row["monotonic"] and row["change"] == pytest.approx(-0.4)
    curves["value"] = [1.0, 1.4, 1.5, 1.2]  # fd worse, then better again: rho 0.4, not caught
    curves["metric"] = "fd"
    assert study.catches(study.curve_table(curves)).iloc[0, 0] == "no"
    curves["value"] = [3.0, 2.0, 1.0, 0.0]
    assert study.catches(study.curve_table(curves)).iloc[0, 0] == "wrong way"


def test_loss_grader_disagreement_by_hand():
    g1, g2 = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([4.0, 5.0, 6.0])
    distances = {("none", 0.0): {"grader": torch.zeros(3), "loss_net": torch.zeros(3)},
                 ("a", 0.5): {"grader": g1, "loss_net": g1 * 2},       # the same order
                 ("a", 1.0): {"grader": g2, "loss_net": g2 * 2},
                 ("b", 1.0): {"grader": g1, "loss_net": 10 - g1}}       # reversed
    table, rho = study.loss_grader_disagreement(distances)
    assert table.loc["a", "rho_per_image"] == pytest.approx(1.0)
    assert table.loc["b", "rho_per_image"] == pytest.approx(-1.0)
    assert table.loc["a", "grader_at_max"] == pytest.approx(5.0 / np.mean([1, 2, 3, 4, 5, 6, 1, 2, 3]))
    assert table["grader_rank"].tolist() == [1, 2]
    everything = [1, 2, 3, 4, 5, 6, 1, 2, 3], [2, 4, 6, 8, 10, 12, 9, 8, 7]
    assert rho == pytest.approx(spearmanr(*everything).statistic)


# ------------------------------------------------------------------------------- judges

def test_nearest_rms_against_cdist():
    x, t = torch.randn(7, 2, 3, 3, generator=gen(1)), torch.randn(11, 2, 3, 3, generator=gen(2))
    expected = torch.cdist(x.flatten(1).double(), t.flatten(1).double()).min(1).values / math.sqrt(18)
    assert torch.allclose(judges.nearest_rms(x, t, block=3).double(), expected, atol=1e-5)
    assert judges.nearest_rms(t[:4], t).abs().max() < 1e-3
    assert torch.equal(judges.thumbnail(torch.ones(2, 3, 32, 32)), torch.ones(2, 3, 8, 8))
    assert judges.thumbnail(x).shape == x.shape  # already small: unchanged


class PoolClassifier:
    """A stand-in digit classifier: features are 4x4 average pools, probabilities a softmax of them."""

    def embed(self, images):
        f = torch.nn.functional.avg_pool2d(images, 7).flatten(1).double()  # (N, 16)
        return f.numpy(), f[:, :10].softmax(1).numpy()


def test_digit_judge_at_identity_and_for_copies():
    x = torch.rand(40, 1, 28, 28, generator=gen(3)) * 2 - 1
    ref, train = torch.rand(40, 1, 28, 28, generator=gen(4)) * 2 - 1, x[:30]
    m = judges.DigitJudge(PoolClassifier(), ref, originals=x, train=train)(x)
    assert m["ssim"] == pytest.approx(1.0) and m["psnr"] == 100.0
    nn = judges.nearest_rms(judges.thumbnail(x), judges.thumbnail(train))
    assert nn[:30].abs().max() < 1e-3 and nn[30:].min() > 0.02          # 30 copies, 10 new images
    assert m["train_nn"] == pytest.approx(float(nn.mean()))
    f_ref, f_x = PoolClassifier().embed(ref)[0], PoolClassifier().embed(x)[0]
    assert m["fd"] == pytest.approx(frechet_distance(f_x, f_ref))
    assert set(m) == {"fd", "kid", "score", "precision", "recall", "density", "coverage", "ssim", "psnr", "train_nn"}
    assert set(judges.DigitJudge(PoolClassifier(), ref)(x)) == {"fd", "kid", "score", "precision", "recall",
                                                                "density", "coverage"}


@pytest.mark.parametrize("net_class", [FeatureNet, ResidualFeatureNet])
def test_style_judge_matches_evaluate_transfer(style_splits, net_class):
    torch.manual_seed(0)
    grader = net_class(HEADS, width=4, hidden=16).eval().requires_grad_(False)
    loss_net = FeatureNet(HEADS, width=4, hidden=8).eval().requires_grad_(False)
    data = style_splits["test_seen"]
    outputs = data.target.flip(0)  # every output another triple's target
    judge = judges.StyleJudge(data, grader, style_splits["train"].target, loss_net)
    got, expected = judge(outputs), evaluate_transfer(outputs, data, grader)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-4, abs=1e-6), name
    assert got["style_dist"] == pytest.approx(float(style_distance(outputs, data.target, grader).mean()), rel=1e-4)
    assert torch.allclose(judge.distances(outputs)["loss_net"].mean().float(),
                          torch.tensor(got["perceptual_loss_net"]).float(), rtol=1e-5)


# ------------------------------------------------------------------------------ checkpoints

def test_rank_checkpoints_and_agreement_by_hand():
    outs = {0: torch.tensor([3.0]), 100: torch.tensor([1.0]), 200: torch.tensor([2.0])}
    ranking = ck.rank_checkpoints(outs, {"fd": lambda x: float(x), "score": lambda x: 4 - float(x),
                                         "recall": lambda x: float(x)})
    assert ranking["rank"]["fd"].tolist() == [3, 1, 2]       # lower fd is better
    assert ranking["rank"]["score"].tolist() == [3, 1, 2]    # higher score is better
    assert ranking["rank"]["recall"].tolist() == [1, 3, 2]
    agree = ck.rank_agreement(ranking)
    assert agree.loc[("fd", "score"), "kendall"] == 1.0
    assert agree.loc[("fd", "recall"), "kendall"] == pytest.approx(kendalltau([3, 1, 2], [1, 3, 2]).statistic)
    with pytest.raises(ValueError, match="no direction for metric"):
        ck.rank_checkpoints(outs, {"sharpness": float})


# ------------------------------------------------------------------------------ sample size

def test_fd_bias_falls_with_n_and_the_rule_reads_it():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(800, 4)), rng.normal(1.0, 1.0, size=(900, 4))
    table = sample_size.fd_kid_vs_n(real, fake, ns=(20, 80, 320), repeats=2, progress=False)
    assert set(table.n[table.comparison == "real vs real"]) == {20, 80, 320}
    rr = table[table.comparison == "real vs real"].groupby("n")["fd"].mean()
    assert rr[20] > rr[80] > rr[320] > 0                           # a floor that falls with n
    rg = table[table.comparison == "real vs generated"].groupby("n")["fd"].mean()
    assert rg[320] == pytest.approx(frechet_distance(real, fake), rel=0.2)  # about ||mu_a - mu_b||^2 = 4
    text, numbers = sample_size.sample_size_rule(table)
    assert "compare FD only at equal n" in text and f"{rr[20]:.2f}" in text
    assert numbers["fd_n_min"] in (20, 80, 320)
    s = pd.DataFrame({"v": [0.5, 0.05, 0.2, 0.01]},
                     index=pd.MultiIndex.from_product([["c"], [10, 20, 30, 40]], names=["comparison", "n"]))
    assert sample_size.smallest_n(s, "c", "v", 0.1) == 40
    assert sample_size.notebook_sample_sizes(1000)["n >= rule"].loc["03_mnist_baseline"]
