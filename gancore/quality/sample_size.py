"""FD and KID against the number of samples: bias, spread, and the rule that follows.

The Fréchet distance between two finite samples is biased upwards: even two
samples of one distribution score > 0, by roughly c / n (the covariance
estimates' noise; Chong & Forsyth 2020, "Effectively unbiased FID"). KID's MMD
estimate is unbiased, so its mean does not move with n; only its spread does.
So an FD is a number *at a sample size*: two FDs are comparable at equal n only.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from gancore.metrics.distribution import frechet_distance
from gancore.quality.judges import kid

N_GRID: tuple[int, ...] = (100, 200, 500, 1000, 2000, 5000, 10000)


def fd_kid_vs_n(real: np.ndarray, fake: np.ndarray, ns=N_GRID, repeats: int = 3, seed: int = 0,
                progress: bool = True) -> pd.DataFrame:
    """FD and KID of feature sets (N, F) at each n in ``ns``, ``repeats`` times on fresh draws.

    real vs real       two disjoint draws of n from ``real`` (where 2n fit)
    real vs generated  n of ``fake`` against n of ``real`` (n_real = min(n, len(real)) where
                       the real pool is smaller: the row says so)

    One row per (comparison, n, repeat): fd, kid, n_real.
    """
    rng = np.random.default_rng(seed)
    rows = []
    jobs = [(c, n, r) for c in ("real vs real", "real vs generated") for n in ns for r in range(repeats)
            if (c == "real vs real" and 2 * n <= len(real)) or (c == "real vs generated" and n <= len(fake))]
    for comparison, n, r in tqdm(jobs, desc="FD and KID against n", disable=not progress, leave=False):
        if comparison == "real vs real":
            idx = rng.permutation(len(real))
            a, b = real[idx[:n]], real[idx[n:2 * n]]
        else:
            a = real[rng.permutation(len(real))[:min(n, len(real))]]
            b = fake[rng.permutation(len(fake))[:n]]
        rows.append({"comparison": comparison, "n": n, "n_real": len(a), "repeat": r,
                     "fd": frechet_distance(a, b), "kid": kid(a, b, seed=int(rng.integers(2**31)))})
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over repeats per (comparison, n), with FD's excess over its value at the largest n."""
    s = table.groupby(["comparison", "n"])[["fd", "kid"]].agg(["mean", "std"])
    s.columns = [f"{m}_{stat}" for m, stat in s.columns]
    largest = s.groupby(level="comparison")["fd_mean"].transform("last")
    s["fd_excess"] = s["fd_mean"] / largest - 1
    return s


def smallest_n(s: pd.DataFrame, comparison: str, column: str, limit: float) -> int | None:
    """Smallest n of ``comparison`` from which ``column`` stays <= ``limit`` for every larger n."""
    g = s.loc[comparison, column].sort_index()
    ok = (g.abs() <= limit).to_numpy()
    for i in range(len(ok)):
        if ok[i:].all():
            return int(g.index[i])
    return None


def sample_size_rule(table: pd.DataFrame, tolerance: float = 0.10) -> tuple[str, dict]:
    """The practical rule, as text and numbers, from :func:`fd_kid_vs_n`'s table:
    FD's bias on real-vs-real data (the floor at each n), the smallest n whose real-vs-generated
    FD is within ``tolerance`` of the largest n's, and the smallest n where KID's spread over
    repeats falls under ``tolerance`` times its mean."""
    s = summary(table)
    numbers: dict = {}
    parts = []
    if "real vs real" in s.index.get_level_values(0):
        rr = s.loc["real vs real"]
        n = rr.index.to_numpy(float)
        slope = float(np.linalg.lstsq(np.c_[1 / n, np.ones_like(n)], rr["fd_mean"].to_numpy(), rcond=None)[0][0])
        numbers.update(floor_fd={int(k): float(v) for k, v in rr["fd_mean"].items()}, fd_bias_c=slope)
        parts.append(f"Two samples of the same real digits score FD {rr['fd_mean'].iloc[0]:.2f} at n = {int(n[0])} "
                     f"and {rr['fd_mean'].iloc[-1]:.2f} at n = {int(n[-1])} (about {slope:.0f} / n): FD has no zero, "
                     f"only a floor that depends on n, so compare FD only at equal n and against the real-data "
                     f"floor at that n.")
    if "real vs generated" in s.index.get_level_values(0):
        rg = s.loc["real vs generated"]
        n_fd = smallest_n(s, "real vs generated", "fd_excess", tolerance)
        kid_rel = (rg["kid_std"] / rg["kid_mean"].abs().iloc[-1]).to_frame("rel")
        n_kid = smallest_n(pd.concat({"real vs generated": kid_rel}), "real vs generated", "rel", tolerance)
        numbers.update(fd_n_min=n_fd, kid_n_min=n_kid,
                       fd_excess={int(k): float(v) for k, v in rg["fd_excess"].items()},
                       kid_mean={int(k): float(v) for k, v in rg["kid_mean"].items()})
        parts.append(f"Against generated samples, FD at n = {int(rg.index[0])} is {rg['fd_excess'].iloc[0]:+.0%} off "
                     f"its value at n = {int(rg.index[-1])}; it stays within {tolerance:.0%} from n >= {n_fd}. KID's "
                     f"mean moves from {rg['kid_mean'].iloc[0]:.4f} to {rg['kid_mean'].iloc[-1]:.4f} (unbiased), and "
                     f"its spread over repeats falls under {tolerance:.0%} of it from n >= {n_kid}.")
        capped = table[(table.comparison == "real vs generated") & (table.n_real < table.n)]
        if len(capped):
            parts.append(f"(The real side holds at most {int(capped.n_real.max()):,} digits, all there are, from "
                         f"n = {int(capped.n.min()):,} on.)")
    return " ".join(parts), numbers


def notebook_sample_sizes(fd_n_min: int | None) -> pd.DataFrame:
    """Do notebooks 03-05 follow the rule? Their FD sample sizes (parameter defaults), whether
    both sides of every FD have the same n, and whether n reaches ``fd_n_min``."""
    from gancore.experiments.class_conditional import ClassConditional
    from gancore.experiments.mnist_baseline import MNISTBaseline
    from gancore.experiments.style_transfer import StyleTransfer

    rows = [
        ("03_mnist_baseline", "n_eval", MNISTBaseline().n_eval, True,
         "FD of n_eval samples vs n_eval held-out digits; the floor: n_eval training vs the same held-out digits"),
        ("04_conditional_gan", "n_eval", ClassConditional().n_eval, True,
         "no FD: n_eval samples per class for the classifier's accuracy"),
        ("05_style_transfer_cgan", "n_test", StyleTransfer().n_test, True,
         "FD of n_test outputs vs their n_test targets, every method on the same test triples"),
    ]
    table = pd.DataFrame(rows, columns=["notebook", "parameter", "n", "equal n", "how"]).set_index("notebook")
    table["n >= rule"] = [True if "no FD" in how or fd_n_min is None else n >= fd_n_min
                          for n, how in zip(table["n"], table["how"])]
    return table
