"""`mtlbench tune`: the trial loop of each study, with an equal budget per model (``rules``).

Objective: the validation score of docs/protocol.md §2 (−mean_k log err_k), computed by ``fit(...,
evaluate_test=False)``: the test split is never touched. Every trial stores the raw per-task validation
metrics, per-task scores (−log err_k) and the validations/epochs it trained as user attributes.
``--multi-objective`` maximises the K per-task scores instead (no pruning: Optuna prunes one objective only).

``--weighting NAME`` tunes a model trained with that loss-weighting strategy: a study of its own
(``StudyId.weighting``, ``ple@video@standard+uw``) whose space adds the strategy's hyper-parameters
(``space.weighting_space``) and whose reference trial is the model's defaults with the strategy's paper defaults;
the same trial budget as every study. A model whose tasks share no parameter (single_task) gets no study of a
weighting other than static (``runner.weighting_skip``: every weighting is the static step there).

Pruning goes through ``fit``'s ``on_epoch`` callback, called after every validation with its index (the
pruner's step), so the trainer never imports optuna. Running ``tune`` again continues a study up to N counted
trials; a study whose journal is missing but whose export exists is rebuilt from the export first. After
every trial the study is exported to ``<results>/<profile>/studies/<slug>.json``.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.trial import FrozenTrial, TrialState

from .. import __version__
from .. import metrics as M
from ..cost import count_params
from ..data import SuiteData
from ..errors import DivergedError, MtlbenchError
from ..model import build_model, skip_reason
from ..params import RunParams, default_params, with_weighting
from ..provenance import STATIC_WEIGHTING
from ..profiles import Profile, get_profile
from ..selection import check_writable, resolve_device, resolve_models, resolve_weightings, weighting_skip
from ..studies import StudyId, export_path, studies_dir
from ..suites import expand_suites, load_suite
from ..train import fit, seed_everything
from .budget import BUDGET_RULE, dense_params, param_budget
from .rules import (DEFAULT_TRIALS, OBJECTIVE, PROTOCOL, PRUNERS, PRUNING_RULE, REFERENCE, REFERENCE_RULE, TUNING_SEED,
                    counted, ensure_reference, make_pruner, max_steps, min_steps, reference_trials)
from .space import sample_params
from .storage import StorageKind, _retry, open_storage, storage_kind
from .summary import export_study, read_summary, restore_study
from .workers import _worker, fail_dead_trials, wait_for_other_workers

#: Study attributes that must not change when a study is continued (its trials would not be comparable).
#: The cap is held by ``max_steps`` (validations: the suite's epoch cap x validations per epoch), what a trial
#: trains under; ``max_epochs`` is for reading only: studies made before it named the suite family's own cap
#: recorded the profile's general one there (40 on the synthetic suite, whose trials ran to 200), and
#: continuing such a study corrects the label.
FIXED_ATTRS = ("protocol", "suite_version", "suite_checksum", "max_steps", "patience", "param_budget", "tuning_seed")


@dataclass
class TrialEvent:
    """What the progress callback receives after each trial."""

    study: str
    number: int
    state: str
    value: float | list[float] | None
    reason: str
    counted: int
    target: int


ProgressFn = Callable[[TrialEvent], None]


class _Rejected(Exception):
    """The trial did not train (surplus over the trial budget, duplicate reference); stored as FAIL, not counted."""


@dataclass(frozen=True)
class _Setup:
    """One study's fixed inputs for its trial loop."""

    sid: StudyId
    data: SuiteData
    prof: Profile
    target: int
    budget: int
    device: torch.device


