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
