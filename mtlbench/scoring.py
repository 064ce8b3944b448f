"""The validation score of docs/protocol.md §2, torch-free: training selects epochs and trials with it and the
report ranks test results with it, so both import this one implementation."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

_EPS = 1e-12


def task_error(metric: str, metrics: Mapping[str, float]) -> float:
    """err_k = 1 − AUC (``metric == "auc"``) or MSE (regression)."""
    return 1.0 - metrics["auc"] if metric == "auc" else metrics["mse"]


def score(metric_names: Sequence[str], metrics: Sequence[Mapping[str, float]]) -> float:
    """Score = − mean_k log(err_k) over tasks (``metric_names[k]`` is task k's metric); higher is better;
    scale-free across AUC and MSE; NaN when any task has no metric value."""
    errs = [max(task_error(name, m), _EPS) for name, m in zip(metric_names, metrics)]
    if any(math.isnan(e) for e in errs):
        return float("nan")
    return -float(np.mean(np.log(errs)))


def score_replicates(metric_names: Sequence[str], replicates: Sequence[np.ndarray]) -> np.ndarray:
    """``score`` elementwise over arrays of the same shape (one per task, e.g. [seeds, bootstrap replicates]
    of its test metric): the same errors, floor and mean, for the report's paired statistics."""
    errs = [np.maximum(task_error(name, {name: np.asarray(x, dtype=float)}), _EPS)
            for name, x in zip(metric_names, replicates)]
    return -np.mean(np.log(errs), axis=0)
