"""Study exports ``<results>/<profile>/studies/<slug>.json``: the readable summary `mtlbench run` and the
report read, and everything needed to rebuild the study without its journal (``restore_study``).

Every trial is exported with its state, values, params *and their distributions*, intermediate values,
user and system attributes and start/completion times; the study with its directions and user attributes.
The format's version is ``SCHEMA``; studies tuned under the current rules also say ``protocol``.
"""
from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import distribution_to_json, json_to_distribution
from optuna.trial import FrozenTrial, TrialState

from ..errors import MtlbenchError
from ..fsio import atomic_write
from ..provenance import STATIC_WEIGHTING
from .rules import REFERENCE, counted

#: 2: trials carry distributions, system attributes and completion times; the study its user attributes
#: (``study_user_attrs``), ``protocol`` and ``compute``.
SCHEMA = 2
#: What ``budget`` holds (from the study's user attributes; None where a study predates a key).
BUDGET_KEYS = ("n_trials", "max_epochs", "patience", "param_budget", "param_budget_rule", "tuning_seed",
               "pruner", "pruning_rule", "min_steps", "max_steps", "reference_trial")


def _finite(x: Any) -> Any:
    """JSON-safe number: NaN/inf become None (the summary is strict JSON)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def _trial_dict(t: FrozenTrial) -> dict[str, Any]:
    return {
        "number": t.number, "state": t.state.name, "counted": counted(t),
        "value": t.value if t.values is not None and len(t.values) == 1 else None,
        "values": t.values, "params": t.params, "user_attrs": t.user_attrs,
        "distributions": {k: json.loads(distribution_to_json(d)) for k, d in t.distributions.items()},
        "system_attrs": t.system_attrs,
        "intermediate_values": {str(k): v for k, v in sorted(t.intermediate_values.items())},
        "datetime_start": t.datetime_start.isoformat() if t.datetime_start else None,
        "datetime_complete": t.datetime_complete.isoformat() if t.datetime_complete else None,
        "duration_s": t.duration.total_seconds() if t.duration else None,
    }


def trained_epochs(t: FrozenTrial) -> float:
    """Epochs a trial trained, pruned and diverged ones included: ``epochs_trained`` (validations made /
    validations per epoch); for trials of protocol-1 studies, which lack it, ``epochs_run`` of a finished
    one or its reported values (one validation per epoch then)."""
    attrs = t.user_attrs
    if "epochs_trained" in attrs:
        return float(attrs["epochs_trained"])
    if "epochs_run" in attrs:
        return float(attrs["epochs_run"])
    return float(len(t.intermediate_values))


def _per_task_best(complete: list[FrozenTrial], tasks: list[str]) -> list[dict[str, Any]]:
    out = []
    for k, task in enumerate(tasks):
        scored = [t for t in complete if t.user_attrs.get("task_scores") and t.user_attrs["task_scores"][k] is not None
                  and math.isfinite(t.user_attrs["task_scores"][k])]
        if scored:
            b = max(scored, key=lambda t: (t.user_attrs["task_scores"][k], -t.number))
            out.append({"task": task, "number": b.number, "score": b.user_attrs["task_scores"][k],
                        "val_metrics": b.user_attrs["val_metrics"][k]})
    return out


def summarize_study(study: optuna.Study) -> dict[str, Any]:
    """The readable summary of a study: budget, best trial (+ run params), per-task bests, Pareto front,
    compute, and every trial in full."""
    attrs = study.user_attrs
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.user_attrs.get("params")]
    multi = len(study.directions) > 1
    tasks = list(attrs.get("task_names", []))
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.name] = states.get(t.state.name, 0) + 1

    def brief(t: FrozenTrial) -> dict[str, Any]:
        return {"number": t.number, "value": t.value if not multi else None, "values": t.values, "params": t.params,
                "val_metrics": t.user_attrs.get("val_metrics"), "task_scores": t.user_attrs.get("task_scores"),
                "run_params": t.user_attrs.get("params")}

    best = brief(max(complete, key=lambda t: (t.value, -t.number))) if complete and not multi else None  # ties -> earlier
    ref = next((t for t in complete if t.user_attrs.get(REFERENCE)), None)
    summary = {
        "schema": SCHEMA, "protocol": attrs.get("protocol", 1), "study": study.study_name, "model": attrs.get("model"),
        "suite": attrs.get("suite"), "profile": attrs.get("profile"), "directions": [d.name.lower() for d in study.directions],
        "multi_objective": multi, "objective": attrs.get("objective"),
        # the loss weighting the study tuned with (exports written before weightings existed lack it: static)
        "weighting": attrs.get("weighting", STATIC_WEIGHTING),
        "budget": {k: attrs.get(k) for k in BUDGET_KEYS},
        "suite_version": attrs.get("suite_version"), "suite_checksum": attrs.get("suite_checksum"),
        "task_names": tasks, "n_counted": sum(counted(t) for t in trials), "states": states,
        # Equal compute is visible: epochs trained summed over every trial (pruned and diverged ones included).
        "compute": {"trained_epochs": round(sum(trained_epochs(t) for t in trials), 6)},
        "best": best,
        # Each task's own best trial: `mtlbench run` trains task k of a model with independent tasks
        # (single_task's K separate networks) with the parameters of trial per_task_best[k].
        "per_task_best": _per_task_best(complete, tasks),
        # The trial whose parameters `mtlbench run` uses for every task of the other models: the best by val_score.
        "run_trial": None if best is None else best["number"],
        # The reference trial (the model's defaults), when it finished: its number and validation objective.
        "reference": None if ref is None else {"number": ref.number, "value": ref.value if not multi else None,
                                               "values": ref.values, "task_scores": ref.user_attrs.get("task_scores")},
        "pareto_front": [brief(t) for t in sorted(study.best_trials, key=lambda t: t.number)] if multi and complete else [],
        "study_user_attrs": attrs,
        "trials": [_trial_dict(t) for t in trials],
        "exported_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return _finite(summary)


def export_study(study: optuna.Study, path: Path) -> dict[str, Any]:
    summary = summarize_study(study)
    atomic_write(path, json.dumps(summary, indent=1, sort_keys=True, allow_nan=False) + "\n")
    return summary


def read_summary(path: Path) -> dict[str, Any]:
    """A study export as it is on disk (one-line MtlbenchError when unreadable)."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise MtlbenchError(f"cannot read the study summary {path} ({err.__class__.__name__}); re-export it with `mtlbench tune` or pass --params-from default.") from None


