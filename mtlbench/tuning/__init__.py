"""`mtlbench tune`: Optuna tuning with an equal budget per model (docs/protocol.md §2; issues 6, 22).

One study per (model, suite instance, profile, loss weighting) (``mtlbench.studies.StudyId``). Modules, one concern each:

* ``rules``: the tuning protocol every study gets alike (trial budget, reference trial, pruning rule,
  tuning seed, max/min validations);
* ``space``: the core search space + the model's own + a loss weighting's own (``sample_params``);
* ``budget``: the parameter budget of a suite;
* ``storage``: ``--storage`` values, journal/RDB storages, drivers, retries;
* ``workers``: worker liveness, failing killed workers' trials, waiting for other workers;
* ``loop``: ``tune``, opening/continuing a study and its trial loop;
* ``summary``: the JSON export (everything needed to rebuild the study) and ``restore_study``;
* ``resolve``: which study parameters ``mtlbench run`` takes (``StudyParams``);
* ``optuna_adapter``: the only use of Optuna's private API.
"""
from __future__ import annotations

from ..studies import StudyId, studies_dir
from .budget import BUDGET_FACTOR, BUDGET_RULE, dense_params, param_budget
from .loop import TrialEvent, open_study, tune
from .resolve import StudyParams, nearest_sweep_summary
from .rules import (DEFAULT_TRIALS, OBJECTIVE, PROTOCOL, PRUNERS, PRUNING_RULE, REFERENCE, REFERENCE_RULE, TUNING_SEED,
                    counted, ensure_reference, make_pruner, max_steps, min_steps, reference_trials)
from .space import core_space, sample_params
from .storage import _redact, _with_driver  # noqa: F401 - for tests/test_postgres.py
from .storage import HEARTBEAT_SECONDS, StorageKind, check_storage_url, open_storage, storage_kind
from .summary import SCHEMA, export_study, load_study_summary, restore_study, summarize_study
from .workers import _proc_start, _worker  # noqa: F401 - for tests/test_tuning.py
from .workers import fail_dead_trials, running_trials, wait_for_other_workers

#: Former private names, kept for callers of the single-module version.
_counted = counted
_reference_trials = reference_trials


def study_name(model: str, suite: str, profile: str, multi_objective: bool = False, weighting: str = "static") -> str:
    return StudyId(model, suite, profile, multi_objective, weighting).name


def study_slug(model: str, suite: str, multi_objective: bool = False, weighting: str = "static") -> str:
    """File stem of (model, suite[, weighting]) studies, in every profile's folder (``StudyId.slug``)."""
    return StudyId(model, suite, "", multi_objective, weighting).slug


__all__ = [
    "BUDGET_FACTOR", "BUDGET_RULE", "DEFAULT_TRIALS", "HEARTBEAT_SECONDS", "OBJECTIVE", "PROTOCOL", "PRUNERS", "PRUNING_RULE",
    "REFERENCE", "REFERENCE_RULE", "SCHEMA", "StorageKind", "StudyId", "StudyParams", "TUNING_SEED", "TrialEvent",
    "check_storage_url", "core_space", "counted", "dense_params", "ensure_reference", "export_study", "fail_dead_trials",
    "load_study_summary", "make_pruner", "max_steps", "min_steps", "nearest_sweep_summary", "open_storage", "open_study",
    "param_budget", "reference_trials", "restore_study", "running_trials", "sample_params", "studies_dir", "study_name",
    "study_slug", "summarize_study", "storage_kind", "tune", "wait_for_other_workers",
]
