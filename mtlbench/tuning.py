"""`mtlbench tune`: Optuna tuning with an equal budget per model (SPEC.md §2; issue 6).

One study per (model, suite instance, profile). Every model on a suite gets

* the same number of counted trials (``--trials``; COMPLETE + PRUNED trials that trained),
* one **reference trial** on top: the model's default configuration, trained to the end (never pruned) and
  not counted, so a study's best trial is never worse on validation than the defaults; a short search that
  finds nothing better (slow learners pruned early, say) then keeps the defaults instead of a worse config,
* the same epoch cap and patience (the profile's),
* the same parameter budget (``param_budget``): a trial whose model has more dense parameters is
  pruned before training, with the reason in its user attributes, so tuning compares structures
  rather than sizes,

and all three are recorded in the study's user attributes and in its JSON summary.

Search space (define-by-run) = the model's own ``search_space(trial, n_tasks)`` + the core space
(:func:`core_space`): lr (log-uniform), batch size, weight decay (log-uniform), dropout, loss weights
ω_k,0 for k ≥ 2 (ω_1,0 = 1) and decays γ_k ∈ [0.9, 1.1]. A parameter name belongs to one space only.

Objective: the validation score of SPEC.md §2 (−mean_k log err_k), computed by ``fit(...,
evaluate_test=False)``: the test split is never touched. Every trial stores the raw per-task validation
metrics and per-task scores (−log err_k) as user attributes. ``--multi-objective`` maximises the K
per-task scores instead and reports Optuna's Pareto front.

Pruning: Hyperband (default), successive halving or median on the per-epoch validation score, through
``fit``'s ``on_epoch`` callback (the trainer never imports optuna). ``single_task`` is never pruned on the
mean score: each of its tasks picks its own best trial, and a trial that is poor on average may be the
best one for one task.

Storage: by default one Optuna journal file per study, ``<results>/<profile>/studies/<slug>.journal``
(``JournalStorage`` + ``JournalFileBackend``: appends under a file lock, so concurrent local workers never
hit SQLite's "database is locked"). ``--storage postgresql://…`` (or any SQLAlchemy URL) uses
``RDBStorage`` with a heartbeat, so trials of killed workers are marked FAIL; ``journal:PATH`` puts every
study in one journal file. Running ``tune`` again continues a study up to N counted trials; a ``tune`` returns
only when no trial of its studies still trains in another worker (``wait_for_other_workers``). After every
trial the study is exported to ``<results>/<profile>/studies/<slug>.json`` (readable, committable).

``mtlbench run`` reads those summaries through :class:`StudyParams` (a ``runner.ParamsResolver``).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState
from torch import nn

from . import __version__
from . import metrics as M
from .cost import count_params
from .data import SuiteData
from .errors import DivergedError, MtlbenchError
from .fsio import atomic_write
from .model import SharedConfig, build_model, get_model_class, make_config
from .params import RunParams, default_params, params_from_dict, run_trials
from .profiles import PROFILES, Profile, get_profile
from .provenance import ParamsSource, StudyId
from .records import WORKER_DIED, profile_dir
from .suites import expand_suites, load_suite
from .train import fit, seed_everything

#: User attribute marking a study's reference trial (the model's default configuration; see the module doc).
REFERENCE = "reference"
REFERENCE_RULE = "plus one reference trial per study: the model's default configuration, never pruned, not counted"
#: Counted trials per study when ``--trials`` is not given.
DEFAULT_TRIALS = {"quick": 4, "standard": 40}
#: Training seed of every trial: two trials differ only by their hyper-parameters.
TUNING_SEED = 0
#: The parameter budget of a suite = this × the dense parameters of the K default single-task networks.
BUDGET_FACTOR = 4
BUDGET_RULE = (f"{BUDGET_FACTOR} x the dense parameters (all but embedding tables, which the suite fixes) "
               "of single_task's default config on this suite, i.e. of K separate default networks")
#: RDBStorage heartbeat: a RUNNING trial without a heartbeat for the grace period is marked FAIL.
HEARTBEAT_SECONDS = int(os.environ.get("MTLBENCH_HEARTBEAT_SECONDS", "30"))
PRUNERS = ("hyperband", "halving", "median", "none")
OBJECTIVE = "val_score = -mean_k log(err_k) on the validation split (SPEC.md section 2), maximised"
SCHEMA = 1

#: Core search space: parameter names and what they set (names ``loss_weight_<k>``, ``loss_decay_<k>``
#: are 1-based task numbers).
BATCH_SIZES = (256, 512, 1024, 2048)
LR_RANGE = (1e-4, 3e-2)
WEIGHT_DECAY_RANGE = (1e-8, 1e-3)
DROPOUT_RANGE = (0.0, 0.3)
LOSS_WEIGHT_RANGE = (0.2, 5.0)
LOSS_DECAY_RANGE = (0.9, 1.1)


# ---------------------------------------------------------------- search space
class _SpaceTrial:
    """Forwards ``suggest_*`` to the optuna trial and records which space owns each parameter name,
    so a model's space can never silently share (and fight over) a core parameter."""

    def __init__(self, trial: Any, owner: str, owners: dict[str, str]):
        self._trial, self._owner, self._owners = trial, owner, owners

    def _claim(self, name: str) -> None:
        prev = self._owners.setdefault(name, self._owner)
        if prev != self._owner:
            raise MtlbenchError(
                f"search-space parameter {name!r} is declared by both the {prev} space and the {self._owner} space; "
                "rename it in the model's search_space (core names: lr, batch_size, weight_decay, dropout, loss_weight_k, loss_decay_k)."
            )

    def suggest_int(self, name: str, low: int, high: int, **kw: Any) -> int:
        self._claim(name)
        return self._trial.suggest_int(name, low, high, **kw)

    def suggest_float(self, name: str, low: float, high: float, **kw: Any) -> float:
        self._claim(name)
        return self._trial.suggest_float(name, low, high, **kw)

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        self._claim(name)
        return self._trial.suggest_categorical(name, choices)

    def __getattr__(self, name: str) -> Any:  # number, params, user attrs...
        return getattr(self._trial, name)


