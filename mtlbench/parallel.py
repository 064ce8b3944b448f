"""Several runs at once: ``mtlbench run --jobs N`` / ``tune --jobs N`` on one machine, and ``--executor ray``.

Local (``run_local``): the driver splits the requested runs into units — one (suite instance, model, seed)
each on CPU, one (suite instance, model) with all its seeds on CUDA (where seeds train stacked) — and hands
them to ``jobs`` worker processes (``spawn``), each with ``threads`` torch threads. A worker trains a unit with
``runner.run`` itself, so per-key claims, resume, labels and failure records work as they do in one process
(and other processes may share the results folder). Records are those of one-by-one training: the same keys,
and on CPU the same metrics for the same thread count (``Layout.threads``; a record stores it). Workers send
their progress events through a queue; the driver shows them and merges the units' summaries.

Ray (``mtlbench.ray_executor``) uses ``plan_runs``/``RunTask`` below to submit the same runs to a cluster.
"""
from __future__ import annotations

import contextlib
import os
import queue as queue_mod
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from .errors import MtlbenchError
from .lifeline import die_with_parent, lifeline

#: How often (seconds) the driver looks at finished units while it relays progress events.
POLL_S = 0.1


@dataclass(frozen=True)
class Layout:
    """How runs share a machine: ``jobs`` worker processes with ``threads`` torch threads each."""

    jobs: int
    threads: int

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise MtlbenchError(f"--jobs {self.jobs} is out of range; use at least 1 worker process.")
        if self.threads < 1:
            raise MtlbenchError(f"--threads {self.threads} is out of range; use at least 1 thread per run.")


def cpu_count() -> int:
    """Cores this process may use (its CPU affinity, which containers and ``taskset`` restrict)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def env_threads() -> int | None:
    """``OMP_NUM_THREADS`` when set to a positive integer, else None."""
    try:
        n = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return None
    return n if n >= 1 else None


def choose_layout(jobs: int | None, threads: int | None, device_type: str = "cpu", cores: int | None = None) -> Layout:
    """The layout for ``--jobs``/``--threads`` (None: chosen).

    Threads per run: ``threads``, else ``OMP_NUM_THREADS``, else all cores split over the given ``jobs``,
    else 1 — the quick and standard models are small (a few hundred thousand dense parameters, batches of
    256–2048): one thread each keeps a core busy without fighting over caches, and N one-thread runs finish
    more runs per second than one N-thread run (``benchmarks/jobs.py``). Jobs: ``jobs``, else cores ÷ threads
    on CPU, and 1 on CUDA (one process drives the GPU; seeds train stacked there)."""
    cores = cores or cpu_count()
    if threads is None:
        threads = env_threads() or (max(1, cores // jobs) if jobs is not None and jobs >= 1 else 1)
    if jobs is None:
        jobs = 1 if device_type == "cuda" else max(1, cores // max(threads, 1))
    return Layout(jobs, threads)  # checks both


# ---------------------------------------------------------------- units of work
@dataclass(frozen=True)
class Unit:
    """What one worker call trains: a suite instance, a model and some of its seeds."""

    instance: str
    model: str
    seeds: tuple[int, ...]


def split_units(instances: list[str], models: list[str], n_seeds: int, per_seed: bool) -> list[Unit]:
    """Units in the order one process would train them (suite by suite, model by model, seed by seed)."""
    seed_groups = [(s,) for s in range(n_seeds)] if per_seed else [tuple(range(n_seeds))]
    return [Unit(i, m, g) for i in instances for m in models for g in seed_groups]


def merge_summaries(parts: list[Any]) -> Any:
    """One ``RunSummary`` from the units' (lists concatenated in unit order; repeated skip notes once)."""
    from .runner import RunSummary

    out = RunSummary()
    for s in parts:
        out.done += s.done
        out.failed += s.failed
        out.labelled += s.labelled
        out.skipped += [x for x in s.skipped if x not in out.skipped]
        out.not_applicable += [x for x in s.not_applicable if x not in out.not_applicable]
        out.keys += [k for k in s.keys if k not in out.keys]
    return out


# ---------------------------------------------------------------- progress through a queue
class QueueProgress:
    """The progress protocol of ``runner.run`` in a worker: every call becomes ``(pid, method, args)`` on a queue."""

    def __init__(self, q: Any):
        self.q, self.pid = q, os.getpid()

    def send(self, method: str, *args: Any) -> None:
        self.q.put((self.pid, method, args))

    def start(self, label: str, epochs: int) -> None:
        self.send("start", label, epochs)

    def epoch(self, epoch: int, score: float) -> None:
        self.send("epoch", epoch, score)

    def end(self, runs: int = 1) -> None:
        self.send("end", runs)

    def skip(self, runs: int = 1) -> None:
        self.send("skip", runs)


