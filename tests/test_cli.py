"""The command line end to end (subprocess): records written, one-line errors, results untouched."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from conftest import TINY, CountingProgress, run_cli

def mtl(tmp_path, *args, check_rc=None):
    res = run_cli(tmp_path, *args)
    if check_rc is not None:
        assert res.returncode == check_rc, res.stdout + res.stderr
    return res


def tree_digest(d: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(d.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(d)).encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture
def populated(tmp_path):
    """A results dir that already holds records: bad commands must leave it byte-identical."""
    mtl(tmp_path, "run", "single_task", "hard_sharing", "--suite", TINY, "--seeds", "1", check_rc=0)
    root = tmp_path / "results"
    assert len(list((root / "quick" / "records").glob("*.json"))) == 2
    return root


def test_run_writes_records_and_status_lists_them(tmp_path, populated):
    res = mtl(tmp_path, "status", "single_task", "hard_sharing", "--suite", TINY, check_rc=0)
    # 2 models x 2 seeds (quick profile), 1 seed run each
    assert "2 done, 0 failed, 2 missing" in res.stdout
    res = mtl(tmp_path, "run", "single_task", "hard_sharing", "--suite", TINY, "--seeds", "1", check_rc=0)
    assert "0 trained, 2 already done" in res.stdout


def test_list_models_with_glob(tmp_path):
    res = mtl(tmp_path, "list", "models", "*sharing*", check_rc=0)
    assert "hard_sharing" in res.stdout and "single_task" not in res.stdout


BAD = {
    "unknown model": (["run", "hard_shareing", "--suite", TINY], "Did you mean 'hard_sharing'"),
    "unknown suite": (["run", "hard_sharing", "--suite", "synthetc"], "Did you mean 'synthetic'"),
    "unknown profile": (["run", "hard_sharing", "--suite", TINY, "--profile", "quik"], "Did you mean 'quick'"),
    "unknown device": (["run", "hard_sharing", "--suite", TINY, "--device", "tpu"], "unknown device 'tpu'"),
    "unknown suite parameter": (["run", "hard_sharing", "--suite", "synthetic[q=1]"], "no parameter 'q'"),
    "negative lr": (["run", "hard_sharing", "--suite", TINY, "--set", "lr=-0.1"], "lr=-0.1 is out of range"),
    "zero width": (["run", "hard_sharing", "--suite", TINY, "--set", "bottom=[0]"], "out of range"),
    "unknown hyper-parameter": (["run", "hard_sharing", "--suite", TINY, "--set", "nope=1"], "no hyper-parameter 'nope'"),
    "zero seeds": (["run", "hard_sharing", "--suite", TINY, "--seeds", "0"], "--seeds 0 is out of range"),
    "nothing to run": (["run"], "pass --all"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_exit_2_and_results_untouched(tmp_path, populated, case):
    args, message = BAD[case]
    before = tree_digest(populated)
    res = mtl(tmp_path, *args)
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert message in lines[0]
    assert "Traceback" not in res.stderr + res.stdout
    assert tree_digest(populated) == before


def test_cuda_requested_without_gpu(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present on this machine")
    res = mtl(tmp_path, "run", "hard_sharing", "--suite", TINY, "--device", "cuda")
    assert res.returncode == 2 and "no CUDA GPU is available" in res.stderr


def test_unwritable_results_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    res = mtl(tmp_path, "run", "hard_sharing", "--suite", TINY, "--results-dir", str(blocker / "results"))
    assert res.returncode == 2 and "is not writable" in res.stderr and "--results-dir" in res.stderr


def test_debug_shows_the_traceback(tmp_path):
    res = mtl(tmp_path, "--debug", "run", "hard_shareing", "--suite", TINY)
    assert res.returncode != 0 and "Traceback" in res.stderr


def test_diverging_run_is_recorded_as_failed_and_the_sweep_goes_on(tmp_path):
    res = mtl(tmp_path, "run", "hard_sharing", "single_task", "--suite", TINY, "--seeds", "1", "--set", "lr=1e12")
    assert res.returncode == 1
    assert "failed" in res.stdout and "non-finite" in res.stdout
    failed = list((tmp_path / "results" / "quick" / "failed").glob("*.json"))
    assert len(failed) == 2 and "non-finite" in json.loads(failed[0].read_text())["reason"]
    assert not list((tmp_path / "results" / "quick" / "records").glob("*.json"))
    status = mtl(tmp_path, "status", "hard_sharing", "single_task", "--suite", TINY, check_rc=0)
    assert "2 failed" in status.stdout


@pytest.mark.parametrize("stack", ["0", "1"])
def test_progress_accounts_for_every_run_so_the_bar_reaches_100_percent(tmp_path, monkeypatch, stack):
    from mtlbench import run

    monkeypatch.setenv("MTLBENCH_STACK_SEEDS", stack)
    res = tmp_path / "res"
    first = CountingProgress()
    run(["hard_sharing"], [TINY], seeds=3, device="cpu", results_dir=res, progress=first)
    assert first.runs == 3
    again = CountingProgress()  # 3 runs exist (skipped), 3 new ones are trained
    run(["hard_sharing", "single_task"], [TINY], seeds=3, device="cpu", results_dir=res, progress=again)
    assert again.runs == 6


def test_progress_counts_a_stacked_group_that_falls_back_once(tmp_path, monkeypatch):
    from mtlbench import multiseed, run

    def cannot_stack(*args, **kwargs):
        raise RuntimeError("an op vmap cannot batch")

    monkeypatch.setenv("MTLBENCH_STACK_SEEDS", "1")
    monkeypatch.setattr(multiseed, "fit_seeds", cannot_stack)
    progress = CountingProgress()
    summary = run(["hard_sharing"], [TINY], seeds=3, device="cpu", results_dir=tmp_path / "res", progress=progress)
    assert len(summary.done) == 3 and progress.runs == 3  # trained one by one after the failed stacked attempt
