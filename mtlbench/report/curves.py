"""Learning curves: each compared (suite, model)'s validation history over evaluations, mean and band over seeds."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .order import model_key, suite_key


@dataclass(frozen=True)
class Curve:
    """One series over evaluations 1..n: the mean over the seeds that reached each evaluation and the band
    mean ± one standard deviation (no band where a single seed did)."""

    mean: list[float]
    lo: list[float]
    hi: list[float]
    seeds: list[int]  # seeds that reached each evaluation (early stopping ends runs at different points)


@dataclass(frozen=True)
class ModelCurves:
    model: str
    score: Curve  # the docs/protocol.md §2 validation score
    tasks: list[Curve]  # each task's validation metric


@dataclass(frozen=True)
class SuiteCurves:
    suite: str
    tasks: list[dict[str, Any]]  # name, metric, higher_is_better
    models: list[ModelCurves]
    evals_per_epoch: int


def _curve(series: list[list[float | None]]) -> Curve:
    """``series``: per seed, the value at each evaluation (None: not measured)."""
    n = max((len(s) for s in series), default=0)
    mean, lo, hi, seeds = [], [], [], []
    for e in range(n):
        vals = np.asarray([s[e] for s in series if e < len(s) and s[e] is not None], dtype=float)
        vals = vals[np.isfinite(vals)]
        if not len(vals):
            break
        m, sd = float(vals.mean()), float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
        mean.append(m), lo.append(m - sd), hi.append(m + sd), seeds.append(len(vals))
    return Curve(mean, lo, hi, seeds)


def _value(v: Any, metric: str) -> float | None:
    if isinstance(v, dict):
        v = v.get(metric)
    return float(v) if isinstance(v, (int, float)) else None


def learning_curves(records: list[dict[str, Any]]) -> list[SuiteCurves]:
    """Per suite and model of ``records`` (the compared runs, one per seed), the validation score and each task's
    validation metric per evaluation, over seeds."""
    by: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in records:
        if r.get("history"):
            by.setdefault(r["suite"], {}).setdefault(r["model"], []).append(r)
    out = []
    for suite in sorted(by, key=suite_key):
        models = by[suite]
        first = next(iter(models.values()))[0]
        tasks = [{"name": t["name"], "metric": t["metric"], "higher_is_better": t["higher_is_better"]} for t in first["tasks"]]
        curves = []
        for model in sorted(models, key=model_key):
            rs = models[model]
            score = _curve([[h.get("val_score") for h in r["history"]] for r in rs])
            per_task = [_curve([[_value((h.get("val") or [None] * len(tasks))[k], t["metric"]) for h in r["history"]]
                                for r in rs]) for k, t in enumerate(tasks)]
            curves.append(ModelCurves(model, score, per_task))
        out.append(SuiteCurves(suite, tasks, curves, int(first.get("evals_per_epoch") or 1)))
    return out
