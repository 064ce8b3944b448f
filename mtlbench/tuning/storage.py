"""Where studies live: ``--storage`` values, database drivers, retries for racing workers.

* no ``--storage``: one Optuna journal file per study, ``<results>/<profile>/studies/<slug>.journal``
  (``JournalStorage`` + ``JournalFileBackend``: appends under a file lock, so concurrent local workers never
  hit SQLite's "database is locked");
* ``journal:PATH``: every study in one journal file;
* ``postgresql://…`` (or any SQLAlchemy URL): ``RDBStorage`` with a heartbeat, so trials of killed workers
  on any machine are marked FAIL.
"""
from __future__ import annotations

import enum
import importlib.util
import os
import random
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from ..errors import MtlbenchError
from ..studies import StudyId, journal_path

#: RDBStorage heartbeat: a RUNNING trial without a heartbeat for the grace period is marked FAIL.
HEARTBEAT_SECONDS = int(os.environ.get("MTLBENCH_HEARTBEAT_SECONDS", "30"))


class StorageKind(enum.Enum):
    JOURNAL_PER_STUDY = "journal-per-study"
    JOURNAL = "journal"
    RDB = "rdb"

    @property
    def has_heartbeat(self) -> bool:
        """Only RDB storages tell whether a worker on another machine still lives."""
        return self is StorageKind.RDB


def _redact(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for display
        return url.split("@")[-1]


def storage_kind(url: str | None) -> StorageKind:
    """Kind of storage a ``--storage`` value names (one-line MtlbenchError for anything else)."""
    if url is None:
        return StorageKind.JOURNAL_PER_STUDY
    if url.startswith("journal:"):
        if not url[len("journal:"):]:
            raise MtlbenchError("--storage journal: needs a file path, e.g. --storage journal:studies.journal.")
        return StorageKind.JOURNAL
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme.split("+")[0] in ("postgresql", "postgres", "mysql", "sqlite"):
        return StorageKind.RDB
    raise MtlbenchError(
        f"--storage {url!r} is not a storage URL; use postgresql://USER:PASSWORD@HOST/DB (several workers), "
        "sqlite:///FILE.db or journal:FILE, or leave it out for one journal file per study under results/<profile>/studies/."
    )


def check_storage_url(url: str | None) -> str:
    """``storage_kind`` as text: "journal-per-study", "journal" or "rdb"."""
    return storage_kind(url).value


def _with_driver(url: str) -> str:
    """``postgresql://`` -> the PostgreSQL driver that is installed (SQLAlchemy 2.1 defaults to psycopg 3;
    the ``postgres`` extra installs psycopg2-binary). An explicit ``postgresql+driver://`` is kept."""
    scheme, rest = url.split("://", 1)
    if scheme not in ("postgresql", "postgres"):
        return url
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


def journal_file(url: str | None, study: StudyId, results_dir: str | Path | None = None) -> Path | None:
    """The journal file holding ``study`` (None for an RDB storage)."""
    kind = storage_kind(url)
    if kind is StorageKind.JOURNAL_PER_STUDY:
        return journal_path(study, results_dir)
    if kind is StorageKind.JOURNAL:
        return Path(url[len("journal:"):])
    return None


def open_storage(url: str | None, study: StudyId, results_dir: str | Path | None = None) -> optuna.storages.BaseStorage:
    """The storage ``url`` names for ``study`` (journal files are created with their folder)."""
    path = journal_file(url, study, results_dir)
    if path is not None:
        from optuna.storages.journal import JournalFileBackend

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
        except OSError as err:
            raise MtlbenchError(f"cannot open the study journal {path} ({err.strerror}); pass --results-dir or --storage to a writable place.") from None
    return _open_rdb(_with_driver(url))


def _open_rdb(url: str) -> optuna.storages.RDBStorage:
    from sqlalchemy import exc as sa_exc

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
