"""Summarise a finished sweep of notebook 03 or 04 (a folder of runs, each with its metrics.json).

For notebook 03 every run's samples.pt (5,000 samples) is measured as bench/bench_mnist.py measures:
Fréchet distance and classifier score against the 10,000 official test digits, next to the real-data
floor (that run's training digits against the same test digits), plus the memorisation check
(gancore.metrics.memorisation): nearest-training-neighbour distances of the samples against those of
the test digits, and a figure of the 8 samples closest to a training image next to that image. Without
samples.pt a run falls back to the notebook's own FD (1,000 held-out digits). For notebook 04 it reports
the conditional accuracy and that of the worst digit.

Runs are grouped by everything they were given but the seed (the levers in metrics.json's ``levers``,
``class_conditional``, ``augment_shift``, ``steps``...); each group gets mean ± std over its seeds.

    GANCORE_OFFLINE=1 .venv/bin/python bench/bench_levers.py runs/levers-r1
    GANCORE_OFFLINE=1 .venv/bin/python bench/bench_levers.py runs/levers-r1 --no-memorisation --json r1.json
    GANCORE_OFFLINE=1 .venv/bin/python bench/bench_levers.py runs/levers-03-short --readme README.md

``--readme FILE`` writes the table, as Markdown with one row per lever (what differs from the first
row of the grid, the baseline), between the lines ``<!-- levers: SWEEP -->`` and ``<!-- /levers -->``
of FILE, so that the README's table is generated from the sweep, never typed in.

Prints a table; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gancore.batch import load  # noqa: E402
from gancore.data.sources import read_idx_folder  # noqa: E402
from gancore.experiments.mnist_baseline import data_parts  # noqa: E402
from gancore.metrics.classifier import get_classifier  # noqa: E402
from gancore.metrics.distribution import evaluate_samples, real_data_floor, reference_stats  # noqa: E402
from gancore.metrics.memorisation import memorisation_check  # noqa: E402
from gancore.workbook.viz import show_closest  # noqa: E402

# what identifies a run's settings in metrics.json besides its levers; the seed is what repeats
SETTINGS = ("model", "loss", "steps", "width", "batch_size", "lr", "augment_shift", "mismatch_weight", "clusters",
            "class_conditional", "dataset")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("sweep", help="folder holding the sweep's runs (searched for metrics.json)")
    p.add_argument("--test-dir", default=str(ROOT.parent / "shared/data/mnist-t10k"),
                   help="folder with the official t10k IDX files")
    p.add_argument("--no-memorisation", action="store_true", help="skip the nearest-neighbour check")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--json", help="also write the per-run rows and the summary to this file")
    p.add_argument("--readme", help="write the table as Markdown into this file's block for the sweep")
    return p.parse_args(argv)


def run_settings(metrics: dict) -> dict:
    """A run's settings, flat: its levers and the SETTINGS keys it has (the seed apart)."""
    flat = {k: metrics[k] for k in SETTINGS if k in metrics and not isinstance(metrics[k], dict)}
    flat.update(metrics.get("levers", {}))
    return flat


class Measure:
    """The test digits, the classifier and the floors per training set, built once per sweep."""

    def __init__(self, test_dir: str):
        self.test_images, _ = read_idx_folder(test_dir, "test")  # (10000, 1, 28, 28)
        self.classifier = get_classifier("mnist")
        self.test_stats = reference_stats(self.test_images, self.classifier)
        self._train: dict[tuple, torch.Tensor] = {}
        self._floor: dict[tuple, dict] = {}

    def train_images(self, metrics: dict) -> torch.Tensor:
        key = (metrics.get("dataset", "mnist"), metrics["n_eval"], metrics["seed"])
        if key not in self._train:
            self._train[key] = data_parts(*key)["gan"].images  # what that run trained on
        return self._train[key]

    def floor(self, metrics: dict) -> dict:
        key = (metrics.get("dataset", "mnist"), metrics["n_eval"], metrics["seed"])
        if key not in self._floor:
            self._floor[key] = real_data_floor(self.train_images(metrics), self.test_images, self.classifier)
        return self._floor[key]


def measure_run(folder: Path, metrics: dict, measure: Measure | None, memorisation: bool) -> dict:
    """One row: the run's settings, seed and figures."""
    row = {**run_settings(metrics), "seed": metrics.get("seed"), "run": str(folder)}
    if "accuracy" in metrics:  # notebook 04
        per_class = metrics.get("accuracy_per_class", {})
        row.update(accuracy=metrics["accuracy"], worst_digit_accuracy=min(per_class.values(), default=float("nan")),
                   **{k: metrics[k] for k in ("nn_ratio", "near_copies") if k in metrics},
                   ms_per_step=metrics.get("ms_per_step"))
        return row
    row.update(seconds=metrics.get("seconds"), notebook_fd_over_floor=metrics["fd"] / metrics["floor_fd"],
               notebook_score=metrics["score"])
    samples_path = folder / "samples.pt"
    if measure is None or not samples_path.exists() or metrics.get("dataset", "mnist") != "mnist":
        return row
    samples = torch.load(samples_path)  # (5000, 1, 28, 28) in [-1, 1]
    scores, floor = evaluate_samples(samples, measure.test_stats, measure.classifier), measure.floor(metrics)
    row.update(fd=scores["fd"], fd_over_floor=scores["fd"] / floor["fd"], score=scores["score"])
    if memorisation:
        train = measure.train_images(metrics)
        check = memorisation_check(samples, train, measure.test_images)
        row.update(nn_ratio=check["nn_ratio"], near_copies=check["near_copies"])
        closest_figure(samples, train, check, folder / "closest_to_training.png")
    return row


