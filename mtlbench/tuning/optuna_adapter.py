"""The one place that uses Optuna's private API, for what its public API cannot do.

Optuna lets only the process that runs a trial set its user attributes (``Trial.set_user_attr``); a worker
that finds another worker's trial orphaned (its process was killed) must mark it. Everything here is
checked by ``tests/test_tuning.py::test_optuna_adapter_still_matches_optuna``, which fails if Optuna
changes underneath.
"""
from __future__ import annotations

from typing import Any

import optuna


def set_trial_user_attr(study: optuna.Study, number: int, key: str, value: Any) -> None:
    """Set a user attribute of trial ``number`` of ``study``, whichever process runs it.
    Raises ``optuna.exceptions.UpdateFinishedTrialError`` (a RuntimeError) when the trial has finished."""
    storage = study._storage  # noqa: SLF001 - no public equivalent
    trial_id = storage.get_trial_id_from_study_id_trial_number(study._study_id, number)  # noqa: SLF001
    storage.set_trial_user_attr(trial_id, key, value)
