"""Where studies live and what readers without Optuna (the report) need to know about their exports.

A study is identified by ``provenance.StudyId`` (re-exported here): its ``name``
(``ple@synthetic[p=0.5]@standard``, ``…@standard+uw`` with a loss weighting, ``…@mo``) is the Optuna study name that provenance labels
(``study:<name>#<trial>``) embed, its ``slug`` (``ple@synthetic_p_0.5``) names its export
``<results>/<profile>/studies/<slug>.json`` and its journal ``<slug>.journal``. Optuna-free.

Folders written before study files used ``names.suite_slug`` name them by ``former_slug``
(``ple@synthetic_p=0.5``); ``study_stem`` still finds them there, and ``mtlbench.migrations.study_slugs``
renames them.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from .names import suite_slug
from .provenance import StudyId
from .records import WORKER_DIED, profile_dir

#: User attribute set to True on a trial failed because its worker process was killed (``fail_dead_trials``).
WORKER_DIED_ATTR = "worker_died"

#: The suffixes of the files named by a study's stem: its export and its journal.
STUDY_SUFFIXES = (".json", ".journal")

__all__ = ["STUDY_SUFFIXES", "StudyId", "WORKER_DIED_ATTR", "export_path", "former_slug", "journal_path",
           "studies_dir", "study_stem", "worker_died"]


def export_path(study: StudyId, results_dir: str | Path | None = None) -> Path:
    """``<results>/<profile>/studies/<stem>.json`` (``study_stem``: the slug, or the former one in an old folder)."""
    folder = studies_dir(study.profile, results_dir)
    return folder / f"{study_stem(study, folder)}.json"


def journal_path(study: StudyId, results_dir: str | Path | None = None) -> Path:
    """``<results>/<profile>/studies/<stem>.journal`` (the default storage; not committed)."""
    folder = studies_dir(study.profile, results_dir)
    return folder / f"{study_stem(study, folder)}.journal"


def former_slug(study: StudyId) -> str:
    """The file stem ``study`` had before study files used ``names.suite_slug`` (``ple@synthetic_p=0.5``):
    ``study.slug`` with its suite part written by the former rule (brackets, commas, slashes and spaces
    replaced, ``=`` kept). Equal to ``study.slug`` for a suite name without those characters."""
    head = f"{study.model}@{suite_slug(study.suite)}"
    if not study.slug.startswith(head):
        return study.slug
    suite = study.suite
    for old, new in (("[", "_"), ("]", ""), (",", "_"), ("/", "_"), (" ", "_")):
        suite = suite.replace(old, new)
    return f"{study.model}@{suite}" + study.slug[len(head):]


def study_stem(study: StudyId, folder: Path) -> str:
    """The stem of ``study``'s files in ``folder``: ``study.slug``, unless only files named by its
    ``former_slug`` are there (a folder not migrated yet): then that, with a one-line warning naming the migration."""
    new, old = study.slug, former_slug(study)
    if old == new or _named(folder, new) or not _named(folder, old):
        return new
    warnings.warn(f"{folder} holds study {study.name} under its former file name {old!r}; rename its files with "
                  f"`python -m mtlbench.migrations.study_slugs {folder}`", stacklevel=2)
    return old


def _named(folder: Path, stem: str) -> bool:
    return any((folder / f"{stem}{suffix}").exists() for suffix in STUDY_SUFFIXES)


def studies_dir(profile: str, results_dir: str | Path | None = None) -> Path:
    return profile_dir(profile, results_dir) / "studies"


def worker_died(trial: dict[str, Any]) -> bool:
    """Whether an exported trial (a ``trials`` entry of a study export) was failed because its worker was
    killed: the ``worker_died`` user attribute, or, in exports written before it existed, a ``fail_reason``
    ending with ``records.WORKER_DIED``. The one place that reads the old form."""
    attrs = trial.get("user_attrs") or {}
    return attrs.get(WORKER_DIED_ATTR) is True or str(attrs.get("fail_reason", "")).endswith(WORKER_DIED)