def core_space(trial: Any, n_tasks: int) -> dict[str, dict[str, Any]]:
    """The shared search space (SPEC.md §2): ``{"shared": {...}, "train": {...}}`` overrides."""
    lr = trial.suggest_float("lr", *LR_RANGE, log=True)
    batch_size = trial.suggest_categorical("batch_size", list(BATCH_SIZES))
    weight_decay = trial.suggest_float("weight_decay", *WEIGHT_DECAY_RANGE, log=True)
    dropout = trial.suggest_float("dropout", *DROPOUT_RANGE)
    omega = [1.0] + [trial.suggest_float(f"loss_weight_{k}", *LOSS_WEIGHT_RANGE, log=True) for k in range(2, n_tasks + 1)]
    gamma = [trial.suggest_float(f"loss_decay_{k}", *LOSS_DECAY_RANGE) for k in range(1, n_tasks + 1)]
    return {"shared": {"dropout": dropout},
            "train": {"lr": lr, "batch_size": batch_size, "weight_decay": weight_decay,
                      "loss_weights": omega, "loss_decays": gamma}}


def sample_params(trial: Any, model: str, data: SuiteData, profile: Profile,
                  source: ParamsSource = ParamsSource.trial()) -> RunParams:
    """Sample the core space and the model's own space from ``trial`` (define-by-run) -> RunParams.
    The epoch cap and patience come from the profile; the embedding size from the suite."""
    cls = get_model_class(model)
    owners: dict[str, str] = {}
    core = core_space(_SpaceTrial(trial, "core", owners), data.n_tasks)
    cfg = cls.search_space(_SpaceTrial(trial, f"model {model!r}", owners), data.n_tasks)
    if not isinstance(cfg, cls.Config):
        raise MtlbenchError(f"{cls.__name__}.search_space returned {type(cfg).__name__}, not {cls.Config.__name__}; return the model's Config.")
    return params_from_dict(model, data, profile, {"model": dataclasses.asdict(cfg), **core}, source)


# ---------------------------------------------------------------- parameter budget
def dense_params(model: nn.Module) -> int:
    """Parameters outside embedding tables (the tables' size is fixed by the suite and emb_dim)."""
    emb = sum(p.numel() for m in model.modules() if isinstance(m, nn.Embedding) for p in m.parameters(recurse=False))
    return count_params(model) - emb


def param_budget(data: SuiteData) -> int:
    """One budget per suite, the same for every model (see ``BUDGET_RULE``)."""
    ref = build_model("single_task", data.inputs, data.tasks, make_config("single_task"), SharedConfig(emb_dim=data.emb_dim))
    return BUDGET_FACTOR * dense_params(ref)


# ---------------------------------------------------------------- names and storage
def study_name(model: str, suite: str, profile: str, multi_objective: bool = False) -> str:
    return f"{model}@{suite}@{profile}" + ("@mo" if multi_objective else "")


def study_slug(model: str, suite: str, multi_objective: bool = False) -> str:
    """File-name form of (model, suite): ``ple@synthetic_p=0.5`` (brackets and commas replaced)."""
    s = f"{model}@{suite}".replace("[", "_").replace("]", "").replace(",", "_").replace("/", "_").replace(" ", "_")
    return s + ("@mo" if multi_objective else "")


def studies_dir(profile: str, results_dir: str | Path | None = None) -> Path:
    return profile_dir(profile, results_dir) / "studies"