def tune(
    models: list[str] | None = None,
    suites: list[str] | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    profile: str = "quick",
    storage: str | None = None,
    multi_objective: bool = False,
    pruner: str = "hyperband",
    device: str = "auto",
    results_dir: str | Path | None = None,
    sampler_seed: int | None = None,
    progress: ProgressFn | None = None,
    notify: Callable[[str], None] | None = None,
    weightings: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Tune every model on every suite instance with every loss weighting (one study each) and return the
    studies' summaries.

    ``weightings``: strategies (``mtlbench list weightings``; ``"*"``: every one), default static; a (model,
    weighting) pair that ``runner.weighting_skip`` rules out is left out, and ``notify`` hears why.

    ``n_trials``: counted trials per study (default: the profile's ``DEFAULT_TRIALS``); a study that has
    them already runs nothing more. ``timeout``: seconds after which no new trial starts (per call).
    Returns only when no trial of these studies still trains in another worker (``notify`` hears that it
    waits), so the summaries are final and a ``run`` started next uses the whole budget.
    """
    prof = get_profile(profile)
    target = DEFAULT_TRIALS.get(prof.name, 20) if n_trials is None else n_trials
    if target < 1:
        raise MtlbenchError(f"--trials {target} is out of range; use at least 1 trial per study.")
    if timeout is not None and not timeout > 0:
        raise MtlbenchError(f"--timeout {timeout} is out of range; give a positive number of seconds.")
    if pruner not in PRUNERS:
        raise MtlbenchError(f"unknown pruner {pruner!r}; choose one of: {', '.join(PRUNERS)}.")
    kind = storage_kind(storage)
    model_names = resolve_models(models)
    weighting_names = resolve_weightings(weightings)
    instances = expand_suites(suites, prof)
    dev = resolve_device(device)
    check_writable(studies_dir(prof.name, results_dir))
    deadline = time.monotonic() + timeout if timeout else None

    studies: list[tuple[optuna.Study, Path]] = []
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        for instance in instances:
            data = load_suite(instance, prof)
            budget = param_budget(data)
            for model in model_names:
                if (why := skip_reason(model, data.tasks)) is not None:  # the rule `run` applies (--all included)
                    if notify is not None:
                        notify(f"not tuned: {data.name}/{model} ({why})")
                    continue
                for weighting in weighting_names:
                    if (why := weighting_skip(model, weighting)) is not None:
                        if notify is not None:
                            notify(f"not tuned: {data.name}/{model} ({why})")
                        continue
                    setup = _Setup(StudyId(model, data.name, prof.name, multi_objective, weighting), data, prof, target, budget, dev)
                    study = open_study(model, data, prof, target, budget, storage, multi_objective, pruner, results_dir,
                                       sampler_seed, weighting)
                    out = export_path(setup.sid, results_dir)
                    _tune_one(setup, study, out, deadline, kind, progress)
                    studies.append((study, out))
        wait_for_other_workers([st for st, _ in studies], notify=notify, heartbeat=kind.has_heartbeat)
        return [export_study(st, out) for st, out in studies]
    finally:
        optuna.logging.set_verbosity(verbosity)


def _study_attrs(model: str, data: SuiteData, prof: Profile, target: int, budget: int, multi: bool, pruner: str,
                 weighting: str) -> dict[str, Any]:
    """The study's user attributes; ``weighting`` only when not static (studies made before weightings existed
    stay as they were)."""
    return {
        "protocol": PROTOCOL,
        "model": model, "suite": data.name, "suite_family": data.family, "suite_version": data.version,
        "suite_checksum": data.checksum, "profile": prof.name, "n_trials": target, "max_epochs": prof.epoch_cap(data.family),
        "patience": prof.patience, "param_budget": budget, "param_budget_rule": BUDGET_RULE, "reference_trial": REFERENCE_RULE,
        "tuning_seed": TUNING_SEED, "objective": "per-task -log(err_k), maximised (Pareto front)" if multi else OBJECTIVE,
        "multi_objective": multi, "pruner": "none" if multi else pruner, "pruning_rule": PRUNING_RULE,
        "min_steps": min_steps(prof), "max_steps": max_steps(data, prof),
        "task_names": [t.name for t in data.tasks], "mtlbench_version": __version__,
        **({} if weighting == STATIC_WEIGHTING else {"weighting": weighting}),
    }


def _restore_missing_journal(sid: StudyId, storage_url: str | None, storage: optuna.storages.BaseStorage,
                             results_dir: str | Path | None) -> None:
    """A per-study journal that is missing (journals are not committed) is rebuilt from the study's export."""
    export = export_path(sid, results_dir)
    if storage_kind(storage_url) is not StorageKind.JOURNAL_PER_STUDY or not export.exists():
        return
    if sid.name in optuna.get_all_study_names(storage):
        return
    summary = read_summary(export)
    if summary.get("study") != sid.name:
        raise MtlbenchError(f"{export} holds study {summary.get('study')!r}, not {sid.name!r}; move it out of the studies folder.")
    restore_study(summary, storage)


def open_study(model: str, data: SuiteData, prof: Profile, target: int, budget: int, storage_url: str | None,
               multi: bool = False, pruner: str = "hyperband", results_dir: str | Path | None = None,
               sampler_seed: int | None = None, weighting: str = STATIC_WEIGHTING) -> optuna.Study:
    """Create or load the study of (model, suite, profile, weighting) — rebuilt from its export when only that
    exists — and check it was tuned on the same data, budget and protocol."""
    sid = StudyId(model, data.name, prof.name, multi, weighting)
    storage = open_storage(storage_url, sid, results_dir)
    _restore_missing_journal(sid, storage_url, storage, results_dir)
    with warnings.catch_warnings():  # multivariate/group are flagged experimental; they handle conditional spaces
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=sampler_seed, multivariate=True, group=True, constant_liar=True)
    directions = ["maximize"] * data.n_tasks if multi else ["maximize"]
    study = _retry(lambda: optuna.create_study(
        storage=storage, study_name=sid.name, directions=directions, sampler=sampler,
        pruner=make_pruner("none" if multi else pruner, min_steps(prof), max_steps(data, prof)),
        load_if_exists=True), "create the study")
    if [d.name.lower() for d in study.directions] != directions:
        raise MtlbenchError(f"study {sid.name!r} exists with {len(study.directions)} objective(s); it cannot be resumed as {len(directions)}.")
    attrs = _study_attrs(model, data, prof, target, budget, multi, pruner, weighting)
    old = dict(study.user_attrs)
    if old and "protocol" not in old:
        old["protocol"] = 1  # made before the tuning rules had a version
    for key in FIXED_ATTRS:
        if key in old and old[key] != attrs[key]:
            raise MtlbenchError(
                f"study {sid.name!r} was tuned with {key}={old[key]!r} but now {key}={attrs[key]!r}; its trials are not comparable. "
                "Move its files out of the studies folder (or use another --storage) to start a new study."
            )
    attrs["n_trials"] = max(target, int(old.get("n_trials", 0)))
    for key, value in attrs.items():
        if study.user_attrs.get(key) != value:
            _retry(lambda: study.set_user_attr(key, value), "set a study attribute")
    names = [f"validation score of {t.name}" for t in data.tasks] if multi else ["validation score (-mean log error)"]
    if study.metric_names != names:  # what optuna-dashboard shows instead of "Objective 0"
        with warnings.catch_warnings():  # flagged experimental, stable since Optuna 3.2
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            _retry(lambda: study.set_metric_names(names), "name the objective")
    return study


