"""One short run per lever against the same run without it: notebook 03's DCGAN (MNIST_DEFAULTS), the same
data, seed and budget, FD and score of 1,000 samples against notebook 03's 1,000 held-out digits.

A preliminary look before the sweeps of grids/levers-*.yaml, not a result: one seed, a fraction of the
4-minute budget, and (on a shared machine) contended timings.

    .venv/bin/python bench/quick_levers.py --steps 600 --threads 1
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gancore.experiments.mnist_baseline import MNIST_DEFAULTS, data_parts, train_and_evaluate  # noqa: E402
from gancore.metrics.classifier import get_classifier  # noqa: E402
from gancore.metrics.distribution import real_data_floor, reference_stats  # noqa: E402

VARIANTS = {  # name -> (levers, class_conditional)
    "baseline": ({}, False),
    "r1_gamma 1, r1_every 16": ({"r1_gamma": 1.0, "r1_every": 16}, False),
    "spectral_norm": ({"spectral_norm": True}, False),
    "augment color,cutout": ({"augment": "color,cutout"}, False),
    "cr_weight 1": ({"cr_weight": 1.0}, False),
    "upsample nearest": ({"upsample": "nearest"}, False),
    "class_conditional": ({}, True),
}


def main(argv=None) -> pd.DataFrame:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-eval", type=int, default=1000)
    p.add_argument("--only", action="append", choices=list(VARIANTS), help="run only these (repeatable)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    parts = data_parts("mnist", n_eval=args.n_eval, seed=args.seed)
    (train_x, train_y), (held_x, _) = parts["gan"], parts["reference"]
    classifier = get_classifier("mnist")
    reference = reference_stats(held_x, classifier)
    floor = real_data_floor(train_x[:args.n_eval], held_x, classifier)
    d = MNIST_DEFAULTS
    settings = dict(eval_every=args.steps, n_eval=args.n_eval, z_dim=d["z_dim"], width=d["width"], loss=d["loss"],
                    batch_size=d["batch_size"], lr_g=d["lr_g"], lr_d=d["lr_d"], augment_shift=d["augment_shift"],
                    seed=args.seed, device="cpu")
    rows = []
    for name in args.only or VARIANTS:
        levers, conditional = VARIANTS[name]
        start = time.perf_counter()
        trainer, curve = train_and_evaluate("dcgan", train_x, args.steps, reference, classifier, levers=levers,
                                            train_labels=train_y if conditional else None, **settings)
        last = curve.iloc[-1]
        rows.append({"variant": name, "steps": int(last["step"]), "ms_per_step": 1000 * last["seconds"] / args.steps,
                     "fd": last["fd"], "fd_over_floor": last["fd"] / floor["fd"], "score": last["score"],
                     "wall_s": time.perf_counter() - start})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows).set_index("variant")
    print(f"floor: FD {floor['fd']:.3f}, score {floor['score']:.3f}; {args.threads} thread(s), seed {args.seed}")
    print(table.round(3).to_string())
    return table


if __name__ == "__main__":
    main()