class FanIn:
    """Replays workers' events on the driver's progress object: each worker on its own ``progress.lane(pid)``
    when the object has lanes (the CLI's bars: one line per worker), else on the object itself."""

    def __init__(self, progress: Any):
        self.progress = progress
        self.lanes: dict[int, Any] = {}

    def __call__(self, pid: int, method: str, args: tuple) -> None:
        if self.progress is None:
            return
        if pid not in self.lanes:
            self.lanes[pid] = self.progress.lane(pid) if hasattr(self.progress, "lane") else self.progress
        target = self.lanes[pid]
        if method != "skip" or hasattr(target, "skip"):
            getattr(target, method)(*args)


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    """Torch uses ``n`` threads in this process inside the block."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ---------------------------------------------------------------- worker processes
_WORKER: dict[str, Any] = {}


def _init_worker(threads: int, q: Any, suite_files: list[str], parent_pid: int, lifeline_end: Any) -> None:
    """Worker start: bound to the driver's life (``lifeline.die_with_parent``), ``threads`` torch threads, the
    progress queue, the user's suite files registered."""
    die_with_parent(parent_pid, lifeline_end)
    import torch

    from .suites import keep_last_suite

    torch.set_num_threads(threads)
    keep_last_suite()  # consecutive units mostly share their suite
    if suite_files:
        from .tasks.user_file import register_suite_files

        register_suite_files(suite_files)
    _WORKER["progress"] = QueueProgress(q)


def _run_unit(unit: Unit, kwargs: dict[str, Any]) -> Any:
    """Train one unit in a worker (``runner.run`` on its instance, model and seeds); returns its RunSummary."""
    from .runner import run

    return run([unit.model], [unit.instance], only_seeds=unit.seeds, progress=_WORKER["progress"], **kwargs)


@contextlib.contextmanager
def pool(layout: Layout, q: Any, suite_files: list[str] | None = None) -> Iterator[ProcessPoolExecutor]:
    """``layout.jobs`` spawned worker processes (no fork of a process whose torch threads already run; a
    spawned process gets this one's environment and working directory), shut down at the end of the block.

    The workers end when this process ends, by any means, SIGKILL included (``mtlbench.lifeline``). Use the
    pool in the thread that opened it: on Linux a worker is killed when the thread that started it ends."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with lifeline(ctx) as lifeline_end, ProcessPoolExecutor(
            layout.jobs, mp_context=ctx, initializer=_init_worker,
            initargs=(layout.threads, q, [str(f) for f in suite_files or []], os.getpid(), lifeline_end)) as ex:
        yield ex  # the pool shuts down (its workers exit) before the lifeline closes


def relay(q: Any, on_event: Callable[[int, str, tuple], None], timeout: float = 0.0, most: int = 10_000) -> None:
    """Hand queued events to ``on_event``: wait up to ``timeout`` for the first, then take what is there
    (at most ``most``, so a busy queue never starves the caller)."""
    try:
        on_event(*q.get(timeout=timeout) if timeout else q.get_nowait())
        for _ in range(most):
            on_event(*q.get_nowait())
    except queue_mod.Empty:
        pass


def as_finished(futures: set[Future], q: Any, on_event: Callable[[int, str, tuple], None]) -> Iterator[Future]:
    """Yield each future as it finishes, relaying the workers' queued events meanwhile."""
    pending = set(futures)
    while pending:
        relay(q, on_event, timeout=POLL_S)
        done, pending = wait(pending, timeout=0, return_when=FIRST_COMPLETED)
        yield from done


def _picklable(obj: Any) -> bool:
    """Whether ``obj`` can be sent to a spawned worker process (else the runs train in this process)."""
    import pickle

    try:
        pickle.dumps(obj)
        return True
    except Exception:  # noqa: BLE001 - pickling raises several types (PicklingError, AttributeError, TypeError)
        return False


