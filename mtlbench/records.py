"""Result records: one immutable JSON file per run, keyed by a hash of everything that changes it."""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import polars as pl

from .errors import MtlbenchError
from .fsio import atomic_write, discard_temporaries, finished

#: 2: the key leaves out the parameter source; a record carries every label it was requested under.
SCHEMA_VERSION = 2

# End of a failed trial's ``fail_reason`` when its worker was killed: written by ``tuning.fail_dead_trials``,
# read by the report (which must not import optuna). Persisted in study journals: changing it orphans old ones.
WORKER_DIED = "died during the trial"


def results_root(results_dir: str | Path | None = None) -> Path:
    return Path(results_dir or os.environ.get("MTLBENCH_RESULTS") or "results")


def profile_dir(profile: str, results_dir: str | Path | None = None) -> Path:
    return results_root(results_dir) / profile


def record_key(parts: dict[str, Any]) -> str:
    """Stable hash of the key parts (``RunRecord.key_parts``) and the schema version."""
    blob = json.dumps({**parts, "schema_version": SCHEMA_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


@dataclass
class RunRecord:
    # ---- key parts: everything that changes the result
    suite: str
    suite_family: str
    suite_version: str
    suite_params: dict[str, Any]
    data_checksum: str
    profile: str
    model: str
    params: dict[str, Any]  # {"model": {...}, "shared": {...}, "train": {...}}
    params_source: str  # label of the training (``provenance.ParamsSource`` text): not a key part
    seed: int
    # ---- results
    tasks: list[dict[str, Any]]  # name, kind, metric, higher_is_better
    val_metrics: list[dict[str, float]]
    test_metrics: list[dict[str, float]]
    test_se: list[float]
    val_score: float
    history: list[dict[str, Any]]  # one entry per validation (several per epoch when evals_per_epoch > 1)
    best_epochs: list[int]  # per selection group: index into ``history`` of the chosen evaluation
    epochs_run: int
    n_params: int
    flops_per_sample: float
    train_seconds: float
    samples_per_second: float
    device: str
    threads: int
    versions: dict[str, str]
    commit: str
    timestamp: str
    schema_version: int = SCHEMA_VERSION
    key: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. gate utilisation summaries
    # ---- evaluation protocol 2 (docs/protocol.md §2); absent from older records
    test_boot: list[list[float]] = field(default_factory=list)  # per task: paired bootstrap replicates of the test metric
    test_derived: list[dict[str, Any]] = field(default_factory=list)  # the suite's product metrics (e.g. CTCVR)
    evals_run: int | None = None  # validations run
    max_evals: int | None = None  # the cap on validations (max_epochs · evals_per_epoch)
    evals_per_epoch: int | None = None
    # ---- labels (schema 2)
    #: Every label the run was requested under: ``params_source`` first, then the others sorted.
    params_sources: list[str] = field(default_factory=list)
    #: Key part: 0, or n for the n-th further independent training of the same key parts (kept from schema 1,
    #: whose keys held the label, so a configuration could be trained once per label; ``mtlbench run`` never
    #: makes one).
    replicate: int = 0

    #: What changes the result, hashed into the key (with ``replicate`` when non-zero and the schema version).
    #: Not the label: the same parameters and seed requested under two labels are one record.
    KEY_FIELDS = ("suite", "suite_version", "data_checksum", "profile", "model", "params", "seed")

    def __post_init__(self) -> None:
        self.params_sources = with_label(self.params_sources or [self.params_source], self.params_source)

    def key_parts(self) -> dict[str, Any]:
        return key_parts_of(**{f: getattr(self, f) for f in (*self.KEY_FIELDS, "replicate")})

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True, allow_nan=True)


def key_parts_of(replicate: int = 0, **parts: Any) -> dict[str, Any]:
    """The hashed parts: ``RunRecord.KEY_FIELDS`` from ``parts`` (others ignored), and ``replicate`` if non-zero."""
    return {**{f: parts[f] for f in RunRecord.KEY_FIELDS}, **({"replicate": replicate} if replicate else {})}


def key_of(**parts: Any) -> str:
    """The key of a record with these parts (``RunRecord.KEY_FIELDS``, optional ``replicate``)."""
    return record_key(key_parts_of(**parts))


def with_label(labels: list[str], label: str) -> list[str]:
    """``labels`` (the training's first) with ``label`` added: first label kept, the others sorted, no repeats."""
    first = labels[0] if labels else label
    return [first, *sorted(set(labels) - {first} | ({label} - {first}))]


class RecordStore:
    """Records of one profile: ``<results>/<profile>/records/<key>.json`` (one file per run, so
    concurrent writers never clobber each other); failures in ``failed/<key>.json``."""

    def __init__(self, profile: str, results_dir: str | Path | None = None):
        self.profile = profile
        self.dir = profile_dir(profile, results_dir)
        self.records_dir = self.dir / "records"
        self.failed_dir = self.dir / "failed"

    def path(self, key: str) -> Path:
        return self.records_dir / f"{key}.json"

    def exists(self, key: str) -> bool:
        """A finished, readable record. A damaged file (e.g. from a crash of an older version) counts as
        missing, with a warning, and the run is redone and the file replaced atomically."""
        path = self.path(key)
        if not path.exists():
            return False
        try:
            json.loads(path.read_text())
            return True
        except (json.JSONDecodeError, UnicodeDecodeError, OSError) as err:
            warnings.warn(f"record {path} is unreadable ({err.__class__.__name__}); it will be recomputed", stacklevel=2)
            return False

    def write(self, record: RunRecord) -> Path:
        """Write ``record`` atomically (hold ``claim(key)``); temporary files of the key that a killed writer
        left go with it, and so does the key's failure note."""
        record.key = record.key or record_key(record.key_parts())
        path = self.path(record.key)
        atomic_write(path, record.to_json() + "\n", fsync=True)
        discard_temporaries(path)
        (self.failed_dir / f"{record.key}.json").unlink(missing_ok=True)
        return path

    def labels(self, key: str) -> list[str]:
        """The labels the record ``key`` carries (``params_sources``; one for a record of schema 1)."""
        rec = json.loads(self.path(key).read_text())
        return list(rec.get("params_sources") or [rec["params_source"]])

    def add_label(self, key: str, label: str) -> bool:
        """Add ``label`` to the finished record ``key`` (an atomic rewrite; hold ``claim(key)``): the same
        training, requested under another label. Results, machine and timestamp stay those of the training.
        Returns False when the record already carries it."""
        rec = json.loads(self.path(key).read_text())
        labels = list(rec.get("params_sources") or [rec["params_source"]])
        if label in labels:
            return False
        rec["params_sources"] = with_label(labels, label)
        atomic_write(self.path(key), json.dumps(rec, sort_keys=True, allow_nan=True) + "\n", fsync=True)
        return True

    @contextlib.contextmanager
    def claim(self, key: str) -> Iterator[bool]:
        """Hold an exclusive lock on ``key`` while training it. Yields False when another process holds
        it (two ``mtlbench run`` on one results dir split the work instead of racing). The OS releases
        the lock when a process dies, so a killed run never leaves a stale claim. The holder removes the lock
        file (and the empty ``locks/`` folder) when done; a process that locked a removed file tries again."""
        lock_dir = self.dir / "locks"
        path = lock_dir / f"{key}.lock"
        while True:
            lock_dir.mkdir(parents=True, exist_ok=True)
            try:
                fh = open(path, "a")
            except FileNotFoundError:  # another process removed the empty folder in between
                continue
            with fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    yield False
                    return
                try:
                    if os.fstat(fh.fileno()).st_ino != os.stat(path).st_ino:
                        continue  # the holder removed this file after we opened it: lock the current one
                except FileNotFoundError:
                    continue
                try:
                    yield True
                finally:  # the lock file goes while still held, so no one locks a removed file unnoticed
                    path.unlink(missing_ok=True)
                    with contextlib.suppress(OSError):
                        lock_dir.rmdir()  # only when empty
                    fcntl.flock(fh, fcntl.LOCK_UN)
                return

    def find(self, prefix: str) -> dict[str, Any]:
        """The record whose key starts with ``prefix`` (at least 6 characters)."""
        matches = finished(self.records_dir, f"{prefix}*.json") if len(prefix) >= 6 else []
        if len(matches) != 1:
            what = "no record" if not matches else f"{len(matches)} records"
            raise MtlbenchError(f"{what} of profile {self.profile!r} in {self.records_dir} matches key {prefix!r}; "
                                "give at least 6 characters of a key listed by `mtlbench status -v` or load_results().")
        return json.loads(matches[0].read_text())

    def write_failure(self, key: str, info: dict[str, Any]) -> None:
        atomic_write(self.failed_dir / f"{key}.json", json.dumps({**info, "key": key}, sort_keys=True, default=str) + "\n", fsync=True)

    def failures(self) -> list[dict[str, Any]]:
        return [r for r in _read_dir(self.failed_dir)]

    def records(self) -> list[dict[str, Any]]:
        return _read_dir(self.records_dir)


def _read_dir(d: Path) -> list[dict[str, Any]]:
    out = []
    for p in finished(d):
        try:
            out.append(json.loads(p.read_text()))
        except (json.JSONDecodeError, UnicodeDecodeError, OSError) as err:
            warnings.warn(f"ignoring unreadable record {p} ({err.__class__.__name__}); delete it or rerun with --force", stacklevel=2)
    return out


def load_records(profile: str = "quick", results_dir: str | Path | None = None) -> list[dict[str, Any]]:
    return RecordStore(profile, results_dir).records()


def load_results(profile: str = "quick", results_dir: str | Path | None = None) -> pl.DataFrame:
    """All records of a profile as a polars DataFrame, one row per (record, task). (``mtlbench.load_results``
    is ``mtlbench.results.load_results``: every profile by default, with a ``profile`` column.)

    Columns: key, suite, suite_family, model, seed, params_source, task, kind, metric, higher_is_better,
    val, test, test_se, n_params, flops_per_sample, train_seconds, epochs_run, timestamp, commit.
    """
    rows = []
    for r in load_records(profile, results_dir):
        for k, t in enumerate(r["tasks"]):
            rows.append(
                {
                    "key": r["key"], "suite": r["suite"], "suite_family": r["suite_family"], "model": r["model"],
                    "seed": r["seed"], "params_source": r["params_source"], "task": t["name"], "kind": t["kind"],
                    "metric": t["metric"], "higher_is_better": t["higher_is_better"],
                    "val": r["val_metrics"][k].get(t["metric"]), "test": r["test_metrics"][k].get(t["metric"]),
                    "test_se": r["test_se"][k], "n_params": r["n_params"], "flops_per_sample": r["flops_per_sample"],
                    "train_seconds": r["train_seconds"], "epochs_run": r["epochs_run"],
                    "timestamp": r["timestamp"], "commit": r["commit"],
                }
            )
    schema = {
        "key": pl.Utf8, "suite": pl.Utf8, "suite_family": pl.Utf8, "model": pl.Utf8, "seed": pl.Int64,
        "params_source": pl.Utf8, "task": pl.Utf8, "kind": pl.Utf8, "metric": pl.Utf8, "higher_is_better": pl.Boolean,
        "val": pl.Float64, "test": pl.Float64, "test_se": pl.Float64, "n_params": pl.Int64,
        "flops_per_sample": pl.Float64, "train_seconds": pl.Float64, "epochs_run": pl.Int64,
        "timestamp": pl.Utf8, "commit": pl.Utf8,
    }
    return pl.DataFrame(rows, schema=schema)


# ---------------------------------------------------------------- provenance
def hardware_spelling(hw: Any) -> str:
    """A record's ``extra["hardware"]`` in one spelling: older records say "(1 threads)"."""
    return str(hw).replace("(1 threads)", "(1 thread)")
