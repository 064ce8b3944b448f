"""Helpers shared by the findings: looking up models and comparisons in a suite's results."""
from __future__ import annotations

from ..format import fnum
from ..schema import ModelResult, SuiteResult
from ..stats import test_score


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
