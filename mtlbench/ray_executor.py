"""``--executor ray``: runs and tuning workers as tasks on an existing Ray cluster (``pip install 'mtlbench[ray]'``).

``run_ray``: the driver (this process) plans the runs as ``runner.run`` does — finished records are skipped,
a finished run requested under a new label gets the label — and submits every missing run as one Ray task
(``num_cpus`` = threads per run, ``num_gpus`` = 1 with ``--device cuda``). The task loads the suite on its
node (built-in suites are generated or vendored; local-data suites and ``--suite-file`` files must exist at
the same path on every node), checks its checksum against the driver's, trains and returns the record; the
driver writes it, so the nodes need no shared filesystem. A task whose worker dies (a killed process, a lost
node) is run again by Ray, up to ``RETRIES`` times; a run that still fails is listed as failed. Seeds train
one per task (no stacking), each with ``threads`` torch threads, so CPU records match a local run with the
same thread count.

``tune_ray``: ``jobs`` Ray tasks, each an Optuna worker (``tuning.tune``) on the shared PostgreSQL storage
(journal files would need a shared filesystem), each with its own sampler seed; the driver then exports the
finished studies' summaries into its own results folder.

Every node runs the same mtlbench and torch as the driver (install it on each).
"""
from __future__ import annotations

import json
import logging
import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import MtlbenchError
from .params import RunParams

#: Times Ray runs a task again after its worker died (Ray's ``max_retries``); exceptions are not retried.
RETRIES = 3


def connect(address: str | None) -> Any:
    """Import ray and connect to the cluster at ``address`` (None: ``$RAY_ADDRESS``, else ``auto``)."""
    try:
        import ray
    except ImportError:
        raise MtlbenchError("--executor ray needs Ray; install it with pip install 'mtlbench[ray]'.") from None
    if not ray.is_initialized():
        where = address or os.environ.get("RAY_ADDRESS") or "auto"
        try:
            ray.init(address=where, logging_level=logging.WARNING, log_to_driver=False, configure_logging=False)
        except ConnectionError as err:
            raise MtlbenchError(f"no Ray cluster at {where!r} ({err}); start one with `ray start --head` or pass "
                                "--ray-address HOST:PORT.") from None
    return ray


# ---------------------------------------------------------------- the task
@dataclass(frozen=True)
class RayRun:
    """Everything a node needs to train one run (suite data is loaded there, by name)."""

    instance: str
    model: str
    seed: int
    profile: str
    params: RunParams
    checksum: str  # the driver's data checksum of ``instance``
    device: str
    threads: int
    suite_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class RayOutcome:
    """What a task returns: the record (JSON text), or why the run failed (and a traceback, if any)."""

    record: str | None = None
    reason: str = ""
    trace: str = ""


def train_remote(job: RayRun) -> RayOutcome:
    """Train ``job`` in this (Ray worker) process and return its record; never raises for a failed run."""
    import torch

    from .errors import DivergedError
    from .profiles import get_profile
    from .runner import build_record, resolve_device, train_run
    from .suites import keep_last_suite, load_suite

    torch.set_num_threads(job.threads)
    keep_last_suite()  # consecutive runs on this worker mostly share their suite
    try:
        if job.suite_files:
            from .tasks.user_file import register_suite_files

            register_suite_files(list(job.suite_files))
        prof = get_profile(job.profile)
        data = load_suite(job.instance, prof)
        if data.checksum != job.checksum:
            return RayOutcome(reason=f"the data of {job.instance} on this node (checksum {data.checksum}) differs from the "
                                     f"driver's ({job.checksum}); install the same mtlbench and data on every node")
        dev = resolve_device(job.device)
        outcome = train_run(job.model, data, job.params, job.seed, dev)
        return RayOutcome(record=build_record(job.model, data, prof, job.params, job.seed, dev, *outcome).to_json())
    except (DivergedError, MtlbenchError) as err:
        return RayOutcome(reason=str(err))
    except Exception as err:  # noqa: BLE001 - a broken run must not end the sweep
        return RayOutcome(reason=f"{err.__class__.__name__}: {err}", trace=traceback.format_exc())


