"""`mtlbench run`: every (suite, model, seed), skipping finished records, never losing earlier ones."""
from __future__ import annotations

import traceback
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import torch

from . import metrics as M
from .cost import count_params, flops_per_sample
from .data import SuiteData
from .errors import DivergedError, MtlbenchError
from .fsio import discard_temporaries
from .model import build_model, get_model_class, skip_reason
from .params import RunParams, apply_overrides, with_weighting
from .profiles import Profile, get_profile
from .provenance import STATIC_WEIGHTING, ParamsSource, RunId
from .selection import check_writable, resolve_device, resolve_models, resolve_weightings, weighting_skip  # noqa: F401 - re-exported
from .records import RecordStore, RunRecord, key_of, with_label
from .reproductions import Reproduction
from .runinfo import git_commit, now, versions
from .suites import expand_suites, load_suite
from .matching import size_and_depth
from .protocol import FitResult, evaluate_test_split
from .train import fit, seed_everything

#: (model, data, profile) -> RunParams. The tuning module installs a resolver that prefers tuned
#: parameters; the default uses the model's defaults.
ParamsResolver = Callable[[str, SuiteData, Profile], RunParams]


@dataclass
class RunSummary:
    done: list[str] = field(default_factory=list)  # "suite/model/seed"
    skipped: list[str] = field(default_factory=list)  # already done (or being trained by another process)
    not_applicable: list[str] = field(default_factory=list)  # "suite/model (why)": the model does not run there
    failed: list[tuple[str, str]] = field(default_factory=list)  # (run, reason)
    labelled: list[str] = field(default_factory=list)  # finished runs that got the requested label added, untrained
    keys: list[str] = field(default_factory=list)  # record keys of every requested run, in order


def build_record(model_name: str, data: SuiteData, profile: Profile, params: RunParams, seed: int, device: torch.device, result, n_params: int, flops: float,
                 fits: list[dict[str, Any]] | None = None) -> RunRecord:
    """``fits``: for task-wise parameters, what each training contributed (``merge_fits``), kept in ``extra["fits"]``."""
    return RunRecord(
        suite=data.name, suite_family=data.family, suite_version=data.version, suite_params=data.params,
        data_checksum=data.checksum, profile=profile.name, model=model_name, params=params.as_dict(),
        params_source=str(params.source), seed=seed,
        tasks=[{"name": t.name, "kind": t.kind, "metric": t.metric, "higher_is_better": t.higher_is_better} for t in data.tasks],
        val_metrics=result.val_metrics, test_metrics=result.test_metrics, test_se=result.test_se,
        val_score=result.val_score, history=result.history, best_epochs=result.best_evals, epochs_run=result.epochs_run,
        test_boot=result.test_boot, test_derived=result.test_derived, evals_run=result.evals_run, max_evals=result.max_evals,
        evals_per_epoch=result.evals_per_epoch,
        n_params=n_params, flops_per_sample=flops, train_seconds=result.train_seconds,
        samples_per_second=result.samples_per_second, device=str(device), threads=torch.get_num_threads(),
        versions=versions(), commit=git_commit(), timestamp=now(),
        extra={"hardware": hardware(device), **({"fits": fits} if fits is not None else {}), **_size(model_name, data, params)},
    )


def _size(model_name: str, data: SuiteData, params: RunParams) -> dict[str, int]:
    """Dense parameters (embedding tables excluded) and depth of the run's configuration (task-wise runs:
    of task 1's), for the report's matched-defaults table."""
    dense, depth = size_and_depth(model_name, params.model, data.inputs, data.tasks, params.shared.emb_dim)
    return {"dense_params": dense, "depth": depth}


# ---------------------------------------------------------------- task-wise parameters (several fits per run)
def fit_plan(model_name: str, data: SuiteData, rp: RunParams) -> list[tuple[RunParams, tuple[int, ...]]]:
    """The trainings of one run: ``rp.fits`` (one per distinct parameter set, with the tasks it serves).
    Several only for task-wise parameters, which only a model whose tasks share no parameter can take."""
    plan = rp.fits(data.n_tasks)
    if len(plan) > 1 and not get_model_class(model_name).independent_tasks:
        raise MtlbenchError(f"model {model_name!r} shares parameters between tasks, so it cannot train each task with its own "
                            f"parameters ({rp.source}); give it one parameter set (--params-from a study of {model_name}).")
    return plan


