"""Benchmark notebook 08's learned quality model Q at its default configuration.

Trains the three generators with snapshots (l1, l1+perceptual, full), builds the pool, trains
the judges (05's D as it is, Q fine-tuned from it, Q from scratch) for each truth and the
hallucinator H once (scored alone as "H reference" and with the better Q as "Q + H"), and prints
their held-out correlations with the truth (Spearman, Kendall, 95% bootstrap intervals) on
unseen styles and held-out generators, beside the reference-free baselines, with the time of
each stage (wall and CPU seconds).

    GANCORE_OFFLINE=1 .venv/bin/python bench/bench_quality.py --threads 1
    GANCORE_OFFLINE=1 .venv/bin/python bench/bench_quality.py --steps 20 --q-steps 20 --n-items 20   # starts?
    GANCORE_OFFLINE=1 .venv/bin/python bench/bench_quality.py --q-seeds 3   # + Q's spread over its own seeds

With ``--q-seeds K`` the judges and H are trained again from seeds seed+1 ... seed+K-1 (their weights and
batches; the generators and the pool stay those of ``--seed``) and the mean and standard deviation
of each learned judge's Spearman over the K seeds are printed: one seed's figure can sit a few hundredths above or
below the rest.

Prints figures; asserts nothing. On a shared CPU wall seconds mostly measure the others' load:
read the CPU seconds.
"""
from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import time
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gancore.experiments.quality import (QualityEvaluation, correlation_table, pool_truths,  # noqa: E402
                                         split_pools, train_generators)
from gancore.experiments.quality_judges import (LEARNED, hallucinator_pool, score_judges,  # noqa: E402
                                                train_judges, train_reference)
from gancore.experiments.style_transfer import STYLE_DEFAULTS, generator_splits, grader_training_set  # noqa: E402
from gancore.metrics.feature_nets import get_feature_net, get_style_classifier  # noqa: E402
from gancore.quality.degradations import degrade  # noqa: E402
from gancore.quality.pool import TRUTHS  # noqa: E402
from gancore.quality.ranking import spearman  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    d = QualityEvaluation.defaults()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for name in ("n_train", "steps", "n_checkpoints", "width", "n_items", "q_steps", "q_batch", "h_steps",
                 "h_random_styles", "n_boot", "seed"):
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=d[name])
    p.add_argument("--q-lr", type=float, default=d["q_lr"])
    p.add_argument("--held-out", default=d["held_out"])
    p.add_argument("--q-families", default=d["q_families"], help="families Q learns from ('all': every one not held out)")
    p.add_argument("--q-seeds", type=int, default=1,
                   help="train the judges from this many seeds; print the spread")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    return p.parse_args(argv)


class Clock:
    def __init__(self):
        self.rows = {}

    def __call__(self, name, fn, *args, **kw):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn(*args, **kw)
        self.rows[name] = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
        print(f"{name}: {self.rows[name]['wall_s']:.1f} s wall, {self.rows[name]['cpu_s']:.1f} s CPU", flush=True)
        return result


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = QualityEvaluation(**{f.name: getattr(args, f.name) for f in dataclasses.fields(QualityEvaluation)
                               if hasattr(args, f.name)})  # the notebook's checks
    torch.set_num_threads(args.threads)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} threads")
    clock = Clock()
    splits = clock("splits", generator_splits, args.n_train, args.n_items, seed=args.seed)
    loss_net = clock("loss net", get_feature_net, splits["train"], progress=False)
    grader = clock("grader", lambda: get_style_classifier(grader_training_set(args.n_train, seed=args.seed),
                                                          progress=False))
    settings = {**STYLE_DEFAULTS, "width": args.width, "seed": args.seed}
    gens = clock("generators", train_generators, splits["train"], args.steps, args.n_checkpoints, settings,
                 feature_net=loss_net, progress=False)
    pools = clock("pool", split_pools, splits, gens["checkpoints"], args.n_items, cfg.held_out_families(),
                  degrade=degrade, seed=args.seed, train_families=cfg.q_training_families())
    print({k: len(p) for k, p in pools.items()})
    truth = clock("truths", pool_truths, pools, grader)
    h_pool = clock("hallucinator's pool", hallucinator_pool, pools, splits["train"], gens["checkpoints"],
                   args.h_random_styles, seed=args.seed)
    spread = []  # one row per (truth, Q seed, judge, split)
    for q_seed in range(args.seed, args.seed + args.q_seeds):
        judges = {name: clock(f"judges ({name}, seed {q_seed})", train_judges, gens["discriminator"], pools["train"],
                              truth["train"][name], steps=args.q_steps, batch_size=args.q_batch, lr=args.q_lr,
                              width=args.width, seed=q_seed, progress=False) for name in TRUTHS}
        h = clock(f"hallucinator (seed {q_seed})", train_reference, h_pool, steps=args.h_steps,
                  width=args.width, seed=q_seed, progress=False)
        scores, paired = clock(f"scoring (seed {q_seed})", score_judges, judges, h, pools, truth, loss_net)
        for name in TRUTHS:
            for key in ("seen", "unseen"):
                if q_seed == args.seed:
                    table = correlation_table(scores[key][name], truth[key][name], n_boot=args.n_boot, seed=args.seed)
                    print(f"\ntruth {name}, {key} styles, held-out generators ({len(pools[key])} outputs); "
                          f"Q + H pairs H with {paired[name]}")
                    print(table.round(3).to_string())
                spread += [{"truth": name, "judge": j, "split": key, "q_seed": q_seed,
                            "spearman": spearman(s.numpy(), truth[key][name].numpy())}
                           for j, s in scores[key][name].items() if j in LEARNED]
    if args.q_seeds > 1:
        by_seed = pd.DataFrame(spread).pivot_table(index=["truth", "judge"], columns="split", values="spearman",
                                                  aggfunc=["mean", "std", "min", "max"])
        print(f"\nSpearman over {args.q_seeds} seeds of Q and H ({args.seed} to {args.seed + args.q_seeds - 1}):")
        print(by_seed.round(3).to_string())
    print("\n" + pd.DataFrame(clock.rows).T.round(1).to_string())


if __name__ == "__main__":
    main()
