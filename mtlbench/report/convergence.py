"""Did the runs converge under their training protocol? Per suite, from the records (pure functions).

* **protocol**: records with ``evals_run`` were trained under the evaluation protocol 2 (``evals_per_epoch``
  validations per epoch, patience and cap counted in evaluations, docs/protocol.md §2); records without it
  under protocol 1 (one validation per epoch, ``best_epochs`` = epoch indices).
* **capped**: the run stopped at its cap (``evals_run == max_evals``; protocol 1: ``epochs_run == max_epochs``).
* **late**: a chosen evaluation (any selection group) lies within the last ``patience`` evaluations of the run,
  so validation was still improving when training stopped.
* a suite is **flagged** ("under-trained: conclusions withheld") when either share exceeds ``FLAG_SHARE``.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from .order import suite_key
from .select import run_identity

#: A suite is flagged when more than this share of its runs is capped or chose a late checkpoint.
FLAG_SHARE = 0.05


@dataclass(frozen=True)
class RunProtocol:
    """What one record says about how it was trained and where it stopped."""

    protocol: int  # 1 (one validation per epoch) or 2 (evaluation protocol, ``evals_run`` recorded)
    evals_per_epoch: int
    patience: int  # in evaluations
    max_epochs: int
    min_delta: float
    evals_run: int
    max_evals: int
    chosen: tuple[int, ...]  # chosen evaluation per selection group (indices into the run's evaluations)

    @property
    def capped(self) -> bool:
        return self.evals_run >= self.max_evals > 0

    @property
    def late(self) -> bool:
        return any(b >= self.evals_run - self.patience for b in self.chosen)

    @property
    def chosen_epochs(self) -> list[float]:
        """The chosen evaluation(s) as epochs of training (evaluation b ends epoch (b + 1) / evals_per_epoch)."""
        return [(b + 1) / self.evals_per_epoch for b in self.chosen]

    @property
    def schedule(self) -> str:
        if self.protocol == 1:
            return (f"protocol 1: one validation per epoch, patience {self.patience} epochs, cap {self.max_epochs} "
                    "epochs")
        every = "one validation per epoch" if self.evals_per_epoch == 1 else f"{self.evals_per_epoch} validations per epoch"
        return (f"protocol 2: {every}, patience {self.patience} evaluations, cap {self.max_epochs} epochs "
                f"({self.max_evals} evaluations), min_delta {self.min_delta:g}")


def run_protocol(r: dict[str, Any]) -> RunProtocol:
    """Read one record (either protocol)."""
    train = (r.get("params") or {}).get("train") or {}
    patience, max_epochs = int(train.get("patience", 0)), int(train.get("max_epochs", 0))
    chosen = tuple(int(b) for b in r.get("best_epochs") or [])
    if r.get("evals_run") is None:
        epochs = int(r.get("epochs_run") or 0)
        return RunProtocol(1, 1, patience, max_epochs, 0.0, epochs, max_epochs, chosen)
    per_epoch = int(r.get("evals_per_epoch") or train.get("evals_per_epoch") or 1)
    return RunProtocol(2, per_epoch, patience, max_epochs, float(train.get("min_delta", 0.0) or 0.0),
                       int(r["evals_run"]), int(r.get("max_evals") or max_epochs * per_epoch), chosen)


@dataclass(frozen=True)
class SuiteConvergence:
    suite: str
    runs: int
    capped: int
    late: int
    chosen_epochs: list[float]  # every selection group's chosen evaluation, in epochs
    schedules: list[str]  # distinct ``RunProtocol.schedule`` texts, sorted
    protocols: tuple[int, ...]  # the protocols of the suite's runs, distinct, sorted

    @property
    def flagged(self) -> bool:
        return self.runs > 0 and max(self.capped, self.late) > FLAG_SHARE * self.runs

    @property
    def checkpoints(self) -> int:
        return len(set(self.chosen_epochs))

    def epochs_summary(self) -> tuple[float, float, float]:
        """(min, median, max) chosen epoch."""
        x = np.asarray(self.chosen_epochs, dtype=float)
        return float(x.min()), float(np.median(x)), float(x.max())


def convergence(records: list[dict[str, Any]]) -> list[SuiteConvergence]:
    """Per suite (in suite order), the convergence of its runs (each record key counted once)."""
    by_suite: dict[str, dict[str, RunProtocol]] = defaultdict(dict)
    for r in records:
        by_suite[r["suite"]][run_identity(r)] = run_protocol(r)
    out = []
    for suite in sorted(by_suite, key=suite_key):
        runs = list(by_suite[suite].values())
        out.append(SuiteConvergence(
            suite, len(runs), sum(x.capped for x in runs), sum(x.late for x in runs),
            sorted(e for x in runs for e in x.chosen_epochs), sorted({x.schedule for x in runs}),
            tuple(sorted({x.protocol for x in runs}))))
    return out
