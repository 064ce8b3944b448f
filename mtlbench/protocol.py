"""The evaluation protocol of one training run, shared by one-by-one (``train.fit``) and stacked-seed
(``multiseed.fit_seeds``) training: when to validate, how a checkpoint is selected, when a run diverged, and
how the result and its single test evaluation are built. See ``docs/protocol.md`` §2.

The rules, in one place:

- **Evaluation schedule.** Validation runs ``evals_per_epoch`` times per epoch, at evenly spaced step
  boundaries (the last one at the end of the epoch), so that selection chooses among many checkpoints even on
  suites whose models fit within one or two passes. Evaluation ``i`` (0-based) is the unit of patience and of
  the cap: a run stops after ``max_epochs · evals_per_epoch`` evaluations at most.
- **Selection.** A selection group (all tasks together; one group per task for ``independent_tasks`` models
  such as ``single_task``) keeps the checkpoint with the best validation score. A new score counts as better
  only if it exceeds the best by more than ``min_delta`` (ties and near-ties keep the earlier checkpoint).
  After ``patience`` evaluations without improvement the group is **frozen**: its chosen checkpoint never
  changes again. This holds for one task of ``single_task`` exactly as for a whole MTL model; a run ends when
  every group is frozen or at the cap.
- **Divergence.** A non-finite training loss ends a run with ``DivergedError``.
- **Test.** After selection the best weights are restored and the test split is evaluated once. Each task's
  metric also gets ``BOOT_REPLICATES`` bootstrap replicates over test samples drawn with the suite's fixed
  resampling (``paired_bootstrap``), the same for every model and seed of a suite: comparing two records
  replicate by replicate is a paired bootstrap of their difference.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from . import metrics as M
from .data import Split, SuiteData, TaskSpec
from .errors import DivergedError

#: Bootstrap replicates of every test metric, stored in the record (``test_boot``).
BOOT_REPLICATES = 200
#: Seed of the test-set resampling: fixed per suite (never the run's seed), so replicates are paired.
BOOT_SEED = 20_261_204


class _HasState(Protocol):
    def state_dict(self) -> dict[str, torch.Tensor]: ...


class Selection:
    """Early stopping of one group of tasks (see the module docstring)."""

    def __init__(self, tasks: list[int], patience: int, min_delta: float = 0.0):
        self.tasks, self.patience, self.min_delta = tasks, patience, min_delta
        self.best_score, self.best_eval, self.bad, self.state = -math.inf, -1, 0, None

    def update(self, index: int, score: float, model: _HasState) -> None:
        if self.done:  # frozen: patience expired, the chosen checkpoint is final
            return
        if score > self.best_score + self.min_delta or (self.state is None and math.isfinite(score)):
            self.best_score, self.best_eval, self.bad = score, index, 0
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.bad += 1

    @property
    def done(self) -> bool:
        return self.bad >= self.patience

    def snapshot(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def restore(self, snap: dict[str, Any]) -> None:
        if "best_epoch" in snap:  # a checkpoint written before evaluations replaced epochs
            snap = {**snap, "best_eval": snap.pop("best_epoch")}
        snap.setdefault("min_delta", self.min_delta)
        self.__dict__.update(snap)


def eval_steps(steps_per_epoch: int, evals_per_epoch: int) -> list[int]:
    """0-based step indices within an epoch after which validation runs: evenly spaced, last = epoch end."""
    n = max(1, min(evals_per_epoch, steps_per_epoch))
    return sorted({max(0, round(steps_per_epoch * (i + 1) / n) - 1) for i in range(n)})


@dataclass
class FitResult:
    history: list[dict[str, Any]]  # per evaluation: eval, epoch, step, samples, train_loss(es), val_score, val
    best_evals: list[int]  # per selection group: index of the chosen evaluation in ``history``
    val_metrics: list[dict[str, float]]  # per task, at its chosen evaluation
    val_score: float
    test_metrics: list[dict[str, float]] = field(default_factory=list)
    test_se: list[float] = field(default_factory=list)  # bootstrap standard error of each task's metric
    test_boot: list[list[float]] = field(default_factory=list)  # per task: paired bootstrap replicates
    test_derived: list[dict[str, Any]] = field(default_factory=list)  # suite's ProductMetrics: name, metric, value, se, boot
    train_seconds: float = 0.0
    samples_per_second: float = 0.0
    evals_run: int = 0
    max_evals: int = 0
    evals_per_epoch: int = 1
    curve: dict[str, Any] = field(default_factory=dict)  # optional per-step training-loss curve
    test_pred: np.ndarray | None = field(default=None, repr=False)  # [N_test, K] outputs; kept in memory only

    @property
    def best_epochs(self) -> list[int]:
        """The chosen evaluation(s) as indices into ``history`` (the record field keeps this name)."""
        return self.best_evals

    @property
    def epochs_run(self) -> int:
        return (self.history[-1]["epoch"] + 1) if self.history else 0


class SeedRun:
    """One seed's protocol state: selection groups, evaluation history, optional step curve."""

    def __init__(self, tasks: tuple[TaskSpec, ...] | list[TaskSpec], independent: bool, patience: int,
                 min_delta: float, max_evals: int, evals_per_epoch: int):
        K = len(tasks)
        self.tasks = list(tasks)
        self.groups = ([Selection([k], patience, min_delta) for k in range(K)] if independent
                       else [Selection(list(range(K)), patience, min_delta)])
        self.history: list[dict[str, Any]] = []
        self.max_evals, self.evals_per_epoch = max_evals, evals_per_epoch
        self.train_seconds, self.samples = 0.0, 0
        self.curve: list[list[float]] = []

    @property
    def done(self) -> bool:
        return all(g.done for g in self.groups) or len(self.history) >= self.max_evals

    @staticmethod
    def check_finite(train_losses: list[float], epoch: int) -> None:
        """Divergence: a non-finite mean training loss since the last evaluation (checked before validating)."""
        for loss in train_losses:
            if not math.isfinite(loss):
                raise DivergedError(f"non-finite training loss ({loss}) in epoch {epoch}; lower the learning rate")

    def evaluate(self, epoch: int, step: int, train_losses: list[float], val_metrics: list[dict[str, float]],
                 model: _HasState) -> float:
        """Record one evaluation (after ``step`` optimizer steps in ``epoch``) and update selection."""
        self.check_finite(train_losses, epoch)
        index = len(self.history)
        overall = M.score(self.tasks, val_metrics)
        for g in self.groups:
            g.update(index, M.score([self.tasks[k] for k in g.tasks], [val_metrics[k] for k in g.tasks]), model)
        self.history.append({
            "eval": index, "epoch": epoch, "step": step, "samples": self.samples,
            "train_loss": float(sum(train_losses)), "train_losses": [float(x) for x in train_losses],
            "val_score": overall, "val": val_metrics,
        })
        return overall

    def snapshot(self) -> dict[str, Any]:
        return {"groups": [g.snapshot() for g in self.groups], "history": self.history, "train_seconds": self.train_seconds,
                "samples": self.samples, "curve": self.curve}

    def restore(self, snap: dict[str, Any]) -> None:
        for g, s in zip(self.groups, snap["groups"]):
            g.restore(dict(s))
        self.history, self.train_seconds, self.samples = snap["history"], snap["train_seconds"], snap["samples"]
        self.curve = snap.get("curve", [])

    def chosen_state(self) -> dict[str, torch.Tensor]:
        """The selected weights: the group's best state, or per task for independent tasks (every parameter
        has a leading task axis, possibly flattened into the first dim as [K·n, ...])."""
        if any(g.state is None for g in self.groups):
            raise DivergedError("no evaluation produced a finite validation score")
        if len(self.groups) == 1:
            return self.groups[0].state
        K = len(self.groups)
        first = self.groups[0].state
        return {
            name: (torch.stack([g.state[name].unflatten(0, (K, -1))[g.tasks[0]] for g in self.groups]).flatten(0, 1)
                   if value.dim() > 0 else value)
            for name, value in first.items()
        }

    def result(self, curve_every: int | None = None) -> FitResult:
        chosen: list[Any] = [None] * len(self.tasks)
        for g in self.groups:
            for k in g.tasks:
                chosen[k] = self.history[g.best_eval]["val"][k]
        return FitResult(
            history=self.history,
            best_evals=[g.best_eval for g in self.groups],
            val_metrics=chosen,
            val_score=M.score(self.tasks, chosen),
            train_seconds=self.train_seconds,
            samples_per_second=self.samples / self.train_seconds if self.train_seconds > 0 else 0.0,
            evals_run=len(self.history),
            max_evals=self.max_evals,
            evals_per_epoch=self.evals_per_epoch,
            curve={"every_steps": curve_every, "loss": self.curve} if curve_every else {},
        )