def run_local(layout: Layout, models: list[str] | None, suites: list[str] | None, seeds: int | None, profile: str,
              device: str, progress: Any = None, **kwargs: Any) -> Any:
    """``runner.run`` with ``layout.jobs`` worker processes (see the module docstring); returns the merged
    RunSummary. ``kwargs``: the other arguments of ``runner.run`` (force, results_dir, params, overrides,
    suite_files). With one job the runs train in this process, with ``layout.threads`` threads."""
    import multiprocessing as mp

    from .profiles import get_profile
    from .runner import resolve_device, resolve_models, run
    from .suites import expand_suites

    units: list[Unit] = []
    if layout.jobs > 1 and not _picklable(kwargs.get("params")):  # e.g. a lambda resolver from Python code
        layout = Layout(1, layout.threads)
    if layout.jobs > 1:
        files = kwargs.get("suite_files")
        if files:  # registered here (and in every worker); the units name their suites
            from .tasks.user_file import with_suite_files
        prof = get_profile(profile)
        n_seeds = prof.seeds if seeds is None else seeds
        if n_seeds < 1:
            raise MtlbenchError(f"--seeds {n_seeds} is out of range; use at least 1.")
        instances = expand_suites(with_suite_files(suites, files) if files else suites, prof)
        units = split_units(instances, resolve_models(models), n_seeds, per_seed=resolve_device(device).type != "cuda")
    if len(units) <= 1:  # one job, or nothing to share: train in this process
        with _threads(layout.threads):
            return run(models, suites, seeds, profile, device, progress=progress, **kwargs)
    layout = Layout(min(layout.jobs, len(units)), layout.threads)
    suite_files = kwargs.pop("suite_files", None)
    common = {**kwargs, "seeds": n_seeds, "profile": profile, "device": device}

    q = mp.get_context("spawn").Queue()
    results: dict[Future, int] = {}
    fan_in = FanIn(progress)
    with pool(layout, q, suite_files) as ex:
        for i, unit in enumerate(units):
            results[ex.submit(_run_unit, unit, common)] = i
        summaries: list[Any] = [None] * len(units)
        try:
            for fut in as_finished(set(results), q, fan_in):
                summaries[results[fut]] = fut.result()  # a user error in a unit (MtlbenchError) ends the command
        except BaseException:
            for fut in results:
                fut.cancel()
            raise
    relay(q, fan_in, timeout=POLL_S)  # events the workers' queue threads flushed as they exited
    return merge_summaries(summaries)


# ---------------------------------------------------------------- tuning workers
def _tune_unit(tune_args: dict[str, Any], sampler_seed: int | None) -> list[dict[str, Any]]:
    """One Optuna worker process (``tuning.tune``), its trial events and notes sent to the driver."""
    from .tuning import tune

    q = _WORKER["progress"]
    return tune(**tune_args, sampler_seed=sampler_seed,
                progress=lambda ev: q.send("trial", ev), notify=lambda msg: q.send("notify", msg))


def once(handler: Callable[[str], None]) -> Callable[[str], None]:
    """``handler`` called once per distinct text: every tuning worker says the same note (e.g. a model not
    tuned on a suite), the driver prints it once."""
    seen: set[str] = set()

    def forward(text: str) -> None:
        if text not in seen:
            seen.add(text)
            handler(text)

    return forward


def tune_local(layout: Layout, tune_args: dict[str, Any], sampler_seed: int | None,
               progress: Callable[[Any], None] | None = None, notify: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """``tuning.tune(**tune_args)`` in ``layout.jobs`` worker processes sharing the studies (journal files or
    ``tune_args["storage"]``), worker i with sampler seed ``sampler_seed + i`` (None: random). Each worker returns
    only when no trial of its studies still trains elsewhere, so any worker's summaries are final; returns the
    last one's. ``progress``/``notify`` hear every worker's trial events and notes."""
    from .tuning import tune

    if layout.jobs == 1:
        with _threads(layout.threads):
            return tune(**tune_args, sampler_seed=sampler_seed, progress=progress, notify=notify)
    import multiprocessing as mp

    handlers = {"trial": progress, "notify": once(notify) if notify is not None else None}

    def on_event(pid: int, kind: str, args: tuple) -> None:
        if handlers.get(kind) is not None:
            handlers[kind](*args)

    q = mp.get_context("spawn").Queue()
    last: list[dict[str, Any]] = []
    with pool(layout, q) as ex:
        futures = {ex.submit(_tune_unit, tune_args, None if sampler_seed is None else sampler_seed + i)
                   for i in range(layout.jobs)}
        for fut in as_finished(futures, q, on_event):
            last = fut.result()
    relay(q, on_event, timeout=POLL_S)
    return last
