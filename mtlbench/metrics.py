"""Per-task metrics on δ=1 samples, and the validation score of docs/protocol.md §2."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from . import scoring
from .data import TaskSpec



def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


def logit(p: np.ndarray) -> np.ndarray:
    """Inverse of ``sigmoid`` (probabilities clipped to (1e-15, 1 − 1e-15)): metrics take logits."""
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return np.log(p) - np.log1p(-p)



def task_metrics(task: TaskSpec, pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Metrics of one task on its δ=1 samples; ``pred`` is a logit (binary) or a value (regression).

    AUC and log loss are sklearn's ``roc_auc_score`` and ``log_loss`` (probabilities clipped to
    [1e-7, 1 − 1e-7]) computed directly in numpy: the same values up to float rounding, without sklearn's
    input validation, which cost more than the metrics themselves on every validation of a quick run."""
    if task.kind == "binary":
        p = sigmoid(pred.astype(np.float64))
        y = y.astype(np.float64)
        if len(y) == 0 or y.min() == y.max():
            return {"auc": float("nan"), "logloss": float("nan")}
        order = np.argsort(p, kind="mergesort")
        p_sorted = p[order]
        starts = np.flatnonzero(np.r_[True, p_sorted[1:] != p_sorted[:-1]])
        q = np.clip(p, 1e-7, 1 - 1e-7)
        logloss = -float(np.mean(y * np.log(q) + (1.0 - y) * np.log1p(-q)))
        return {"auc": _weighted_auc(p_sorted, y[order], starts, np.ones_like(p)), "logloss": logloss}
    return {"mse": float(np.mean((pred.astype(np.float64) - y) ** 2))}


def task_error(task: TaskSpec, metrics: dict[str, float]) -> float:
    """err_k = 1 − AUC (binary) or MSE (regression)."""
    return scoring.task_error(task.metric, metrics)


def score(tasks: Sequence[TaskSpec], metrics: Sequence[dict[str, float]]) -> float:
    """Validation score = − mean_k log(err_k); higher is better (``mtlbench.scoring.score``, shared with the report)."""
    return scoring.score([t.metric for t in tasks], metrics)


def evaluate(tasks: Sequence[TaskSpec], pred: np.ndarray, y: np.ndarray, mask: np.ndarray) -> list[dict[str, float]]:
    """pred, y [N, K]; mask [N, K] bool -> one metrics dict per task (δ=1 samples only)."""
    return [task_metrics(t, pred[mask[:, k], k], y[mask[:, k], k]) for k, t in enumerate(tasks)]


def bootstrap_se(task: TaskSpec, pred: np.ndarray, y: np.ndarray, n_boot: int = 100, seed: int = 0) -> float:
    """Standard error of the task's metric over test samples (bootstrap): test-set uncertainty,
    as opposed to the seed spread, which only captures training noise."""
    rng = np.random.default_rng(seed)
    n = len(y)
    vals = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        m = task_metrics(task, pred[idx], y[idx])[task.metric]
        if not math.isnan(m):
            vals.append(m)
    return float(np.std(vals, ddof=1)) if len(vals) > 1 else float("nan")


def _weighted_auc(p_sorted: np.ndarray, y_sorted: np.ndarray, starts: np.ndarray, w: np.ndarray) -> float:
    """AUC of scores sorted ascending (tie groups start at ``starts``) with sample weights ``w`` (the count of
    each sample in a bootstrap resample): P(score of a positive > score of a negative), ties counted 1/2."""
    pos = np.add.reduceat(w * y_sorted, starts)  # positive weight per tie group
    neg = np.add.reduceat(w * (1.0 - y_sorted), starts)
    below = np.cumsum(neg) - neg  # negative weight strictly below each group
    total = pos.sum() * neg.sum()
    return float((pos * (below + 0.5 * neg)).sum() / total) if total > 0 else float("nan")


def paired_bootstrap(task: TaskSpec, pred: np.ndarray, y: np.ndarray, n_boot: int, seed: int) -> list[float]:
    """``n_boot`` bootstrap replicates of the task's metric over the samples, with resampling drawn from
    ``seed`` alone: two models scored on the same samples with the same seed get the same resamples, so the
    replicate-wise difference of their metrics is a paired bootstrap of the difference.

    Each replicate is the metric on the multiset of samples ``rng.integers(0, n, n)`` (as weights, so AUC is
    one pass over the predictions sorted once)."""
    rng = np.random.default_rng(seed)
    n = len(y)
    if n == 0:
        return [float("nan")] * n_boot
    y = y.astype(np.float64)
    if task.metric == "auc":
        p = sigmoid(pred.astype(np.float64))
        order = np.argsort(p, kind="mergesort")
        p_sorted, y_sorted = p[order], y[order]
        starts = np.flatnonzero(np.r_[True, p_sorted[1:] != p_sorted[:-1]])
    else:
        sq = (pred.astype(np.float64) - y) ** 2
    out = []
    for _ in range(n_boot):
        w = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        out.append(_weighted_auc(p_sorted, y_sorted, starts, w[order]) if task.metric == "auc" else float(w @ sq / n))
    return out
