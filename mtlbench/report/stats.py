"""The report's statistics (docs/protocol.md §5), pure functions of numbers.

* gain = M − S for a higher-is-better metric (AUC), S − M for a lower-is-better one (MSE): the PLE
  paper's "MTL gain"; positive = better than single-task. Relative gain = gain / |S| in percent.
* significance: Welch's t-test over seeds (two-sided; seeds of different models are not paired),
  Holm-corrected over every (model, task) comparison of the suite, α = 0.05. Fewer than 2 seeds on
  either side, or no spread on both sides with different means, leaves nothing to test: "n/a".
* seesaw: significantly better on ≥ 1 task and significantly worse on ≥ 1 other; beats single-task:
  no task significantly worse and ≥ 1 significantly better.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..scoring import score

ALPHA = 0.05
BETTER, WORSE, NS, NA = "better", "worse", "n.s.", "n/a"
MARK = {BETTER: "▲", WORSE: "▼", NS: "n.s.", NA: "n/a"}


def gain(model_value: float, reference_value: float, higher_is_better: bool) -> float:
    """MTL gain over single-task: M − S (higher is better) or S − M (lower is better); > 0 = better."""
    return model_value - reference_value if higher_is_better else reference_value - model_value


def relative_gain(g: float, reference_value: float) -> float:
    """Gain in percent of the single-task value."""
    return 100.0 * g / abs(reference_value) if reference_value else float("nan")


def welch_p(a: list[float], b: list[float]) -> float | None:
    """Two-sided Welch's t-test p-value of mean(a) vs mean(b); None when no test is possible
    (fewer than 2 values on a side, or zero spread on both sides with different means)."""
    from scipy import stats

    a, b = [float(x) for x in a], [float(x) for x in b]
    if len(a) < 2 or len(b) < 2:
        return None
    if np.var(a) == 0 and np.var(b) == 0:
        return 1.0 if np.mean(a) == np.mean(b) else None  # identical runs: a tie; else undefined
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return p if math.isfinite(p) else None


def holm(pvalues: list[float | None]) -> list[float | None]:
    """Holm–Bonferroni adjusted p-values (None entries are not tests and are passed through)."""
    idx = [i for i, p in enumerate(pvalues) if p is not None]
    order = sorted(idx, key=lambda i: (pvalues[i], i))
    m, running = len(order), 0.0
    out: list[float | None] = [None] * len(pvalues)
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def verdict(g: float, p_adjusted: float | None, alpha: float = ALPHA) -> str:
    """BETTER / WORSE when the adjusted p is below ``alpha`` and the gain is not 0; NS otherwise; NA: no test."""
    if p_adjusted is None:
        return NA
    if p_adjusted < alpha and g != 0:
        return BETTER if g > 0 else WORSE
    return NS


def seesaw_flag(verdicts: list[str]) -> str:
    """"yes" when significantly better on ≥ 1 task and significantly worse on ≥ 1 other; "n/a" when
    an untestable task leaves it open."""
    if BETTER in verdicts and WORSE in verdicts:
        return "yes"
    return "n/a" if NA in verdicts else "no"


def beats_flag(verdicts: list[str]) -> str:
    """"yes" when no task is significantly worse and ≥ 1 is significantly better."""
    if WORSE in verdicts:
        return "no"
    if NA in verdicts:
        return "n/a"
    return "yes" if BETTER in verdicts else "no"


def test_score(tasks: list[dict[str, Any]], metrics: list[float]) -> float:
    """docs/protocol.md §2's score (``mtlbench.scoring.score``, the one training selects with) on test metrics:
    − mean_k log(err_k), err = 1 − AUC or MSE (higher is better)."""
    return score([t["metric"] for t in tasks], [{t["metric"]: v} for t, v in zip(tasks, metrics)])


def rms(xs: list[float]) -> float:
    """Root mean square of the finite values (NaN when there are none)."""
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    return float(math.sqrt(np.mean(np.square(xs)))) if xs else float("nan")


def trend(xs: list[float], ys: list[float]) -> tuple[float, float | None]:
    """Kendall's τ of ys against xs and its two-sided p: exact when there are no ties (the asymptotic p is far
    too small for a handful of sweep points), asymptotic otherwise; (nan, None) when ys are constant."""
    from scipy.stats import kendalltau

    if len(xs) < 3 or len(set(ys)) < 2:
        return float("nan"), None
    exact = len(set(xs)) == len(xs) and len(set(ys)) == len(ys)
    tau, p = kendalltau(xs, ys, method="exact" if exact else "asymptotic")
    return float(tau), (float(p) if math.isfinite(p) else None)
