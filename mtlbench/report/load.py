"""Reading a profile's result files into plain typed data (no torch, no optuna).

The only place that reads records, study exports and utilisation exports, that parses provenance
labels (``parse_source``) and that turns a record into the (label → record) views the report selects
from (``record_views``). Formats are read leniently: the writers (``mtlbench.records``, the tuning
exports, ``mtlbench.utilisation``) own them.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..fsio import finished
from ..errors import MtlbenchError
from ..metadata import INDEPENDENT_TASK_MODELS
from ..provenance import STATIC_WEIGHTING, ParamsSource, StudyId
from ..records import WORKER_DIED, load_records, profile_dir
from .order import model_key, suite_key
from .schema import ExperimentRun, Study, Utilisation

__all__ = ["SourceInfo", "parse_source", "is_tuned", "source_label", "study_suite", "record_views", "load_records",
           "load_studies", "chosen_trials", "load_utilisation", "order_banks", "utilisation_dir", "studies_dir",
           "load_experiment", "EXPERIMENT"]


# ====================================================================== provenance labels
@dataclass(frozen=True)
class SourceInfo:
    """What the report reads from a provenance label (``params_source``) such as ``default``,
    ``study:<model>@<suite>@<profile>[@mo]#3`` (trial 3), ``…#t3,t7`` (task-wise trials) or ``file:…``."""

    text: str
    tuned: bool  # anything but "default"
    study: str  # the study name (the label without "study:" and without "#…")
    study_suite: str | None  # the suite a "study:" label was tuned on
    trials: tuple[int, ...]  # the trial number(s) after "#"
    label: str  # how tables name it: "default", "tuned (<study>#<trials>)" or the label itself


@lru_cache(maxsize=None)
def parse_source(text: str) -> SourceInfo:
    """The one reading of a provenance label in the report: ``ParamsSource.parse`` (the label's one parser),
    and the label's text itself for a label it cannot read (shown as it is, counted as tuned)."""
    label = "default" if text == "default" else "tuned (" + text.removeprefix("study:") + ")" if text.startswith("study:") else text
    try:
        src = ParamsSource.parse(text)
    except MtlbenchError:
        return SourceInfo(text, text != "default", text, None, (), label)
    study = src.study.name if src.study else text.partition("#")[0]
    return SourceInfo(text, src.is_tuned, study, src.study_suite, src.trials, label)


def is_tuned(source: str) -> bool:
    return parse_source(source).tuned


def source_label(source: str) -> str:
    return parse_source(source).label


def study_suite(source: str) -> str | None:
    """The suite a ``study:<model>@<suite>@<profile>[@mo]#<trial>`` source was tuned on (None otherwise)."""
    return parse_source(source).study_suite


def _labels(record: dict[str, Any]) -> list[str]:
    return list(record.get("params_sources") or [record["params_source"]])


