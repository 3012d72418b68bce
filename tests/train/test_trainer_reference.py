"""gancore.Trainer's steps against steps written out by hand.

The reference takes the gradients with torch.func (grad, vmap, functional_call) of the
textbook losses, not through gancore.losses or the trainer, and applies its own Adam.
It draws every random number the way the trainer does, from the seed alone:

- the batch of batch number b (D step k of generator step t is b = t * d_steps + k):
  epoch, i = divmod(b, N // batch_size); idx = torch.randperm(N, generator=
  Generator().manual_seed(seed * 1_000_003 + epoch))[i * batch_size:(i + 1) * batch_size];
- the noise: one stream, Generator().manual_seed(seed); each D step draws
  randn(batch_size, z_dim) after choosing its batch, then the G step draws one more;
- the shifts of augment_shift s: one stream, Generator().manual_seed(seed + 3), drawn as
  randint(0, 2s + 1, (2, n)) (rows dy, then dx) for D's real images, D's fakes, then G's fakes;
  an image is padded by s pixels of -1 on every side and cropped at (dy, dx);
- WGAN-GP's eps ~ U[0, 1] per sample comes from torch's global RNG (generator=None), so the test
  seeds it right before train() and draws the same numbers from Generator().manual_seed(that seed);
- R1 (gamma / 2 * k * E||grad_x D(x)||^2 on D's real inputs, on D steps b with b % k == 0) takes its
  input gradients per sample by vmap; bCR's shifts by cr_shift come from the shift stream, after
  D's two (real, then fake) and before G's.
"""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from gancore import Trainer
from gancore.nets.unconditional import MLPDiscriminator, MLPGenerator

N, BATCH, Z_DIM, SHAPE = 20, 8, 5, (1, 6, 6)  # 2 batches per epoch: step 2 of d_steps=2 starts epoch 1
SEED, GP_SEED = 7, 123
LR_G, LR_D, BETAS, ADAM_EPS = 1e-3, 3e-4, (0.3, 0.9), 1e-8  # distinct, so a swap would show


@pytest.fixture(autouse=True)
def one_thread_in_float64():
    """Tiny matrices; one thread keeps the two reductions' round-off alike and the test quick.

    Float64: Adam's second step divides each gradient by the size of the first. A gradient that is 0
    in exact arithmetic (WGAN's last bias: the bias cancels between E D(fake) and E D(real)) is pure
    round-off in float32, and Adam turns that into steps of about lr that differ with the CPU's kernels
    (4.7e-4 apart on an AMD EPYC where an Intel Xeon matched to 1e-6). In float64 the round-off, and
    so any such step, stays far below the 1e-6 the comparisons allow."""
    before, dtype = torch.get_num_threads(), torch.get_default_dtype()
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_num_threads(before)
    torch.set_default_dtype(dtype)


# ------------------------------------------------------------------ the losses, as in the papers

def d_loss_by_hand(loss, r, f):
    if loss in ("minimax", "nonsaturating"):  # -E log D(x) - E log(1 - D(G(z)))
        return -torch.log(torch.sigmoid(r)).mean() - torch.log(1 - torch.sigmoid(f)).mean()
    if loss == "least_squares":
        return 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f ** 2).mean()
    if loss == "hinge":
        return torch.clamp(1 - r, min=0).mean() + torch.clamp(1 + f, min=0).mean()
    if loss == "wgan_gp":  # the penalty is added by the caller
        return f.mean() - r.mean()
    raise AssertionError(loss)


def g_loss_by_hand(loss, f):
    if loss == "minimax":
        return torch.log(1 - torch.sigmoid(f)).mean()
    if loss == "nonsaturating":
        return -torch.log(torch.sigmoid(f)).mean()
    if loss == "least_squares":
        return 0.5 * ((f - 1) ** 2).mean()
    if loss in ("hinge", "wgan_gp"):
        return -f.mean()
    raise AssertionError(loss)


# ------------------------------------------------------------------ the reference run

def shift(x, dy, dx, s):
    """Pad by s pixels of -1, crop each image at (dy[i], dx[i]): a loop, not an index gather."""
    if s == 0:
        return x
    h, w = x.shape[-2:]
    padded = F.pad(x, (s, s, s, s), value=-1.0)
    return torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(len(x))])


