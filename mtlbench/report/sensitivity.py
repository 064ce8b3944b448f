"""How much each task weighs in the score, and whether the ranking depends on it (pure functions).

The score of docs/protocol.md §2, ``− mean_k log err_k``, counts a *relative* error reduction the same on every
task: ``∂score/∂err_k = −1 / (K · err_k)``. A task near saturation (census never-married, err ≈ 0.005) thus
weighs ~10× more per unit of AUC than one at err ≈ 0.05, in early stopping, tuning and ranking alike. Per
suite, from the compared results:

* **weights**: per task, the score change caused by 0.001 of its metric at the suite's mean error;
* **robustness**: the suite's ranking by score against its ranking by the mean over tasks of the per-task
  rank (every task counts equally whatever its error level), as Kendall's τ and each order's best model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..scoring import task_error
from .schema import SuiteResult

#: The metric change the weights are stated for (0.001 AUC, or 0.001 MSE).
STEP = 1e-3


@dataclass(frozen=True)
class TaskWeight:
    task: str
    metric: str  # the task's metric ("auc", "mse")
    error: float  # mean over the suite's models of the model's mean test error (1 − AUC or MSE)
    per_step: float  # |Δscore| caused by a metric change of ``STEP`` at that error: STEP / (K · error)


@dataclass(frozen=True)
class SuiteSensitivity:
    suite: str
    weights: list[TaskWeight]
    models: list[str]
    by_score: list[float]  # rank by the mean test score (1 = best), per model
    by_task_ranks: list[float]  # rank by the mean over tasks of the per-task rank, per model
    tau: float | None  # Kendall's τ between the two rankings (None: fewer than 3 models or no spread)

    def ratio(self, w: TaskWeight) -> float | None:
        """``w``'s weight over the smallest weight among the suite's tasks of the same metric (None when it is
        the only task of its metric: weights of AUC and MSE are not in the same unit)."""
        same = [x.per_step for x in self.weights if x.metric == w.metric]
        return w.per_step / min(same) if len(same) > 1 and min(same) > 0 else None

    def best(self, ranks: list[float]) -> list[str]:
        top = min(ranks)
        return [m for m, r in zip(self.models, ranks) if r == top]


def sensitivity(s: SuiteResult) -> SuiteSensitivity | None:
    """The weights and the ranking check of one suite (None when no model has every task's metric)."""
    from scipy.stats import kendalltau, rankdata

    models = [m for m in s.models if m.tasks and all(math.isfinite(t.mean) for t in m.tasks) and math.isfinite(m.score)]
    if not models:
        return None
    k = len(s.tasks)
    weights = []
    for j, t in enumerate(s.tasks):
        metric = str(t["metric"])
        err = float(np.mean([task_error(metric, {metric: m.tasks[j].mean}) for m in models]))
        weights.append(TaskWeight(t["name"], metric, err, STEP / (k * err) if err > 0 else math.inf))
    by_score = rankdata([-m.score for m in models], method="average")
    # per task: rank of the model's mean test metric (best = 1), then the mean over tasks
    per_task = [rankdata([-m.tasks[j].mean if t["higher_is_better"] else m.tasks[j].mean for m in models],
                         method="average") for j, t in enumerate(s.tasks)]
    by_tasks = rankdata(np.mean(per_task, axis=0), method="average")
    tau = None
    if len(models) >= 3 and np.ptp(by_score) > 0 and np.ptp(by_tasks) > 0:
        tau = float(kendalltau(by_score, by_tasks).statistic)
    return SuiteSensitivity(s.suite, weights, [m.model for m in models], [float(x) for x in by_score],
                            [float(x) for x in by_tasks], tau)


def sensitivities(suites: list[SuiteResult]) -> list[SuiteSensitivity]:
    return [x for x in map(sensitivity, suites) if x is not None]
