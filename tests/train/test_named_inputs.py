"""The trainer with named inputs (translation models, no noise) and without a discriminator."""
import pytest
import torch

from gancore import Trainer, set_seed
from gancore.losses import StyleTransferLoss
from gancore.nets.base import Discriminator, Generator
from gancore.nets.translation import PatchDiscriminator, StyleGenerator
from tests.train.test_trainer import assert_same_run

N, SIZE = 24, 16  # 24 triples of 16x16 images: 3 batches of 8 per epoch


pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def triples():
    g = torch.Generator().manual_seed(0)
    content = torch.rand(N, 1, SIZE, SIZE, generator=g) * 2 - 1
    exemplar = torch.rand(N, 3, SIZE, SIZE, generator=g) * 2 - 1
    target = torch.tanh(content + exemplar)  # (N, 3, 16, 16): learnable from both inputs
    return {"content": content, "exemplar": exemplar}, target


def style_trainer(triples, with_d=True, seed=0, **kw):
    inputs, target = triples
    set_seed(seed)
    G = StyleGenerator(width=4, style_dim=8)
    D = PatchDiscriminator(width=4) if with_d else None
    kw = {"batch_size": 8, "sample_every": 2, "n_samples": 4, "seed": seed, "loss": "wgan_gp",
          "adv_weight": 0.5 if with_d else 0.0, **kw}
    return Trainer(G, D, target, inputs=inputs, aux_loss=StyleTransferLoss(l1=1.0, tv=0.1),
                   device="cpu", progress=False, **kw)


def assert_same_supervised_run(a, b):
    assert all(torch.equal(p, q) for p, q in zip(a.G.state_dict().values(), b.G.state_dict().values()))
    cols = ["loss_d", "loss_g", "loss_l1", "loss_tv"]  # loss_d: NaN in the same places
    assert a.history[cols].equals(b.history[cols])
    assert a.samples.keys() == b.samples.keys() and all(torch.equal(a.samples[k], b.samples[k]) for k in a.samples)


@pytest.mark.parametrize("with_d", [True, False])
def test_named_input_run_resumes_bit_for_bit(triples, tmp_path, with_d):
    whole = style_trainer(triples, with_d)
    whole.train(5)  # 5 steps of 1 batch over 3 batches per epoch: crosses an epoch boundary
    style_trainer(triples, with_d, checkpoint_path=tmp_path / "ckpt.pt").train(2)
    set_seed(123)
    resumed = Trainer.load(tmp_path / "ckpt.pt", triples[1], inputs=triples[0],
                           aux_loss=StyleTransferLoss(l1=1.0, tv=0.1), device="cpu", progress=False)
    assert (resumed.D is None) == (not with_d) and resumed.step == 2
    resumed.train_until(5)
    (assert_same_run if with_d else assert_same_supervised_run)(whole, resumed)
    if not with_d:
        assert whole.history["loss_d"].isna().all() and "loss_adv" not in whole.history


def test_a_run_without_d_trains_g_on_its_auxiliary_losses_alone(triples):
    t = style_trainer(triples, with_d=False)
    assert t.D is None and t.opt_d is None
    hist = t.train(2)
    assert (hist["loss_g"] - hist["loss_l1"] - hist["loss_tv"]).abs().max() < 1e-6
    state = t.state_dict()
    assert state["models"]["D"] is None and state["D"] is None and state["opt_d"] is None


def test_inputs_reach_g_and_d_by_name_and_g_gets_no_noise(triples):
    seen = []

    class NamedG(Generator):  # z_dim = 0: called without z
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(()))

        def forward(self, *, content, exemplar):
            seen.append(("G", content.shape[0]))
            return self.scale * (content + exemplar)

    class NamedD(Discriminator):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))

        def forward(self, image, *, content, exemplar):
            seen.append(("D", image.shape[0]))
            return self.w * (image - content - exemplar).flatten(1).mean(1)

    inputs, target = triples
    t = Trainer(NamedG(), NamedD(), target, inputs=inputs, batch_size=8, loss="hinge", sample_every=1,
                n_samples=5, device="cpu", progress=False)
    t.train(1)
    assert seen == [("G", 8), ("D", 8), ("D", 8), ("G", 8), ("D", 8), ("G", 5)]  # D step, G step, sample grid
    assert t.generate(3, inputs={k: v[:3] for k, v in inputs.items()}).shape == (3, 3, SIZE, SIZE)


def test_aux_loss_receives_the_named_inputs(triples):
    received = []

    def aux(fake, real, condition, **inputs):
        received.append((condition, sorted(inputs), inputs["exemplar"].shape))
        return {"l1": (fake - real).abs().mean()}

    inputs, target = triples
    set_seed(0)
    Trainer(StyleGenerator(width=4), None, target, inputs=inputs, aux_loss=aux, adv_weight=0.0, batch_size=8,
            sample_every=0, device="cpu", progress=False).train(1)
    assert received == [((), ["content", "exemplar"], (8, 3, SIZE, SIZE))]


def test_bad_named_inputs_and_missing_d_fail_clearly(triples):
    inputs, target = triples
    G = StyleGenerator(width=4)
    with pytest.raises(ValueError, match="input 'exemplar' has 23 entries for 24 real images"):
        Trainer(G, None, target, inputs={**inputs, "exemplar": inputs["exemplar"][:-1]}, adv_weight=0.0)
    with pytest.raises(ValueError, match="must be a Python identifier; got 'the exemplar'"):
        Trainer(G, None, target, inputs={"the exemplar": inputs["exemplar"]}, adv_weight=0.0)
    with pytest.raises(ValueError, match="adv_weight=1.0 needs a discriminator.*pass adv_weight=0"):
        Trainer(G, None, target, inputs=inputs)
    t = Trainer(G, None, target, inputs=inputs, adv_weight=0.0, batch_size=8, device="cpu", progress=False)
    with pytest.raises(ValueError, match="needs a discriminator"):
        t.reconfigure(adv_weight=0.3)
    assert t.config.adv_weight == 0.0
    before = [p.detach().clone() for p in G.parameters()]
    with pytest.raises(ValueError, match="nothing trains G.*pass aux_loss"):
        t.train(1)
    assert t.step == 0 and all(torch.equal(p, q) for p, q in zip(G.parameters(), before))
