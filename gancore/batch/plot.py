"""A metric against a parameter, one line per value of another, seeds as error bars."""
from __future__ import annotations

import pandas as pd


def plot(table: pd.DataFrame, x: str, y: str, hue: str | None = None, ax=None):
    """Mean of ``y`` over the runs that share ``x`` (and ``hue``), with ±1 standard deviation
    over the rest (the seeds) as error bars; only runs with status ok. ``y`` may omit its
    ``metrics.`` prefix. Returns the matplotlib Axes.

        table = gancore.batch.load("runs/loss-sweep")
        gancore.batch.plot(table, x="loss", y="fd")
    """
    import matplotlib.pyplot as plt

    y = y if y in table.columns or f"metrics.{y}" not in table.columns else f"metrics.{y}"
    for column in (x, y, hue):
        if column is not None and column not in table.columns:
            raise KeyError(f"no column {column!r} in the results table; its columns: {', '.join(table.columns)}")
    ok = table[table["status"] == "ok"]
    if ok.empty:
        raise ValueError("no run finished ok: nothing to plot")
    ax = ax or plt.subplots(figsize=(5, 3.5))[1]
    numeric = pd.api.types.is_numeric_dtype(ok[x])
    order = sorted(ok[x].unique()) if numeric else list(dict.fromkeys(ok[x]))  # categories in grid order
    groups = ok.groupby(hue, sort=False) if hue else [(None, ok)]
    for i, (label, part) in enumerate(groups):
        stats = part.groupby(x)[y].agg(["mean", "std", "count"]).reindex(order).dropna(subset=["mean"])
        where = stats.index if numeric else [order.index(v) + 0.08 * (i - 0.5 * (len(groups) - 1)) for v in stats.index]
        ax.errorbar(where, stats["mean"].to_numpy(float), yerr=stats["std"].fillna(0).to_numpy(float), marker="o", capsize=3,
                    linestyle="-" if numeric else "none",  # no line between unordered categories
                    label=f"{hue}={label}" if hue else None)
    if not numeric:
        ax.set_xticks(range(len(order)), [str(v) for v in order])
    n = ok.groupby([c for c in (x, hue) if c]).size()
    runs = f"{n.min()}–{n.max()} runs" if n.min() != n.max() else f"{n.min()} run" + "s" * int(n.min() > 1)
    ax.set(xlabel=x, ylabel=y.removeprefix("metrics."), title=f"{y.removeprefix('metrics.')}: mean ± std over {runs} each")
    if hue:
        ax.legend()
    return ax
