"""Kills, concurrent runs and damaged files never lose or duplicate records."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

import mtlbench
from mtlbench.fsio import finished, is_temporary, temp_path
from mtlbench.records import RecordStore

from conftest import HAS_PROC, TINY, children, cli_env, wait_gone

# Epochs long enough to be cut mid-run, also on a fast machine: two workers must both hold a checkpoint (each has
# finished an epoch, neither its run) when the driver is killed. At 40,000 rows a run took ~1 s in CI and the two
# were never seen mid-run together; at 200,000 an epoch takes ~2 s on a loaded 2-core machine.
BIG = "synthetic[p=0.5,n_train=200000,n_val=2000,n_test=2000]"


def start(tmp_path, results: Path, *args) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "mtlbench.cli", "run", *args, "--results-dir", str(results)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(tmp_path), cwd=tmp_path)


def comparable(results: Path) -> dict[str, tuple]:
    """What must be identical between an interrupted-and-resumed run and an uninterrupted one."""
    recs = RecordStore("quick", results).records()
    return {r["key"]: (r["test_metrics"], [h["val"] for h in r["history"]], r["best_epochs"]) for r in recs}


def wait_for(predicate, proc: subprocess.Popen, timeout: float = 240) -> None:
    t0 = time.time()
    while not predicate():
        assert proc.poll() is None, "the run ended before it could be killed: " + proc.stderr.read()
        assert time.time() - t0 < timeout, "timed out waiting for the run"
        time.sleep(0.05)


def test_damaged_record_is_ignored_with_a_warning_and_recomputed(tmp_path):
    res = tmp_path / "r"
    mtlbench.run(["hard_sharing"], [TINY], seeds=1, results_dir=res, device="cpu")
    (path,) = list((res / "quick" / "records").glob("*.json"))
    good = json.loads(path.read_text())
    path.write_text(path.read_text()[:50])  # a half-written file of an older crash
    with pytest.warns(UserWarning, match="unreadable"):
        assert mtlbench.load_records("quick", res) == []
    with pytest.warns(UserWarning, match="recomputed"):
        s = mtlbench.run(["hard_sharing"], [TINY], seeds=1, results_dir=res, device="cpu")
    assert len(s.done) == 1
    assert json.loads(path.read_text())["test_metrics"] == good["test_metrics"]


def test_temporary_file_of_a_killed_writer_is_not_a_record(tmp_path):
    res = tmp_path / "r"
    mtlbench.run(["hard_sharing"], [TINY], seeds=1, results_dir=res, device="cpu")
    (path,) = finished(res / "quick" / "records")
    left = temp_path(path).with_name(temp_path(path).name.replace(str(os.getpid()), "999999"))
    left.write_text(path.read_text()[:50])  # what SIGKILL mid-write leaves behind
    assert is_temporary(left) and left.suffix == ".json" and left in set((res / "quick" / "records").glob("*.json"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even "unreadable": it is no record at all
        assert len(mtlbench.load_records("quick", res)) == 1
        s = mtlbench.run(["hard_sharing"], [TINY], seeds=1, results_dir=res, device="cpu")
    assert not s.done and len(s.skipped) == 1


def kill_driver(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc`` alone (no Python cleanup runs in it) and check that its worker processes end with it."""
    kids = children(proc.pid) if HAS_PROC else {}
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not wait_gone(kids, timeout=5), "worker processes outlived their killed driver"


@pytest.mark.slow
def test_kill_after_first_record_then_resume(tmp_path):
    args = ["single_task", "hard_sharing", "--suite", TINY, "--seeds", "2", "--device", "cpu", "--jobs", "2"]
    ref = tmp_path / "ref"
    assert start(tmp_path, ref, *args).wait(timeout=300) == 0
    cut = tmp_path / "cut"
    proc = start(tmp_path, cut, *args)
    records = cut / "quick" / "records"
    wait_for(lambda: bool(finished(records)), proc)
    kill_driver(proc)  # its workers are gone too: nothing writes records any more
    # a record being written at the kill leaves its hidden temporary file: not a record, and not read as one
    first = {p.name: p.stat().st_mtime_ns for p in finished(records)}
    again = start(tmp_path, cut, *args)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert f"{len(first)} already done" in " ".join(out.split()), out
    assert all((records / n).stat().st_mtime_ns == t for n, t in first.items())  # not recomputed
    assert comparable(cut) == comparable(ref)  # every record exactly once, same metrics


