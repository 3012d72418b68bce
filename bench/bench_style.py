"""Benchmark the notebook-05 style-transfer cGAN at its default configuration.

Builds the default splits (digits of the experiment part, gancore.data.splits)
and the grader's own triples (digits of the measure part), fetches the two
feature networks (cached in data/ after the first run; their one-off training
time is printed apart), trains the L1 baseline and the full cGAN for the default
steps, and prints the training time, images per second, the full metrics table
per test split (copy / l1 / full, and the targets graded as a reference) and
whether each notebook-05 target is met.

    GANCORE_OFFLINE=1 .venv/bin/python bench/bench_style.py              # the defaults, 2 threads
    GANCORE_OFFLINE=1 .venv/bin/python bench/bench_style.py --threads 1 --json /tmp/style.json

Prints figures; asserts nothing. Wall-clock figures mean little when other
processes share the cores, so CPU seconds per step are printed beside them; on a
busy machine two threads mostly wait for each other (keep --threads 1 there).
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gancore  # noqa: E402
from gancore.experiments.style_transfer import (  # noqa: E402
    L1_ONLY,
    STYLE_DEFAULTS,
    build_style_trainer,
    check_targets,
    evaluate_methods,
    generator_splits,
    graded_targets,
    grader_training_set,
    method_outputs,
    metrics_table,
)
from gancore.losses import LOSS_NAMES  # noqa: E402
from gancore.metrics.feature_nets import get_feature_net, get_style_classifier  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    d = STYLE_DEFAULTS
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--steps", type=int, default=d["steps"], help="generator steps of each training")
    p.add_argument("--n-train", type=int, default=d["n_train"])
    p.add_argument("--n-test", type=int, default=d["n_test"])
    p.add_argument("--loss", choices=LOSS_NAMES, default=d["loss"])
    for name in ("adv_weight", "l1", "perceptual", "style", "tv", "lr_g", "lr_d"):
        p.add_argument(f"--{name.replace('_', '-')}", type=float, default=d[name])
    p.add_argument("--width", type=int, default=d["width"])
    p.add_argument("--batch-size", type=int, default=d["batch_size"])
    p.add_argument("--threads", type=int, default=2,
                   help="torch CPU threads; 1 is faster when other jobs share the cores")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", help="also write the results to this file")
    return p.parse_args(argv)


def training_timing(trainer) -> dict:
    """Wall and CPU seconds of the whole training, from the trainer's own clocks."""
    last, steps = trainer.history.iloc[-1], trainer.step
    wall, cpu = last["seconds"], last["cpu_seconds"]
    return {"seconds": wall, "cpu_seconds": cpu, "ms_per_step": 1000 * wall / steps,
            "cpu_ms_per_step": 1000 * cpu / steps, "images_per_s": steps * trainer.config.batch_size / wall}


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    gancore.set_seed(args.seed)
    settings = dict(loss=args.loss, adv_weight=args.adv_weight, l1=args.l1, perceptual=args.perceptual,
                    style=args.style, tv=args.tv, width=args.width, batch_size=args.batch_size,
                    lr_g=args.lr_g, lr_d=args.lr_d, seed=args.seed)
    splits = generator_splits(args.n_train, args.n_test, seed=args.seed)
    train = splits["train"]

    t0 = time.perf_counter()
    needs_features = args.perceptual > 0 or args.style > 0
    loss_net = get_feature_net(train, device=args.device) if needs_features else None
    grader = get_style_classifier(grader_training_set(args.n_train, seed=args.seed), device=args.device)
    feature_seconds = time.perf_counter() - t0

    trainers, timing = {}, {}
    for name, overrides in (("l1", L1_ONLY), ("full", {})):
        trainers[name] = build_style_trainer(train, **{**settings, **overrides}, device=args.device,
                                             feature_net=None if overrides else loss_net)
        trainers[name].fit(args.steps, desc=name)
        timing[name] = training_timing(trainers[name])

    metrics = evaluate_methods(method_outputs({name: t.G for name, t in trainers.items()}, splits), splits, grader)
    reference = graded_targets(splits, grader)
    table = metrics_table({key: {**metrics[key], "targets": reference[key]} for key in metrics})
    targets = check_targets(metrics)

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    config = {k: v for k, v in vars(args).items() if k != "json"}
    total = sum(t["seconds"] for t in timing.values())
    print(f"\nconfig: {config}")
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} threads, 1-minute load average {Path('/proc/loadavg').read_text().split()[0]}")
    print(f"feature networks (one-off, then cached): {feature_seconds:.1f} s")
    print(pd.DataFrame(timing).T.to_string(float_format=lambda v: f"{v:.1f}"))
    print(f"training total: {total:.1f} s wall ({total / 60:.2f} min; target <= 5 min on 2 quiet cores), "
          f"peak memory {peak_mib:.0f} MiB")
    print("\nmetrics per split (targets: the real targets graded, the accuracies' ceiling)")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    print("\nnotebook-05 targets")
    print(targets.to_string())
    print(f"all met: {bool(targets['met'].all())}")
    result = {"config": config, "timing": timing, "train_seconds": total, "feature_net_seconds": feature_seconds,
              "metrics": metrics, "reference": reference, "peak_rss_mib": peak_mib,
              "targets": {f"{s}: {t}": bool(m) for (s, t), m in targets["met"].items()}}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=float))
    return result


if __name__ == "__main__":
    main()
