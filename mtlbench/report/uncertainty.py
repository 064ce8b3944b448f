"""How sure a ranking is (pure functions of numbers): the Friedman test over suite families with the Nemenyi
critical difference (Demšar, JMLR 2006), bootstrap intervals of ranks over seeds, and a bootstrap interval of
Kendall's τ between two rankings.

Every bootstrap here draws from a ``numpy.random.Generator`` seeded from the names involved (``rng_for``), so
the same records give the same intervals on every machine (the leaderboard is byte-reproducible).
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from .stats import ALPHA

#: Bootstrap draws of a rank interval (per suite) and of Kendall's τ.
RANK_DRAWS = 2000
TAU_DRAWS = 1000
#: Fewer blocks than this: the Friedman χ² approximation is poor and the test has little power (Demšar 2006).
FEW_BLOCKS = 10


def rng_for(*names: str) -> np.random.Generator:
    """A generator seeded from ``names`` only (order of suites or models elsewhere does not matter)."""
    return np.random.default_rng(zlib.crc32("\x1f".join(names).encode()))


# ====================================================================== Friedman + Nemenyi
@dataclass(frozen=True)
class Friedman:
    models: list[str]  # in order of mean rank (best first)
    mean_ranks: list[float]  # mean over blocks of the within-block rank (1 = best)
    blocks: int  # N: suite families
    statistic: float | None  # Friedman χ² (None: fewer than 3 models or 2 blocks)
    p: float | None
    cd: float | None  # Nemenyi critical difference at ``alpha``
    groups: list[tuple[int, int]]  # maximal runs [i, j] (0-based positions) whose ranks differ by less than cd
    alpha: float = ALPHA


def friedman(table: np.ndarray, models: list[str], alpha: float = ALPHA) -> Friedman:
    """Friedman test of ``table`` [N blocks, k models] of ranks (or scores, lower = better; each block is
    re-ranked), its Nemenyi critical difference and the groups of models not significantly different."""
    from scipy.stats import friedmanchisquare, rankdata

    table = np.asarray(table, dtype=float)
    n, k = table.shape
    ranks = rankdata(table, axis=1, method="average")  # [N, k]
    mean = ranks.mean(axis=0) if n else np.full(k, math.nan)
    order = sorted(range(k), key=lambda i: (mean[i], i))
    stat = p = cd = None
    if k >= 3 and n >= 2:
        res = friedmanchisquare(*table.T)
        stat, p = float(res.statistic), float(res.pvalue)
        if not math.isfinite(p):  # every block ranks the models identically with ties only
            stat, p = None, None
        cd = nemenyi_cd(k, n, alpha)
    sorted_ranks = [float(mean[i]) for i in order]
    return Friedman([models[i] for i in order], sorted_ranks, n, stat, p, cd,
                    cd_groups(sorted_ranks, cd) if cd is not None else [], alpha)


def nemenyi_cd(k: int, n: int, alpha: float = ALPHA) -> float:
    """Critical difference of mean ranks, CD = q_α · sqrt(k(k+1) / (6N)), q_α = the Studentized range
    quantile over √2 (Demšar 2006, Table 5a: k = 7 gives q_0.05 = 2.949)."""
    from scipy.stats import studentized_range

    q = float(studentized_range.ppf(1 - alpha, k, math.inf)) / math.sqrt(2)
    return q * math.sqrt(k * (k + 1) / (6 * n))


def cd_groups(sorted_ranks: list[float], cd: float) -> list[tuple[int, int]]:
    """Maximal runs [i, j] of positions (ranks sorted ascending) with rank_j − rank_i < cd: the models in a
    run are not significantly different from each other. Runs of one model are left out."""
    runs = []
    for i in range(len(sorted_ranks)):
        j = i
        while j + 1 < len(sorted_ranks) and sorted_ranks[j + 1] - sorted_ranks[i] < cd:
            j += 1
        if j > i and not any(a <= i and j <= b for a, b in runs):
            runs.append((i, j))
    return runs


# ====================================================================== bootstrap over seeds
def rank_draws(scores: list[list[float]], draws: int, rng: np.random.Generator) -> np.ndarray:
    """[draws, k] ranks (1 = best, ties averaged) of k models when each model's seed scores (higher is better)
    are resampled with replacement and averaged; a model without a finite score ranks last."""
    from scipy.stats import rankdata

    means = np.empty((draws, len(scores)))
    for i, xs in enumerate(scores):
        x = np.asarray(xs, dtype=float)
        x = np.where(np.isfinite(x), x, -np.inf)
        idx = rng.integers(0, len(x), size=(draws, len(x)))  # [draws, n_seeds]
        means[:, i] = x[idx].mean(axis=1) if len(x) else -np.inf
    means = np.where(np.isnan(means), -np.inf, means)
    return rankdata(-means, axis=1, method="average")


def rank_intervals(scores: list[list[float]], rng: np.random.Generator, draws: int = RANK_DRAWS,
                   level: float = 0.95) -> list[tuple[float, float]]:
    """Per model, the ``level`` percentile interval of its rank under the seed bootstrap (``rank_draws``)."""
    r = rank_draws(scores, draws, rng)
    lo, hi = np.percentile(r, [50 * (1 - level), 50 * (1 + level)], axis=0, method="nearest")
    return [(float(a), float(b)) for a, b in zip(lo, hi)]


def kendall_interval(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> tuple[float, float] | None:
    """Percentile interval of Kendall's τ between paired draws of two rankings, ``a`` and ``b`` [draws, k];
    None when fewer than 3 models or no draw has a defined τ."""
    from scipy.stats import kendalltau

    if a.shape[1] < 3:
        return None
    taus = [float(kendalltau(x, y).statistic) for x, y in zip(a, b)]
    taus = [t for t in taus if math.isfinite(t)]
    if not taus:
        return None
    lo, hi = np.percentile(taus, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)