def checkpoint_paths(store: RecordStore, key: str, n_fits: int) -> list[Path]:
    """One checkpoint per fit of a run: ``ckpt/<key>.pt``, or ``ckpt/<key>.fit<i>.pt`` when a run has several."""
    d = store.dir / "ckpt"
    return [d / f"{key}.pt"] if n_fits == 1 else [d / f"{key}.fit{i}.pt" for i in range(n_fits)]


def remove_checkpoint(path: Path) -> None:
    """Remove a finished run's checkpoint and any temporary one a killed writer left (hold the run's claim)."""
    path.unlink(missing_ok=True)
    discard_temporaries(path)


def _cost(model_name: str, data: SuiteData, p: RunParams, model) -> tuple[int, float]:
    cost_key = (data.checksum, model_name, repr(p.as_dict()))
    if cost_key not in _COST_CACHE:  # the same for every seed
        _COST_CACHE[cost_key] = (count_params(model), flops_per_sample(model, data.train))
    return _COST_CACHE[cost_key]


def run_cost(plan: list[tuple[RunParams, tuple[int, ...]]], costs: list[tuple[int, float]], n_tasks: int) -> tuple[int, float]:
    """(n_params, FLOPs per sample) of the networks a run uses. One fit: its model. Several (independent tasks:
    every parameter has a leading task axis, so task k's network is 1/K of its fit's model, embedding tables
    included): the sum over tasks of task k's network in the fit that trained it."""
    if len(plan) == 1:
        return costs[0]
    n_params = sum(n * len(tasks) for (_, tasks), (n, _) in zip(plan, costs))
    return n_params // n_tasks, sum(f * len(tasks) for (_, tasks), (_, f) in zip(plan, costs)) / n_tasks


def merge_fits(data: SuiteData, plan: list[tuple[RunParams, tuple[int, ...]]], results: list[FitResult]) -> tuple[FitResult, list[dict[str, Any]]]:
    """One run's result from its fits, task-wise: task k's validation and test metrics, test SE, best epoch and
    validation history come from the fit that used task k's parameters (each fit's test split was evaluated
    once, at its end; only its own tasks' numbers are kept). Also returns what each fit contributed (its params
    source, tasks, best epochs and own history), which records of task-wise params keep in ``extra["fits"]``."""
    K = data.n_tasks
    src = [0] * K
    for g, (_, tasks) in enumerate(plan):
        for k in tasks:
            src[k] = g
    fits = [{"params_source": str(p.source), "tasks": [data.tasks[k].name for k in tasks], "best_epochs": r.best_evals,
             "epochs_run": r.epochs_run, "evals_run": r.evals_run, "val_score": r.val_score, "train_seconds": r.train_seconds,
             "history": r.history}
            for (p, tasks), r in zip(plan, results)]
    if len(results) == 1:
        return results[0], fits
    val = [results[src[k]].val_metrics[k] for k in range(K)]
    history = []
    for e in range(max(len(r.history) for r in results)):
        # Evaluation e of every fit (fits of one run share the schedule); per-task entries from task k's fit.
        at = [results[src[k]].history[e] if e < len(results[src[k]].history) else None for k in range(K)]
        v = [h["val"][k] if h else None for k, h in enumerate(at)]
        first = next(h for h in at if h)
        history.append({"eval": e, "epoch": first["epoch"], "step": first.get("step"), "train_loss": None,
                        "train_losses": [h["train_losses"][k] if h and "train_losses" in h else None for k, h in enumerate(at)],
                        "val_score": M.score(data.tasks, v) if None not in v else None, "val": v})
    seconds = sum(r.train_seconds for r in results)
    samples = sum(r.samples_per_second * r.train_seconds for r in results)
    pred = None
    if all(r.test_pred is not None for r in results):  # task k's outputs from task k's fit
        pred = results[0].test_pred.copy()
        for k in range(K):
            pred[:, k] = results[src[k]].test_pred[:, k]
    merged = FitResult(
        history=history,
        best_evals=[results[src[k]].best_evals[k if len(results[src[k]].best_evals) == K else 0] for k in range(K)],
        val_metrics=val,
        val_score=M.score(data.tasks, val),
        test_metrics=[results[src[k]].test_metrics[k] for k in range(K)] if all(r.test_metrics for r in results) else [],
        test_se=[results[src[k]].test_se[k] for k in range(K)] if all(r.test_se for r in results) else [],
        test_boot=[results[src[k]].test_boot[k] for k in range(K)] if all(r.test_boot for r in results) else [],
        train_seconds=seconds,
        samples_per_second=samples / seconds if seconds > 0 else 0.0,
        evals_run=max(r.evals_run for r in results),
        max_evals=max(r.max_evals for r in results),
        evals_per_epoch=results[0].evals_per_epoch,
    )
    if pred is not None:  # test metrics, paired replicates and product metrics of the merged outputs
        evaluate_test_split(merged, data, pred, data.test)
    return merged, fits


