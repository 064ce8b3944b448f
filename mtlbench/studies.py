"""Where studies live and what readers without Optuna (the report) need to know about their exports.

A study is identified by ``provenance.StudyId`` (re-exported here): its ``name``
(``ple@synthetic[p=0.5]@standard``, ``…@standard+uw`` with a loss weighting, ``…@mo``) is the Optuna study name that provenance labels
(``study:<name>#<trial>``) embed, its ``slug`` (``ple@synthetic_p=0.5``) names its export
``<results>/<profile>/studies/<slug>.json`` and its journal ``<slug>.journal``. Optuna-free.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .provenance import StudyId
from .records import WORKER_DIED, profile_dir

#: User attribute set to True on a trial failed because its worker process was killed (``fail_dead_trials``).
WORKER_DIED_ATTR = "worker_died"

__all__ = ["StudyId", "WORKER_DIED_ATTR", "export_path", "journal_path", "studies_dir", "worker_died"]


def export_path(study: StudyId, results_dir: str | Path | None = None) -> Path:
    """``<results>/<profile>/studies/<slug>.json``."""
    return studies_dir(study.profile, results_dir) / f"{study.slug}.json"


def journal_path(study: StudyId, results_dir: str | Path | None = None) -> Path:
    """``<results>/<profile>/studies/<slug>.journal`` (the default storage; not committed)."""
    return studies_dir(study.profile, results_dir) / f"{study.slug}.journal"


def studies_dir(profile: str, results_dir: str | Path | None = None) -> Path:
    return profile_dir(profile, results_dir) / "studies"


def worker_died(trial: dict[str, Any]) -> bool:
    """Whether an exported trial (a ``trials`` entry of a study export) was failed because its worker was
    killed: the ``worker_died`` user attribute, or, in exports written before it existed, a ``fail_reason``
    ending with ``records.WORKER_DIED``. The one place that reads the old form."""
    attrs = trial.get("user_attrs") or {}
    return attrs.get(WORKER_DIED_ATTR) is True or str(attrs.get("fail_reason", "")).endswith(WORKER_DIED)
