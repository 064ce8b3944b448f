"""Helpers shared by the findings: looking up models and comparisons in a suite's results."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...scoring import score_replicates
from ..format import fnum
from ..paired import paired_gain
from ..schema import ModelResult, SuiteResult
from ..stats import test_score, welch_p
from ..uncertainty import rng_for


def _model(s: SuiteResult, name: str) -> ModelResult | None:
    return next((m for m in s.models if m.model == name), None)


def seed_scores(s: SuiteResult, m: ModelResult) -> list[float]:
    """The docs/protocol.md §2 test score of each seed of ``m``."""
    return [test_score(s.tasks, [t.values[i] for t in m.tasks]) for i in range(len(m.seeds))]


def _mean_std(m: ModelResult, k: int) -> str:
    t = m.tasks[k]
    return f"{t.mean:.4f} ± {fnum(t.std, 4)}"


def _comparison(m: ModelResult, task: str):
    return next((c for c in m.comparisons if c.task == task), None)


# ------------------------------------------------------------------ two models' difference in a statistic
#: How two models' per-seed statistics are compared: "paired" (two-level paired bootstrap over the test-set
#: replicates and the seeds, docs/protocol.md §5) where both carry test-set replicates, else "Welch" over seeds.
PAIRED, WELCH = "paired", "Welch"


def score_boot(tasks: list[dict], mats: list[np.ndarray]) -> np.ndarray:
    """The §2 score − mean_k log err_k of each (seed, replicate) from each task's [n_seeds, B] replicates."""
    return score_replicates([t["metric"] for t in tasks], mats)


def mean_boot(tasks: list[dict], mats: list[np.ndarray]) -> np.ndarray:
    """The tasks' mean metric of each (seed, replicate) (the MMoE paper's synthetic "average loss")."""
    return np.mean(mats, axis=0)


def model_boot(s: SuiteResult, m: ModelResult, combine: Callable[[list[dict], list[np.ndarray]], np.ndarray]) -> np.ndarray | None:
    """[n_seeds, B] replicates of a statistic of ``m``'s task metrics (``combine`` of each task's replicates);
    None when a task has none (records of protocol 1) or their shapes differ."""
    if any(t.boot is None for t in m.tasks):
        return None
    mats = [np.asarray(t.boot, dtype=float) for t in m.tasks]
    return combine(s.tasks, mats) if len({x.shape for x in mats}) == 1 else None


def difference_p(s: SuiteResult, a: ModelResult, b: ModelResult, a_seeds: list[float], b_seeds: list[float],
                 combine: Callable[[list[dict], list[np.ndarray]], np.ndarray], tag: str) -> tuple[float | None, str]:
    """Two-sided p of "mean(b) = mean(a)" for a per-seed statistic (``a_seeds``, ``b_seeds``; ``combine`` gives
    its test-set replicates) and the rule used: the paired bootstrap where both models carry replicates (the
    same test resamples: the shared test set is not counted twice), else Welch over seeds."""
    ra, rb = model_boot(s, a, combine), model_boot(s, b, combine)
    if ra is not None and rb is not None:
        pg = paired_gain(rb, ra, True, rng_for(s.suite, a.model, b.model, tag))
        if pg is not None:
            return pg.p, PAIRED
    return welch_p(a_seeds, b_seeds), WELCH
