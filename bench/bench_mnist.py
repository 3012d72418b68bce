"""Benchmark the notebook-03 MNIST baseline against the official MNIST test split.

Trains on the experiment part of the training digits (gancore.data.splits: 3,500
of the 5,000 offline digits; the classifier learns from the other 1,500) for a
wall-clock budget and, at 1, 2, 4 and 8 minutes of *training* time (the
evaluations run inside Trainer.fit as callbacks; the trainer's clock leaves them
out), measures 5,000 generated samples against the 10,000 test digits: Fréchet
distance and classifier score with gancore's own classifier, next to the
real-data floor (the GAN's training digits against the same test set). At the end it
checks the final samples for copying: their nearest-training-digit distances against
those of the test digits (gancore.metrics.memorisation).

    GANCORE_OFFLINE=1 .venv/bin/python bench/bench_mnist.py --minutes 4          # notebook-03 defaults (self-conditioned)
    GANCORE_OFFLINE=1 .venv/bin/python bench/bench_mnist.py --minutes 4 --clusters 0     # the unconditional DCGAN
    GANCORE_OFFLINE=1 .venv/bin/python bench/bench_mnist.py --minutes 4 --class-conditional   # on the real labels
    GANCORE_OFFLINE=1 .venv/bin/python bench/bench_mnist.py --minutes 4 --closest closest.png  # + the 8 nearest

Prints figures; asserts nothing. Run it on a quiet machine: the timings mean
little when other processes share the cores.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gancore  # noqa: E402
from gancore.runtime import cpu_model  # noqa: E402
from gancore.data.sources import load_mnist, read_idx_folder  # noqa: E402
from gancore.data.clusters import kmeans_labels  # noqa: E402
from gancore.data.splits import partition  # noqa: E402
from gancore.experiments.mnist_baseline import MNIST_DEFAULTS, build_digit_gan, generate_digits  # noqa: E402
from gancore.losses import LOSS_NAMES  # noqa: E402
from gancore.metrics.classifier import get_classifier  # noqa: E402
from gancore.metrics.memorisation import memorisation_check  # noqa: E402
from gancore.metrics.distribution import (  # noqa: E402
    evaluate_samples,
    real_data_floor,
    reference_stats,
)
from gancore.train.callbacks import AtTrainingSeconds, TimeBudget  # noqa: E402
from gancore.train.trainer import TrainConfig  # noqa: E402

UNLIMITED_STEPS = 10**9  # the time budget ends training long before


def parse_args(argv=None) -> argparse.Namespace:
    d = MNIST_DEFAULTS
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--minutes", type=float, default=8.0, help="training budget in wall-clock minutes")
    p.add_argument("--checkpoints", default="1,2,4,8", help="minutes of training at which to evaluate")
    p.add_argument("--model", choices=("mlp", "dcgan"), default=d["model"])
    p.add_argument("--width", type=int, default=d["width"], help="DCGAN base channels (MLP: 4x hidden units)")
    p.add_argument("--z-dim", type=int, default=d["z_dim"])
    p.add_argument("--batch-size", type=int, default=d["batch_size"])
    p.add_argument("--lr-g", type=float, default=d["lr_g"])
    p.add_argument("--lr-d", type=float, default=d["lr_d"])
    p.add_argument("--beta1", type=float, default=TrainConfig.betas[0])
    p.add_argument("--beta2", type=float, default=TrainConfig.betas[1])
    p.add_argument("--loss", choices=LOSS_NAMES, default=d["loss"])
    p.add_argument("--augment-shift", type=int, default=d["augment_shift"],
                   help="pixels by which D's inputs are randomly shifted (0: off)")
    p.add_argument("--class-conditional", action="store_true",
                   help="DCGAN: G(z, y) and a projection D(x, y) on the digits' labels (notebook 03's "
                        "class_conditional); samples draw y from the training labels")
    p.add_argument("--clusters", type=int, default=None,
                   help="DCGAN, self-conditioning: G(z, c) and a projection D(x, c) on this many k-means "
                        f"clusters of the training digits' pixels, no labels (0: unconditional; default: "
                        f"{d['clusters']} for the DCGAN, as notebook 03; 0 for the MLP and with --class-conditional)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--eval-samples", type=int, default=5000, help="generated images per evaluation")
    p.add_argument("--test-dir", default=str(ROOT.parent / "shared/data/mnist-t10k"),
                   help="folder with the official t10k IDX files")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", help="also write the results to this file")
    p.add_argument("--closest", help="also save the 8 final samples nearest a training digit, above it, "
                                     "to this PNG")
    args = p.parse_args(argv)
    args.checkpoints = sorted({float(m) for m in args.checkpoints.split(",") if float(m) <= args.minutes}
                              | {args.minutes})
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    gancore.set_seed(args.seed)
    train_images, train_labels = partition(load_mnist(), "experiment")  # (3500, 1, 28, 28) offline, in [-1, 1]
    test_images, test_labels = read_idx_folder(args.test_dir, "test")  # (10000, 1, 28, 28)
    classifier = get_classifier("mnist", device=args.device)
    test_stats = reference_stats(test_images, classifier)
    floor = real_data_floor(train_images, test_images, classifier)
    print(f"classifier: {100 * classifier.heldout_accuracy:.2f}% held-out accuracy, "
          f"{100 * classifier.accuracy(test_images, test_labels):.2f}% on the test split")
    print(f"real-data floor: FD {floor['fd']:.3f} ({len(train_images):,} train vs {len(test_images):,} test), "
          f"score {floor['score']:.3f} (test) / {floor['score_train']:.3f} (train)")

    if args.class_conditional and args.model != "dcgan":
        raise SystemExit("--class-conditional trains the DCGAN only: drop --model mlp")
    if args.clusters and (args.model != "dcgan" or args.class_conditional):
        raise SystemExit("--clusters conditions the DCGAN on clusters instead of labels: drop --model mlp "
                         "and --class-conditional, or --clusters")
    if args.clusters is None:
        args.clusters = MNIST_DEFAULTS["clusters"] if args.model == "dcgan" and not args.class_conditional else 0
    labels = train_labels if args.class_conditional else None
    if args.clusters:  # outside the training clock, as loading the data is: about 1 s
        labels = kmeans_labels(train_images, args.clusters, seed=args.seed)
    G, D = build_digit_gan(args.model, z_dim=args.z_dim, width=args.width, train_labels=labels)
    condition = () if labels is None else (labels,)
    trainer = gancore.Trainer(G, D, train_images, condition, device=args.device, progress=False, loss=args.loss,
                              batch_size=args.batch_size, lr_g=args.lr_g, lr_d=args.lr_d,
                              betas=(args.beta1, args.beta2), augment_shift=args.augment_shift,
                              sample_every=0, seed=args.seed)
    bar = tqdm(total=round(60 * args.minutes), desc=f"{args.model} training seconds", unit="s")

    def fd_and_score(trainer) -> dict:
        scores = evaluate_samples(generate_digits(trainer, args.eval_samples, seed=args.seed + 12345),
                                  test_stats, classifier)
        bar.write(f"{trainer.train_seconds / 60:.2f} min, {trainer.step} steps: FD {scores['fd']:.3f} "
                  f"({scores['fd'] / floor['fd']:.2f}x floor), score {scores['score']:.3f}")
        return scores

    def move_bar(trainer) -> None:
        bar.update(min(round(trainer.train_seconds), bar.total) - bar.n)

    # Checked after every step: evaluate at each checkpoint of training time, stop at the budget.
    trainer.fit(UNLIMITED_STEPS, every=1, callbacks=[
        move_bar, AtTrainingSeconds([60 * m for m in args.checkpoints], fd_and_score),
        TimeBudget(60 * args.minutes)])
    bar.close()
    evals, train_s = trainer.evals, trainer.train_seconds
    images_per_step = args.batch_size * trainer.config.d_steps
    rows = [{"minutes": round(row.seconds / 60, 3), "steps": int(step), "ms_per_step": 1000 * row.seconds / step,
             "images_per_s": step * images_per_step / row.seconds, "fd": row.fd,
             "fd_over_floor": row.fd / floor["fd"], "score": row.score, "eval_s": row.eval_seconds}
            for step, row in evals.iterrows()]

    table = pd.DataFrame(rows).set_index("minutes")
    # Copying? The final samples' nearest-training-digit distances against those of the test digits.
    final = generate_digits(trainer, args.eval_samples, seed=args.seed + 12345)
    copies = memorisation_check(final, train_images, test_images)
    if args.closest:
        from gancore.workbook.viz import show_closest
        show_closest(final, train_images, copies).savefig(args.closest, bbox_inches="tight")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    config = {k: v for k, v in vars(args).items() if k not in ("json",)} | {"cpu": cpu_model()}
    print(f"\nconfig: {config}")
    print(f"machine: {cpu_model()}, torch {torch.__version__}, "
          f"{args.threads} threads")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"training wall seconds: {train_s:.1f}, steps: {trainer.step}, "
          f"images/s: {trainer.step * args.batch_size / train_s:.0f}, peak memory: {peak_mib:.0f} MiB")
    print(f"memorisation: median nearest-training-digit distance {copies['sample_nn_median']:.3f} (samples) vs "
          f"{copies['test_nn_median']:.3f} (test digits), ratio {copies['nn_ratio']:.3f}; near copies "
          f"{copies['near_copies']:.4f} (0.05 expected of real digits)")
    result = {"config": config, "floor": floor, "checkpoints": rows, "train_seconds": train_s,
              "steps": trainer.step, "peak_rss_mib": peak_mib,
              "memorisation": {k: copies[k] for k in ("sample_nn_median", "test_nn_median", "nn_ratio", "near_copies")},
              "classifier_heldout_accuracy": classifier.heldout_accuracy}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=float))
    return result


if __name__ == "__main__":
    main()