# ---------------------------------------------------------------- the driver
def run_ray(address: str | None, threads: int, models: list[str] | None, suites: list[str] | None, seeds: int | None,
            profile: str, device: str, progress: Any = None, force: bool = False, results_dir: str | Path | None = None,
            params: Any = None, overrides: dict[str, Any] | None = None,
            suite_files: list[str | Path] | None = None, weightings: list[str] | None = None) -> Any:
    """``runner.run`` on a Ray cluster (module docstring); returns the RunSummary. ``progress``: each finished
    run is one ``start(label, 1)``/``end()`` pair, each skipped one a ``skip()``."""
    from .provenance import RunId
    from .records import key_of
    from .runner import RunSummary, _skip, key_parts, label_existing, plan_run, planned_trainings

    plan = plan_run(models, suites, seeds, profile, results_dir, suite_files, params)
    prof, n_seeds, store = plan.prof, plan.n_seeds, plan.store
    ray = connect(address)
    task = ray.remote(num_cpus=threads, num_gpus=1 if device.startswith("cuda") else 0, max_retries=RETRIES,
                      retry_exceptions=False)(train_remote)
    summary = RunSummary()
    submitted: dict[Any, tuple[RunId, str, RunParams]] = {}
    for instance, data, model_name, rp in planned_trainings(plan, overrides, weightings, summary):
        for seed in range(n_seeds):
            parts = key_parts(data, prof, model_name, rp, seed)
            key, run_id = key_of(**parts), RunId(instance, model_name, seed)
            summary.keys.append(key)
            if store.exists(key) and not force:
                with store.claim(key) as mine:
                    added = bool(mine) and label_existing(store, key, parts, rp.source)
                (summary.labelled if added else summary.skipped).append(str(run_id))
                _skip(progress)
                continue
            job = RayRun(instance, model_name, seed, prof.name, rp, data.checksum, device, threads,
                         tuple(str(f) for f in suite_files or ()))
            submitted[task.options(name=f"mtlbench {run_id}").remote(job)] = (run_id, key, rp)
    _collect(ray, submitted, store, summary, progress, force)
    return summary


def _collect(ray: Any, submitted: dict[Any, tuple[Any, str, RunParams]], store: Any, summary: Any, progress: Any,
             force: bool) -> None:
    """Write each record as its task finishes (the driver holds the claim while writing)."""
    from .records import RunRecord
    from .runner import _failure, write_keeping_labels

    pending = list(submitted)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        ref = ready[0]
        run_id, key, rp = submitted[ref]
        label = str(run_id)
        try:
            out: RayOutcome = ray.get(ref)
        except Exception as err:  # noqa: BLE001 - the task's worker died more than RETRIES times
            out = RayOutcome(reason=f"Ray task lost {RETRIES + 1} times ({err.__class__.__name__})")
        if progress is not None:
            progress.start(label, 1)
        if out.record is None:
            summary.failed.append((label, out.reason))
            store.write_failure(key, {**_failure(run_id, rp.train.weighting), "reason": out.reason, **({"traceback": out.trace} if out.trace else {})})
        else:
            record = RunRecord(**json.loads(out.record))
            record.key = key
            with store.claim(key) as mine:
                if not mine or (store.exists(key) and not force):  # another process trained it meanwhile
                    summary.skipped.append(f"{label} (trained by another process)")
                else:
                    write_keeping_labels(store, record)
                    summary.done.append(label)
        if progress is not None:
            progress.end()


# ---------------------------------------------------------------- tuning
def tune_ray(address: str | None, jobs: int | None, threads: int, tune_args: dict[str, Any],
             sampler_seed: int | None) -> list[dict[str, Any]]:
    """``jobs`` Optuna workers as Ray tasks on ``tune_args["storage"]`` (PostgreSQL), then the summaries, exported
    into this machine's results folder. ``jobs`` None: the cluster's CPUs ÷ ``threads``."""
    from .tuning import tune

    storage = tune_args.get("storage") or ""
    if not storage.startswith("postgresql"):
        raise MtlbenchError("tune --executor ray needs --storage postgresql://USER:PASS@HOST/DB (the Ray workers share the "
                            "studies there; journal files would need a shared filesystem).")
    ray = connect(address)
    if jobs is None:
        jobs = max(1, int(ray.cluster_resources().get("CPU", 1)) // threads)
    worker = ray.remote(num_cpus=threads, max_retries=RETRIES, retry_exceptions=False)(_tune_worker)
    seeds = [None if sampler_seed is None else sampler_seed + i for i in range(jobs)]
    refs = [worker.remote(tune_args, threads, s) for s in seeds]
    for ref in refs:
        try:
            ray.get(ref)
        except Exception as err:  # noqa: BLE001 - a lost worker's trials are failed by the heartbeat; the others go on
            logging.getLogger(__name__).warning("a Ray tuning worker was lost (%s)", err.__class__.__name__)
    # Every study is complete now: this call trains nothing (its deadline is already past) and exports them here.
    return tune(**{**tune_args, "timeout": 1e-9})


def _tune_worker(tune_args: dict[str, Any], threads: int, sampler_seed: int | None) -> int:
    """One Optuna worker on a Ray node; its study summaries go to a throw-away folder there."""
    import tempfile

    import torch

    from .tuning import tune

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="mtlbench-tune-") as tmp:
        return len(tune(**{**tune_args, "results_dir": tmp, "sampler_seed": sampler_seed}))
