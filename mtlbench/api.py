"""The Python API, one function per command, taking the command's options as arguments:

``run``, ``tune``, ``status``, ``reproduce``, ``report``, ``export``, ``compare``, ``load_results``. Every
function that takes suites takes ``suite_files`` (user suite TOMLs, ``--suite-file``); every default profile is
``DEFAULT_PROFILE`` as on the command line; ``mlflow`` (``--mlflow``) logs to an MLflow tracking URI.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .errors import MtlbenchError
from .profiles import DEFAULT_PROFILE

__all__ = ["DEFAULT_PROFILE", "run", "tune", "status", "reproduce", "report", "export", "compare", "register_suite_files"]

PathLike = str | Path


def register_suite_files(suites: list[str] | None, suite_files: Sequence[PathLike] | None) -> list[str] | None:
    """``suites`` plus the suites of ``suite_files`` (registered and checked); only suite files: just those."""
    if not suite_files:
        return suites
    from .tasks.user_file import with_suite_files

    return with_suite_files(suites, suite_files)


def run(models: list[str] | None = None, suites: list[str] | None = None, seeds: int | None = None,
        profile: str = DEFAULT_PROFILE, device: str = "auto", force: bool = False, results_dir: PathLike | None = None,
        params: Any = None, progress: Any = None, overrides: dict[str, Any] | None = None,
        suite_files: Sequence[PathLike] | None = None, mlflow: str | None = None, weightings: list[str] | None = None,
        jobs: int | None = None, threads: int | None = None, executor: str = "local", ray_address: str | None = None):
    """``mtlbench run``: ``runner.run`` (see there) in ``jobs`` worker processes of ``threads`` threads each
    (``mtlbench.parallel``; default: enough to keep the machine busy) or on a Ray cluster (``executor="ray"``),
    then, with ``mlflow`` (a tracking URI or folder), one MLflow run per record this call wrote, also when it is
    interrupted."""
    from .parallel import choose_layout, run_local
    from .selection import resolve_device
    from .profiles import get_profile
    from .records import RecordStore
    prof = get_profile(profile)
    if params is None:  # as the runner: tuned params from this profile's studies when they exist, else defaults
        from .tuning import StudyParams

        params = StudyParams(None, results_dir)
    kwargs = dict(force=force, results_dir=results_dir, params=params, overrides=overrides, suite_files=suite_files)
    if weightings:
        kwargs["weightings"] = weightings
    if executor not in ("local", "ray"):
        raise MtlbenchError(f"unknown executor {executor!r}; use local or ray.")
    sink = None
    if mlflow is not None:
        from .tracking import MlflowSink, new_records, record_mtimes

        sink = MlflowSink(mlflow)  # fails now, before training, when mlflow is missing
        records_dir = RecordStore(prof.name, results_dir).records_dir
        before = record_mtimes(records_dir)
    try:
        if executor == "ray":
            from .ray_executor import run_ray

            return run_ray(ray_address, choose_layout(None, threads).threads, models, suites, seeds, profile, device,
                           progress=progress, **kwargs)
        layout = choose_layout(jobs, threads, resolve_device(device).type)
        return run_local(layout, models, suites, seeds, profile, device, progress=progress, **kwargs)
    finally:
        if sink is not None:
            sink.log_records(new_records(before, records_dir))


def tune(models: list[str] | None = None, suites: list[str] | None = None, n_trials: int | None = None,
         timeout: float | None = None, profile: str = DEFAULT_PROFILE, storage: str | None = None,
         multi_objective: bool = False, pruner: str = "hyperband", device: str = "auto",
         results_dir: PathLike | None = None, sampler_seed: int | None = None, progress: Callable | None = None,
         notify: Callable[[str], None] | None = None, suite_files: Sequence[PathLike] | None = None,
         mlflow: str | None = None, jobs: int | None = None, threads: int | None = None, executor: str = "local",
         ray_address: str | None = None, weightings: list[str] | None = None) -> list[dict[str, Any]]:
    """``mtlbench tune``: ``tuning.tune`` on ``suites`` plus the suites of ``suite_files``, in ``jobs`` worker
    processes sharing the studies (``mtlbench.parallel``) or as Ray tasks on a PostgreSQL storage
    (``executor="ray"``); with ``mlflow``, each study as a parent MLflow run with its trials as nested runs.
    ``weightings`` (``--weighting``): one study per loss-weighting strategy (``"*"``: every one; default static),
    each searching the strategy's own hyper-parameters too. Returns the studies' summaries."""
    from .parallel import choose_layout, tune_local
    from .selection import resolve_device

    sink = None
    if mlflow is not None:
        from .tracking import MlflowSink

        sink = MlflowSink(mlflow)
    if executor not in ("local", "ray"):
        raise MtlbenchError(f"unknown executor {executor!r}; use local or ray.")
    args = dict(models=models, suites=register_suite_files(suites, suite_files), n_trials=n_trials, timeout=timeout,
                profile=profile, storage=storage, multi_objective=multi_objective, pruner=pruner, device=device,
                results_dir=results_dir)
    if weightings:
        from .selection import resolve_weightings

        resolve_weightings(weightings)  # an unknown name fails here, before any worker starts
        args["weightings"] = weightings
    if executor == "ray":
        from .ray_executor import tune_ray

        summaries = tune_ray(ray_address, jobs, choose_layout(None, threads).threads, args, sampler_seed)
    else:
        layout = choose_layout(jobs, threads, resolve_device(device).type)
        if suite_files and layout.jobs > 1:  # worker processes would not know the user's suites
            layout = choose_layout(1, layout.threads)
        summaries = tune_local(layout, args, sampler_seed, progress, notify)
    if sink is not None:
        for s in summaries:
            sink.log_study(s)
    return summaries


def status(profile: str = DEFAULT_PROFILE, results_dir: PathLike | None = None, models: list[str] | None = None,
           suites: list[str] | None = None, suite_files: Sequence[PathLike] | None = None) -> list[dict[str, Any]]:
    """``mtlbench status``: one row per (suite, model, seed) with its state (done, failed, missing)."""
    from .runner import status as status_

    return status_(profile, results_dir, models, register_suite_files(suites, suite_files))


def reproduce(key: str, profile: str = DEFAULT_PROFILE, results_dir: PathLike | None = None, device: str = "cpu",
              suite_files: Sequence[PathLike] | None = None, save: bool = False) -> dict[str, Any]:
    """``mtlbench reproduce``: re-run one record and compare its test metrics (``runner.reproduce``). A record of
    a user suite finds its suite file by the path it stores; ``suite_files`` names it when it moved. ``save``
    keeps the check (``reproductions.save``; its path under ``"saved"``) for the report."""
    from . import reproductions
    from .runner import reproduce as reproduce_

    register_suite_files(None, suite_files)
    out = reproduce_(key, profile, results_dir, device)
    if save:
        out["saved"] = reproductions.save(out["check"], profile, results_dir)
    return out


def report(profile: str | None = None, results_dir: PathLike | None = None, charts: bool = True, static: bool = True,
           suite_files: Sequence[PathLike] | None = None):
    """``mtlbench report``: write the reports of ``profile`` (default: every profile with records): the official
    leaderboard (registered suites) and, when there are such records, the user report (``--suite-file`` suites,
    ``--set`` runs) under ``results/<profile>/user/``. ``suite_files`` are checked first. Returns the
    ``report.ReportFiles`` written."""
    from .report import generate_all, profiles_with_records

    register_suite_files(None, suite_files)
    return [f for p in ([profile] if profile else profiles_with_records(results_dir))
            for f in generate_all(p, results_dir, charts=charts, static=static)]


def export(profile: str | None = None, fmt: str = "csv", out_dir: PathLike = "export",
           results_dir: PathLike | None = None) -> list[Path]:
    """``mtlbench export``: ``results.<fmt>`` and ``histories.<fmt>`` (long format) of a profile, or of every
    profile (``profile=None``, a ``profile`` column tells them apart)."""
    from .results import export as export_

    return export_(profile, fmt, out_dir, results_dir)


def compare(key_a: str, key_b: str, profile: str | None = None, results_dir: PathLike | None = None):
    """``mtlbench compare``: two records' configuration and test-metric differences (``results.Comparison``)."""
    from .results import compare as compare_

    return compare_(key_a, key_b, profile, results_dir)
