"""Benchmark the distribution metrics together: FD, KID and PRDC on 10,000 vs 10,000 MNIST features.

Features are gancore's digit classifier's (get_classifier('mnist') + embed, 128 per
image) of real digits: the 5,000 offline training digits (load_mnist()), drawn
10,000 times with replacement for each set, plus Gaussian pixel noise (0.05 for
the "real" set, 0.3 for the "fake" one, then clipped to [-1, 1]) so that no two
rows are identical and the two sets differ. Prints the seconds of each metric
(embedding apart), PRDC's peak numpy memory (tracemalloc) beside the 800 MB one
full 10,000 x 10,000 float64 distance matrix would take, and the CPU model.
Target: FD + KID + PRDC within 30 s on 2 cores.

    GANCORE_OFFLINE=1 .venv/bin/python bench/bench_metrics.py
    GANCORE_OFFLINE=1 .venv/bin/python bench/bench_metrics.py --n 5000 --json /tmp/metrics.json

Prints figures; asserts nothing. Timings mean little when other processes share the cores.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gancore.runtime import cpu_model  # noqa: E402
from gancore.data.sources import load_mnist  # noqa: E402
from gancore.metrics.classifier import get_classifier  # noqa: E402
from gancore.metrics.distribution import frechet_distance  # noqa: E402
from gancore.metrics.kid import kernel_distance  # noqa: E402
from gancore.metrics.prdc import precision_recall_density_coverage  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--n", type=int, default=10_000, help="features in each set")
    p.add_argument("--k", type=int, default=5, help="PRDC's nearest neighbours")
    p.add_argument("--subsets", type=int, default=100, help="KID's subsets")
    p.add_argument("--subset-size", type=int, default=1000, help="KID's subset size")
    p.add_argument("--threads", type=int, default=2, help="torch threads for the embedding")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write the figures here")
    return p.parse_args(argv)


def noisy_draw(images: torch.Tensor, n: int, noise: float, gen: torch.Generator) -> torch.Tensor:
    """n images drawn with replacement, plus Gaussian pixel noise, kept inside [-1, 1]."""
    picked = images[torch.randint(len(images), (n,), generator=gen)]
    return (picked + noise * torch.randn(picked.shape, generator=gen)).clamp(-1, 1)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    digits = load_mnist("train").images  # (N, 1, 28, 28) in [-1, 1]
    classifier = get_classifier("mnist", device="cpu", progress=False)
    gen = torch.Generator().manual_seed(args.seed)
    real_images = noisy_draw(digits, args.n, 0.05, gen)
    fake_images = noisy_draw(digits, args.n, 0.3, gen)
    (real, _), embed_s = timed(classifier.embed, real_images)
    (fake, _), embed_fake_s = timed(classifier.embed, fake_images)

    fd, fd_s = timed(frechet_distance, real, fake)
    kid, kid_s = timed(kernel_distance, real, fake, n_subsets=args.subsets, subset_size=args.subset_size,
                       seed=args.seed)
    tracemalloc.start()
    prdc, prdc_s = timed(precision_recall_density_coverage, real, fake, k=args.k)
    _, prdc_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    figures = {
        "cpu": cpu_model(), "n": args.n, "features": real.shape[1], "digits_source": len(digits),
        "embed_s": embed_s + embed_fake_s, "fd_s": fd_s, "kid_s": kid_s, "prdc_s": prdc_s,
        "metrics_total_s": fd_s + kid_s + prdc_s, "prdc_peak_mb": prdc_peak / 2**20,
        "full_matrix_mb": args.n * args.n * 8 / 2**20,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "fd": fd, "kid_mean": kid.mean, "kid_std": kid.std, **prdc._asdict(),
    }
    print(f"machine: {figures['cpu']}, torch {torch.__version__}, {args.threads} torch threads, "
          f"one BLAS thread in the metrics")
    print(f"features: {args.n:,} + {args.n:,} x {real.shape[1]} from {len(digits):,} real digits "
          f"(embedding {figures['embed_s']:.1f} s)")
    print(f"FD    {fd:10.4f}                         {fd_s:6.2f} s")
    print(f"KID   {kid.mean:10.5f} +- {kid.std:.5f} ({args.subsets} x {args.subset_size})  {kid_s:6.2f} s")
    print(f"PRDC  precision {prdc.precision:.4f}  recall {prdc.recall:.4f}  density {prdc.density:.4f}  "
          f"coverage {prdc.coverage:.4f}  {prdc_s:6.2f} s")
    print(f"total {figures['metrics_total_s']:.1f} s (target 30 s); PRDC peak numpy memory "
          f"{figures['prdc_peak_mb']:.0f} MB (one full distance matrix: {figures['full_matrix_mb']:.0f} MB); "
          f"process max RSS {figures['max_rss_mb']:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