def _redact(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for display
        return url.split("@")[-1]


def check_storage_url(url: str | None) -> str:
    """Kind of storage a ``--storage`` value names: "journal-per-study", "journal" or "rdb"."""
    if url is None:
        return "journal-per-study"
    if url.startswith("journal:"):
        if not url[len("journal:"):]:
            raise MtlbenchError("--storage journal: needs a file path, e.g. --storage journal:studies.journal.")
        return "journal"
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme.split("+")[0] in ("postgresql", "postgres", "mysql", "sqlite"):
        return "rdb"
    raise MtlbenchError(
        f"--storage {url!r} is not a storage URL; use postgresql://USER:PASSWORD@HOST/DB (several workers), "
        "sqlite:///FILE.db or journal:FILE, or leave it out for one journal file per study under results/<profile>/studies/."
    )


def _with_driver(url: str) -> str:
    """``postgresql://`` -> the PostgreSQL driver that is installed (SQLAlchemy 2.1 defaults to psycopg 3;
    the ``postgres`` extra installs psycopg2-binary). An explicit ``postgresql+driver://`` is kept."""
    scheme, rest = url.split("://", 1)
    if scheme not in ("postgresql", "postgres"):
        return url
    import importlib.util

    for module, driver in (("psycopg", "psycopg"), ("psycopg2", "psycopg2")):
        if importlib.util.find_spec(module) is not None:
            return f"postgresql+{driver}://{rest}"
    return f"postgresql://{rest}"


def _retry(fn: Callable[[], Any], what: str, tries: int = 8) -> Any:
    """Run ``fn``, retrying the errors two workers racing on a fresh database produce (both creating the
    schema, the version row, the study or one of its attributes at the same instant)."""
    from sqlalchemy import exc as sa_exc

    racing = (sa_exc.IntegrityError, sa_exc.ProgrammingError, sa_exc.InternalError, optuna.exceptions.DuplicatedStudyError)
    for attempt in range(tries):
        try:
            return fn()
        except racing:
            if attempt == tries - 1:
                raise
            time.sleep(0.05 + random.random() * 0.2 * (attempt + 1))
    raise AssertionError(what)  # unreachable


def open_storage(url: str | None, profile: str, slug: str, results_dir: str | Path | None = None) -> optuna.storages.BaseStorage:
    kind = check_storage_url(url)
    if kind in ("journal-per-study", "journal"):
        from optuna.storages.journal import JournalFileBackend

        path = studies_dir(profile, results_dir) / f"{slug}.journal" if kind == "journal-per-study" else Path(url[len("journal:"):])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
        except OSError as err:
            raise MtlbenchError(f"cannot open the study journal {path} ({err.strerror}); pass --results-dir or --storage to a writable place.") from None
    from sqlalchemy import exc as sa_exc

    url = _with_driver(url)

    def make() -> optuna.storages.RDBStorage:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url, engine_kwargs={"pool_pre_ping": True},
                heartbeat_interval=HEARTBEAT_SECONDS, grace_period=2 * HEARTBEAT_SECONDS,
            )

    try:
        return _retry(make, "create the storage schema")
    except ImportError as err:  # optuna wraps the driver's ModuleNotFoundError
        driver = getattr(err.__cause__, "name", None) or getattr(err, "name", None) or "for this URL"
        raise MtlbenchError(f"--storage {_redact(url)} needs the database driver {driver}; install it (for PostgreSQL: pip install psycopg2-binary).") from None
    except (sa_exc.SQLAlchemyError, ValueError) as err:
        first = str(getattr(err, "orig", None) or err).strip().splitlines()[0] if str(err).strip() else err.__class__.__name__
        raise MtlbenchError(f"cannot open --storage {_redact(url)}: {first}; check the URL, that the server runs and that the database exists.") from None


# ---------------------------------------------------------------- trial bookkeeping
def _counted(t: FrozenTrial) -> bool:
    """A trial that trained and counts towards the equal budget (not rejected before training, not the reference)."""
    return (t.state in (TrialState.COMPLETE, TrialState.PRUNED) and not t.user_attrs.get("rejected")
            and not t.user_attrs.get(REFERENCE))


def _reference_trials(study: optuna.Study, states: tuple[TrialState, ...]) -> list[FrozenTrial]:
    """The study's reference trials in ``states``, a second one queued by a racing worker left out (one over
    the parameter budget is kept: it is done, as far as it can be)."""
    return [t for t in study.get_trials(deepcopy=False, states=states)
            if t.user_attrs.get(REFERENCE) and not str(t.user_attrs.get("rejected", "")).startswith("duplicate")]


def ensure_reference(study: optuna.Study) -> bool:
    """Queue the study's reference trial unless one is queued, training or done (a killed worker's FAIL one is
    queued again). Returns whether the reference is done (COMPLETE, or PRUNED when it diverged)."""
    if _reference_trials(study, (TrialState.COMPLETE, TrialState.PRUNED)):
        return True
    if not _reference_trials(study, (TrialState.RUNNING, TrialState.WAITING)):
        study.enqueue_trial({}, user_attrs={REFERENCE: "default"})
    return False


