"""Worker liveness: which trials still train, failing those of killed workers, waiting for the others.

A trial records its worker (host, pid, process start time) in the ``worker`` user attribute. Journal
storages have no heartbeat: a RUNNING trial whose worker process on this host is gone is failed with the
``worker_died`` user attribute (``mtlbench.studies.WORKER_DIED_ATTR``), so a killed ``tune`` resumes cleanly.
On an RDB storage Optuna's heartbeat fails stale trials of any host.
"""
from __future__ import annotations

import os
import socket
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from ..records import WORKER_DIED
from ..studies import WORKER_DIED_ATTR
from .optuna_adapter import set_trial_user_attr

#: how often a finished worker looks again at trials still training in other workers
WAIT_POLL_SECONDS = 5.0


def _proc_start(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]  # field 22: start time
    except (OSError, IndexError):
        return None


def _worker() -> dict[str, Any]:
    """This process as a trial's ``worker`` user attribute."""
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
    """Mark RUNNING trials whose worker process (on this host) is gone as FAIL, with ``worker_died=True`` and a
    readable ``fail_reason``. Returns the trial numbers it failed (not those another worker failed first)."""
    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        w = t.user_attrs.get("worker")
        if isinstance(w, dict) and not _worker_alive(w):
            try:
                set_trial_user_attr(study, t.number, WORKER_DIED_ATTR, True)
                set_trial_user_attr(study, t.number, "fail_reason", f"worker {w.get('host')}:{w.get('pid')} {WORKER_DIED}")
                study.tell(t.number, state=TrialState.FAIL)
                failed.append(t.number)
            except (RuntimeError, ValueError):
                pass  # another worker failed it first (UpdateFinishedTrialError / "Cannot tell a FAIL trial")
    return failed


def running_trials(study: optuna.Study, heartbeat: bool = False) -> list[int]:
    """Numbers of the study's trials known to be still training: in a live worker on this host (dead ones
    are failed first), or, with a ``heartbeat`` storage (RDB), in any worker whose heartbeat is fresh (stale
    ones are failed). A journal trial of another host is left out: nothing tells whether that worker lives."""
    fail_dead_trials(study)
    if heartbeat:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
    here = socket.gethostname()
    return [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if heartbeat or (t.user_attrs.get("worker") or {}).get("host") == here]


def wait_for_other_workers(studies: list[optuna.Study], notify: Callable[[str], None] | None = None,
                           heartbeat: bool = False) -> None:
    """Block until no trial of ``studies`` trains any more. A worker whose last trial was claimed by another
    worker would otherwise return while that trial still trains, and a ``run`` started right after it would
    use an unfinished study (``tune … && run …`` in each of several shells must be safe)."""
    told = False
    while True:
        busy = {st.study_name: n for st in studies if (n := running_trials(st, heartbeat))}
        if not busy:
            return
        if notify and not told:
            notify("waiting for trials still training in other workers: "
                   + ", ".join(f"{name} #{', #'.join(map(str, ns))}" for name, ns in busy.items()))
            told = True
        time.sleep(WAIT_POLL_SECONDS)