def train_run(model_name: str, data: SuiteData, rp: RunParams, seed: int, device: torch.device,
              checkpoints: list[Path] | None = None, progress: Any = None, label: str = "") -> tuple[FitResult, int, float, list[dict[str, Any]] | None]:
    """Train one run (one fit per distinct parameter set, each built after ``seed_everything(seed)`` and trained
    on the full suite with ``seed``) -> (FitResult, n_params, flops, fits). Raises what ``fit`` raises."""
    plan = fit_plan(model_name, data, rp)
    paths = checkpoints or [None] * len(plan)
    results, costs = [], []
    if progress:  # one progress line per run; its epochs are those of all its fits, one after the other
        progress.start(label + (f" ({len(plan)} fits: task-wise params)" if len(plan) > 1 else ""),
                       sum(p.train.max_evals for p, _ in plan))
    try:
        offset = 0
        for (p, _), ckpt in zip(plan, paths):
            seed_everything(seed)
            model = build_model(model_name, data.inputs, data.tasks, p.model, p.shared)
            costs.append(_cost(model_name, data, p, model))
            results.append(fit(model, data, p.train, seed, device, checkpoint=ckpt,
                               on_epoch=(lambda e, s, m, o=offset: progress.epoch(o + e, s)) if progress else None))
            offset += p.train.max_evals
    finally:
        if progress:
            progress.end()
    result, fits = merge_fits(data, plan, results)
    return (result, *run_cost(plan, costs, data.n_tasks), fits if rp.per_task else None)