def _proc_start(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]  # field 22: start time
    except (OSError, IndexError):
        return None


def _worker() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": _proc_start(os.getpid())}


def _worker_alive(w: dict[str, Any]) -> bool:
    if w.get("host") != socket.gethostname():
        return True  # another machine: only the RDB heartbeat can tell
    if Path("/proc/self/stat").exists():
        return w.get("start") is not None and _proc_start(int(w["pid"])) == w.get("start")
    try:
        os.kill(int(w["pid"]), 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def fail_dead_trials(study: optuna.Study) -> list[int]:
    """Journal storages have no heartbeat: mark RUNNING trials whose worker process (on this host) is gone
    as FAIL, so a killed ``tune`` resumes cleanly. Returns the trial numbers it failed."""
    storage = study._storage
    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        w = t.user_attrs.get("worker")
        if isinstance(w, dict) and not _worker_alive(w):
            try:
                storage.set_trial_user_attr(t._trial_id, "fail_reason", f"worker {w.get('host')}:{w.get('pid')} {WORKER_DIED}")
                storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
                failed.append(t.number)
            except (RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
                pass  # another worker failed it first
    return failed


def running_trials(study: optuna.Study) -> list[int]:
    """Numbers of the study's trials known to be still training: in a live worker on this host (dead ones
    are failed first), or, on an RDB storage, in any worker whose heartbeat is fresh (stale ones are failed).
    A journal trial of another host is left out: nothing tells whether that worker still lives."""
    fail_dead_trials(study)
    rdb = isinstance(study._storage, optuna.storages.RDBStorage)
    if rdb:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
    here = socket.gethostname()
    return [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if rdb or (t.user_attrs.get("worker") or {}).get("host") == here]


#: how often a finished worker looks again at trials still training in other workers
WAIT_POLL_SECONDS = 5.0


def wait_for_other_workers(studies: list[optuna.Study], notify: Callable[[str], None] | None = None) -> None:
    """Block until no trial of ``studies`` trains any more. A worker whose last trial was claimed by another
    worker would otherwise return while that trial still trains, and a ``run`` started right after it would
    use an unfinished study (``tune … && run …`` in each of several shells must be safe)."""
    told = False
    while True:
        busy = {st.study_name: n for st in studies if (n := running_trials(st))}
        if not busy:
            return
        if notify and not told:
            notify("waiting for trials still training in other workers: "
                   + ", ".join(f"{name} #{', #'.join(map(str, ns))}" for name, ns in busy.items()))
            told = True
        time.sleep(WAIT_POLL_SECONDS)


class _Rejected(Exception):
    """The trial did not train (surplus over the trial budget); it is stored as FAIL and not counted."""


def _make_pruner(name: str, max_epochs: int) -> optuna.pruners.BasePruner:
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs, reduction_factor=3)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    return optuna.pruners.NopPruner()


# ---------------------------------------------------------------- tuning
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
) -> list[dict[str, Any]]:
    """Tune every model on every suite instance (one study each) and return the studies' summaries.

    ``n_trials``: counted trials per study (default: the profile's ``DEFAULT_TRIALS``); a study that has
    them already runs nothing more. ``timeout``: seconds after which no new trial starts (per call).
    Returns only when no trial of these studies still trains in another worker (``notify`` hears that it
    waits), so the summaries are final and a ``run`` started next uses the whole budget.
    """
    from .runner import check_writable, resolve_device, resolve_models

    prof = get_profile(profile)
    target = DEFAULT_TRIALS.get(prof.name, 20) if n_trials is None else n_trials
    if target < 1:
        raise MtlbenchError(f"--trials {target} is out of range; use at least 1 trial per study.")
    if timeout is not None and not timeout > 0:
        raise MtlbenchError(f"--timeout {timeout} is out of range; give a positive number of seconds.")
    if pruner not in PRUNERS:
        raise MtlbenchError(f"unknown pruner {pruner!r}; choose one of: {', '.join(PRUNERS)}.")
    check_storage_url(storage)
    model_names = resolve_models(models)
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
                studies.append(_tune_one(model, data, prof, target, deadline, storage, multi_objective, pruner,
                                         dev, results_dir, budget, sampler_seed, progress))
        wait_for_other_workers([st for st, _ in studies], notify=notify)
        return [export_study(st, out) for st, out in studies]
    finally:
        optuna.logging.set_verbosity(verbosity)


def _study_attrs(model: str, data: SuiteData, prof: Profile, target: int, budget: int, multi: bool, pruner: str) -> dict[str, Any]:
    return {
        "model": model, "suite": data.name, "suite_family": data.family, "suite_version": data.version,
        "suite_checksum": data.checksum, "profile": prof.name, "n_trials": target, "max_epochs": prof.max_epochs,
        "patience": prof.patience, "param_budget": budget, "param_budget_rule": BUDGET_RULE, "reference_trial": REFERENCE_RULE,
        "tuning_seed": TUNING_SEED, "objective": "per-task -log(err_k), maximised (Pareto front)" if multi else OBJECTIVE,
        "multi_objective": multi, "pruner": "none" if multi else pruner,
        "task_names": [t.name for t in data.tasks], "mtlbench_version": __version__,
    }


