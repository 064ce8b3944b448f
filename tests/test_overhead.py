"""Per-run overhead cut without changing results: the numpy AUC and log loss equal sklearn's."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("decimals", [1, 3, 8])  # few decimals: many tied scores
def test_fast_binary_metrics_equal_sklearn(decimals):
    from sklearn.metrics import log_loss, roc_auc_score

    from mtlbench.data import TaskSpec
    from mtlbench.metrics import sigmoid, task_metrics

    rng = np.random.default_rng(decimals)
    for _ in range(20):
        n = int(rng.integers(2, 3000))
        pred = np.round(rng.normal(size=n) * rng.choice([1, 40]), decimals).astype(np.float32)  # logits, some saturated
        y = (rng.random(n) < rng.random()).astype(np.float32)
        if y.min() == y.max():
            continue
        got = task_metrics(TaskSpec("t", "binary"), pred, y)
        p = sigmoid(pred.astype(np.float64))
        assert got["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
        assert got["logloss"] == pytest.approx(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1]), abs=1e-12)
