"""`run --jobs N`: worker processes give the records one process gives; layouts; progress over a queue."""
from __future__ import annotations

import json

import pytest

from conftest import TINY, CountingProgress, run_cli

#: What a record's training determines (timing, machine and timestamp fields aside).
RESULT_FIELDS = ("val_metrics", "test_metrics", "test_se", "test_boot", "val_score", "history", "best_epochs",
                 "epochs_run", "n_params", "flops_per_sample", "params", "params_source", "threads")


def results_of(root) -> dict[str, dict]:
    recs = [json.loads(p.read_text()) for p in (root / "quick" / "records").glob("*.json")]
    return {r["key"]: {f: r[f] for f in RESULT_FIELDS} for r in recs}


def test_two_jobs_write_the_records_of_one_job(tmp_path):
    from mtlbench.parallel import Layout, run_local

    models, args = ["hard_sharing", "mmoe"], dict(seeds=2, profile="quick", device="cpu")
    one = run_local(Layout(1, 1), models, [TINY], results_dir=tmp_path / "one", **args)
    progress = CountingProgress()
    two = run_local(Layout(2, 1), models, [TINY], results_dir=tmp_path / "two", progress=progress, **args)
    assert sorted(one.done) == sorted(two.done) and len(two.done) == 4 and not two.failed
    a, b = results_of(tmp_path / "one"), results_of(tmp_path / "two")
    assert set(a) == set(b) and len(a) == 4
    assert a == b  # same keys, and bitwise the same metrics, histories and bootstrap replicates
    assert progress.runs == 4 and progress.starts == 4 and 1 <= len(progress.lanes) <= 2

    again = CountingProgress()  # resuming with workers skips every finished run and still accounts for each
    rerun = run_local(Layout(2, 1), models, [TINY], results_dir=tmp_path / "two", progress=again, **args)
    assert not rerun.done and len(rerun.skipped) == 4 and again.runs == 4


@pytest.mark.parametrize("jobs, threads, env, device, cores, expected", [
    (None, None, None, "cpu", 8, (8, 1)),      # every core busy, one thread per run
    (2, None, None, "cpu", 8, (2, 4)),         # given jobs share the cores
    (None, 2, None, "cpu", 8, (4, 2)),         # given threads: cores / threads jobs
    (None, None, "3", "cpu", 8, (2, 3)),       # OMP_NUM_THREADS is the thread count when --threads is not given
    (None, None, None, "cuda", 8, (1, 1)),     # one process drives the GPU
    (3, None, None, "cpu", 2, (3, 1)),         # more jobs than cores: still at least one thread each
])
def test_choose_layout(monkeypatch, jobs, threads, env, device, cores, expected):
    from mtlbench.parallel import choose_layout

    if env is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", env)
    layout = choose_layout(jobs, threads, device, cores=cores)
    assert (layout.jobs, layout.threads) == expected


def test_units_split_seeds_on_cpu_and_keep_them_together_on_cuda():
    from mtlbench.parallel import Unit, split_units

    assert split_units(["a", "b"], ["m"], 2, per_seed=True) == [Unit("a", "m", (0,)), Unit("a", "m", (1,)),
                                                                 Unit("b", "m", (0,)), Unit("b", "m", (1,))]
    assert split_units(["a"], ["m", "n"], 3, per_seed=False) == [Unit("a", "m", (0, 1, 2)), Unit("a", "n", (0, 1, 2))]


def test_merge_summaries_lists_a_skip_note_once():
    from mtlbench.parallel import merge_summaries
    from mtlbench.runner import RunSummary

    parts = [RunSummary(done=["s/m/0"], not_applicable=["s/esmm (needs a funnel)"], skipped=["s/m/2"]),
             RunSummary(done=["s/m/1"], not_applicable=["s/esmm (needs a funnel)"], failed=[("s/n/1", "diverged")])]
    out = merge_summaries(parts)
    assert out.done == ["s/m/0", "s/m/1"] and out.not_applicable == ["s/esmm (needs a funnel)"] and out.skipped == ["s/m/2"]
    assert out.failed == [("s/n/1", "diverged")]


@pytest.mark.parametrize("args, message", [
    (["--jobs", "0"], "--jobs 0 is out of range"),
    (["--threads", "0"], "--threads 0 is out of range"),
    (["--executor", "slurm"], "unknown executor 'slurm'"),
])
def test_bad_layout_is_one_line_exit_2(tmp_path, args, message):
    res = run_cli(tmp_path, "run", "hard_sharing", "--suite", TINY, *args)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().startswith("error: ") and message in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "results" / "quick" / "records").exists()


def test_tune_with_two_workers_shares_one_study(tmp_path):
    from mtlbench.parallel import Layout, tune_local

    events = []
    args = dict(models=["hard_sharing"], suites=[TINY], n_trials=2, profile="quick", device="cpu",
                results_dir=tmp_path / "res", pruner="none")
    summaries = tune_local(Layout(2, 1), args, sampler_seed=3, progress=events.append)
    assert len(summaries) == 1 and summaries[0]["n_counted"] >= 2 and summaries[0]["best"] is not None
    assert len(list((tmp_path / "res" / "quick" / "studies").glob("*.journal"))) == 1  # one study, both workers
    assert {ev.number for ev in events} >= {0, 1}  # the workers' trial events reached the driver


def test_the_driver_prints_a_note_every_worker_says_once():
    from mtlbench.parallel import once

    heard: list[str] = []
    say = once(heard.append)
    for text in ("not tuned: s/esmm (why)", "not tuned: s/esmm (why)", "waiting for trials: a #3", "waiting for trials: a #4"):
        say(text)
    assert heard == ["not tuned: s/esmm (why)", "waiting for trials: a #3", "waiting for trials: a #4"]
