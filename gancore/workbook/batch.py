"""Run the notebooks with papermill, as ``make run`` and instructors do.

    python -m gancore.batch                      # every notebook, defaults -> runs/latest
    python -m gancore.batch --smoke 03_mnist_baseline -p loss=hinge -p seed=3

Each notebook runs in ``notebooks/`` with ``out_dir`` injected, and leaves in
its own folder the executed notebook, an HTML copy that opens with no network,
and its metrics.json. The whole batch is written to a temporary folder first
and only replaces ``runs/latest`` when every notebook succeeded (the old one
moves to ``runs/previous``), so a failed batch never destroys earlier results.
"""
from __future__ import annotations

import argparse
import ast
import json
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

from gancore.paths import project_root, resolve

NOTEBOOK_DIR = project_root() / "notebooks"


def list_notebooks(names: list[str] | None = None) -> list[Path]:
    """Notebooks in run order; ``names`` picks some by stem (e.g. ``03_mnist_baseline``) or prefix."""
    found = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return found
    picked = []
    for name in names:
        hits = [p for p in found if p.stem == name or p.stem.startswith(name)]
        if len(hits) != 1:
            raise ValueError(f"{name!r} matches {len(hits)} notebooks; choose from: "
                             + ", ".join(p.stem for p in found))
        picked.append(hits[0])
    return picked


def run_notebook(path: Path, out_dir: Path, parameters: dict | None = None, progress: bool = True) -> Path:
    """Execute one notebook into ``out_dir`` (executed copy, HTML, metrics.json)."""
    import papermill as pm

    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / path.name
    params = {**(parameters or {}), "out_dir": str(out_dir)}
    pm.execute_notebook(str(path), str(executed), parameters=params, cwd=str(path.parent),
                        kernel_name="python3", progress_bar=progress)
    export_html(executed)
    return executed


def export_html(notebook: Path) -> Path:
    """An HTML copy beside the executed notebook that opens offline (``gancore.workbook.report``)."""
    from gancore.workbook.report import (
        export_html as export_offline_html,  # nbconvert: slow to import
    )

    return export_offline_html(notebook)


def flatten(metrics: dict, prefix: str = "") -> dict:
    """{'a': {'b': 1}} -> {'a.b': 1}, keeping scalars only."""
    flat = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        elif isinstance(value, (int, float, str, bool)) or value is None:
            flat[name] = value
    return flat


def summarize(run_dir: str | Path) -> pd.DataFrame:
    """One row per (notebook, metric) from every metrics.json under ``run_dir``."""
    rows = []
    for path in sorted(Path(run_dir).glob("*/metrics.json")):
        for key, value in flatten(json.loads(path.read_text())).items():
            rows.append({"notebook": path.parent.name, "metric": key, "value": value})
    return pd.DataFrame(rows, columns=["notebook", "metric", "value"])


def run_batch(names: list[str] | None = None, out: str | Path = "runs/latest",
              parameters: dict | None = None, smoke: bool = False) -> pd.DataFrame:
    """Run notebooks into ``out`` atomically; returns the summary table."""
    notebooks = list_notebooks(names)
    final = resolve(out)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    work = final.parent / f".partial-{final.name}-{stamp}"
    params = {**(parameters or {}), **({"smoke": True} if smoke else {})}
    times = {}
    for i, nb_path in enumerate(notebooks, 1):
        print(f"[{i}/{len(notebooks)}] {nb_path.stem} {params or ''}", flush=True)
        start = time.perf_counter()
        try:
            run_notebook(nb_path, work / nb_path.stem, params)
        except Exception:
            failed = final.parent / f"failed-{final.name}-{stamp}"
            work.rename(failed)
            print(f"{nb_path.stem} failed; its partial outputs are in {failed}. "
                  f"{final} was left as it was.", file=sys.stderr)
            raise
        times[nb_path.stem] = time.perf_counter() - start
        print(f"    done in {times[nb_path.stem]:.1f} s", flush=True)
    (work / "timings.json").write_text(json.dumps(times, indent=2))
    if final.exists():
        previous = final.parent / "previous"
        shutil.rmtree(previous, ignore_errors=True)
        final.rename(previous)
    work.rename(final)
    return summarize(final)


def _parse_param(text: str) -> tuple[str, object]:
    name, sep, raw = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"parameter {text!r} must look like name=value")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw  # a bare word is a string: loss=hinge
    return name, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gancore.batch", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="stems or prefixes (default: all)")
    parser.add_argument("--out", default="runs/latest", help="results folder (default runs/latest)")
    parser.add_argument("--smoke", action="store_true", help="seconds-long smoke runs")
    parser.add_argument("-p", "--param", action="append", type=_parse_param, default=[],
                        help="name=value injected into every notebook's parameters cell")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    table = run_batch(args.notebooks, args.out, dict(args.param), args.smoke)
    with pd.option_context("display.max_rows", 500, "display.width", 120):
        print(table.to_string(index=False, max_colwidth=60))  # long texts (error messages) cut short
    print(f"\n{len(table.notebook.unique())} notebooks in {time.perf_counter() - start:.0f} s; "
          f"results in {resolve(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
