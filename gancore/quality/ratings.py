"""People's ratings: which of two outputs for one (content, exemplar) is better?

    pairs = rating_pairs(pool, n_pairs=40, seed=0)
    widget = RatingWidget(pool, pairs, out / "ratings.csv", rater="ana")
    display(widget.panel)                   # click "A is better" / "B is better"
    ratings = read_ratings(out / "ratings.csv")
    agreement_table(ratings, {"truth": t, "Q": q_scores}) # None while there are no ratings

Each answer rewrites the CSV atomically (:func:`gancore.paths.atomic_write`), so stopping at any
moment loses at most the click in flight, and a new widget on the same file resumes at the first
pair its rater has not answered yet. Each row records who rated (``rater``), so two people may
share one file, each rating every pair, and :func:`rater_agreement` measures how often they
agree. Each row also records a digest of the four images shown (``images``): a widget refuses
to resume a file made for other images. A simulated rater (:meth:`RatingWidget.simulate`) clicks
the same buttons with ``simulated = True`` in its rows, so simulated answers can never pass for a
person's: agreement leaves them out unless asked.

Agreement of a scorer s with the ratings: the share of rated pairs (a, b) where s prefers the
output the rater chose (ties in s count one half), with a bootstrap interval over the pairs.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Callable

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display
from torch import Tensor

from gancore.experiments.style_transfer import copy_content
from gancore.paths import atomic_write
from gancore.quality.pool import Pool
from gancore.quality.ranking import bootstrap_ci, pairwise_agreement
from gancore.workbook.viz import show_grid

COLUMNS: tuple[str, ...] = ("pair", "item_a", "item_b", "source_a", "source_b", "choice", "rater", "simulated",
                            "time", "images")
OPTIONAL = ("images",)  # absent from files written before it was recorded
CHOICES: tuple[str, ...] = ("a", "b")
NO_RATINGS = ("No ratings yet: nobody has answered the widget above, so there is nothing to compare with the "
              "truth, Q or the metrics. Rate some pairs and run this cell again.")


def rating_pairs(pool: Pool, n_pairs: int, seed: int = 0) -> list[tuple[int, int]]:
    """``n_pairs`` pairs of item indices (a, b) of ``pool`` that share their content and exemplar
    and come from different sources, drawn with a seeded generator; fewer if the pool has fewer."""
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, int) or n_pairs < 1:
        raise ValueError(f"n_pairs must be an int >= 1, got {n_pairs!r}")
    groups: dict[str, list[int]] = {}
    for i in range(len(pool)):
        key = hashlib.sha1(pool.content[i].numpy().tobytes() + pool.exemplar[i].numpy().tobytes()).hexdigest()
        groups.setdefault(key, []).append(i)
    candidates = [(a, b) for items in groups.values() for k, a in enumerate(items) for b in items[k + 1:]
                  if pool.source[a] != pool.source[b]]
    if not candidates:
        raise ValueError("the pool has no two outputs of different sources for one (content, exemplar)")
    order = torch.randperm(len(candidates), generator=torch.Generator().manual_seed(seed))[:n_pairs]
    gen = torch.Generator().manual_seed(seed + 1)
    pairs = []
    for i in order.tolist():  # which output is shown as A is random too
        a, b = candidates[i]
        pairs.append((a, b) if torch.rand(1, generator=gen).item() < 0.5 else (b, a))
    return pairs


def read_ratings(path: str | Path) -> pd.DataFrame:
    """The ratings CSV as a DataFrame of :data:`COLUMNS` (empty when there is no file yet)."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not a ratings CSV ({exc}); move it away to start afresh") from exc
    for column in OPTIONAL:
        if column not in frame:
            frame[column] = ""
    missing = [c for c in COLUMNS if c not in frame]
    bad_choice = set(frame.get("choice", pd.Series(dtype=object)).dropna()) - set(CHOICES)
    if missing or bad_choice:
        raise ValueError(f"{path} is not a ratings CSV of this widget (missing columns {missing}, unknown "
                         f"choices {sorted(bad_choice)}); move it away to start afresh")
    frame["simulated"] = frame["simulated"].astype(str).str.lower() == "true"
    frame["images"] = frame["images"].fillna("").astype(str)
    frame["rater"] = frame["rater"].astype(str)
    return frame[list(COLUMNS)]


