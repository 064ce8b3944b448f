"""Study identity and the facts about study exports that readers without Optuna need (the report).

A study is one Optuna study per (model, suite instance, profile[, multi-objective]); :class:`StudyId` forms
its name (``ple@synthetic[p=0.5]@standard``, ``…@mo``), which provenance labels
(``study:<name>#<trial>``) embed, and its file stem (``ple@synthetic_p=0.5``), which names its export
``<results>/<profile>/studies/<slug>.json`` and its journal ``<slug>.journal``. Optuna-free (the report imports it).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import MtlbenchError
from .records import WORKER_DIED, profile_dir

#: User attribute set to True on a trial failed because its worker process was killed (``fail_dead_trials``).
WORKER_DIED_ATTR = "worker_died"


@dataclass(frozen=True)
class StudyId:
    """Who a study is about. ``name`` is Optuna's study name, ``slug`` the file stem of its export/journal."""

    model: str
    suite: str  # suite instance name, e.g. "synthetic[p=0.5]"
    profile: str
    multi_objective: bool = False

    @property
    def name(self) -> str:
        return f"{self.model}@{self.suite}@{self.profile}" + ("@mo" if self.multi_objective else "")

    @property
    def slug(self) -> str:
        """File-name form: ``ple@synthetic_p=0.5`` (brackets, commas, slashes and spaces replaced; no profile:
        the folder is the profile's)."""
        s = f"{self.model}@{self.suite}"
        for old, new in (("[", "_"), ("]", ""), (",", "_"), ("/", "_"), (" ", "_")):
            s = s.replace(old, new)
        return s + ("@mo" if self.multi_objective else "")

    @classmethod
    def parse(cls, name: str) -> StudyId:
        """The inverse of ``name``: ``"ple@synthetic[p=0.5]@standard@mo"`` -> StudyId(..., multi_objective=True)."""
        parts = name.split("@")
        multi = len(parts) >= 4 and parts[-1] == "mo"
        if multi:
            parts = parts[:-1]
        if len(parts) < 3 or not all(parts):
            raise MtlbenchError(f"cannot read study name {name!r}; expected MODEL@SUITE@PROFILE[@mo].")
        return cls(parts[0], "@".join(parts[1:-1]), parts[-1], multi)

    def export_path(self, results_dir: str | Path | None = None) -> Path:
        return studies_dir(self.profile, results_dir) / f"{self.slug}.json"

    def journal_path(self, results_dir: str | Path | None = None) -> Path:
        return studies_dir(self.profile, results_dir) / f"{self.slug}.journal"


def studies_dir(profile: str, results_dir: str | Path | None = None) -> Path:
    return profile_dir(profile, results_dir) / "studies"


def worker_died(trial: dict[str, Any]) -> bool:
    """Whether an exported trial (a ``trials`` entry of a study export) was failed because its worker was
    killed: the ``worker_died`` user attribute, or, in exports written before it existed, a ``fail_reason``
    ending with ``records.WORKER_DIED``. The one place that reads the old form."""
    attrs = trial.get("user_attrs") or {}
    return attrs.get(WORKER_DIED_ATTR) is True or str(attrs.get("fail_reason", "")).endswith(WORKER_DIED)
