"""The typed report: what ``build.build_report`` computes from the result files and every renderer reads."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..names import suite_slug
from .stats import NA, beats_flag, seesaw_flag

REFERENCE = "single_task"


@dataclass
class TaskResult:
    name: str
    metric: str
    higher_is_better: bool
    values: list[float]  # test metric per seed
    se: float  # test-set standard error (rms over seeds)
    boot: list[list[float]] | None = None  # [n_seeds][B] paired bootstrap replicates (protocol 2), else None

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def std(self) -> float | None:
        return float(np.std(self.values, ddof=1)) if self.n > 1 else None


@dataclass
class Comparison:
    task: str
    gain: float
    rel_gain: float
    se_test: float  # test-set standard error of the gain
    se_seeds: float | None  # standard error of the gain over seeds (Welch)
    p: float | None
    p_holm: float | None = None
    verdict: str = NA
    rule: str = "welch"  # "paired": two-level paired bootstrap (``paired``); "welch": Welch over seeds
    ci: tuple[float, float] | None = None  # 95 % interval of the gain (paired rule only)

    @property
    def se_total(self) -> float:
        """One standard error of the gain, seeds and test set combined (paired: half the 95 % interval / 1.96)."""
        if self.ci is not None:
            return (self.ci[1] - self.ci[0]) / (2 * 1.96)
        test = self.se_test if math.isfinite(self.se_test) else 0.0
        return math.sqrt((self.se_seeds or 0.0) ** 2 + test**2)


@dataclass
class ModelResult:
    model: str
    tasks: list[TaskResult]
    seeds: list[int]
    params_source: str  # the provenance label the records were selected under (``load.parse_source`` reads it)
    n_params: int
    flops: float
    train_seconds: float
    score: float  # mean test score over seeds (ranking)
    scores: list[float] = field(default_factory=list)  # test score per seed, in seed order
    params: str = ""  # the run parameters (canonical JSON): equal strings = the same configuration trained
    comparisons: list[Comparison] = field(default_factory=list)
    trials: str = "–"
    defaults_kept: bool = False  # tuned, and the trial(s) it ran are its study's reference trial (the defaults)
    derived: list[TaskResult] = field(default_factory=list)  # the suite's product metrics (e.g. CTCVR), protocol 2
    derived_comparisons: list[Comparison] = field(default_factory=list)  # their gains (Holm among themselves)
    rank_interval: tuple[float, float] | None = None  # 95 % bootstrap interval of its rank in the suite (seeds)

    @property
    def verdicts(self) -> list[str]:
        return [c.verdict for c in self.comparisons]

    @property
    def seesaw(self) -> str:
        return seesaw_flag(self.verdicts) if self.comparisons else "–"

    @property
    def beats(self) -> str:
        return beats_flag(self.verdicts) if self.comparisons else "–"


@dataclass
class SuiteResult:
    suite: str
    family: str
    version: str
    params: dict[str, Any]
    tasks: list[dict[str, Any]]
    models: list[ModelResult]
    is_sweep: bool

    @property
    def reference(self) -> ModelResult | None:
        return next((m for m in self.models if m.model == REFERENCE), None)

    @property
    def slug(self) -> str:
        return suite_slug(self.suite)


@dataclass
class Study:
    name: str
    model: str
    suite: str
    finished: int
    pruned: int
    budget: int | None
    values: list[tuple[int, float]]  # (trial number, objective) of completed trials
    params: list[tuple[dict[str, Any], float]]  # (params, objective) of completed trials
    direction: str  # "maximize" | "minimize"
    file: str
    seconds: float = 0.0  # wall time summed over the study's trials (one worker each)
    timed: int = 0  # trials with a recorded duration (any state), except those of killed workers
    untimed_dead: int = 0  # trials of killed workers: failed when a later worker noticed, so their duration is unknown
    pruner: str | None = None  # "hyperband", "halving", "median" or "none"
    param_budget_rule: str | None = None  # how the study's parameter budget was set (same rule for every model)
    reference_rule: str | None = None  # the reference trial (the model's defaults) every study gets on top
    reference: tuple[int, float | None] | None = None  # (trial number, objective) of the reference trial
    chosen: tuple[int, ...] = ()  # the trial(s) `run` takes: the best one, or each task's best (single_task)
    trained_epochs: int | None = None  # epochs (intermediate values) trained over all its trials, reference included
    pruned_values: list[tuple[int, float]] = field(default_factory=list)  # (trial number, last intermediate value) of pruned trials
    #: The loss weighting the study tuned with; the report compares architectures on static studies only.
    weighting: str = "static"
    protocol: int = 1  # the tuning rules' version (``tuning.rules.PROTOCOL``); studies that record none: 1
    pruning_rule: str | None = None  # the pruning rule in words, as the study recorded it (protocol 2)
    min_steps: int | None = None  # validations before the pruner may judge a trial (protocol 2)
    tuning_seed: int | None = None  # the training seed of every trial

    @property
    def kept_defaults(self) -> str:
        """Whether the run parameters are the reference's: "defaults", "search" or "mixed" (task-wise)."""
        if self.reference is None or not self.chosen:
            return "–"
        hits = sum(n == self.reference[0] for n in self.chosen)
        return "defaults" if hits == len(self.chosen) else "search" if hits == 0 else "mixed"