def record_views(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records as the report selects from them: one view per (provenance label, record), the record
    with ``params_source`` set to that label. A record carrying several labels (``params_sources``) is
    one view per label."""
    return [{**r, "params_source": label} for r in records for label in _labels(r)]


# ====================================================================== study exports
def studies_dir(profile: str, results_dir: str | Path | None = None) -> Path:
    return profile_dir(profile, results_dir) / "studies"


def load_studies(profile: str, results_dir: str | Path | None = None) -> list[Study]:
    """Study exports ``results/<profile>/studies/*.json`` (read leniently: the tuning module owns the format)."""
    d = studies_dir(profile, results_dir)
    out: list[Study] = []
    for p in finished(d):
        try:
            blob = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            warnings.warn(f"ignoring unreadable study export {p}", stacklevel=2)
            continue
        for st in blob if isinstance(blob, list) else blob.get("studies", [blob]) if isinstance(blob, dict) else []:
            s = _parse_study(st, p.name)
            if s is not None:
                out.append(s)
    return sorted(out, key=lambda s: (suite_key(s.suite) if s.suite else (), model_key(s.model), s.name))


def chosen_trials(summary: dict[str, Any]) -> tuple[int, ...]:
    """The trial(s) `mtlbench run` takes from a study summary, by ``mtlbench.params.run_trials``'s rule: for a
    model whose tasks are independent (``metadata.INDEPENDENT_TASK_MODELS``), each task's own best trial when
    every task has one; otherwise the best trial (``run_trial``)."""
    per_task = [p.get("number") for p in summary.get("per_task_best") or [] if isinstance(p, dict)]
    if (str(summary.get("model")) in INDEPENDENT_TASK_MODELS and per_task
            and len(per_task) == len(summary.get("task_names") or []) and all(isinstance(n, int) for n in per_task)):
        return tuple(per_task)
    number = summary.get("run_trial")
    return (number,) if isinstance(number, int) else ()


def _parse_study(st: Any, file: str) -> Study | None:
    """One study summary as ``mtlbench.tuning.export_study`` writes it (older / foreign shapes leniently)."""
    if not isinstance(st, dict):
        return None
    attrs = {**(st.get("user_attrs") or {}), **(st.get("budget") or {}), **st}
    name = str(attrs.get("study") or attrs.get("study_name") or attrs.get("name") or Path(file).stem)
    trials = [t for t in (st.get("trials") or []) if isinstance(t, dict)]
    directions = attrs.get("directions") or [attrs.get("direction", "maximize")]
    direction = str(directions[0]).lower().removeprefix("studydirection.") if directions else "maximize"
    single = len(directions) <= 1 and not attrs.get("multi_objective")
    values, params, pruned_values = [], [], []
    finished = pruned = 0
    reference = None
    for t in trials:
        state = str(t.get("state", "")).upper().removeprefix("TRIALSTATE.")
        counted = t.get("counted", state in ("COMPLETE", "PRUNED"))
        finished += bool(counted)
        pruned += bool(counted) and state == "PRUNED"
        v = t.get("value")
        if (t.get("user_attrs") or {}).get("reference"):  # the defaults, beside the search: not one of its trials
            if state == "COMPLETE":
                reference = (int(t.get("number", -1)), float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None)
            continue
        if single and state == "PRUNED" and (steps := _last_intermediate(t)) is not None:
            pruned_values.append((int(t.get("number", -1)), steps))
        if single and state == "COMPLETE" and isinstance(v, (int, float)) and math.isfinite(v):
            values.append((int(t.get("number", len(values))), float(v)))
            params.append((dict(t.get("params") or {}), float(v)))
    if not trials:
        finished = int(attrs.get("n_counted", 0) or 0)
    alive = [t for t in trials if not _worker_died(t)]  # killed workers' trials have no meaningful duration
    budget = attrs.get("n_trials")
    trained = attrs.get("trained_epochs")
    if not isinstance(trained, int) and any("intermediate_values" in t for t in trials):
        trained = sum(len(t.get("intermediate_values") or {}) for t in trials)  # one value reported per epoch
    return Study(name=name, model=str(attrs.get("model") or ""), suite=str(attrs.get("suite") or ""),
                 finished=finished, pruned=pruned, budget=int(budget) if isinstance(budget, (int, float)) else None,
                 values=values, params=params, direction=direction if single else "pareto", file=file,
                 seconds=float(sum(t.get("duration_s") or 0.0 for t in alive)),
                 timed=sum(1 for t in alive if t.get("duration_s")),
                 untimed_dead=len(trials) - len(alive),
                 pruner=str(attrs["pruner"]) if attrs.get("pruner") else None,
                 param_budget_rule=str(attrs["param_budget_rule"]) if attrs.get("param_budget_rule") else None,
                 reference_rule=str(attrs["reference_trial"]) if attrs.get("reference_trial") else None,
                 reference=reference, chosen=chosen_trials(st),
                 trained_epochs=trained if isinstance(trained, int) else None, pruned_values=pruned_values,
                 weighting=_study_weighting(attrs, name), protocol=_int(attrs.get("protocol")) or 1,
                 pruning_rule=str(attrs["pruning_rule"]) if attrs.get("pruning_rule") else None,
                 min_steps=_int(attrs.get("min_steps")), tuning_seed=_int(attrs.get("tuning_seed")))


def _int(x: Any) -> int | None:
    return int(x) if isinstance(x, int) and not isinstance(x, bool) else None


def _study_weighting(attrs: dict[str, Any], name: str) -> str:
    """The study's loss weighting: its export's ``weighting``, else the one its name carries, else static."""
    if isinstance(attrs.get("weighting"), str):
        return attrs["weighting"]
    try:
        return StudyId.parse(name).weighting
    except MtlbenchError:
        return STATIC_WEIGHTING


def _last_intermediate(trial: dict[str, Any]) -> float | None:
    """A pruned trial's value where it was stopped: its last finite intermediate (per-epoch) value."""
    steps = trial.get("intermediate_values") or {}
    vals = [v for _, v in sorted(((int(k), v) for k, v in steps.items()), key=lambda kv: kv[0])
            if isinstance(v, (int, float)) and math.isfinite(v)]
    return float(vals[-1]) if vals else None


def _worker_died(trial: dict[str, Any]) -> bool:
    """A trial whose worker was killed (``mtlbench.tuning.fail_dead_trials``): optuna's duration runs to when a
    later worker noticed (possibly a sitting later), not to when it stopped computing."""
    return str((trial.get("user_attrs") or {}).get("fail_reason", "")).endswith(WORKER_DIED)


# ====================================================================== utilisation exports
def utilisation_dir(profile: str, results_dir: str | Path | None = None) -> Path:
    return profile_dir(profile, results_dir) / "utilisation"


def order_banks(banks: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Gate banks in reading order: by level, task gates before the shared gate (JSON keys are sorted)."""
    return dict(sorted(banks.items(), key=lambda kv: (kv[1].get("level", 1), "shared" in kv[0], kv[0])))


def load_utilisation(profile: str, results_dir: str | Path | None = None) -> list[Utilisation]:
    """Utilisation exports ``results/<profile>/utilisation/*.json`` (written by ``mtlbench.utilisation``, whose
    gate labels, titles and levels are taken as they are)."""
    d = utilisation_dir(profile, results_dir)
    out: list[Utilisation] = []
    for p in finished(d):
        try:
            u = json.loads(p.read_text())
            out.append(Utilisation(u["suite"], u["model"], int(u.get("seed", 0)), u.get("config", {}),
                                   order_banks(u["banks"]), p.name, tuple(u.get("tasks", ()))))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError):
            warnings.warn(f"ignoring unreadable utilisation export {p}", stacklevel=2)
    return sorted(out, key=lambda u: (suite_key(u.suite), model_key(u.model)))


# ====================================================================== experiment results
#: The MMoE synthetic experiment's folder under ``results/<profile>/experiments/`` (``mmoe_synthetic.NAME``).
EXPERIMENT = "mmoe_synthetic"


def load_experiment(profile: str, results_dir: str | Path | None = None) -> list[ExperimentRun]:
    """The MMoE synthetic experiment's result files (``<model>__p<p>__r<run>.json``), ordered by (p, model, run)."""
    d = profile_dir(profile, results_dir) / "experiments" / EXPERIMENT
    out: list[ExperimentRun] = []
    for p in finished(d):
        try:
            b = json.loads(p.read_text())
            out.append(ExperimentRun(str(b["model"]), float(b["p"]), int(b["run"]), int(b["curve_every"]),
                                     [[float(x) for x in pt] for pt in b["train_curve"]],
                                     [float(x) for x in b["test_mse"]], float(b.get("seconds") or 0.0),
                                     str(b.get("commit") or ""),
                                     [[float(x) for x in ep] for ep in b.get("val_mse") or []],
                                     int(b.get("steps_per_epoch") or 0)))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError):
            warnings.warn(f"ignoring unreadable experiment result {p}", stacklevel=2)
    return sorted((r for r in out if r.train_curve and r.test_mse), key=lambda r: (-r.p, model_key(r.model), r.run))
