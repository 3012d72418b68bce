"""Milliseconds per generator step of notebook 03's DCGAN: each lever's cost, bf16 autocast and torch.compile.

Trains MNIST_DEFAULTS (width 32, batch 32, hinge, shift 2) on random images in [-1, 1] (the cost of a step
does not depend on the pixels) and times ``--steps`` steps after ``--warmup`` untimed ones:

    levers    each lever of gancore.experiments.levers alone (1 thread unless --threads says otherwise)
    bf16      the same steps inside torch.autocast("cpu", dtype=torch.bfloat16): convolutions and matmuls
              in bfloat16 (AMX / AVX512-BF16 where lscpu lists amx_bf16 or avx512_bf16), weights in fp32
    compile   G and D through torch.compile (the first steps include compiling: --warmup covers them)

    .venv/bin/python bench/bench_step_speed.py --threads 1,2 --steps 50

Prints the table and the CPU's bf16 flags; asserts nothing. Timings on a shared CPU mean little: say so.
"""
from __future__ import annotations

import argparse
import contextlib
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gancore.experiments.mnist_baseline import MNIST_DEFAULTS  # noqa: E402
from gancore.nets.conditional import ClassConditionalDiscriminator, ClassConditionalGenerator  # noqa: E402
from gancore.nets.unconditional import build_gan  # noqa: E402
from gancore.train.trainer import Trainer  # noqa: E402

LEVERS = {  # name -> (trainer settings, network settings)
    "baseline": ({}, {}),
    "r1_gamma 1": ({"r1_gamma": 1.0}, {}),
    "r1_gamma 1, r1_every 16": ({"r1_gamma": 1.0, "r1_every": 16}, {}),
    "spectral_norm": ({}, {"spectral_norm": True}),
    "augment color,cutout": ({"augment": "color,cutout"}, {}),
    "cr_weight 1": ({"cr_weight": 1.0}, {}),
    "upsample nearest": ({}, {"upsample": "nearest"}),
    "class_conditional": ({}, {"conditional": True}),
}


def cpu_flags() -> str:
    try:
        flags = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "lscpu unavailable"
    model = next((line.split(":", 1)[1].strip() for line in flags.splitlines() if line.startswith("Model name")), "?")
    wanted = ("avx512_bf16", "amx_bf16", "amx_tile")
    return f"{model}; " + ", ".join(f"{f} {'yes' if f in flags.split() else 'no'}" for f in wanted)


def make_trainer(trainer_levers: dict, net_levers: dict, compiled: bool) -> Trainer:
    d = MNIST_DEFAULTS
    torch.manual_seed(0)
    images, labels = torch.rand(2048, 1, 28, 28) * 2 - 1, torch.randint(0, 10, (2048,))
    net_levers = dict(net_levers)
    if net_levers.pop("conditional", False):
        G, D = ClassConditionalGenerator(d["z_dim"], d["width"]), ClassConditionalDiscriminator(d["width"])
        condition = (labels,)
    else:
        (G, D), condition = build_gan("dcgan", z_dim=d["z_dim"], width=d["width"], **net_levers), ()
    if compiled:
        G, D = torch.compile(G), torch.compile(D)
    return Trainer(G, D, images, condition, loss=d["loss"], batch_size=d["batch_size"], lr_g=d["lr_g"],
                   lr_d=d["lr_d"], augment_shift=d["augment_shift"], sample_every=0, progress=False,
                   device="cpu", **trainer_levers)


def ms_per_step(trainer: Trainer, steps: int, warmup: int, bf16: bool) -> tuple[float, float]:
    """Median and spread (max - min over 5 chunks) of ms per step, after ``warmup`` steps."""
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    with autocast:
        trainer.train(warmup)
        chunks = []
        for _ in range(5):
            start = time.perf_counter()
            trainer.train(max(1, steps // 5))
            chunks.append(1000 * (time.perf_counter() - start) / max(1, steps // 5))
    return statistics.median(chunks), max(chunks) - min(chunks)


def main(argv=None) -> pd.DataFrame:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", default="1", help="comma-separated thread counts, e.g. 1,2")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=10, help="untimed steps first (compiling happens here)")
    p.add_argument("--only", choices=("levers", "bf16", "compile"), action="append",
                   help="measure only these (repeatable; default: all)")
    args = p.parse_args(argv)
    parts = args.only or ["levers", "bf16", "compile"]
    print(f"CPU: {cpu_flags()}; torch {torch.__version__}, {platform.python_version()}")
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        cases = []
        if "levers" in parts:
            cases += [(name, tl, nl, False, False) for name, (tl, nl) in LEVERS.items()]
        elif "bf16" in parts or "compile" in parts:
            cases += [("baseline", {}, {}, False, False)]
        if "bf16" in parts:
            cases += [("baseline, bf16 autocast", {}, {}, False, True)]
        if "compile" in parts:
            cases += [("baseline, torch.compile", {}, {}, True, False)]
        for name, trainer_levers, net_levers, compiled, bf16 in cases:
            try:
                start = time.perf_counter()
                trainer = make_trainer(trainer_levers, net_levers, compiled)
                median, spread = ms_per_step(trainer, args.steps, args.warmup, bf16)
                rows.append({"threads": threads, "variant": name, "ms_per_step": median, "spread_ms": spread,
                             "setup_and_warmup_s": time.perf_counter() - start - median * args.steps / 1000})
            except Exception as exc:  # a variant this torch or CPU cannot run: say why, keep going
                rows.append({"threads": threads, "variant": name, "error": f"{type(exc).__name__}: {exc}"[:120]})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows).set_index(["threads", "variant"])
    if "ms_per_step" in table:
        base = table["ms_per_step"].xs("baseline", level="variant")
        table["vs_baseline"] = table["ms_per_step"] / base.reindex(table.index.get_level_values("threads")).to_numpy()
    print(table.round(2).to_string())
    return table


if __name__ == "__main__":
    main()