def open_study(model: str, data: SuiteData, prof: Profile, target: int, budget: int, storage_url: str | None,
               multi: bool = False, pruner: str = "hyperband", results_dir: str | Path | None = None,
               sampler_seed: int | None = None) -> optuna.Study:
    """Create or load the study of (model, suite, profile) and check it was tuned on the same data and budget."""
    name = study_name(model, data.name, prof.name, multi)
    storage = open_storage(storage_url, prof.name, study_slug(model, data.name, multi), results_dir)
    with warnings.catch_warnings():  # multivariate/group are flagged experimental; they handle conditional spaces
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=sampler_seed, multivariate=True, group=True, constant_liar=True)
    directions = ["maximize"] * data.n_tasks if multi else ["maximize"]
    study = _retry(lambda: optuna.create_study(storage=storage, study_name=name, directions=directions, sampler=sampler,
                                               pruner=_make_pruner("none" if multi else pruner, prof.max_epochs),
                                               load_if_exists=True), "create the study")
    if [d.name.lower() for d in study.directions] != directions:
        raise MtlbenchError(f"study {name!r} exists with {len(study.directions)} objective(s); it cannot be resumed as {len(directions)}.")
    attrs = _study_attrs(model, data, prof, target, budget, multi, pruner)
    old = study.user_attrs
    for key in ("suite_version", "suite_checksum", "max_epochs", "patience", "param_budget"):
        if key in old and old[key] != attrs[key]:
            raise MtlbenchError(
                f"study {name!r} was tuned with {key}={old[key]!r} but now {key}={attrs[key]!r}; its trials are not comparable. "
                "Move its files out of the studies folder (or use another --storage) to start a new study."
            )
    attrs["n_trials"] = max(target, int(old.get("n_trials", 0)))
    for key, value in attrs.items():
        if old.get(key) != value:
            _retry(lambda: study.set_user_attr(key, value), "set a study attribute")
    return study