def images_digest(pool: Pool, a: int, b: int) -> str:
    """A short digest of what pair (a, b) shows: content, exemplar, output A and output B."""
    h = hashlib.sha256()
    for t in (pool.content[a], pool.exemplar[a], pool.output[a], pool.output[b]):
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class RatingWidget:
    """Content | exemplar | output A | output B, two buttons, a progress line; answers in ``path``.

    Tests and notebooks drive it with no browser: ``widget.on_choose("a")``.
    """

    def __init__(self, pool: Pool, pairs: list[tuple[int, int]], path: str | Path, rater: str = "anonymous",
                 show: bool = True):
        if not pairs:
            raise ValueError("no pairs to rate; build them with rating_pairs(pool, n_pairs)")
        if any(not (0 <= a < len(pool) and 0 <= b < len(pool)) or a == b for a, b in pairs):
            raise ValueError(f"every pair must be two different item indices in [0, {len(pool)})")
        if not isinstance(rater, str) or not rater.strip():
            raise ValueError("rater must be a non-empty name")
        self.pool, self.pairs, self.path, self.rater, self.show = pool, list(pairs), Path(path), rater, show
        self.ratings = read_ratings(self.path)
        for row in self.ratings.itertuples():  # resuming: the file must hold answers to these very pairs
            if not (0 <= row.pair < len(self.pairs)) or tuple(self.pairs[row.pair]) != (row.item_a, row.item_b):
                raise ValueError(f"{self.path} holds answers to other pairs (row for pair {row.pair}: items "
                                 f"{row.item_a}, {row.item_b}); rate into another out_dir or move the file away")
            if row.images and row.images != images_digest(pool, row.item_a, row.item_b):
                raise ValueError(f"{self.path} was made for other images (pair {row.pair} showed other outputs: "
                                 "another pool, seed or training run); rate into another out_dir or move the "
                                 "file away")
        self.buttons = {c: w.Button(description=f"{c.upper()} is better", button_style="primary")
                        for c in CHOICES}
        for choice, button in self.buttons.items():
            button.on_click(lambda _, choice=choice: self.on_choose(choice))
        self.status, self.view = w.HTML(), w.Output()
        self.panel = w.VBox([self.view, w.HBox(list(self.buttons.values())), self.status])
        self.refresh()

    @property
    def position(self) -> int | None:
        """The first pair this widget's rater has not answered yet; None when they answered every pair."""
        done = set(self.ratings.loc[self.ratings["rater"] == self.rater, "pair"].astype(int))
        return next((i for i in range(len(self.pairs)) if i not in done), None)

    def shown(self) -> Tensor:
        """The current pair as drawn: content (as grey RGB), exemplar, output A, output B (4, 3, H, W)."""
        i = self.position
        if i is None:
            raise ValueError("every pair is rated; nothing is shown")
        a, b = self.pairs[i]
        p = self.pool
        return torch.stack([copy_content(p.content[a:a + 1])[0], p.exemplar[a], p.output[a], p.output[b]])

    def refresh(self) -> None:
        """Draw the current pair and the progress line; disable the buttons when all are answered."""
        i = self.position
        finished = i is None
        for button in self.buttons.values():
            button.disabled = finished
        mine = int((self.ratings["rater"] == self.rater).sum())
        self.status.value = (f"{mine} of {len(self.pairs)} pairs rated by {self.rater}"
                             + (" — all done, thank you." if finished else f"; now pair {i + 1}."))
        if finished or not self.show:
            return
        self.view.clear_output(wait=True)
        with self.view:
            show_grid(self.shown(), nrow=4, title="content | exemplar | A | B: which output renders the content in "
                                            "the exemplar's style better?", size=6)
            plt.show()

    def on_choose(self, choice: str, simulated: bool = False) -> None:
        """Record ``choice`` ("a" or "b") for the current pair, rewrite the CSV atomically, move on."""
        if choice not in CHOICES:
            raise ValueError(f"choice must be one of {CHOICES}, got {choice!r}")
        i = self.position
        if i is None:
            raise ValueError("every pair is already rated")
        a, b = self.pairs[i]
        row = {"pair": i, "item_a": a, "item_b": b, "source_a": self.pool.source[a],
               "source_b": self.pool.source[b], "choice": choice, "rater": self.rater,
               "simulated": bool(simulated), "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
               "images": images_digest(self.pool, a, b)}
        ratings = pd.concat([self.ratings, pd.DataFrame([row])], ignore_index=True) if len(self.ratings) \
            else pd.DataFrame([row], columns=list(COLUMNS))
        with atomic_write(self.path, "w") as fh:
            ratings.to_csv(fh, index=False)
        self.ratings = ratings
        self.refresh()

    def simulate(self, n: int, prefer: Callable[[int, int], str]) -> None:
        """Answer the next ``n`` pairs as ``prefer(item_a, item_b)`` says, every row marked simulated."""
        for _ in range(n):
            i = self.position
            if i is None:
                return
            self.on_choose(prefer(*self.pairs[i]), simulated=True)