def load_study_summary(path: Path) -> dict[str, Any]:
    """A study's JSON summary, re-exported first when its journal is newer (or the JSON is missing)."""
    journal = path.with_suffix(".journal")
    if journal.exists() and (not path.exists() or journal.stat().st_mtime > path.stat().st_mtime):
        from optuna.storages.journal import JournalFileBackend

        storage = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
        names = optuna.get_all_study_names(storage)
        if len(names) == 1:
            return export_study(optuna.load_study(study_name=names[0], storage=storage), path)
    return read_summary(path)


# ---------------------------------------------------------------- rebuilding a study from its export
def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _frozen(t: dict[str, Any]) -> FrozenTrial:
    """One exported trial as a FrozenTrial to add to a study (its number is given by the order of adding)."""
    state = TrialState[t["state"]]
    values = t.get("values")
    if values is not None:
        values = [math.nan if v is None else float(v) for v in values]
    trial = optuna.trial.create_trial(
        state=state, values=values if state in (TrialState.COMPLETE, TrialState.PRUNED) else None,
        params=t.get("params") or {},
        distributions={k: json_to_distribution(json.dumps(d)) for k, d in (t.get("distributions") or {}).items()},
        user_attrs=t.get("user_attrs") or {}, system_attrs=t.get("system_attrs") or {},
        intermediate_values={int(k): math.nan if v is None else float(v) for k, v in (t.get("intermediate_values") or {}).items()},
    )
    trial.datetime_start = _time(t.get("datetime_start"))
    trial.datetime_complete = _time(t.get("datetime_complete")) if state.is_finished() else None
    return trial


def restore_study(summary: dict[str, Any], storage: optuna.storages.BaseStorage) -> optuna.Study:
    """Create the study of an export in ``storage`` (where it must not exist) with all its trials, in order,
    so trial numbers, states, values, params, attributes and times are those of the export. Needs a
    schema ≥ 2 export (one-line MtlbenchError otherwise)."""
    if int(summary.get("schema") or 0) < 2 or "study_user_attrs" not in summary:
        raise MtlbenchError(f"study export {summary.get('study')!r} predates schema 2 and cannot rebuild its journal; "
                            "restore the journal file, or re-export it with this version while the journal exists.")
    study = optuna.create_study(storage=storage, study_name=summary["study"], directions=summary["directions"])
    for key, value in summary["study_user_attrs"].items():
        study.set_user_attr(key, value)
    trials = sorted(summary.get("trials") or [], key=lambda t: t["number"])
    if [t["number"] for t in trials] != list(range(len(trials))):
        raise MtlbenchError(f"study export {summary['study']!r} has gaps in its trial numbers; it cannot rebuild its journal.")
    study.add_trials([_frozen(t) for t in trials])
    return study