def _tune_one(model: str, data: SuiteData, prof: Profile, target: int, deadline: float | None, storage_url: str | None,
              multi: bool, pruner: str, dev, results_dir, budget: int, sampler_seed: int | None,
              progress: ProgressFn | None) -> tuple[optuna.Study, Path]:
    """Run trials of one study until it holds ``target`` counted trials (or the deadline), exporting it after
    each trial; returns the study and its export's path (``tune`` exports it once more when every worker is done)."""
    study = open_study(model, data, prof, target, budget, storage_url, multi, pruner, results_dir, sampler_seed)
    name = study.study_name
    out = studies_dir(prof.name, results_dir) / f"{study_slug(model, data.name, multi)}.json"
    cls = get_model_class(model)
    prune = not multi and pruner != "none" and not cls.independent_tasks
    local_journal = isinstance(study._storage, optuna.storages.JournalStorage)
    last: dict[str, Any] = {}

    def objective(trial: optuna.Trial) -> float | list[float]:
        last.clear()
        last["number"] = trial.number
        trial.set_user_attr("worker", _worker())
        ref = bool(trial.user_attrs.get(REFERENCE))
        live = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        if ref and any(t.number < trial.number for t in _reference_trials(study, live)):
            trial.set_user_attr("rejected", "duplicate: another worker queued the reference trial too")
            raise _Rejected("duplicate reference")
        # Equal budget with concurrent workers: trials that started before this one and may still count.
        ahead = [t for t in study.get_trials(deepcopy=False, states=live)
                 if t.number < trial.number and not t.user_attrs.get("rejected") and not t.user_attrs.get(REFERENCE)]
        if not ref and len(ahead) >= target:
            trial.set_user_attr("rejected", f"surplus: {target} trials had started already")
            study.stop()
            raise _Rejected("surplus")
        rp = default_params(model, data, prof) if ref else sample_params(trial, model, data, prof)
        trial.set_user_attr("params", rp.as_dict())
        seed_everything(TUNING_SEED)
        net = build_model(model, data.inputs, data.tasks, rp.model, rp.shared)
        n_dense = dense_params(net)
        trial.set_user_attr("n_params", count_params(net))
        trial.set_user_attr("dense_params", n_dense)
        if n_dense > budget:
            reason = f"over the parameter budget: {n_dense} dense parameters > {budget}"
            trial.set_user_attr("rejected", reason)
            raise optuna.TrialPruned(reason)  # PRUNED without a value: the sampler learns to avoid it

        def on_epoch(epoch: int, score: float, val_metrics: list[dict[str, float]]) -> None:
            if prune:
                trial.report(score, epoch)
                if not ref and trial.should_prune():  # the reference always trains to the end
                    trial.set_user_attr("val_metrics", val_metrics)
                    trial.set_user_attr("fail_reason", f"pruned after epoch {epoch} (val score {score:.4f})")
                    raise optuna.TrialPruned(f"pruned after epoch {epoch}")

        try:
            res = fit(net, data, rp.train, TUNING_SEED, dev, on_epoch=on_epoch, evaluate_test=False)
        except DivergedError as err:  # a bad configuration, counted like a pruned one
            trial.set_user_attr("fail_reason", f"diverged: {err}")
            raise optuna.TrialPruned(str(err)) from None
        task_scores = [M.score([t], [m]) for t, m in zip(data.tasks, res.val_metrics)]
        for key, value in (("val_metrics", res.val_metrics), ("task_scores", task_scores), ("val_score", res.val_score),
                           ("best_epochs", res.best_epochs), ("epochs_run", res.epochs_run),
                           ("train_seconds", round(res.train_seconds, 3))):
            trial.set_user_attr(key, value)
        return task_scores if multi else res.val_score

    rejected_here = 0
    max_rejected = 10 * target + 20
    while True:
        if local_journal:
            fail_dead_trials(study)
        reference_done = ensure_reference(study)
        trials = study.get_trials(deepcopy=False)
        n_counted = sum(_counted(t) for t in trials)
        if deadline is not None and time.monotonic() >= deadline:
            break
        if n_counted >= target and (reference_done or not _reference_trials(study, (TrialState.WAITING,))):
            break  # budget spent and the reference done (or training in another worker)
        if rejected_here >= max_rejected:
            raise MtlbenchError(
                f"{model} on {data.name}: {rejected_here} sampled configurations in a row did not train (parameter budget "
                f"{budget}); narrow the model's search space or its defaults."
            )
        study.optimize(objective, n_trials=1, catch=(_Rejected,), gc_after_trial=False)
        if "number" not in last:
            break
        t = study._storage.get_trial(study._storage.get_trial_id_from_study_id_trial_number(study._study_id, last["number"]))
        rejected_here = rejected_here + 1 if t.user_attrs.get("rejected") else 0
        export_study(study, out)
        if progress:
            progress(TrialEvent(name, t.number, t.state.name, t.values if multi else t.value,
                                str(t.user_attrs.get("rejected") or t.user_attrs.get("fail_reason")
                                    or ("reference trial: the defaults" if t.user_attrs.get(REFERENCE) else "")),
                                sum(_counted(x) for x in study.get_trials(deepcopy=False)), target))
        if str(t.user_attrs.get("rejected", "")).startswith("surplus") and not _reference_trials(study, (TrialState.WAITING,)):
            break  # the budget is taken (by trials still training elsewhere, maybe); a queued reference still runs
    return study, out


# ---------------------------------------------------------------- summaries
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
        "number": t.number, "state": t.state.name, "counted": _counted(t),
        "value": t.value if t.values is not None and len(t.values) == 1 else None,
        "values": t.values, "params": t.params, "user_attrs": t.user_attrs,
        "intermediate_values": {str(k): v for k, v in sorted(t.intermediate_values.items())},
        "datetime_start": t.datetime_start.isoformat() if t.datetime_start else None,
        "duration_s": t.duration.total_seconds() if t.duration else None,
    }