def truth_rater(truth: Tensor, noise: float = 0.0, seed: int = 0) -> Callable[[int, int], str]:
    """A simulated rater who prefers the item with the higher ``truth`` (plus Gaussian ``noise``)."""
    rng = np.random.default_rng(seed)
    t = truth.double().numpy()
    return lambda a, b: "a" if t[a] + noise * rng.standard_normal() >= t[b] + noise * rng.standard_normal() else "b"


def agreement_table(ratings: pd.DataFrame, scores: dict[str, Tensor], n_boot: int = 1000,
                    seed: int = 0, simulated: bool = False) -> pd.DataFrame | None:
    """Per scorer, the pairwise agreement with the ratings and its 95% bootstrap interval over the
    rated pairs, how many pairs, how many of them simulated and how many simulated rows were left
    out; None when there are no ratings to use. Simulated rows are left out unless ``simulated``."""
    left_out = 0 if simulated else int(ratings["simulated"].sum())
    if not simulated:
        ratings = ratings[~ratings["simulated"].astype(bool)]
    if len(ratings) == 0:
        return None
    first, second = ratings["item_a"].to_numpy(int), ratings["item_b"].to_numpy(int)
    winner = (ratings["choice"] == "b").to_numpy(int)
    rows = {}
    for name, s in scores.items():
        s = s.double().numpy()
        value = pairwise_agreement(s, first, second, winner)
        low, high = (bootstrap_ci(lambda f, g, v: pairwise_agreement(s, f, g, v), first, second, winner,
                                  n_boot=n_boot, seed=seed) if len(first) > 1 else (float("nan"),) * 2)
        rows[name] = {"agreement": value, "low": low, "high": high, "pairs": len(first),
                      "simulated": int(ratings["simulated"].sum()), "simulated_left_out": left_out}
    return pd.DataFrame(rows).T.rename_axis("scorer")


def rater_agreement(ratings: pd.DataFrame) -> pd.DataFrame | None:
    """For every two people who rated the same pairs (simulated rows left out): how many pairs both
    rated and the share of those where they chose the same output; None when no two did."""
    people = ratings[~ratings["simulated"].astype(bool)]
    choice = people.drop_duplicates(["rater", "pair"], keep="last").pivot(index="pair", columns="rater",
                                                                         values="choice")
    raters, rows = sorted(choice.columns), []
    for i, first in enumerate(raters):
        for second in raters[i + 1:]:
            both = choice[[first, second]].dropna()
            if len(both):
                rows.append({"rater_1": first, "rater_2": second, "pairs": len(both),
                             "agreement": float((both[first] == both[second]).mean())})
    return pd.DataFrame(rows) if rows else None


def show_agreement(ratings: pd.DataFrame, scores: dict[str, Tensor], n_boot: int = 1000) -> pd.DataFrame | None:
    """Display :func:`agreement_table`, or say plainly that there are no ratings yet."""
    table = agreement_table(ratings, scores, n_boot)
    if table is None:
        print(NO_RATINGS)
    else:
        display(table)
    return table
