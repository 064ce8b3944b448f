"""The MMoE synthetic experiment's statistics (pure functions of its runs, ``schema.ExperimentRun``).

Run r of every model at a correlation p is trained on the same data (``mmoe_synthetic``: data seed per run),
so differences between models are paired by run. Only correlations whose runs are complete for every model
(the same run indices for each) are analysed.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from .order import model_key
from .schema import ExperimentRun

SHARED, MMOE = "hard_sharing", "mmoe"


@dataclass(frozen=True)
class Curve:
    steps: list[int]  # training step at the end of each curve point
    mean: list[float]  # [points] mean over runs of the task-averaged loss (training, or validation MSE)
    low: list[float]  # 10 % quantile over runs
    high: list[float]  # 90 % quantile over runs


@dataclass(frozen=True)
class PairedDiff:
    p: float
    n: int
    mean: float  # mean over runs of shared-bottom − MMoE test MSE (> 0: MMoE lower)
    low: float  # 95 % t-interval
    high: float
    p_value: float | None  # paired t-test of mean = 0


@dataclass
class Experiment:
    models: list[str]
    correlations: list[float]  # complete correlations, descending
    incomplete: list[float]  # correlations left out (some model misses runs)
    runs: dict[float, int]  # runs per complete correlation
    by_cell: dict[tuple[str, float], list[ExperimentRun]]  # (model, p) -> runs in run order
    seconds: float  # compute of every result file, complete or not
    files: int
    diffs: list[PairedDiff]
    trend: tuple[float, float | None, float, float | None] | None  # (Spearman ρ, p, slope, slope p) or None
    commits: list[str] = field(default_factory=list)  # commits that produced the result files, sorted

    def curve(self, model: str, p: float, validation: bool = False) -> Curve | None:
        """The task-averaged training loss over steps (every ``curve_every`` steps), or with ``validation`` the
        validation MSE after each epoch placed at that epoch's last step (None when the runs have no such curve)."""
        runs = self.by_cell[(model, p)]
        pts = [r.val_curve if validation else r.train_curve for r in runs]
        every = runs[0].steps_per_epoch if validation else runs[0].curve_every
        n = min(len(c) for c in pts)
        if n == 0 or every <= 0:
            return None
        x = np.asarray([[sum(pt) / len(pt) for pt in c[:n]] for c in pts])  # [runs, points]
        lo, hi = np.quantile(x, [0.1, 0.9], axis=0)
        return Curve([every * (i + 1) for i in range(n)], x.mean(axis=0).tolist(), lo.tolist(), hi.tolist())

    def test_losses(self, model: str, p: float) -> list[float]:
        return [r.test_loss for r in self.by_cell[(model, p)]]

    def final_losses(self, model: str, p: float) -> list[float]:
        return [r.final_train_loss for r in self.by_cell[(model, p)]]


def analyse_experiment(runs: list[ExperimentRun]) -> Experiment | None:
    """Group the runs, keep complete correlations, and test MMoE's advantage against the correlation."""
    if not runs:
        return None
    by_cell: dict[tuple[str, float], list[ExperimentRun]] = defaultdict(list)
    for r in runs:
        by_cell[(r.model, r.p)].append(r)
    models = sorted({r.model for r in runs}, key=model_key)
    complete, incomplete = [], []
    for p in sorted({r.p for r in runs}, reverse=True):
        sets = [frozenset(r.run for r in by_cell.get((m, p), [])) for m in models]
        (complete if sets[0] and len(set(sets)) == 1 else incomplete).append(p)
    cells = {k: sorted(v, key=lambda r: r.run) for k, v in by_cell.items() if k[1] in complete}
    exp = Experiment(models, complete, incomplete, {p: len(cells[(models[0], p)]) for p in complete}, cells,
                     float(sum(r.seconds for r in runs)), len(runs), [], None,
                     sorted({r.commit for r in runs if r.commit}))
    if SHARED in models and MMOE in models:
        exp.diffs = [paired_diff(p, exp.test_losses(SHARED, p), exp.test_losses(MMOE, p)) for p in complete]
        ps = [p for p in complete for _ in range(exp.runs[p])]
        ds = [a - b for p in complete for a, b in zip(exp.test_losses(SHARED, p), exp.test_losses(MMOE, p))]
        exp.trend = advantage_trend(ps, ds)
    return exp


def paired_diff(p: float, a: list[float], b: list[float]) -> PairedDiff:
    """Mean of a − b over paired runs with its 95 % t-interval and paired t-test."""
    from scipy import stats

    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    mean = float(d.mean())
    if len(d) < 2 or float(d.std(ddof=1)) == 0.0:
        return PairedDiff(p, len(d), mean, mean, mean, None)
    half = float(stats.t.ppf(0.975, len(d) - 1)) * float(d.std(ddof=1)) / math.sqrt(len(d))
    return PairedDiff(p, len(d), mean, mean - half, mean + half, float(stats.ttest_1samp(d, 0.0).pvalue))


def advantage_trend(ps: list[float], diffs: list[float]) -> tuple[float, float | None, float, float | None] | None:
    """Does MMoE's advantage (shared-bottom − MMoE, per run) grow as the correlation falls? Spearman's ρ of the
    per-run differences against p and the least-squares slope with its p-value (both < 0: it grows); None
    with fewer than 2 correlations or 3 runs."""
    from scipy import stats

    if len(set(ps)) < 2 or len(ps) < 3:
        return None
    rho, p_rho = stats.spearmanr(ps, diffs)
    fit = stats.linregress(ps, diffs)
    clean = lambda x: float(x) if math.isfinite(x) else None  # noqa: E731
    return float(rho), clean(p_rho), float(fit.slope), clean(fit.pvalue)
