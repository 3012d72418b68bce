"""The textbook MLP GAN loop, as it is often written, with four common bugs.

The loop uses ``nn.BCELoss`` on ``D``'s output, labels built as
``torch.ones(...)``, and a ``DataLoader`` over a ``TensorDataset`` whose last
batch is smaller. Each name in ``bugs`` puts one bug back:

``no_sigmoid``    raw logits go to ``nn.BCELoss``, which wants probabilities;
``no_detach``     one graph ``D(G(z))`` feeds both losses, both are
                  backpropagated, then both optimizers step;
``no_zero_grad``  ``opt_g.zero_grad()`` is missing, so G's gradients add up;
``batch_labels``  labels are sized by ``batch_size``, not by the batch.

Two variants follow the loop of gancore.source_loop (a source text's own):
``no_zero_grad_d``    ``opt_d.zero_grad()`` is missing instead: D's add up;
``g_backward_first``  with ``no_detach``, G's loss is backpropagated first.

``demo_*`` measure each bug misbehaving next to its fix, in seconds, on the
CPU: on CUDA the range check of ``BCELoss`` is a device-side assert that
leaves the CUDA context unusable. gancore's own trainer has none of the bugs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from gancore.nets.unconditional import MLPDiscriminator, MLPGenerator

BUGS: tuple[str, ...] = ("no_sigmoid", "no_detach", "no_zero_grad", "batch_labels",
                         "no_zero_grad_d", "g_backward_first")


def check_bugs(bugs: Iterable[str]) -> frozenset[str]:
    """``bugs`` as a set; an unknown name raises a ValueError listing the known ones."""
    bugs = frozenset([bugs] if isinstance(bugs, str) else bugs)
    unknown = sorted(bugs - set(BUGS))
    if unknown:
        raise ValueError(f"unknown bug(s) {unknown}; choose from: {', '.join(BUGS)}")
    if "g_backward_first" in bugs and "no_detach" not in bugs:
        raise ValueError("g_backward_first orders the two backward passes of no_detach; add no_detach")
    return bugs


# --------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------


def textbook_step(G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                  real: Tensor, bugs: Iterable[str] = (), batch_size: int | None = None,
                  z: Tensor | None = None, retain_graph: bool = False, probe: bool = True) -> dict:
    """One D step and one G step of the textbook loop on the batch ``real`` (B, 1, 28, 28).

    ``batch_size`` is the loader's nominal batch size (the ``batch_labels`` bug
    sizes labels by it). ``retain_graph=True`` is the patch people reach for
    when ``no_detach`` raises "backward through the graph a second time".
    With ``probe`` the record also compares the gradient each optimizer stepped
    with to the gradient of its own loss alone (``*_grad_ratio``, ``*_grad_cos``).
    """
    bugs = check_bugs(bugs)
    b = real.size(0)
    criterion = nn.BCELoss()
    n_labels = (batch_size or b) if "batch_labels" in bugs else b  # bug 4: ones(batch_size)
    real_label = torch.ones(n_labels, device=real.device)
    fake_label = torch.zeros(n_labels, device=real.device)
    to_prob = (lambda t: t) if "no_sigmoid" in bugs else torch.sigmoid  # bug 1: BCELoss wants p in [0, 1]
    z = torch.randn(b, G.z_dim, device=real.device) if z is None else z
    fake = G(z)  # (B, 1, 28, 28)
    record = {}

    if "no_detach" in bugs:  # bug 2: one graph D(G(z)) for both losses, then both steps
        d_fake = D(fake)
        loss_d = criterion(to_prob(D(real)), real_label) + criterion(to_prob(d_fake), fake_label)
        loss_g = criterion(to_prob(d_fake), real_label)
        true_d, true_g = (_grads(loss_d, D), _grads(loss_g, G)) if probe else (None, None)
        if "no_zero_grad_d" not in bugs:
            opt_d.zero_grad()
        if "no_zero_grad" not in bugs:
            opt_g.zero_grad()
        first, second = (loss_g, loss_d) if "g_backward_first" in bugs else (loss_d, loss_g)
        first.backward(retain_graph=retain_graph)  # loss_d also writes dL_D/dtheta_G into G,
        second.backward()                          # loss_g dL_G/dtheta_D into D
        if probe:
            _compare(record, "d", D, true_d)
            _compare(record, "g", G, true_g)
        opt_d.step()
        opt_g.step()
    else:
        if "no_zero_grad_d" not in bugs:  # without it, D's .grad also keeps G's last backward through D
            opt_d.zero_grad()
        d_fake = D(fake.detach())
        loss_d = criterion(to_prob(D(real)), real_label) + criterion(to_prob(d_fake), fake_label)
        true_d = _grads(loss_d, D) if probe else None
        loss_d.backward()
        if probe:
            _compare(record, "d", D, true_d)
        opt_d.step()

        if "no_zero_grad" not in bugs:  # bug 3: without it, G steps with the sum of all past gradients
            opt_g.zero_grad()
        loss_g = criterion(to_prob(D(fake)), real_label)  # D after its step, as in the textbook
        true_g = _grads(loss_g, G) if probe else None
        loss_g.backward()
        if probe:
            _compare(record, "g", G, true_g)
        opt_g.step()
    record.update(loss_d=loss_d.item(), loss_g=loss_g.item(),
                  d_fake_prob=torch.sigmoid(d_fake.detach()).mean().item())  # D's belief that fakes are real
    return record


def _grads(loss: Tensor, model: nn.Module) -> list[Tensor]:
    """d loss / d params of ``model`` alone, leaving every ``.grad`` untouched."""
    params = list(model.parameters())
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


def _compare(record: dict, name: str, model: nn.Module, true: list[Tensor]) -> None:
    """Record how the gradient the optimizer will use compares with the true one."""
    used = torch.cat([(torch.zeros_like(p) if p.grad is None else p.grad).flatten()
                      for p in model.parameters()])
    true = torch.cat([g.flatten() for g in true])
    record[f"{name}_grad_ratio"] = (used.norm() / true.norm()).item()  # 1 when right
    record[f"{name}_grad_cos"] = F.cosine_similarity(used, true, dim=0).item()  # 1 when right


@dataclass
class TextbookRun:
    """What :func:`run_textbook` returns: the steps that ran, and the error that stopped it."""

    history: pd.DataFrame           # one row per step, index "step"
    error: str | None               # "ErrorType: message" of the exception a bug raised
    batches_per_epoch: int
    G: nn.Module = field(repr=False)
    D: nn.Module = field(repr=False)


def run_textbook(images: Tensor, bugs: Iterable[str] = (), steps: int | None = None,
                 batch_size: int = 64, lr: float = 2e-4, hidden: int = 128, z_dim: int = 64,
                 seed: int = 0, drop_last: bool = False, retain_graph: bool = False,
                 probe: bool = True, device: str | torch.device = "cpu",
                 progress: bool = False, build: Callable[[], tuple[nn.Module, nn.Module]] | None = None
                 ) -> TextbookRun:
    """Train a fresh MLP GAN with the textbook loop for ``steps`` (default: one epoch).

    ``build()`` returns other fresh models ``(G, D)`` (then ``hidden`` and
    ``z_dim`` are unused); it is called right after seeding.

    An exception raised inside a step (what a bug does) ends the run and is
    kept in ``.error``, with the history of the steps before it. Runs on the
    CPU by default: see the module docstring for why ``no_sigmoid`` must not
    reach CUDA.
    """
    bugs = check_bugs(bugs)
    device = torch.device(device)
    if device.type == "cuda" and "no_sigmoid" in bugs:
        raise ValueError("the no_sigmoid bug trips a device-side assert on CUDA that breaks the "
                         "CUDA context for the whole process; run it with device='cpu'")
    if batch_size < 1 or batch_size > len(images):
        raise ValueError(f"batch_size must be in 1..{len(images)}, got {batch_size}")
    torch.manual_seed(seed)
    G, D = build() if build else (MLPGenerator(z_dim, hidden), MLPDiscriminator(hidden=hidden))
    G, D = G.to(device), D.to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    loader = DataLoader(TensorDataset(images), batch_size=batch_size, shuffle=True,
                        drop_last=drop_last, generator=torch.Generator().manual_seed(seed))
    steps = len(loader) if steps is None else steps

    records, error = [], None
    bar = tqdm(total=steps, desc="textbook " + (",".join(sorted(bugs)) or "fixed"),
               disable=not progress, leave=False)
    try:
        while len(records) < steps:
            for (real,) in loader:  # the last batch is smaller unless drop_last
                record = textbook_step(G, D, opt_g, opt_d, real.to(device), bugs, batch_size,
                                       retain_graph=retain_graph, probe=probe)
                records.append({"step": len(records) + 1, "batch": real.size(0), **record})
                bar.update(1)
                if len(records) == steps:
                    break
    except (RuntimeError, ValueError) as exc:
        error = f"{type(exc).__name__}: {_first_sentence(str(exc))}"
    finally:
        bar.close()
    history = pd.DataFrame.from_records(records, index="step") if records else pd.DataFrame()
    return TextbookRun(history, error, len(loader), G, D)


def _first_sentence(message: str) -> str:
    line = message.splitlines()[0] if message else ""
    return line.split(". ")[0].rstrip(".") + "."


# --------------------------------------------------------------------------
# One demonstration per bug: the bug and its fix, side by side.
# ``run_kw`` goes to run_textbook (hidden, z_dim, lr, ...); "" means no error.
# --------------------------------------------------------------------------


def demo_no_sigmoid(images: Tensor, seed: int = 0, **run_kw) -> pd.DataFrame:
    """Bug 1: ``nn.BCELoss`` on raw logits.

    BCELoss computes -[y log p + (1 - y) log(1 - p)] and checks p in [0, 1],
    so raw logits raise at the first step. ``sigmoid`` then ``BCELoss`` fixes
    it but clamps log p at -100: at a very confident wrong logit (-120 for a
    real image) the loss sticks at 100 and the gradient is 0, where
    ``BCEWithLogitsLoss`` (softplus, as in gancore.losses) gives 120 and -1.
    """
    buggy = run_textbook(images, {"no_sigmoid"}, steps=1, seed=seed, **run_kw)
    fixed = run_textbook(images, (), steps=1, seed=seed, **run_kw)
    logit = torch.tensor([-120.0])
    rows = [{"variant": "BCELoss(D(x)): raw logits (bug)", "error": buggy.error or "",
             "first_loss_d": math.nan, "loss_at_logit_-120": math.nan, "grad_at_logit_-120": math.nan}]
    for name, loss_fn in [("BCELoss(sigmoid(D(x))) (fix)", lambda t: nn.BCELoss()(torch.sigmoid(t), torch.ones(1))),
                          ("BCEWithLogitsLoss(D(x)) (better fix)", lambda t: nn.BCEWithLogitsLoss()(t, torch.ones(1)))]:
        t = logit.clone().requires_grad_(True)
        loss = loss_fn(t)
        loss.backward()
        rows.append({"variant": name, "error": fixed.error or "", "first_loss_d": fixed.history["loss_d"].iloc[0],
                     "loss_at_logit_-120": loss.item(), "grad_at_logit_-120": t.grad.item() + 0.0})  # no -0.0
    return pd.DataFrame(rows).set_index("variant")


def demo_no_detach(images: Tensor, seed: int = 0, steps: int = 5, **run_kw) -> pd.DataFrame:
    """Bug 2: one graph ``D(G(z))`` shared by the D and G losses, no detach.

    Without ``retain_graph`` the second backward raises. With it the loop
    runs, but G steps with dL_G/dG + dL_D/dG and D with dL_D/dD + dL_G/dD.
    Per fake logit f the two pulls are -(1 - sigma(f)) (G's) and +sigma(f)
    (D's); their sum 2 sigma(f) - 1 is a small fraction of G's own pull
    (ratio << 1), and has D's sign, so G climbs its own loss (cosine near
    -1), whenever D rates the fakes above 1/2.

    The source's order (G's backward first, rows 3 and 4) sums the same two
    gradients; it only moves the error, and ``retain_graph``, to G's backward.
    ``max_grad_diff`` is the largest difference of any ``.grad`` entry, G's
    and D's, from the D-first patch at the last step.
    """
    shared = {"no_detach"}
    variants = [("one graph, no detach (bug)", shared, False),
                ("one graph + retain_graph=True (the usual patch)", shared, True),
                ("G's backward first, as the source (bug)", shared | {"g_backward_first"}, False),
                ("G's backward first + retain_graph=True", shared | {"g_backward_first"}, True),
                ("D on fake.detach(), G on a new D(fake) (fix)", set(), False)]
    rows, last_grads = [], {}
    for name, bugs, retain in variants:
        run = run_textbook(images, bugs, steps=steps, seed=seed, retain_graph=retain, **run_kw)
        h = run.history
        if retain:  # the .grad each order stepped with last
            last_grads[name] = torch.cat([p.grad.flatten() for m in (run.G, run.D) for p in m.parameters()])
        rows.append({"variant": name, "error": run.error or "", "steps_run": len(h),
                     **{k: h[k].mean() if len(h) else math.nan
                        for k in ("d_fake_prob", "g_grad_ratio", "g_grad_cos", "d_grad_ratio", "d_grad_cos")}})
    df = pd.DataFrame(rows).set_index("variant")
    patch, source = variants[1][0], variants[3][0]
    df["max_grad_diff"] = math.nan
    df.loc[source, "max_grad_diff"] = (last_grads[source] - last_grads[patch]).abs().max().item()
    return df


def demo_no_zero_grad(images: Tensor, seed: int = 0, steps: int = 50,
                      at: Iterable[int] = (1, 5, 10, 25, 50), **run_kw) -> pd.DataFrame:
    """Bug 3: a missing ``zero_grad``: ``.grad`` holds the sum of every past gradient.

    The network steps along a stale running sum: its norm grows with the
    step count (exactly t times the fresh one if nothing moved) and its
    direction drifts away from the current gradient. Two cases: D's
    ``zero_grad`` missing (``bug_d_*``, the source's case: D's ``.grad``
    also keeps G's backward through D, dL_G/dtheta_D) and G's (``bug_g_*``).
    Rows are steps, columns the ratio |grad used| / |fresh grad of its own
    loss| and their cosine; ``fix_*`` has both ``zero_grad`` calls.
    """
    at = [t for t in at if t <= steps]
    runs = {"d": run_textbook(images, {"no_zero_grad_d"}, steps=steps, seed=seed, **run_kw).history,
            "g": run_textbook(images, {"no_zero_grad"}, steps=steps, seed=seed, **run_kw).history}
    fixed = run_textbook(images, (), steps=steps, seed=seed, **run_kw).history
    columns = {}
    for net, buggy in runs.items():
        for kind in ("ratio", "cos"):
            columns[f"bug_{net}_grad_{kind}"] = buggy.loc[at, f"{net}_grad_{kind}"]
            columns[f"fix_{net}_grad_{kind}"] = fixed.loc[at, f"{net}_grad_{kind}"]
    return pd.DataFrame(columns)


def demo_batch_labels(images: Tensor, batch_size: int = 64, n_images: int = 1000,
                      seed: int = 0, **run_kw) -> pd.DataFrame:
    """Bug 4: ``torch.ones(batch_size)`` labels, while the last batch is smaller.

    Every full batch works, so the loop crashes only at the end of the first
    epoch. Fixes: size labels by the batch (``torch.ones(real.size(0))`` or
    ``ones_like(logits)``), or drop the ragged batch (``drop_last=True``).
    One epoch over the first ``n_images``, which must not split evenly.
    """
    images = images[:n_images]
    if len(images) % batch_size == 0:
        raise ValueError(f"{len(images)} images split evenly into batches of {batch_size}; "
                         "pick a batch_size or n_images that leaves a smaller last batch")
    rows = []
    for name, bugs, drop_last in [("ones(batch_size) (bug)", {"batch_labels"}, False),
                                  ("ones(real.size(0)) (fix)", set(), False),
                                  ("drop_last=True (fix)", set(), True)]:
        run = run_textbook(images, bugs, batch_size=batch_size, seed=seed, drop_last=drop_last,
                           probe=False, **run_kw)
        rows.append({"variant": name, "error": run.error or "", "batches_per_epoch": run.batches_per_epoch,
                     "steps_run": len(run.history),
                     "last_batch": int(run.history["batch"].iloc[-1]) if len(run.history) else 0,
                     "images_used": int(run.history["batch"].sum()) if len(run.history) else 0})
    return pd.DataFrame(rows).set_index("variant")