def closest_figure(samples: torch.Tensor, train: torch.Tensor, check: dict, path: Path) -> None:
    """Top row: the 8 samples nearest to a training image; bottom row: that training image."""
    fig = show_closest(samples, train, check)
    fig.savefig(path, bbox_inches="tight", dpi=100)
    plt.close(fig)


def summarise(rows: pd.DataFrame, settings: list[str]) -> pd.DataFrame:
    """Mean ± std over seeds for each group of runs with the same ``settings`` (those that vary)."""
    varied = [c for c in settings if rows[c].astype(str).nunique() > 1]
    figures = [c for c in ("fd_over_floor", "score", "nn_ratio", "near_copies", "notebook_fd_over_floor",
                           "notebook_score", "accuracy", "worst_digit_accuracy", "seconds", "ms_per_step")
               if c in rows and rows[c].notna().any()]
    keys = rows[varied].astype(str) if varied else pd.Series("all runs", index=rows.index, name="group")
    grouped = rows[figures].groupby([keys[c] for c in varied] if varied else keys)
    mean, std = grouped.mean(), grouped.std()  # std is NaN for a group of one run

    def cell(m: float, s: float) -> str:
        decimals = 0 if abs(m) >= 100 else 2 if abs(m) >= 1 else 3  # std in the mean's decimals
        return f"{m:.{decimals}f}" if pd.isna(s) else f"{m:.{decimals}f} ± {s:.{decimals}f}"

    table = pd.DataFrame({c: [cell(m, s) for m, s in zip(mean[c], std[c])] for c in figures}, index=mean.index)
    return table.assign(seeds=grouped.size())


FIGURE_NAMES = {"fd_over_floor": "FD / floor", "score": "classifier score", "nn_ratio": "NN-distance ratio",
                "near_copies": "near copies", "notebook_fd_over_floor": "FD / floor (notebook's 1,000)",
                "notebook_score": "score (notebook's)", "accuracy": "accuracy", "seconds": "training s",
                "worst_digit_accuracy": "worst digit", "ms_per_step": "ms per step"}


def lever_names(table: pd.DataFrame, baseline: dict) -> list[str]:
    """Each row's settings that differ from the ``baseline`` run's, as "name value"; "baseline" for none."""
    names = table.index.names
    labels = []
    for key in table.index:
        values = dict(zip(names, key if isinstance(key, tuple) else (key,)))
        changed = [f"{n} {v}" for n, v in values.items() if str(baseline.get(n)) != v]
        labels.append(", ".join(changed) or "baseline")
    return labels


def markdown_table(table: pd.DataFrame, baseline: dict) -> str:
    """The summary as a Markdown table, one row per lever, mean ± std over the seeds."""
    columns = [c for c in FIGURE_NAMES if c in table]
    lines = ["| lever | seeds | " + " | ".join(FIGURE_NAMES[c] for c in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    rows = sorted(zip(lever_names(table, baseline), table.to_dict(orient="records")),
                  key=lambda pair: pair[0] != "baseline")  # the baseline first, the rest as grouped
    for label, row in rows:
        lines.append(f"| {label} | {row['seeds']} | " + " | ".join(str(row[c]) for c in columns) + " |")
    return "\n".join(lines)


def write_block(path: Path, sweep: str, text: str) -> None:
    """Replace what lies between ``<!-- levers: sweep -->`` and the next ``<!-- /levers -->`` in ``path``."""
    start, end = f"<!-- levers: {sweep} -->", "<!-- /levers -->"
    content = path.read_text()
    if start not in content:
        raise SystemExit(f"{path} has no line {start!r}: add it, and {end!r} after it, where the table goes")
    head, rest = content.split(start, 1)
    if end not in rest:
        raise SystemExit(f"{path}: {start!r} has no {end!r} after it")
    path.write_text(head + start + "\n" + text + "\n" + end + rest.split(end, 1)[1])


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    found = sorted(Path(args.sweep).rglob("metrics.json"))
    if not found:
        raise SystemExit(f"no metrics.json under {args.sweep}: is the sweep finished, and is this its output folder?")
    runs = [(path.parent.resolve(), json.loads(path.read_text())) for path in found]
    needs_samples = any("accuracy" not in m and (folder / "samples.pt").exists() for folder, m in runs)
    measure = Measure(args.test_dir) if needs_samples else None
    rows = pd.DataFrame([measure_run(folder, m, measure, not args.no_memorisation) for folder, m in runs])
    table = summarise(rows, sorted({k for _, m in runs for k in run_settings(m)}))
    print(f"{len(rows)} runs under {args.sweep}")
    if measure is not None:
        print("fd_over_floor, score: 5,000 samples against the 10,000 test digits; floor: each run's training "
              "digits against them. nn_ratio: median nearest-training-neighbour distance, samples over test "
              "digits; near_copies: share of samples nearer than the test digits' 5th percentile (0.05 expected)")
    print(table.to_string())
    result = {"runs": rows.to_dict(orient="records"), "summary": table.reset_index().to_dict(orient="records")}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))
    if args.readme:
        first = (Path(args.sweep) / load(args.sweep)["run"].iloc[0]).resolve()  # the grid's first run
        baseline = {k: str(v) for k, v in run_settings(dict(runs)[first]).items()}
        write_block(Path(args.readme), Path(args.sweep).as_posix().rstrip("/"), markdown_table(table, baseline))
    return result


if __name__ == "__main__":
    main()