@dataclass
class Utilisation:
    suite: str
    model: str
    seed: int
    config: dict[str, Any]
    banks: dict[str, dict[str, Any]]  # name -> {title, level, rows, cols, mean, std}, in reading order
    file: str
    tasks: tuple[str, ...] = ()  # the suite's task names (a bank whose rows are these is a task-gate bank)

    @property
    def slug(self) -> str:
        return f"{suite_slug(self.suite)}__{self.model}"


@dataclass(frozen=True)
class ExperimentRun:
    """One (model, p, run) result of the MMoE synthetic experiment (``mtlbench.experiments.mmoe_synthetic``)."""

    model: str
    p: float
    run: int
    curve_every: int  # training steps per point of ``train_curve``
    train_curve: list[list[float]]  # [points][task] mean training loss over each ``curve_every`` steps
    test_mse: list[float]  # [task] at the best-validation epoch
    seconds: float
    commit: str = ""
    val_curve: list[list[float]] = field(default_factory=list)  # [epoch][task] validation MSE after each epoch
    steps_per_epoch: int = 0  # training steps per epoch (places the validation points on the step axis)

    @property
    def test_loss(self) -> float:
        """Test MSE averaged over the tasks (the paper's "average loss")."""
        return sum(self.test_mse) / len(self.test_mse)

    @property
    def final_train_loss(self) -> float:
        """The last point of the training-loss curve, averaged over the tasks."""
        last = self.train_curve[-1]
        return sum(last) / len(last)


@dataclass
class Report:
    profile: str
    suites: list[SuiteResult]
    records: list[dict[str, Any]]  # the compared records
    all_records: list[dict[str, Any]]
    notices: list[str]
    studies: list[Study]
    utilisation: list[Utilisation]
    default_suites: list[SuiteResult] | None = None  # default-params comparison when tuned runs exist
    default_records: list[dict[str, Any]] = field(default_factory=list)  # the default-parameter runs (one per seed)
    convergence: list[Any] = field(default_factory=list)  # ``convergence.SuiteConvergence`` per suite
    experiment: Any = None  # ``experiment.Experiment`` of the MMoE synthetic runs, or None
    curves: list[Any] = field(default_factory=list)  # ``curves.SuiteCurves`` of the compared runs, per suite
    weightings: list[Any] = field(default_factory=list)  # ``weighting.WeightingSuite`` per suite with non-static runs
    scope: str = "official"  # ``scope.Scope``: the leaderboard's registered suites, or the user's suites and --set runs
    reproductions: list[Any] = field(default_factory=list)  # ``reproductions.Reproduction`` of the report's records

    @property
    def withheld(self) -> set[str]:
        """Suites flagged under-trained: left out of the findings' conclusions and of the Friedman test."""
        return {c.suite for c in self.convergence if c.flagged}