def _trial(study: optuna.Study, number: int) -> FrozenTrial:
    return next(t for t in study.get_trials(deepcopy=False) if t.number == number)


def _objective(s: _Setup, study: optuna.Study, last: dict[str, Any]) -> Callable[[optuna.Trial], float | list[float]]:
    """The objective of one study: train the trial's configuration on ``TUNING_SEED`` and score it on validation."""
    multi = s.sid.multi_objective
    first = min_steps(s.prof)

    def objective(trial: optuna.Trial) -> float | list[float]:
        last.clear()
        last["number"] = trial.number
        trial.set_user_attr("worker", _worker())
        ref = bool(trial.user_attrs.get(REFERENCE))
        _check_not_surplus(trial, study, s.target, ref)
        rp = (with_weighting(default_params(s.sid.model, s.data, s.prof), s.sid.weighting) if ref
              else sample_params(trial, s.sid.model, s.data, s.prof, weighting=s.sid.weighting))
        trial.set_user_attr("params", rp.as_dict())
        seed_everything(TUNING_SEED)
        net = build_model(s.sid.model, s.data.inputs, s.data.tasks, rp.model, rp.shared)
        n_dense = dense_params(net)
        trial.set_user_attr("n_params", count_params(net))
        trial.set_user_attr("dense_params", n_dense)
        if n_dense > s.budget:
            reason = f"over the parameter budget: {n_dense} dense parameters > {s.budget}"
            trial.set_user_attr("rejected", reason)
            raise optuna.TrialPruned(reason)  # PRUNED without a value: the sampler learns to avoid it

        evals = 0

        def on_epoch(eval_index: int, score: float, val_metrics: list[dict[str, float]]) -> None:
            nonlocal evals
            evals = eval_index + 1
            if multi:
                return  # Optuna prunes single-objective studies only
            trial.report(score, eval_index)
            if not ref and evals >= first and trial.should_prune():  # the reference always trains to the end
                trial.set_user_attr("val_metrics", val_metrics)
                trial.set_user_attr("fail_reason", f"pruned after evaluation {eval_index} (val score {score:.4f})")
                raise optuna.TrialPruned(f"pruned after evaluation {eval_index}")

        try:
            res = fit(net, s.data, rp.train, TUNING_SEED, s.device, on_epoch=on_epoch, evaluate_test=False)
        except DivergedError as err:  # a bad configuration, counted like a pruned one
            trial.set_user_attr("fail_reason", f"diverged: {err}")
            raise optuna.TrialPruned(str(err)) from None
        finally:
            _record_compute(trial, rp, evals)
        task_scores = [M.score([t], [m]) for t, m in zip(s.data.tasks, res.val_metrics)]
        for key, value in (("val_metrics", res.val_metrics), ("task_scores", task_scores), ("val_score", res.val_score),
                           ("best_epochs", res.best_epochs), ("epochs_run", res.epochs_run),
                           ("train_seconds", round(res.train_seconds, 3))):
            trial.set_user_attr(key, value)
        return task_scores if multi else res.val_score

    return objective


