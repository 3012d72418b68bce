"""Benchmark notebook 06 (photo style transfer) at its default configuration.

Builds the default photo splits, the loss network and the photo grader (cached in data/ after
the first run; their one-off time is printed apart), trains the notebook's three generators
(l1, l1+perceptual, full) for the notebook's ``steps`` (the training it caches, done here afresh) and
prints per-method CPU milliseconds per step, the metrics table of the five methods, SSIM per
filter, the checkerboard scores, D's exemplar gap, SSIM at 64/128/256 px and the notebook's reading.

    GANCORE_OFFLINE=1 .venv/bin/python bench/bench_photo.py                 # the defaults
    GANCORE_OFFLINE=1 .venv/bin/python bench/bench_photo.py --estimate 20   # time 20 steps per method, extrapolate
    GANCORE_OFFLINE=1 .venv/bin/python bench/bench_photo.py --smoke         # seconds: does it start?

``--estimate K`` trains K steps of each method (after 2 warm-up steps) with the threads given and
extrapolates the CPU time per step to the default number of steps; added to the measured fixed
costs (data, networks, grading) it is the default run's time on one thread. Two uncontended
cores are not slower than one, so it bounds the 2-core run from above. Prints figures; asserts
nothing.
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

from gancore.runtime import cpu_model  # noqa: E402
from gancore.data.photo_styles import NPRStyle, make_npr_splits  # noqa: E402
from gancore.experiments.photo_style import (  # noqa: E402
    BASELINES, EXEMPLAR_PHOTO, SIZE_PHOTO, SIZES, TRAINED, PhotoStyleTransfer, exemplar_gap, joined, per_filter_ssim,
    per_filter_table, photo_reading, size_photo, size_sweep)
from gancore.experiments.style_transfer import (  # noqa: E402
    build_style_trainer, evaluate_methods, method_outputs, metrics_table)
from gancore.metrics.checkerboard import checkerboard_score  # noqa: E402
from gancore.metrics.feature_nets import get_feature_net  # noqa: E402
from gancore.metrics.photo_nets import GraderConfig, get_photo_grader, photo_grader_set  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 on a shared CPU)")
    p.add_argument("--estimate", type=int, default=0, metavar="K",
                   help="time K steps per method and extrapolate to the default steps (0: run the defaults)")
    p.add_argument("--smoke", action="store_true", help="the notebook's smoke sizes: checks that it runs")
    p.add_argument("--seed", type=int, default=0, help="the notebook's seed: data split, models and batches")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = PhotoStyleTransfer(seed=args.seed)
    cfg = cfg.smoked() if args.smoke else cfg
    print(f"bench_photo: {cpu_model()}, {torch.get_num_threads()} thread(s), smoke={cfg.smoke}, "
          f"{'estimate from ' + str(args.estimate) + ' steps' if args.estimate else 'full run'}")
    fixed, t = {}, time.process_time()
    splits = make_npr_splits(cfg.n_train, cfg.n_test, seed=cfg.seed)
    fixed["data"] = time.process_time() - t
    t = time.process_time()
    loss_net = get_feature_net(splits["train"], progress=False)
    grader_sets = {pool: photo_grader_set(cfg.seed, max_tiles=cfg.grader_tiles, pool=pool) for pool in ("train", "test")}
    grader = get_photo_grader(grader_sets["train"], GraderConfig(epochs=cfg.grader_epochs), heldout=grader_sets["test"],
                              progress=False)
    fixed["networks (one-off, then cached)"] = time.process_time() - t

    per_step, trainers = {}, {}
    for method in TRAINED:
        trainer = build_style_trainer(splits["train"], **cfg.method_settings(method), feature_net=loss_net,
                                      progress=False)
        steps = cfg.steps if not args.estimate else args.estimate
        if args.estimate:
            trainer.train(2)  # warm-up: first calls allocate
        t = time.process_time()
        trainer.train(steps)
        per_step[method] = 1000 * (time.process_time() - t) / steps
        trainers[method] = trainer
    print(pd.Series(per_step, name="CPU ms per step").round(1).to_string())

    t = time.process_time()
    outputs = method_outputs({m: trainers[m].G for m in ("l1", "l1+perceptual", "full")}, splits, BASELINES)
    metrics = evaluate_methods(outputs, splits, grader)
    unseen = splits["test_unseen"]
    per_filter = per_filter_ssim(outputs, splits)
    checker = {m: checkerboard_score(outputs["unseen"][m], unseen.target) for m in ("copy", *TRAINED)}
    gap = exemplar_gap(trainers["full"].D, joined(splits["test_seen"], unseen), seed=cfg.seed)
    styles = [NPRStyle.from_index(c) for c in sorted(splits["train"].combos())][:cfg.size_styles]
    sizes = size_sweep(trainers["full"].G, size_photo(SIZE_PHOTO), size_photo(EXEMPLAR_PHOTO), styles, SIZES,
                       n_crops=cfg.size_crops, seed=cfg.seed)
    fixed["grading"] = time.process_time() - t

    train_seconds = sum(per_step.values()) * cfg.steps / 1000
    print(pd.Series(fixed, name="CPU seconds").round(1).to_string())
    print(f"training at {cfg.steps} steps per method: {train_seconds:.0f} CPU s; "
          f"with the fixed costs: {train_seconds + sum(fixed.values()):.0f} CPU s on "
          f"{torch.get_num_threads()} thread(s) (networks cached: "
          f"{train_seconds + sum(fixed.values()) - fixed['networks (one-off, then cached)']:.0f} s)")
    with pd.option_context("display.width", 160, "display.max_columns", 10):
        print(metrics_table(metrics).round(3))
        print(per_filter_table(per_filter).round(3))
        print(sizes.round(3))
    print(f"d_exemplar_gap {gap['gap']:.4f} (effect size {gap['effect']:.2f})")
    print(photo_reading(metrics, per_filter, checker))
    if args.estimate or cfg.smoke:
        print("(few steps: the quality figures above say nothing about the default run)")


if __name__ == "__main__":
    main()