def summarize_study(study: optuna.Study) -> dict[str, Any]:
    """The readable summary of a study: budget, best trial (+ run params), per-task bests, Pareto front."""
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

    per_task = []
    for k, task in enumerate(tasks):
        scored = [t for t in complete if t.user_attrs.get("task_scores") and t.user_attrs["task_scores"][k] is not None
                  and math.isfinite(t.user_attrs["task_scores"][k])]
        if scored:
            b = max(scored, key=lambda t: (t.user_attrs["task_scores"][k], -t.number))
            per_task.append({"task": task, "number": b.number, "score": b.user_attrs["task_scores"][k],
                             "val_metrics": b.user_attrs["val_metrics"][k]})
    best = None
    if complete and not multi:
        best = brief(max(complete, key=lambda t: (t.value, -t.number)))  # ties -> the earlier trial
    ref = next((t for t in complete if t.user_attrs.get(REFERENCE)), None)
    run_trial = None
    if best is not None:
        run_trial = best["number"]
    summary = {
        "schema": SCHEMA, "study": study.study_name, "model": attrs.get("model"), "suite": attrs.get("suite"),
        "profile": attrs.get("profile"), "directions": [d.name.lower() for d in study.directions],
        "multi_objective": multi, "objective": attrs.get("objective"),
        "budget": {k: attrs.get(k) for k in ("n_trials", "max_epochs", "patience", "param_budget", "param_budget_rule",
                                             "tuning_seed", "pruner", "reference_trial")},
        "suite_version": attrs.get("suite_version"), "suite_checksum": attrs.get("suite_checksum"),
        "task_names": tasks, "n_counted": sum(_counted(t) for t in trials), "states": states,
        "best": best,
        # Each task's own best trial: `mtlbench run` trains task k of a model with independent tasks
        # (single_task's K separate networks) with the parameters of trial per_task_best[k].
        "per_task_best": per_task,
        # The trial whose parameters `mtlbench run` uses for every task of the other models: the best by val_score.
        "run_trial": run_trial,
        # The reference trial (the model's defaults), when it finished: its number and validation objective.
        "reference": None if ref is None else {"number": ref.number, "value": ref.value if not multi else None,
                                               "values": ref.values, "task_scores": ref.user_attrs.get("task_scores")},
        "pareto_front": [brief(t) for t in sorted(study.best_trials, key=lambda t: t.number)] if multi and complete else [],
        "trials": [_trial_dict(t) for t in trials],
        "exported_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return _finite(summary)


def export_study(study: optuna.Study, path: Path) -> dict[str, Any]:
    summary = summarize_study(study)
    atomic_write(path, json.dumps(summary, indent=1, sort_keys=True, allow_nan=False) + "\n")
    return summary


def load_study_summary(path: Path) -> dict[str, Any]:
    """A study's JSON summary, re-exported first when its journal is newer (or the JSON is missing)."""
    journal = path.with_suffix(".journal")
    if journal.exists() and (not path.exists() or journal.stat().st_mtime > path.stat().st_mtime):
        from optuna.storages.journal import JournalFileBackend

        storage = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
        names = [s.study_name for s in storage.get_all_studies()]
        if len(names) == 1:
            return export_study(optuna.load_study(study_name=names[0], storage=storage), path)
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise MtlbenchError(f"cannot read the study summary {path} ({err.__class__.__name__}); re-export it with `mtlbench tune` or pass --params-from default.") from None


# ---------------------------------------------------------------- tuned params for `mtlbench run`
def nearest_sweep_summary(folder: Path, model: str, data: SuiteData) -> dict[str, Any] | None:
    """The summary of ``model``'s study at the sweep point nearest to ``data``'s (same family and version, same
    other parameters once the family's defaults are filled in, closest value of the family's ``sweep_param``;
    ties go to the lower value), or None.

    Tuning every point of a sweep costs as much as tuning a suite per point; tuning a few points (e.g.
    p = 0, 0.5, 1) and letting the others borrow is the documented protocol of the standard leaderboard.
    A borrowed run's ``params_source`` names the study it came from, so reports show the borrowing.
    An unreadable or foreign summary in the folder is skipped with a warning, never fatal to the run."""
    from .names import parse_instance
    from .suites import get_family

    family, own = parse_instance(data.name)
    fam = get_family(family) if family == data.family else None
    key = getattr(fam, "sweep_param", None)
    if fam is None or key is None or key not in data.params:
        return None

    def others(params: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in fam.check_params(params).items() if k != key}

    rest = others(own)
    best: tuple[float, float, dict[str, Any]] | None = None
    stems = {f.stem for f in folder.glob(f"{study_slug(model, family)}*") if f.suffix in (".json", ".journal")}
    for stem in sorted(stems):
        if stem.endswith("@mo"):
            continue
        try:
            s = load_study_summary(folder / f"{stem}.json")
            if not isinstance(s, dict):
                raise TypeError("not a study summary")
            fam_name, params = parse_instance(str(s.get("suite")))
            if (s.get("model") != model or fam_name != family or key not in params or others(params) != rest
                    or s.get("suite_version") != data.version or not (s.get("best") or {}).get("run_params")):
                continue
            value = float(params[key])
        except Exception as err:  # noqa: BLE001 - a foreign or broken file must not stop the run
            warnings.warn(f"ignoring study summary {folder / stem}.json ({err.__class__.__name__}: {err})", stacklevel=2)
            continue
        cand = (round(abs(value - float(data.params[key])), 9), value, s)  # rounded: 0.2 is as near 0.1 as 0.3
        if best is None or cand[:2] < best[:2]:
            best = cand
    return None if best is None else best[2]


class StudyParams:
    """``runner.ParamsResolver`` that prefers tuned parameters.

    ``source``: None -> the studies of the run's own profile (``<results>/<profile>/studies/``);
    ``"default"`` -> always the defaults; a profile name -> that profile's studies (epoch cap and patience
    still come from the run's profile); a folder -> the study summaries in it; a ``.json`` file -> one
    study summary (used for its model and suite) or a params file ``{"model": {...}, "shared": {...},
    "train": {...}}`` (used for every model run). A (model, suite) without a tuned study uses the defaults.
    Every RunParams says where it came from: ``study:<name>#<trial>``, ``file:<path>`` or ``default``.

    A model with ``independent_tasks`` (no parameter shared between tasks: single_task) gets task-wise
    parameters from its study: task k takes its own best trial (``per_task_best``), so the run trains one
    network per task with that trial's parameters; its source is ``study:<name>#t<trial of task 1>,t<...>``.
    """

    def __init__(self, source: str | Path | None = None, results_dir: str | Path | None = None):
        self.results_dir = results_dir
        self.mode, self.path, self.file = "profile", None, None
        src = None if source is None else str(source)
        if src is None:
            return
        if src in ("default", "defaults"):
            self.mode = "default"
        elif src in PROFILES:
            self.mode, self.path = "dir", studies_dir(src, results_dir)
        elif Path(src).is_dir():
            self.mode, self.path = "dir", Path(src)
        elif Path(src).is_file():
            self.mode, self.path = "file", Path(src)
            try:
                self.file = json.loads(Path(src).read_text())
            except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
                raise MtlbenchError(f"--params-from {src}: not a readable JSON file ({err.__class__.__name__}).") from None
            if not isinstance(self.file, dict) or not ({"study", "best"} <= set(self.file) or set(self.file) <= {"model", "shared", "train"}):
                raise MtlbenchError(f"--params-from {src}: expected a study summary (from `mtlbench tune`) or "
                                    '{"model": {...}, "shared": {...}, "train": {...}}.')
        else:
            raise MtlbenchError(f"--params-from {src!r} is neither a profile ({', '.join(PROFILES)}), 'default', "
                                "a folder of study summaries nor a JSON file.")

    def __call__(self, model: str, data: SuiteData, profile: Profile) -> RunParams:
        if self.mode == "default":
            return default_params(model, data, profile)
        if self.mode == "file" and "study" not in self.file:
            return params_from_dict(model, data, profile, self.file, ParamsSource.from_file(self.path))
        if self.mode == "file":
            summary = self.file if (self.file.get("model"), self.file.get("suite")) == (model, data.name) else None
        else:
            folder = self.path if self.mode == "dir" else studies_dir(profile.name, self.results_dir)
            path = folder / f"{study_slug(model, data.name)}.json"
            summary = load_study_summary(path) if path.exists() or path.with_suffix(".journal").exists() else None
            if summary is None:
                summary = nearest_sweep_summary(folder, model, data)
                if summary is not None:
                    return self._from_summary(summary, model, data, profile, borrowed=True)
        if summary is None:
            return default_params(model, data, profile)
        return self._from_summary(summary, model, data, profile)

    def _from_summary(self, s: dict[str, Any], model: str, data: SuiteData, profile: Profile,
                      borrowed: bool = False) -> RunParams:
        """``borrowed``: ``s`` was tuned at another point of ``data``'s sweep (``nearest_sweep_summary``);
        its suite name and checksum differ by design, its suite version must not."""
        if s.get("model") != model or (s.get("suite") != data.name and not borrowed):
            return default_params(model, data, profile)
        if s.get("suite_version") != data.version or (
                not borrowed and s.get("profile") == profile.name and s.get("suite_checksum") != data.checksum):
            raise MtlbenchError(
                f"study {s.get('study')!r} was tuned on other data than {data.name} (version/checksum differ); "
                "re-run `mtlbench tune`, or pass --params-from default."
            )
        chosen = run_trials(s)
        numbers = chosen.numbers
        if not numbers:
            return default_params(model, data, profile)  # no completed trial yet
        if s.get("n_counted", 0) < (s.get("budget") or {}).get("n_trials", 0):
            warnings.warn(f"study {s['study']!r} has {s['n_counted']} of its {s['budget']['n_trials']} trials; "
                          "using its best so far (finish it with `mtlbench tune`)", stacklevel=2)
        trials = {t.get("number"): (t.get("user_attrs") or {}).get("params") for t in s.get("trials") or []}
        best = s.get("best") or {}
        if best.get("run_params"):
            trials[best.get("number")] = best["run_params"]
        missing = [n for n in numbers if not trials.get(n)]
        if missing:
            raise MtlbenchError(f"study summary {s.get('study')!r} lacks the parameters of trial {missing[0]}; "
                                "re-export it with `mtlbench tune`, or pass --params-from default.")
        study = StudyId.parse(str(s["study"]))
        sets = [params_from_dict(model, data, profile, trials[n], ParamsSource.from_study(study, (n,))) for n in numbers]
        if not chosen.task_wise:
            return sets[0]
        if (s.get("task_names") or []) != [t.name for t in data.tasks]:
            raise MtlbenchError(f"study {s.get('study')!r} names the tasks {s.get('task_names')} but {data.name} has "
                                f"{[t.name for t in data.tasks]}; re-run `mtlbench tune` on this suite, or pass --params-from default.")
        return RunParams.task_wise(tuple(sets), ParamsSource.from_study(study, numbers, per_task=True))