def _record_compute(trial: optuna.Trial, rp: RunParams, evals: int) -> None:
    """Validations made and epochs trained (validations / validations per epoch), whether the trial
    completed, was pruned or diverged: the study summary sums them (``compute.trained_epochs``)."""
    trial.set_user_attr("evals_run", evals)
    trial.set_user_attr("epochs_trained", round(evals / rp.train.evals_per_epoch, 6))


def _check_not_surplus(trial: optuna.Trial, study: optuna.Study, target: int, ref: bool) -> None:
    """Equal budget with concurrent workers: reject a second reference, and a trial when ``target`` trials
    that may still count started before it."""
    live = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    if ref and any(t.number < trial.number for t in reference_trials(study, live)):
        trial.set_user_attr("rejected", "duplicate: another worker queued the reference trial too")
        raise _Rejected("duplicate reference")
    ahead = [t for t in study.get_trials(deepcopy=False, states=live)
             if t.number < trial.number and not t.user_attrs.get("rejected") and not t.user_attrs.get(REFERENCE)]
    if not ref and len(ahead) >= target:
        trial.set_user_attr("rejected", f"surplus: {target} trials had started already")
        study.stop()
        raise _Rejected("surplus")


def _tune_one(s: _Setup, study: optuna.Study, out: Path, deadline: float | None, kind: StorageKind,
              progress: ProgressFn | None) -> None:
    """Run trials of one study until it holds ``s.target`` counted trials (or the deadline), exporting it
    after each trial (``tune`` exports it once more when every worker is done)."""
    last: dict[str, Any] = {}
    objective = _objective(s, study, last)
    rejected_here = 0
    max_rejected = 10 * s.target + 20
    while True:
        if kind is not StorageKind.RDB:
            fail_dead_trials(study)
        reference_done = ensure_reference(study)
        n_counted = sum(counted(t) for t in study.get_trials(deepcopy=False))
        if deadline is not None and time.monotonic() >= deadline:
            break
        if n_counted >= s.target and (reference_done or not reference_trials(study, (TrialState.WAITING,))):
            break  # budget spent and the reference done (or training in another worker)
        if rejected_here >= max_rejected:
            raise MtlbenchError(
                f"{s.sid.model} on {s.data.name}: {rejected_here} sampled configurations in a row did not train (parameter budget "
                f"{s.budget}); narrow the model's search space or its defaults."
            )
        study.optimize(objective, n_trials=1, catch=(_Rejected,), gc_after_trial=False)
        if "number" not in last:
            break
        t = _trial(study, last["number"])
        rejected_here = rejected_here + 1 if t.user_attrs.get("rejected") else 0
        export_study(study, out)
        if progress:
            progress(TrialEvent(study.study_name, t.number, t.state.name, t.values if s.sid.multi_objective else t.value,
                                str(t.user_attrs.get("rejected") or t.user_attrs.get("fail_reason")
                                    or ("reference trial: the defaults" if t.user_attrs.get(REFERENCE) else "")),
                                sum(counted(x) for x in study.get_trials(deepcopy=False)), s.target))
        if str(t.user_attrs.get("rejected", "")).startswith("surplus") and not reference_trials(study, (TrialState.WAITING,)):
            break  # the budget is taken (by trials still training elsewhere, maybe); a queued reference still runs
