"""Summarise a folder of notebook-06 runs (a grid's output): mean ± std over seeds of SSIM to the target
per split, method and filter, the grader's FD, and the checkerboard score.

Runs are grouped by their settings (metrics.json's ``settings``) other than the seed; each group is one
row block. ``--results FILE`` writes the tables as Markdown between ``<!-- photo: NAME -->`` and
``<!-- /photo -->`` in FILE (docs/results.md), so the published table is generated, never typed in.

    GANCORE_OFFLINE=1 .venv/bin/python bench/bench_photo_seeds.py runs/06-photo-seeds
    GANCORE_OFFLINE=1 .venv/bin/python bench/bench_photo_seeds.py runs/06-photo-seeds --results docs/results.md

Prints the tables and a JSON summary; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pandas as pd

IGNORED = {"seed", "out_dir", "smoke", "cpu_threads"}
METHODS = ("copy", "colour_transfer", "l1", "l1+perceptual", "full")


def load_runs(folder: Path) -> list[dict]:
    runs = [json.loads(p.read_text()) for p in sorted(folder.rglob("metrics.json"))]
    if not runs:
        raise SystemExit(f"no metrics.json under {folder}: run the grid first (see grids/06-*.yaml)")
    return runs


def group_name(settings: dict, baseline: dict) -> str:
    changed = {k: v for k, v in settings.items() if k not in IGNORED and baseline.get(k) != v}
    return ", ".join(f"{k}={v}" for k, v in sorted(changed.items())) or "defaults"


def summary(runs: list[dict]) -> pd.DataFrame:
    """One row per (group, split, method): mean and std over seeds of each figure."""
    baseline = runs[0]["settings"]
    rows = []
    for m in runs:
        group = group_name(m["settings"], baseline)
        for split in ("seen", "unseen"):
            for method in METHODS:
                row = {"group": group, "split": split, "method": method, "seed": m["settings"]["seed"],
                       "ssim": m[split][method]["ssim"], "fd": m[split][method]["fd"]}
                row.update(m.get("per_filter", {}).get(split, {}).get(method, {}))
                if split == "unseen" and method in m.get("checkerboard", {}):
                    row["checkerboard"] = m["checkerboard"][method]
                rows.append(row)
    frame = pd.DataFrame(rows)
    stats = frame.drop(columns="seed").groupby(["group", "split", "method"], sort=False).agg(["mean", "std"])
    stats[("seeds", "")] = frame.groupby(["group", "split", "method"], sort=False)["seed"].nunique()
    return stats


def as_text(stats: pd.DataFrame) -> pd.DataFrame:
    """``mean ± std`` cells (std left out for a single seed)."""
    figures = [c for c in stats.columns.get_level_values(0).unique() if c != "seeds"]
    out = pd.DataFrame(index=stats.index)
    for f in figures:
        mean, std = stats[(f, "mean")], stats[(f, "std")]
        out[f] = [("" if pd.isna(a) else f"{a:.3f}" + ("" if pd.isna(s) else f" ± {s:.3f}")) for a, s in zip(mean, std)]
    out["seeds"] = stats[("seeds", "")]
    return out


def write_results(path: Path, name: str, table: pd.DataFrame) -> None:
    start, end = f"<!-- photo: {name} -->", "<!-- /photo -->"
    text = path.read_text() if path.exists() else "# Results\n"
    flat = table.reset_index()
    lines = ["| " + " | ".join(map(str, flat.columns)) + " |", "|" + "---|" * len(flat.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in flat.itertuples(index=False)]
    block = "\n".join([start, *lines, end])
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--results", type=Path, help="write the table into this Markdown file (docs/results.md)")
    args = p.parse_args(argv)
    stats = summary(load_runs(args.folder))
    table = as_text(stats)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table)
    if args.results:
        write_results(args.results, args.folder.name, table)
    out = {" / ".join(k): {f: float(stats.loc[k, (f, "mean")]) for f in ("ssim", "fd")} for k in stats.index}
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