class Reference:
    """Functional copies of G and D, stepped by hand with the trainer's random numbers."""

    def __init__(self, G, D, real, loss, d_steps, augment_shift, r1_gamma=0.0, r1_every=1, cr_weight=0.0,
                 cr_shift=3):
        self.G, self.D, self.real, self.loss = G, D, real, loss
        self.d_steps, self.s = d_steps, augment_shift
        self.r1_gamma, self.r1_every, self.cr_weight, self.cr_shift = r1_gamma, r1_every, cr_weight, cr_shift
        self.g_params = {k: v.detach().clone() for k, v in G.named_parameters()}
        self.d_params = {k: v.detach().clone() for k, v in D.named_parameters()}
        self.adam = {"g": {}, "d": {}}
        self.noise_rng = torch.Generator().manual_seed(SEED)
        self.shift_rng = torch.Generator().manual_seed(SEED + 3)
        self.gp_rng = torch.Generator().manual_seed(GP_SEED)
        self.step = 0

    def batch(self, number):
        epoch, i = divmod(number, N // BATCH)
        perm = torch.randperm(N, generator=torch.Generator().manual_seed(SEED * 1_000_003 + epoch))
        return self.real[perm[i * BATCH:(i + 1) * BATCH]]

    def shifts(self, s=None):
        s = self.s if s is None else s
        if s == 0:
            return None, None
        return torch.randint(0, 2 * s + 1, (2, BATCH), generator=self.shift_rng)

    def d(self, params, x):
        return functional_call(self.D, params, (x,))

    def penalty(self, params, real_d, fake_d, eps):
        """E (||grad_x D(x_hat)||_2 - 1)^2, one input gradient per sample by vmap."""
        x_hat = eps * real_d + (1 - eps) * fake_d
        per_sample = vmap(grad(lambda x: self.d(params, x[None])[0]))(x_hat)
        return ((per_sample.flatten(1).norm(dim=1) - 1) ** 2).mean()

    def r1(self, params, real_d):
        """E ||grad_x D(x)||_2^2 on the real images D is shown."""
        per_sample = vmap(grad(lambda x: self.d(params, x[None])[0]))(real_d)
        return (per_sample.flatten(1) ** 2).sum(1).mean()

    def adam_step(self, which, params, grads, lr):
        b1, b2 = BETAS
        for name, g in grads.items():
            m, v, t = self.adam[which].get(name, (torch.zeros_like(g), torch.zeros_like(g), 0))
            m, v, t = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g, t + 1
            self.adam[which][name] = (m, v, t)
            m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
            params[name] = params[name] - lr * m_hat / (v_hat.sqrt() + ADAM_EPS)

    def train_step(self):
        for k in range(self.d_steps):
            real = self.batch(self.step * self.d_steps + k)
            z = torch.randn(BATCH, Z_DIM, generator=self.noise_rng)
            fake = functional_call(self.G, self.g_params, (z,)).detach()
            real_d, fake_d = shift(real, *self.shifts(), self.s), shift(fake, *self.shifts(), self.s)
            eps = torch.rand(BATCH, 1, 1, 1, generator=self.gp_rng) if self.loss == "wgan_gp" else None
            lazy_r1 = self.r1_gamma > 0 and (self.step * self.d_steps + k) % self.r1_every == 0
            if self.cr_weight > 0:
                real_t = shift(real_d, *self.shifts(self.cr_shift), self.cr_shift)
                fake_t = shift(fake_d, *self.shifts(self.cr_shift), self.cr_shift)

            def loss_d(params):
                r, f = self.d(params, real_d), self.d(params, fake_d)
                value = d_loss_by_hand(self.loss, r, f)
                if eps is not None:
                    value = value + 10.0 * self.penalty(params, real_d, fake_d, eps)  # lambda = 10
                if lazy_r1:
                    value = value + self.r1_gamma / 2 * self.r1_every * self.r1(params, real_d)
                if self.cr_weight > 0:
                    value = value + self.cr_weight * (((r - self.d(params, real_t)) ** 2).mean()
                                                      + ((f - self.d(params, fake_t)) ** 2).mean())
                return value

            self.adam_step("d", self.d_params, grad(loss_d)(self.d_params), LR_D)

        z = torch.randn(BATCH, Z_DIM, generator=self.noise_rng)
        dy, dx = self.shifts()

        def loss_g(params):
            fake = shift(functional_call(self.G, params, (z,)), dy, dx, self.s)
            return g_loss_by_hand(self.loss, self.d(self.d_params, fake))

        self.adam_step("g", self.g_params, grad(loss_g)(self.g_params), LR_G)
        self.step += 1


def trainer_and_reference(loss, d_steps, augment_shift, **regularisers):
    torch.manual_seed(0)
    real = torch.rand(N, *SHAPE) * 2 - 1
    G, D = MLPGenerator(Z_DIM, hidden=16, out_shape=SHAPE), MLPDiscriminator(SHAPE, hidden=16)
    with torch.no_grad():  # logits of a few units, not ~0.1: hinge's clamps and the sigmoid's bend act
        D.net[-1].weight.mul_(40)
    reference = Reference(copy.deepcopy(G), copy.deepcopy(D), real, loss, d_steps, augment_shift, **regularisers)
    trainer = Trainer(G, D, real, loss=loss, batch_size=BATCH, d_steps=d_steps, lr_g=LR_G, lr_d=LR_D,
                      betas=BETAS, augment_shift=augment_shift, seed=SEED, sample_every=0,
                      progress=False, device="cpu", **regularisers)
    return trainer, reference


def max_gap(module, params):
    return max((p.detach() - params[name]).abs().max().item() for name, p in module.named_parameters())


CASES = [
    ("nonsaturating", 1, 0), ("nonsaturating", 1, 1),
    ("hinge", 1, 0), ("hinge", 2, 1),
    ("wgan_gp", 1, 0), ("wgan_gp", 2, 1),
    ("least_squares", 1, 1), ("minimax", 1, 0),
]


@pytest.mark.parametrize("loss, d_steps, augment_shift", CASES)
def test_trainer_steps_equal_hand_written_steps(loss, d_steps, augment_shift):
    trainer, reference = trainer_and_reference(loss, d_steps, augment_shift)
    start = {name: p.detach().clone() for name, p in trainer.G.named_parameters()}
    torch.manual_seed(GP_SEED)  # the penalty's eps: the global RNG, the reference's gp_rng
    # Adam's first step is nearly lr * sign(gradient) whatever the gradient's size; the second
    # weighs each gradient against the first, so a wrong penalty weight, margin or beta shows there.
    for step in (1, 2):
        trainer.train(1)
        reference.train_step()
        assert max_gap(trainer.D, reference.d_params) < 1e-6, f"D after step {step}"
        assert max_gap(trainer.G, reference.g_params) < 1e-6, f"G after step {step}"
    assert max_gap(trainer.G, start) > 1e-4  # the weights moved 100x the tolerance and more


REGULARISED = [
    ("hinge", 1, 1, dict(r1_gamma=10.0)),
    ("nonsaturating", 2, 0, dict(r1_gamma=4.0, r1_every=3)),  # lazy: D steps 0 and 3 of 4
    ("hinge", 1, 1, dict(cr_weight=5.0, cr_shift=2)),
    ("wgan_gp", 1, 1, dict(r1_gamma=1.0, cr_weight=1.0, cr_shift=1)),  # every penalty at once
]


@pytest.mark.parametrize("loss, d_steps, augment_shift, regularisers", REGULARISED)
def test_regularised_steps_equal_hand_written_steps(loss, d_steps, augment_shift, regularisers):
    trainer, reference = trainer_and_reference(loss, d_steps, augment_shift, **regularisers)
    torch.manual_seed(GP_SEED)
    for step in (1, 2):
        trainer.train(1)
        reference.train_step()
        assert max_gap(trainer.D, reference.d_params) < 1e-6, f"D after step {step}"
        assert max_gap(trainer.G, reference.g_params) < 1e-6, f"G after step {step}"
    history = trainer.history
    for name in ("r1", "cr"):
        assert (f"loss_{name}" in history) == (f"{name}_weight" in regularisers or f"{name}_gamma" in regularisers)
    # the penalties change the run: without them, D ends elsewhere
    plain, _ = trainer_and_reference(loss, d_steps, augment_shift)
    plain.train(2)
    assert max_gap(plain.D, reference.d_params) > 1e-5
