"""Batches of notebook runs for instructors: grid files, parallel or Dask workers, live progress,
resumable results.

    python -m gancore.batch grids/03_loss_seed.yaml --workers 2    # see gancore.batch.cli

    table = gancore.batch.load("runs/loss-sweep")                   # parameters + metrics + status
    gancore.batch.plot(table, x="loss", y="fd")                     # seeds as error bars

| file | one idea |
|---|---|
| ``notebooks.py`` | the numbered notebooks, by stem, prefix or path; each one's headline metrics |
| ``grid.py`` | grid files: product, zip, seeds; checked against papermill's inspection before anything runs |
| ``run.py`` | one run: papermill, its kernel's environment, the HTML copy, result.json; timeouts and stopping |
| ``executors.py`` | local workers or a Dask cluster; CPU threads per run |
| ``sweep.py`` | a whole grid: skip what finished, submit the rest, keep the table current, stop on signals |
| ``provenance.py`` | how a run was made: gancore's source digest (part of each run's key), git commit, versions |
| ``progress.py`` | the live bar and what each running notebook is doing |
| ``results.py``, ``plot.py`` | the table (CSV, DataFrame), the summary, a metric against a parameter |
"""
from gancore.batch.grid import Grid, GridError, load_grid
from gancore.batch.notebooks import NOTEBOOK_DIR, list_notebooks
from gancore.batch.plot import plot
from gancore.batch.results import flatten, load
from gancore.batch.run import execute_run
from gancore.batch.sweep import run_grid

__all__ = ["Grid", "GridError", "load_grid", "NOTEBOOK_DIR", "list_notebooks", "plot", "flatten", "load",
           "execute_run", "run_grid"]