def hardware(device: torch.device) -> str:
    """The processor (or GPU) a record was trained on, e.g. 'Intel(R) Xeon(R) ... (2 threads)'."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            name = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), name)
    except OSError:
        pass
    n = torch.get_num_threads()
    return f"{name} ({n} thread{'' if n == 1 else 's'})"


def run(
    models: list[str] | None = None,
    suites: list[str] | None = None,
    seeds: int | None = None,
    profile: str = "quick",
    device: str = "auto",
    force: bool = False,
    results_dir: str | Path | None = None,
    params: ParamsResolver | None = None,
    progress: Any = None,
    overrides: dict[str, Any] | None = None,
    suite_files: list[str | Path] | None = None,
    weightings: list[str] | None = None,
    only_seeds: Collection[int] | None = None,
) -> RunSummary:
    """Train every model on every suite instance over ``seeds`` seeds and write one record per run.

    Finished runs (same key: suite, data, profile, model, parameters, seed) are skipped unless ``force``; a
    finished run requested under a label (``RunParams.source``) it does not carry yet gets the label added
    and is not trained again (its record keeps the machine and timestamp of its training).
    ``progress`` is an optional object with
    ``start(label, total_epochs)``, ``epoch(epoch, val_score)``, ``end(runs=1)`` and optionally ``skip()`` for a
    run that needs no training (the CLI passes rich bars).
    ``overrides`` sets named hyper-parameters on top of the resolved ones (``--set``).
    ``suite_files``: user suite TOML files (``--suite-file``) to register and run; given without ``suites``,
    only their suites run.
    ``weightings``: loss-weighting strategies (``mtlbench list weightings``; ``"*"`` = all) each run is trained
    with (``weighted_params``: a strategy's own study when the resolver has one, else the resolved parameters
    with the strategy at its paper's defaults); default: the parameters' own (static unless set). The strategy
    is part of the record's parameters and key.
    ``only_seeds``: run only these of the seeds ``0 .. seeds-1`` (``mtlbench.parallel`` hands each worker
    process its share this way).
    """
    plan = plan_run(models, suites, seeds, profile, results_dir, suite_files, params)
    prof, store = plan.prof, plan.store
    dev = resolve_device(device)
    git_commit()  # now, while the checkout still matches the loaded code (cached for every record)
    summary = RunSummary()
    seeds_to_run = [s for s in range(plan.n_seeds) if only_seeds is None or s in only_seeds]

    for _, data, model_name, rp in planned_trainings(plan, overrides, weightings, summary):
        _run_model(model_name, data, prof, rp, seeds_to_run, force, dev, store, progress, summary)
    return summary


def planned_trainings(plan: RunPlan, overrides: dict[str, Any] | None, weightings: list[str] | None,
                      summary: RunSummary) -> Iterator[tuple[str, SuiteData, str, RunParams]]:
    """(suite instance, its data, model, parameters) of every training ``plan`` asks for, in order, for the
    local runner and the Ray executor alike. A model that does not run on a suite (``skip_reason``) or not
    with a weighting (``weighting_skip``) goes to ``summary.not_applicable`` with the reason instead."""
    for instance in plan.instances:
        data = load_suite(instance, plan.prof)
        for model_name in plan.model_names:
            if (why := skip_reason(model_name, data.tasks)) is not None:
                summary.not_applicable.append(f"{data.name}/{model_name} ({why})")
                continue
            for rp in weighted_params(plan.params, model_name, data, plan.prof, overrides, weightings):
                if (why := weighting_skip(model_name, rp.train.weighting)) is not None:
                    summary.not_applicable.append(f"{data.name}/{model_name} ({why})")
                    continue
                yield instance, data, model_name, rp


class RunPlan(NamedTuple):
    """What ``run`` (and the Ray executor) work through: profile, models, suite instances, seeds, the record
    store and the parameter resolver."""
    prof: Profile
    model_names: list[str]
    instances: list[str]
    n_seeds: int
    store: RecordStore
    params: ParamsResolver


def plan_run(models, suites, seeds, profile, results_dir, suite_files=None, params=None) -> RunPlan:
    """Resolve and check a run's arguments (user suites registered, writable results, the default resolver:
    tuned params from this profile's studies when they exist, else defaults)."""
    if suite_files:
        from .tasks.user_file import with_suite_files

        suites = with_suite_files(suites, suite_files)
    prof = get_profile(profile)
    model_names = resolve_models(models)
    instances = expand_suites(suites, prof)
    n_seeds = prof.seeds if seeds is None else seeds
    if n_seeds < 1:
        raise MtlbenchError(f"--seeds {n_seeds} is out of range; use at least 1.")
    store = RecordStore(prof.name, results_dir)
    check_writable(store.dir)
    if params is None:
        from .tuning.resolve import StudyParams

        params = StudyParams(None, results_dir)
    return RunPlan(prof, model_names, instances, n_seeds, store, params)


def weighted_params(resolver: ParamsResolver, model_name: str, data: SuiteData, prof: Profile,
                    overrides: dict[str, Any] | None, weightings: list[str] | None) -> list[RunParams]:
    """The parameter sets a run trains ``model_name`` with on ``data``: one per loss weighting (``"*"``: every
    registered one), with ``overrides`` (``--set``) on top; no weightings: the resolver's own parameters.

    For a strategy, a resolver with a ``for_weighting(model, data, profile, weighting)`` method (``StudyParams``)
    gives that strategy's own study when it exists; otherwise (or for a plain resolver) the resolved parameters
    train with the strategy at its paper defaults and their source says so (``params.with_weighting``)."""
    if not weightings:
        return [apply_overrides(model_name, resolver(model_name, data, prof), overrides)]
    out = []
    for name in resolve_weightings(weightings):
        for_weighting = getattr(resolver, "for_weighting", None)
        rp = for_weighting(model_name, data, prof, name) if for_weighting else resolver(model_name, data, prof)
        out.append(apply_overrides(model_name, with_weighting(rp, name), overrides))
    return out


def _run_model(model_name, data, prof, rp, seeds: list[int], force, dev, store, progress, summary) -> None:
    """The given seeds of one (suite, model, parameter set): label, train stacked or one by one, record."""
    parts = {seed: key_parts(data, prof, model_name, rp, seed) for seed in seeds}
    keys = {seed: key_of(**p) for seed, p in parts.items()}
    summary.keys.extend(keys.values())
    together = _train_stacked(model_name, data, prof, rp, keys, force, dev, store, progress, summary)
    for seed, key in keys.items():
        if seed in together:  # trained with the other seeds as one stacked model (multiseed)
            continue
        label = str(RunId(data.name, model_name, seed))
        if store.exists(key) and not force and _carries(store, parts[seed], rp.source):
            summary.skipped.append(label)
            _skip(progress)
            continue
        with store.claim(key) as mine:
            if not mine:  # another process is training (or labelling) this run right now
                summary.skipped.append(f"{label} (running in another process)")
                _skip(progress)
                continue
            if store.exists(key) and not force:  # finished earlier, maybe under another label
                (summary.labelled if label_existing(store, key, parts[seed], rp.source) else summary.skipped).append(label)
                _skip(progress)
                continue
            outcome = _train_one(model_name, data, prof, rp, seed, dev, key, store, progress, summary)
            if outcome is None:
                continue
            record = build_record(model_name, data, prof, rp, seed, dev, *outcome)
            record.key = key
            write_keeping_labels(store, record)
            for ckpt in checkpoint_paths(store, key, len(fit_plan(model_name, data, rp))):
                remove_checkpoint(ckpt)
            summary.done.append(label)


def key_parts(data: SuiteData, profile: Profile, model_name: str, params: RunParams, seed: int) -> dict[str, Any]:
    """What identifies one training (``records.key_of``): the suite's data, the profile, model, parameters, seed."""
    return dict(suite=data.name, suite_version=data.version, data_checksum=data.checksum, profile=profile.name,
                model=model_name, params=params.as_dict(), seed=seed)


def label_existing(store: RecordStore, key: str, parts: dict[str, Any], source: ParamsSource) -> bool:
    """A finished training asked for under ``source``: add that label unless it (or a replicate) carries it
    already. The caller holds the key's claim. Whether a label was added."""
    return not _carries(store, parts, source) and store.add_label(key, str(source))


def write_keeping_labels(store: RecordStore, record: RunRecord) -> None:
    """Write ``record`` (the caller holds its claim; atomic); replacing one (``--force``), keep its labels."""
    if store.exists(record.key):
        record.params_sources = with_label([record.params_source, *store.labels(record.key)], record.params_source)
    store.write(record)


def _carries(store: RecordStore, parts: dict[str, Any], source: ParamsSource) -> bool:
    """Whether a finished training of these key parts carries the label ``source``: the record itself or one
    of its replicates (``RunRecord.replicate``: independent trainings kept from schema 1)."""
    label, replicate = str(source), 0
    while store.path(key := key_of(**parts, replicate=replicate)).exists():
        if label in store.labels(key):
            return True
        replicate += 1
    return False


def _failure(run_id: RunId, weighting: str = STATIC_WEIGHTING) -> dict[str, Any]:
    """What a failure file says about its run: the run (typed fields, and as text for people), its loss
    weighting when not static (``status`` counts runs per weighting) and when."""
    named = {} if weighting == STATIC_WEIGHTING else {"weighting": weighting}
    return {**run_id.as_dict(), "run": str(run_id), **named, "timestamp": now()}


def _skip(progress: Any) -> None:
    """Tell the progress display a run needs no training (optional: ``progress.skip()``)."""
    if progress is not None and hasattr(progress, "skip"):
        progress.skip()


_COST_CACHE: dict[tuple[str, str, str], tuple[int, float]] = {}


def _train_stacked(model_name, data, prof, rp, keys, force, dev, store, progress, summary) -> set[int]:
    """Train the missing seeds of one (suite, model) together as one stacked model (``multiseed.fit_seeds``)
    where that is faster (``stacking_pays_off``), writing the same records as one by one. Returns the seeds
    handled (done or failed); the rest go one by one. Runs resuming from a checkpoint go one by one."""
    from contextlib import ExitStack

    from .multiseed import fit_seeds, stacking_pays_off

    plan = fit_plan(model_name, data, rp)  # task-wise params: one stacked training per distinct parameter set
    ckpts = {seed: checkpoint_paths(store, key, len(plan)) for seed, key in keys.items()}
    todo = [s for s in keys if (force or not store.exists(keys[s])) and not any(c.exists() for c in ckpts[s])]
    if not stacking_pays_off(dev, len(todo)):
        return set()
    with ExitStack() as held:
        mine = [s for s in todo if held.enter_context(store.claim(keys[s]))]
        mine = [s for s in mine if force or not store.exists(keys[s])]
        if len(mine) < 2:
            return set()
        results: dict[int, list[FitResult]] = {s: [] for s in mine}
        errors: dict[int, DivergedError] = {}
        costs = []
        shown, offset = [-1], [0]
        stacked = False

        def on_epoch(seed, epoch, score, metrics):
            if progress and offset[0] + epoch > shown[0]:
                shown[0] = offset[0] + epoch
                progress.epoch(shown[0], score)

        if progress:
            part = f", {len(plan)} fits: task-wise params" if len(plan) > 1 else ""
            progress.start(f"{data.name}/{model_name}/seeds {','.join(map(str, mine))} (stacked{part})",
                           sum(p.train.max_evals for p, _ in plan))
        try:
            for i, (p, _) in enumerate(plan):
                seed_everything(mine[0])
                costs.append(_cost(model_name, data, p, build_model(model_name, data.inputs, data.tasks, p.model, p.shared)))
                alive = [s for s in mine if s not in errors]
                if not alive:
                    break
                out = fit_seeds(lambda p=p: build_model(model_name, data.inputs, data.tasks, p.model, p.shared), data, p.train,
                                alive, dev, checkpoints=[ckpts[s][i] for s in alive], on_epoch=on_epoch, return_errors=True)
                offset[0] += p.train.max_evals
                for seed, result in zip(alive, out):
                    if isinstance(result, DivergedError):
                        errors[seed] = result
                    else:
                        results[seed].append(result)
            stacked = True
        except MtlbenchError:
            raise
        except Exception:  # noqa: BLE001 - e.g. an op vmap cannot batch: train these seeds one by one instead
            return set()  # (the fits done so far resume from their checkpoints; the bar counts them then)
        finally:
            if progress:
                progress.end(len(mine) if stacked else 0)
        for seed in mine:
            run_id = RunId(data.name, model_name, seed)
            label = str(run_id)
            if seed in errors:
                summary.failed.append((label, str(errors[seed])))
                store.write_failure(keys[seed], {**_failure(run_id, rp.train.weighting), "reason": str(errors[seed])})
            else:
                result, fits = merge_fits(data, plan, results[seed])
                record = build_record(model_name, data, prof, rp, seed, dev, result, *run_cost(plan, costs, data.n_tasks),
                                      fits if rp.per_task else None)
                record.key = keys[seed]
                write_keeping_labels(store, record)
                summary.done.append(label)
            for ckpt in ckpts[seed]:
                remove_checkpoint(ckpt)
    return set(mine)


def _train_one(model_name, data, prof, rp, seed, dev, key, store, progress, summary):
    """Train one run; returns (FitResult, n_params, flops, fits) or None when it failed (failure recorded)."""
    run_id = RunId(data.name, model_name, seed)
    label = str(run_id)
    ckpts = checkpoint_paths(store, key, len(fit_plan(model_name, data, rp)))
    try:
        return train_run(model_name, data, rp, seed, dev, checkpoints=ckpts, progress=progress, label=label)
    except MtlbenchError:
        raise
    except DivergedError as err:
        summary.failed.append((label, str(err)))
        store.write_failure(key, {**_failure(run_id, rp.train.weighting), "reason": str(err)})
        for ckpt in ckpts:
            remove_checkpoint(ckpt)
        return None
    except Exception as err:  # noqa: BLE001 - a broken run must not end the sweep
        reason = f"{err.__class__.__name__}: {err}"
        summary.failed.append((label, reason))
        store.write_failure(key, {**_failure(run_id, rp.train.weighting), "reason": reason, "traceback": traceback.format_exc()})
        return None


def status(profile: str = "quick", results_dir: str | Path | None = None, models: list[str] | None = None, suites: list[str] | None = None) -> list[dict[str, Any]]:
    """Which (suite, model, weighting, seed) runs of a profile are done, failed or missing (any params source):
    the static weighting's always, another weighting's where a record or failure of it exists for that
    (suite, model). Each row names its ``weighting``."""
    prof = get_profile(profile)
    store = RecordStore(prof.name, results_dir)
    done = {(r["suite"], r["model"], _record_weighting(r), r["seed"]) for r in store.records()}
    failed = {}
    for f in store.failures():
        if (run_id := RunId.from_failure(f)) is not None:
            failed[(run_id.suite, run_id.model, str(f.get("weighting", STATIC_WEIGHTING)), run_id.seed)] = f.get("reason", "")
    tried: dict[tuple[str, str], set[str]] = {}
    for suite, model, weighting, _ in (*done, *failed):
        tried.setdefault((suite, model), set()).add(weighting)
    rows = []
    for instance in expand_suites(suites, prof):
        for m in resolve_models(models):
            for w in [STATIC_WEIGHTING, *sorted(tried.get((instance, m), set()) - {STATIC_WEIGHTING})]:
                for s in range(prof.seeds):
                    k = (instance, m, w, s)
                    state = "done" if k in done else ("failed" if k in failed else "missing")
                    rows.append({"suite": instance, "model": m, "weighting": w, "seed": s, "state": state,
                                 "reason": failed.get(k, "")})
    return rows


def _record_weighting(record: dict[str, Any]) -> str:
    """A record's loss weighting (left out of its params when static, as in records made before weightings)."""
    return str(((record.get("params") or {}).get("train") or {}).get("weighting", STATIC_WEIGHTING))


def _register_record_suite(rec: dict[str, Any]) -> None:
    """Make a user suite's record reproducible: register its suite file (the path the record keeps) unless a
    suite of that name is registered already (e.g. through ``--suite-file``)."""
    from .suites import SUITES

    path = (rec.get("suite_params") or {}).get("suite_file")
    if not path or rec["suite_family"] in SUITES.names():
        return
    if not Path(path).is_file():
        raise MtlbenchError(f"record {rec['key']} was made from the suite file {path}, which no longer exists; "
                            "pass its new path with --suite-file.")
    from .tasks.user_file import register_suite_file

    register_suite_file(path)


def reproduce(key: str, profile: str = "quick", results_dir: str | Path | None = None, device: str = "cpu") -> dict[str, Any]:
    """Re-run one record from what it stores (suite, data checksum, params, seed) and compare.

    Uses the record's thread count so CPU results are bitwise comparable. Writes nothing
    (``reproductions.save`` keeps the returned check).
    Returns {"record": ..., "rows": [{task, metric, recorded, reproduced, diff}], "same_setup": bool,
    "check": ``reproductions.Reproduction``}.
    """
    from .params import params_from_dict

    prof = get_profile(profile)
    rec = RecordStore(prof.name, results_dir).find(key)
    _register_record_suite(rec)
    data = load_suite(rec["suite"], prof)
    if data.checksum != rec["data_checksum"]:
        raise MtlbenchError(
            f"the data of suite {rec['suite']!r} changed since record {rec['key']} was made (checksum "
            f"{data.checksum} != {rec['data_checksum']}); check out the suite version {rec['suite_version']} it used."
        )
    rp = params_from_dict(rec["model"], data, prof, rec["params"], ParamsSource.parse(rec["params_source"]))
    dev = resolve_device(device)
    threads = torch.get_num_threads()
    torch.set_num_threads(int(rec["threads"]))
    try:
        result = train_run(rec["model"], data, rp, rec["seed"], dev)[0]
    finally:
        torch.set_num_threads(threads)
    rows = []
    for k, t in enumerate(rec["tasks"]):
        a, b = rec["test_metrics"][k][t["metric"]], result.test_metrics[k][t["metric"]]
        rows.append({"task": t["name"], "metric": t["metric"], "recorded": a, "reproduced": b, "diff": abs(a - b)})
    check = Reproduction(rec["key"], rec["suite"], rec["model"], int(rec["seed"]), str(rec["commit"]), git_commit(),
                         str(rec["device"]), str(dev), rows, now())
    return {"record": rec, "rows": rows, "same_setup": rec["device"] == str(dev), "check": check}
