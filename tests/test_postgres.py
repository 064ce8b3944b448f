"""Several `mtlbench tune` workers sharing one study in PostgreSQL (issue 6).

Needs a server: set MTLBENCH_PG_URL (``eval "$(.ci/postgres.sh)"`` installs and starts a local one and
sets it; CI does this). Each test works in a database of its own, created fresh and dropped after.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import optuna
import pytest
from optuna.trial import TrialState

from mtlbench import tuning as T

from conftest import TINY, cli_env

pytestmark = pytest.mark.slow
PG_URL = os.environ.get("MTLBENCH_PG_URL")

# Imports first, then wait for the common start instant, then run the CLI: both workers create the schema
# and the study on an empty database at the same moment (the race the storage layer must survive).
WORKER = """
import sys, time
import mtlbench.tuning, mtlbench.cli
start = float(sys.argv[1])
sys.argv = ["mtlbench", *sys.argv[2:]]
time.sleep(max(0.0, start - time.time()))
mtlbench.cli.main()
"""


def _admin():
    if not PG_URL:
        pytest.skip('MTLBENCH_PG_URL is not set: no PostgreSQL server to test against (eval "$(.ci/postgres.sh)" starts one)')
    try:
        import psycopg2
    except ImportError:
        pytest.skip("psycopg2 is not installed (pip install psycopg2-binary)")
    try:
        conn = psycopg2.connect(PG_URL, connect_timeout=5)
    except psycopg2.OperationalError as err:
        pytest.skip(f"no PostgreSQL server reachable at {T._redact(PG_URL)}: {str(err).strip().splitlines()[0]}")
    conn.autocommit = True
    return conn


@pytest.fixture
def fresh_db():
    """URL of a new, empty database (no optuna schema yet), dropped afterwards."""
    conn = _admin()
    name = f"mtlbench_test_{uuid.uuid4().hex[:10]}"
    conn.cursor().execute(f"CREATE DATABASE {name}")
    yield PG_URL.rsplit("/", 1)[0] + "/" + name
    conn.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    conn.close()


def load(url, model="hard_sharing", suite=TINY):
    storage = optuna.storages.RDBStorage(T._with_driver(url))
    return optuna.load_study(study_name=T.study_name(model, suite, "quick"), storage=storage), storage


def start_workers(tmp_path, url, n, trials, suite=TINY, env=None, delay=None):
    start = time.time() + (delay if delay is not None else 15.0)  # time for every worker to finish its imports
    procs = []
    for i in range(n):
        args = ["tune", "hard_sharing", "--suite", suite, "--trials", str(trials), "--storage", url,
                "--results-dir", str(tmp_path / f"worker{i}"), "--sampler-seed", str(i), "--pruner", "none", "--jobs", "1"]
        procs.append(subprocess.Popen([sys.executable, "-c", WORKER, str(start), *args], cwd=tmp_path,
                                      env={**cli_env(tmp_path), **(env or {})}, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    return procs


def test_two_workers_started_at_the_same_instant_share_one_study(fresh_db, tmp_path):
    procs = start_workers(tmp_path, fresh_db, n=2, trials=6)
    pids = set()
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
        pids.add(p.pid)
    study, storage = load(fresh_db)
    assert [s.study_name for s in optuna.get_all_study_summaries(storage)] == [study.study_name]  # one study, not two
    trials = study.get_trials()
    counted = [t for t in trials if T._counted(t)]
    assert len(counted) == 6  # the trial count adds up: nothing lost, nothing beyond the budget
    assert sorted(t.number for t in trials) == list(range(len(trials)))  # no duplicate, no gap
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    # one reference trial (the defaults, outside the budget) trained, although both workers may have queued it
    assert len(T._reference_trials(study, (TrialState.COMPLETE,))) == 1
    for t in trials:  # anything else not counted was stopped before training, with its reason
        if T._counted(t) or (t.user_attrs.get(T.REFERENCE) and t.state == TrialState.COMPLETE):
            continue
        assert t.state == TrialState.FAIL and t.user_attrs["rejected"].startswith(("surplus", "duplicate")), t
        assert t.user_attrs["worker"]["pid"] in pids
    assert study.user_attrs["n_trials"] == 6 and study.user_attrs["param_budget"] > 0
    # every worker exported the shared study to its own results dir (as on separate machines)
    for i in range(2):
        assert (T.studies_dir("quick", tmp_path / f"worker{i}") / f"{T.study_slug('hard_sharing', TINY)}.json").exists()


def test_a_killed_workers_trial_is_marked_failed_by_the_heartbeat(fresh_db, tmp_path):
    suite = "synthetic[p=0.5,n_train=20000,n_val=2000,n_test=500]"  # trials long enough to be killed mid-way
    env = {"MTLBENCH_HEARTBEAT_SECONDS": "1"}
    [victim] = start_workers(tmp_path, fresh_db, n=1, trials=2, suite=suite, env=env, delay=0)
    deadline = time.time() + 300

    def training() -> bool:
        try:
            return any(t.state == TrialState.RUNNING and "params" in t.user_attrs for t in load(fresh_db, suite=suite)[0].get_trials())
        except (KeyError, Exception):  # schema or study not created yet
            return False

    while time.time() < deadline and not training():
        time.sleep(0.3)
    victim.kill()
    victim.communicate()
    time.sleep(3)  # past the grace period (2 heartbeats)
    [survivor] = start_workers(tmp_path, fresh_db, n=1, trials=2, suite=suite, env=env, delay=0)
    _, err = survivor.communicate(timeout=600)
    assert survivor.returncode == 0, err[-3000:]
    trials = load(fresh_db, suite=suite)[0].get_trials()
    killed = [t for t in trials if t.user_attrs.get("worker", {}).get("pid") == victim.pid and t.state == TrialState.FAIL]
    assert killed, [(t.number, t.state) for t in trials]
    assert sum(T._counted(t) for t in trials) == 2 and not [t for t in trials if t.state == TrialState.RUNNING]