@pytest.mark.slow
def test_kill_mid_epoch_resumes_from_the_checkpoint(tmp_path):
    args = ["hard_sharing", "--suite", BIG, "--seeds", "1", "--device", "cpu"]
    ref = tmp_path / "ref"
    assert start(tmp_path, ref, *args).wait(timeout=300) == 0
    cut = tmp_path / "cut"
    proc = start(tmp_path, cut, *args)
    ckpt = cut / "quick" / "ckpt"
    wait_for(lambda: ckpt.is_dir() and any(ckpt.glob("*.pt")), proc)  # epoch 0 done, epoch 1 under way
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not finished(cut / "quick" / "records")
    again = start(tmp_path, cut, *args)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert comparable(cut) == comparable(ref)
    assert not any(ckpt.glob("*.pt"))  # the checkpoint is removed once the record exists


@pytest.mark.slow
@pytest.mark.skipif(not HAS_PROC, reason="finds the worker processes through Linux /proc")
def test_killed_driver_takes_its_training_workers_along_and_the_run_resumes(tmp_path):
    args = ["hard_sharing", "--suite", BIG, "--seeds", "2", "--device", "cpu", "--jobs", "2"]
    ref = tmp_path / "ref"
    assert start(tmp_path, ref, *args).wait(timeout=400) == 0
    cut = tmp_path / "cut"
    proc = start(tmp_path, cut, *args)
    ckpt = cut / "quick" / "ckpt"
    wait_for(lambda: len(list(ckpt.glob("*.pt"))) == 2 if ckpt.is_dir() else False, proc)  # both workers mid-run
    assert len(children(proc.pid)) >= 2
    kill_driver(proc)
    assert not finished(cut / "quick" / "records")
    again = start(tmp_path, cut, *args)  # the dead workers' claims are free, their checkpoints resume
    _, err = again.communicate(timeout=400)
    assert again.returncode == 0, err
    assert comparable(cut) == comparable(ref)
    assert not any(ckpt.glob("*.pt"))


@pytest.mark.slow
def test_two_concurrent_runs_share_one_results_dir(tmp_path):
    args = ["single_task", "hard_sharing", "--suite", TINY, "--suite", TINY.replace("p=0.5", "p=0"), "--seeds", "2", "--device", "cpu"]
    res = tmp_path / "r"
    a, b = start(tmp_path, res, *args), start(tmp_path, res, *args)
    outs = [p.communicate(timeout=400) for p in (a, b)]
    assert a.returncode == 0 and b.returncode == 0, outs
    trained = sum(int(o.split(" trained")[0].split()[-1]) for o, _ in outs)
    assert trained == 8  # the two processes split the work, nothing trained twice
    recs = RecordStore("quick", res).records()
    assert len(recs) == 8 and len({r["key"] for r in recs}) == 8
    assert not [p for p in (res / "quick" / "records").iterdir() if is_temporary(p)]  # every write completed


def test_a_finished_run_removes_what_killed_writers_left_of_it(tmp_path):
    res = tmp_path / "r"
    mtlbench.run(["hard_sharing"], [TINY], seeds=1, results_dir=res, device="cpu")
    (record,) = finished(res / "quick" / "records")
    key, ckpt_dir = record.stem, res / "quick" / "ckpt"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    record.unlink()
    left = [record.with_name(f".{key}.999999.tmp.json"), ckpt_dir / f".{key}.999998.tmp.pt"]  # SIGKILL mid-write
    other = [ckpt_dir / f".{key}.fit0.999997.tmp.pt", ckpt_dir / f".{key[:-1]}.999996.tmp.pt"]  # not this run's files
    for p in left + other:
        p.write_bytes(b"partial")
    s = mtlbench.run(["hard_sharing"], [TINY], seeds=1, results_dir=res, device="cpu")
    assert len(s.done) == 1 and finished(res / "quick" / "records") == [record]
    assert not any(p.exists() for p in left) and all(p.exists() for p in other)