def evaluate_test_split(result: FitResult, data: SuiteData, pred: np.ndarray, split: Split) -> FitResult:
    """Fill ``result``'s test metrics, standard errors and paired bootstrap replicates from the test
    predictions ``pred`` [N, K] of the selected model (the one touch of the test split)."""
    y, mask = split.y.cpu().numpy(), split.mask.cpu().numpy()
    result.test_pred = pred
    result.test_metrics = M.evaluate(data.tasks, pred, y, mask)
    result.test_boot, result.test_se = [], []
    for k, t in enumerate(data.tasks):
        reps = M.paired_bootstrap(t, pred[mask[:, k], k], y[mask[:, k], k], BOOT_REPLICATES, BOOT_SEED + k)
        result.test_boot.append([float(f"{r:.7g}") for r in reps])
        result.test_se.append(_se(reps))
    result.test_derived = []
    for j, d in enumerate(getattr(data, "derived", ())):
        p = np.prod([M.sigmoid(pred[:, k].astype(np.float64)) for k in d.tasks], axis=0)  # [N] probability
        label = np.prod([np.where(mask[:, k], y[:, k], 0.0) for k in d.tasks], axis=0)
        spec = TaskSpec(d.name, "binary", d.metric)
        reps = M.paired_bootstrap(spec, M.logit(p), label, BOOT_REPLICATES, BOOT_SEED + 1000 + j)
        result.test_derived.append({"name": d.name, "metric": d.metric, "tasks": list(d.tasks),
                                    "value": M.task_metrics(spec, M.logit(p), label)[d.metric], "se": _se(reps),
                                    "boot": [float(f"{r:.7g}") for r in reps]})
    return result


def _se(reps: list[float]) -> float:
    finite = [r for r in reps if math.isfinite(r)]
    return float(np.std(finite, ddof=1)) if len(finite) > 1 else float("nan")
