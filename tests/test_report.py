"""Seesaw reports and the leaderboard: gains, significance, flags, determinism, --check, charts."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import cli_env
from mtlbench import report as R
from mtlbench.cli import app
from mtlbench.records import RecordStore, RunRecord, record_key

AUC = {"name": "ctr", "kind": "binary", "metric": "auc", "higher_is_better": True}
MSE = {"name": "watch", "kind": "regression", "metric": "mse", "higher_is_better": False}
NOISE = [0.0, 0.0004, -0.0004, 0.0008, -0.0008]  # seed-to-seed spread


def record(suite: str, model: str, seed: int, values: list[float], tasks=(AUC, MSE), *, family: str | None = None,
           source: str = "default", ts: str = "2026-01-01T00:00:00Z", version: str = "1", checksum: str = "c0ffee",
           se: float = 0.002, commit: str = "abc123def456", params: dict | None = None) -> RunRecord:
    family = family or suite.split("[")[0]
    return RunRecord(
        suite=suite, suite_family=family, suite_version=version, suite_params={}, data_checksum=checksum,
        profile="quick", model=model, params=params or {"model": {}, "shared": {}, "train": {"max_epochs": 10, "patience": 3}},
        params_source=source, seed=seed, tasks=list(tasks),
        val_metrics=[{t["metric"]: v} for t, v in zip(tasks, values)],
        test_metrics=[{t["metric"]: v} for t, v in zip(tasks, values)], test_se=[se] * len(tasks),
        val_score=1.0, history=[], best_epochs=[0], epochs_run=4, n_params=1234 if model != "single_task" else 2000,
        flops_per_sample=5678.0, train_seconds=1.5, samples_per_second=100.0, device="cpu", threads=1,
        versions={"mtlbench": "0.1.0", "torch": "2.13.0"}, commit=commit, timestamp=ts,
    )


def write(root: Path, recs: list[RunRecord], profile: str = "quick") -> None:
    """Each record as its own training: one with the configuration and seed of an earlier one (another label)
    is a further replicate of it, as schema-1 records migrate."""
    store = RecordStore(profile, root)
    for r in recs:
        r.profile = profile
        while store.path(record_key(r.key_parts())).exists():
            r.replicate += 1
        store.write(r)


def seeds(suite: str, model: str, base: list[float], n: int = 5, **kw) -> list[RunRecord]:
    return [record(suite, model, s, [b + NOISE[s % 5] * (1 if k == 0 else 0.5) for k, b in enumerate(base)], **kw)
            for s in range(n)]


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "proj" / "results"


def section(md: str, suite: str) -> str:
    """The markdown of one suite (its heading up to the next heading of that level or above)."""
    part = md.split(f"### `{suite}`", 1)[1]
    return part.split("\n## ", 1)[0].split("\n### ", 1)[0]


def suite_of(rep: R.Report, name: str) -> R.SuiteResult:
    return next(s for s in rep.suites if s.suite == name)


def model_of(s: R.SuiteResult, name: str) -> R.ModelResult:
    return next(m for m in s.models if m.model == name)


# ------------------------------------------------------------------ pure statistics
def test_gain_sign_follows_metric_direction():
    assert R.gain(0.95, 0.94, higher_is_better=True) == pytest.approx(0.01)  # AUC: M − S
    assert R.gain(0.93, 0.94, higher_is_better=True) == pytest.approx(-0.01)
    assert R.gain(1.0, 1.2, higher_is_better=False) == pytest.approx(0.2)  # MSE: S − M (lower M is better)
    assert R.gain(1.3, 1.2, higher_is_better=False) == pytest.approx(-0.1)
    assert R.relative_gain(0.2, 1.25) == pytest.approx(16.0)
    assert R.relative_gain(-0.01, 0.5) == pytest.approx(-2.0)


def test_hardware_groups_one_machine_once_whatever_the_thread_spelling():
    recs = [dataclasses.asdict(record("s", "mtl", i, [0.8, 1.0])) for i in range(4)]
    for r, hw in zip(recs, ["Xeon (1 threads)", "Xeon (1 thread)", "Xeon (2 threads)", None]):
        r["extra"] = {"hardware": hw} if hw else {}
    assert R._hardware(recs) == "Xeon (1 thread) (2 runs); Xeon (2 threads) (1 run); cpu, 1 thread (1 run)"


def test_hardware_names_the_suites_trained_on_cpu_and_gpu_alike():
    recs = [dataclasses.asdict(record(s, "mtl", i, [0.8, 1.0])) for s in ("a", "b") for i in range(2)]
    recs[1]["device"], recs[1]["extra"] = "cuda:0", {"hardware": "NVIDIA H200"}
    text = R._hardware(recs)
    assert text.startswith("NVIDIA H200 (1 run); cpu, 1 thread (3 runs); suites trained on several kinds of device: `a` (cpu, cuda)")
    assert "`b`" not in text and "rounding" in text
    assert "several kinds" not in R._hardware(recs[2:])


def test_holm_and_welch():
    assert R.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert R.holm([None, 0.02]) == [None, 0.02]
    assert R.welch_p([0.9], [0.8, 0.81]) is None  # one seed: no test
    assert R.welch_p([0.9, 0.9], [0.8, 0.8]) is None  # no spread, different means: undefined
    assert R.welch_p([0.9, 0.9], [0.9, 0.9]) == 1.0  # identical runs: a tie
    from scipy import stats

    a, b = [0.90, 0.91, 0.905], [0.88, 0.885, 0.879]
    assert R.welch_p(a, b) == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)


def test_flags_truth_table():
    B, W, N, X = R.BETTER, R.WORSE, R.NS, R.NA
    assert (R.seesaw_flag([B, W]), R.beats_flag([B, W])) == ("yes", "no")
    assert (R.seesaw_flag([B, N]), R.beats_flag([B, N])) == ("no", "yes")
    assert (R.seesaw_flag([N, N]), R.beats_flag([N, N])) == ("no", "no")  # ties / no evidence
    assert (R.seesaw_flag([W, W]), R.beats_flag([W, W])) == ("no", "no")
    assert (R.seesaw_flag([B, X]), R.beats_flag([B, X])) == ("n/a", "n/a")  # one task untestable: open
    assert R.beats_flag([W, X]) == "no"  # already worse somewhere: decided
    assert R.seesaw_flag([B, W, X]) == "yes"
    assert R.verdict(0.01, 0.001) == B and R.verdict(-0.01, 0.001) == W and R.verdict(0.01, 0.2) == N
    assert R.verdict(0.0, 0.0) == N and R.verdict(0.01, None) == X


# ------------------------------------------------------------------ reports on constructed records
def test_gains_and_flags_on_constructed_records(root):
    suite = "toy[a=1]"
    recs = seeds(suite, "single_task", [0.900, 1.000])
    recs += seeds(suite, "mmoe", [0.920, 1.100])  # AUC up, MSE up (worse): the seesaw
    recs += seeds(suite, "ple", [0.915, 0.950])  # better on both
    recs += seeds(suite, "cgc", [0.910, 1.000])  # better on AUC, exact tie on MSE
    recs += [record(suite, "hard_sharing", s, [r.test_metrics[0]["auc"], r.test_metrics[1]["mse"]])
             for s, r in enumerate(recs[:5])]  # identical to single-task: ties everywhere
    write(root, recs)
    rep = R.build_report("quick", root)
    s = suite_of(rep, suite)
    mmoe, ple, cgc, hs = (model_of(s, m) for m in ("mmoe", "ple", "cgc", "hard_sharing"))
    # AUC (higher is better): gain = M − S; MSE (lower is better): gain = S − M
    assert mmoe.comparisons[0].gain == pytest.approx(0.02) and mmoe.comparisons[1].gain == pytest.approx(-0.1)
    assert ple.comparisons[1].gain == pytest.approx(0.05) and ple.comparisons[1].rel_gain == pytest.approx(5.0)
    assert mmoe.verdicts == [R.BETTER, R.WORSE] and (mmoe.seesaw, mmoe.beats) == ("yes", "no")
    assert ple.verdicts == [R.BETTER, R.BETTER] and (ple.seesaw, ple.beats) == ("no", "yes")
    assert cgc.verdicts == [R.BETTER, R.NS] and (cgc.seesaw, cgc.beats) == ("no", "yes")
    assert hs.verdicts == [R.NS, R.NS] and (hs.seesaw, hs.beats) == ("no", "no")
    # test-set uncertainty of a gain: sqrt(se_M² + se_S²)
    assert mmoe.comparisons[0].se_test == pytest.approx(math.sqrt(2) * 0.002)
    # Holm: the adjusted p is at least the raw p, and the smallest is multiplied by the number of tests (8)
    comps = [c for m in s.models for c in m.comparisons]
    assert all(c.p_holm >= c.p for c in comps)
    smallest = min(comps, key=lambda c: c.p)
    assert smallest.p_holm == pytest.approx(min(1.0, 8 * smallest.p))
    md = section(R.render_markdown(rep), suite)
    assert "| `mmoe`" in md and "▲" in md and "▼" in md and "(reference)" in md
    assert "+0.0200 (+2.22%)" in md  # mmoe AUC gain and relative gain
    assert "-0.100 (-10.00%)" in md  # mmoe MSE: worse -> negative gain (4 significant digits)


def test_single_seed_gives_na_never_fake_significance(root):
    suite = "toy[a=1]"
    write(root, seeds(suite, "single_task", [0.90, 1.0], n=1) + seeds(suite, "mmoe", [0.95, 0.5], n=1))
    rep = R.build_report("quick", root)
    m = model_of(suite_of(rep, suite), "mmoe")
    assert m.verdicts == [R.NA, R.NA] and (m.seesaw, m.beats) == ("n/a", "n/a")
    assert m.comparisons[0].gain > 0  # the gain is still shown
    md = section(R.render_markdown(rep), suite)
    assert "▲" not in md and "▼" not in md and "n.s." not in md and "n/a" in md


def test_missing_single_task_gives_notice_not_gains(root):
    write(root, seeds("toy[a=1]", "mmoe", [0.9, 1.0]) + seeds("toy[a=1]", "ple", [0.91, 1.0]))
    rep = R.build_report("quick", root)
    s = suite_of(rep, "toy[a=1]")
    assert s.reference is None and all(not m.comparisons for m in s.models)
    md = section(R.render_markdown(rep), "toy[a=1]")
    assert "No `single_task` results for this suite" in md
    assert "gain (rel.)" not in md and "▲" not in md
    assert "mtlbench run single_task --suite 'toy[a=1]'" in md


def test_stale_data_and_parameter_sets_are_not_mixed(root):
    suite = "toy[a=1]"
    recs = seeds(suite, "single_task", [0.9, 1.0], ts="2026-01-02T00:00:00Z")
    recs += seeds(suite, "mmoe", [0.5, 9.0], version="0", checksum="old", ts="2026-01-01T00:00:00Z")  # older data
    recs += seeds(suite, "mmoe", [0.92, 1.0], ts="2026-01-02T00:00:00Z")
    recs += seeds(suite, "mmoe", [0.80, 1.5], ts="2026-01-03T00:00:00Z", params={"model": {"n_experts": 2}, "shared": {}, "train": {}})
    recs += seeds(suite, "mmoe", [0.93, 0.9], ts="2026-01-01T00:00:00Z", source="study:mmoe@toy@quick#7",
                  params={"model": {"n_experts": 4}, "shared": {}, "train": {}})
    write(root, recs)
    rep = R.build_report("quick", root)
    m = model_of(suite_of(rep, suite), "mmoe")
    assert m.params_source == "study:mmoe@toy@quick#7"  # tuned beats default, even when older
    assert m.tasks[0].mean == pytest.approx(0.93)
    assert any("older data" in n for n in rep.notices) and any("other hyper-parameters" in n for n in rep.notices)
    # the default-params comparison uses the newest default set
    d = model_of(next(s for s in rep.default_suites if s.suite == suite), "mmoe")
    assert d.params_source == "default" and d.tasks[0].mean == pytest.approx(0.80)
    md = R.render_markdown(rep)
    assert "Overall ranking with default hyper-parameters" in md and "--params-from default" in md


def test_ranking_counts_a_sweep_as_one_family(root):
    recs = []
    for p, good in ((0, True), (0.5, True), (1, False)):
        suite = f"synthetic[p={p}]"
        recs += seeds(suite, "single_task", [1.0, 1.0], tasks=(MSE, {**MSE, "name": "y2"}))
        recs += seeds(suite, "mmoe", [0.9, 0.9] if good else [1.1, 1.1], tasks=(MSE, {**MSE, "name": "y2"}))
    recs += seeds("toy[a=1]", "single_task", [0.9, 1.0]) + seeds("toy[a=1]", "mmoe", [0.8, 1.2])
    write(root, recs)
    rep = R.build_report("quick", root)
    rows, families = R.ranking(rep.suites)
    assert families == ["synthetic", "toy[a=1]"]
    mmoe = next(r for r in rows if r["model"] == "mmoe")
    assert mmoe["per_family"]["synthetic"] == pytest.approx((1 + 1 + 2) / 3)
    assert mmoe["per_family"]["toy[a=1]"] == 2.0
    assert mmoe["mean_rank"] == pytest.approx(((4 / 3) + 2) / 2)
    md = R.render_markdown(rep)
    assert "synthetic (sweep, 3 pts)" in md
    assert "Not every model ran on every suite family" not in md
    write(root, seeds("toy[a=2]", "single_task", [0.9, 1.0]))  # mmoe has not run there (yet)
    md = R.render_markdown(R.build_report("quick", root))
    assert "these mean ranks cover fewer families and are not comparable with the rest: `mmoe` (2 of 3)." in md
    assert "1/2 (synthetic: 2/3 points)" in md  # beats single-task on the sweep (2 of 3 points), not on toy
    assert "## Correlation sweep" in md and "sweep_synthetic.png" in md


def test_paper_references_beside_census_results(root):
    tasks = ({"name": "income", "kind": "binary", "metric": "auc", "higher_is_better": True},
             {"name": "never_married", "kind": "binary", "metric": "auc", "higher_is_better": True})
    suite = "census_income[group=1]"
    write(root, seeds(suite, "single_task", [0.94, 0.99], tasks=tasks) + seeds(suite, "ple", [0.95, 0.993], tasks=tasks))
    md = R.render_markdown(R.build_report("quick", root))
    assert "### Census-income: the papers and torch-rechub" in md  # tables checked in test_findings.py
    assert "0.9398" in md and "0.9445" in md and "0.9522" in md and "0.9923" in md and "0.9945" in md
    assert "KDD 2018" in md and "RecSys 2020" in md and "best result over many runs" in md


def test_study_exports_fill_trials_and_tuning_section(root):
    suite = "toy[a=1]"
    src = "study:mmoe@toy[a=1]@quick#2"
    write(root, seeds(suite, "single_task", [0.9, 1.0]) + seeds(suite, "mmoe", [0.92, 1.0], source=src))
    trials = [{"number": i, "state": st, "counted": True, "value": v, "params": {"lr": 10 ** -i, "width": [16, 32][i % 2]},
               "duration_s": 90.0} for i, (st, v) in enumerate([("COMPLETE", 1.0), ("PRUNED", None), ("COMPLETE", 1.4), ("COMPLETE", 1.2)])]
    study = {"study": "mmoe@toy[a=1]@quick", "model": "mmoe", "suite": suite, "directions": ["maximize"],
             "multi_objective": False, "budget": {"n_trials": 4, "max_epochs": 3, "pruner": "hyperband", "param_budget_rule": "4 x single_task's"},
             "n_counted": 4, "trials": trials,
             "exported_at": "2099-01-01T00:00:00Z"}
    d = root / "quick" / "studies"
    d.mkdir(parents=True)
    (d / "mmoe@toy_a=1.json").write_text(json.dumps(study))
    rep = R.build_report("quick", root)
    assert model_of(suite_of(rep, suite), "mmoe").trials == "4 (1 pruned)"
    md = R.render_markdown(rep)
    assert "## Tuning" in md and "1.4000" in md and "tuning_toy_a_1.png" in md
    # the header says what "the same budget" was: trials, sampler, pruner, parameter budget
    assert ("4 trials per (model, suite) study, the same for every model (TPE sampler, hyperband pruning on the "
            "validation score (next row), pruned trials count; parameter budget 4 x single_task's); 1 study; 5 of 10 "
            "compared runs") in md
    # ... and under which rules: a study that records none is of tuning protocol 1
    rules = next(line for line in md.splitlines() if line.startswith("| tuning rules "))
    assert rules.split("|")[2].strip() == ("tuning protocol 1 (1 study): no pruning rule recorded (studies made before "
                                           "the tuning rules); pruned trials: multi-task models 1 of 4")
    assert "2099" not in md  # the export time is not a record field: never in the file
    # total compute: 10 records × 1.5 s of training + 4 trials × 90 s
    assert "0.2 min of training summed over 10 runs + 6.0 min summed over 4 tuning trials (pruned and failed included); 1 CPU thread per run" in md
    assert "mtlbench tune mmoe --suite 'toy[a=1]' --trials 4 --profile quick" in md
    # a killed worker's trial is failed when a later worker notices (maybe a sitting later): its duration is
    # not compute, so it is left out of the sum and counted apart
    study["trials"].append({"number": 4, "state": "FAIL", "counted": False, "value": None, "params": {}, "duration_s": 12_000.0,
                            "user_attrs": {"fail_reason": "worker vm:1924 died during the trial"}})
    (d / "mmoe@toy_a=1.json").write_text(json.dumps(study))
    md = R.render_markdown(R.build_report("quick", root))
    assert ("+ 6.0 min summed over 4 tuning trials (pruned and failed included; 1 trial of killed workers not timed); "
            "1 CPU thread per run") in md
    # a study of the current rules says its pruning rule, and the pruned counts of single_task and the rest
    st_trials = [{"number": i, "state": st, "counted": True, "value": v, "params": {}, "duration_s": 1.0}
                 for i, (st, v) in enumerate([("COMPLETE", 1.0), ("PRUNED", None)])]
    (d / "single_task@toy_a=1.json").write_text(json.dumps({
        "study": "single_task@toy[a=1]@quick", "model": "single_task", "suite": suite, "directions": ["maximize"],
        "protocol": 2, "budget": {"n_trials": 2, "pruner": "hyperband", "pruning_rule": "one rule", "min_steps": 6,
                                  "tuning_seed": 1000}, "n_counted": 2, "trials": st_trials}))
    md = R.render_markdown(R.build_report("quick", root))
    assert ("tuning protocol 2 (1 study): one rule (min_steps 6); pruned trials: `single_task` 1 of 2; every trial "
            "trains seed 1000, not an evaluation seed; tuning protocol 1 (1 study)") in md
    from mtlbench.report import charts as C

    html, _, _ = C.write_charts(rep, root / "quick" / "charts", static=False)
    text = html.read_text()
    assert 'id="tuning_toy_a_1"' in text and 'id="importance_toy_a_1"' in text  # history + importance (HTML only)
    imp = C.importance([p for p in rep.studies[0].params])
    assert set(imp) == {"lr", "width"} and sum(imp.values()) == pytest.approx(1.0)


def test_reference_trial_is_shown_beside_the_search_and_left_out_of_its_charts(root):
    suite = "toy[a=1]"
    trials = [{"number": i, "state": "COMPLETE", "counted": True, "value": v, "params": {"lr": 10 ** -i}, "duration_s": 9.0}
              for i, v in enumerate([1.0, 1.2])]
    trials.append({"number": 2, "state": "COMPLETE", "counted": False, "value": 1.5, "params": {}, "duration_s": 9.0,
                   "user_attrs": {"reference": "default"}})  # the defaults beat the search
    rule = "plus one reference trial per study: the defaults"
    study = {"study": "mmoe@toy[a=1]@quick", "model": "mmoe", "suite": suite, "directions": ["maximize"],
             "budget": {"n_trials": 2, "reference_trial": rule}, "n_counted": 2, "run_trial": 2, "trials": trials}
    d = root / "quick" / "studies"
    d.mkdir(parents=True)
    (d / "mmoe@toy_a=1.json").write_text(json.dumps(study))
    write(root, seeds(suite, "single_task", [0.9, 1.0]) + seeds(suite, "mmoe", [0.92, 1.0], source="study:mmoe@toy[a=1]@quick#2"))
    rep = R.build_report("quick", root)
    [st] = rep.studies
    assert st.reference == (2, 1.5) and [n for n, _ in st.values] == [0, 1] and len(st.params) == 2  # not a searched trial
    assert st.finished == 2 and st.kept_defaults == "defaults"
    assert model_of(suite_of(rep, suite), "mmoe").trials == "2; defaults kept"
    md = R.render_markdown(rep)
    [row] = [r for r in md.split("## Tuning", 1)[1].splitlines() if r.startswith("| `mmoe`")]
    assert [c.strip() for c in row.strip("|").split("|")][-3:] == ["1.2000", "1.5000", "defaults"]
    assert "Of the 1 studies with a reference trial, 0 chose a searched trial and 1 kept the defaults." in md
    assert f"2 trials per (model, suite) study, the same for every model ({rule})" in md
    trials[1]["value"] = 1.6
    study["run_trial"] = 1
    (d / "mmoe@toy_a=1.json").write_text(json.dumps(study))
    assert R.build_report("quick", root).studies[0].kept_defaults == "search"


def test_reproduce_commands_tune_only_the_points_that_were_tuned(root):
    """A sweep point that borrowed a neighbour's study is run, not tuned (its study is the neighbour's)."""
    tasks = (MSE, {**MSE, "name": "y2"})
    recs = []
    for p, study in (("0", "0"), ("0.5", "0"), ("1", "1")):
        src = f"study:hard_sharing@synthetic[p={study}]@quick#1"
        recs += seeds(f"synthetic[p={p}]", "single_task", [1.0, 1.0], tasks=tasks)
        recs += seeds(f"synthetic[p={p}]", "hard_sharing", [0.9, 0.9], tasks=tasks, source=src)
    write(root, recs)
    cmds = R._commands(R.build_report("quick", root))
    assert [c for c in cmds if c.startswith("mtlbench tune")] == [
        "mtlbench tune hard_sharing --suite 'synthetic[p=0]' --suite 'synthetic[p=1]' --profile quick"]
    assert R.study_suite("study:single_task@census_income[group=1]@standard#t3,t7") == "census_income[group=1]"
    assert R.study_suite("study:mmoe@video@standard@mo#2") == "video" and R.study_suite("default") is None
    assert "mtlbench run single_task hard_sharing --suite synthetic --seeds 5 --profile quick" in cmds  # tuned: no flag
    header = R.render_markdown(R.build_report("quick", root)).split("## How to read")[0]
    assert "| borrowed tuning | " in header and "`synthetic[p=0.5]` ← `synthetic[p=0]`" in header  # said, once
    assert "`synthetic[p=1]` ←" not in header and header.count("←") == 1
    write(root.parent / "defaults", seeds("toy[a=1]", "single_task", [0.9, 1.0]) + seeds("toy[a=1]", "mmoe", [0.9, 1.0]))
    cmds = R._commands(R.build_report("quick", root.parent / "defaults"))
    assert "mtlbench run single_task mmoe --suite 'toy[a=1]' --seeds 5 --profile quick --params-from default" in cmds


# ------------------------------------------------------------------ files, determinism, --check
def _populate(root: Path) -> None:
    recs = []
    for p in (0, 1):
        suite = f"synthetic[p={p}]"
        for m, base in (("single_task", [1.0, 1.0]), ("hard_sharing", [0.95, 1.02]), ("mmoe", [0.9, 0.97])):
            recs += seeds(suite, m, base, n=3, tasks=(MSE, {**MSE, "name": "y2"}), ts=f"2026-01-0{p + 1}T10:00:00Z")
    write(root, recs)


def test_report_is_byte_identical_and_from_records_only(root, tmp_path):
    _populate(root)
    first = R.generate("quick", root, charts=False).markdown.read_bytes()
    # the same records elsewhere, copied later (new mtimes), rendered in another time zone and working
    # directory: a report that read the clock, file times, the locale's time or its own path would differ
    elsewhere = tmp_path / "elsewhere" / "results"
    shutil.copytree(root, elsewhere)
    (elsewhere.parent / "leaderboard.md").unlink(missing_ok=True)
    env = {**os.environ, "TZ": "Pacific/Kiritimati"}
    subprocess.run([sys.executable, "-c", f"from mtlbench.report import generate; generate('quick', {str(elsewhere)!r}, charts=False)"],
                   check=True, env=env, cwd=tmp_path, timeout=300)
    second = (elsewhere / "quick" / "leaderboard.md").read_bytes()
    assert first == second
    text = first.decode()
    assert "2026-01-02T10:00:00Z (newest record)" in text and "abc123def456" in text and "2099" not in text
    assert "mtlbench run single_task hard_sharing mmoe --suite 'synthetic[p=0]' --suite 'synthetic[p=1]' --seeds 3" in text


def test_check_passes_on_fresh_and_fails_on_edited(root):
    _populate(root)
    runner = CliRunner()
    args = ["leaderboard", "--check", "--profile", "quick", "--results-dir", str(root)]
    missing = runner.invoke(app, args)
    assert missing.exit_code == 1 and "does not exist" in missing.output
    path = R.generate("quick", root, charts=False).markdown
    ok = runner.invoke(app, args)
    assert ok.exit_code == 0, ok.output
    printed = runner.invoke(app, ["leaderboard", "--profile", "quick", "--results-dir", str(root)])
    assert printed.exit_code == 0 and printed.stdout == path.read_text()
    path.write_text(path.read_text().replace("| `mmoe`", "| `mmoe (best!)`", 1))
    bad = runner.invoke(app, args)
    assert bad.exit_code == 1
    assert "differs from what the records give" in bad.output and len(bad.output.strip().splitlines()) == 1
    # a new record makes the committed file stale as well
    R.generate("quick", root, charts=False)
    write(root, [record("synthetic[p=0]", "ple", 0, [0.9, 0.9], tasks=(MSE, {**MSE, "name": "y2"}), ts="2026-02-01T00:00:00Z")])
    assert runner.invoke(app, args).exit_code == 1


def test_quick_profile_never_touches_top_level_leaderboard(root):
    _populate(root)
    quick = R.generate("quick", root, charts=False).markdown
    assert quick == root / "quick" / "leaderboard.md"
    assert not (root.parent / "leaderboard.md").exists()
    write(root, [record("toy[a=1]", "single_task", 0, [0.9, 1.0])], profile="standard")
    std = R.generate("standard", root, charts=False).markdown
    assert std == root.parent / "leaderboard.md"
    assert R.chart_link_prefix("standard", root) == "results/standard/charts"
    assert R.chart_link_prefix("quick", root) == "charts"


def test_no_records_is_a_one_line_error(root):
    from mtlbench.errors import MtlbenchError

    with pytest.raises(MtlbenchError, match="no result records"):
        R.build_report("quick", root)


def test_charts_html_always_png_when_browser(root, monkeypatch):
    from mtlbench.report import charts as C

    monkeypatch.delenv("MTLBENCH_STATIC_CHARTS")
    _populate(root)
    files = R.generate("quick", root)
    html = files.html.read_text()
    assert files.html.name == "report.html" and (files.html.parent / "plotly.min.js").stat().st_size > 1_000_000
    assert "cdn.plot.ly" not in html and 'src="plotly.min.js"' in html  # offline: no CDN
    md = files.markdown.read_text()
    referenced = sorted(set(__import__("re").findall(r"\]\(charts/([^)]+\.png)\)", md)))
    assert referenced, "the leaderboard embeds static charts"
    for name in referenced:
        assert f'id="{name[:-4]}"' in html  # every embedded chart also exists interactively
    if C.find_browser():
        assert files.notice is None, files.notice
        assert sorted(p.name for p in files.images) == referenced
        assert all((files.html.parent / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in referenced)
        # unchanged figures are not drawn again (no browser needed the second time)
        monkeypatch.setenv("BROWSER_PATH", str(root / "no-such-browser"))
        again = R.generate("quick", root)
        assert again.notice is None and again.images == files.images
    else:
        assert files.images == [] and "no Chromium-family browser" in files.notice


def test_no_browser_degrades_to_html_with_one_line_notice(root, monkeypatch):
    _populate(root)
    monkeypatch.setenv("BROWSER_PATH", str(root / "no-such-browser"))
    files = R.generate("quick", root)
    assert files.html.exists() and files.images == []
    assert files.notice.startswith("static charts skipped") and "\n" not in files.notice


def test_utilisation_exports_and_heatmaps(root, tiny_suite):
    from mtlbench import utilisation as U
    from mtlbench.report.charts.utilisation import as_float_matrix
    from mtlbench.report.load import order_banks
    from mtlbench.model import list_models

    models = [m for m in ("mmoe", "ple") if m in list_models()]
    if not models:
        pytest.skip("no gated model registered yet")
    paths = U.run("quick", [tiny_suite.name], models, root, device="cpu", log=lambda m: None)
    assert len(paths) == len(models)
    for p in paths:
        blob = json.loads(p.read_text())
        assert blob["data_checksum"] == tiny_suite.checksum and blob["n_test"] == len(tiny_suite.test)
        for bank in blob["banks"].values():
            mean = as_float_matrix(bank["mean"])
            assert mean.shape == (len(bank["rows"]), len(bank["cols"]))
            for row in mean:  # each gate's weights are a distribution over the experts it mixes
                assert sum(v for v in row if not math.isnan(v)) == pytest.approx(1.0, abs=1e-4)
    if "ple" in models:
        banks = order_banks(json.loads(U.out_path("quick", tiny_suite.name, "ple", root).read_text())["banks"])
        assert [b["title"] for b in banks.values()] == ["level 1: task gates", "level 1: shared gate", "level 2: task gates"]
        assert banks["levels.0.task_gates"]["mean"][0][1] is None  # task 1's gate cannot mix task 2's expert
    assert U.run("quick", [tiny_suite.name], models, root, device="cpu", log=lambda m: None) == []  # kept, not redone
    write(root, seeds(tiny_suite.name, "single_task", [1.0, 1.0], n=2, tasks=(MSE, {**MSE, "name": "y2"})))
    md = R.render_markdown(R.build_report("quick", root))
    assert "## Expert utilisation" in md and f"util_{R.slug(tiny_suite.name)}__{models[0]}.png" in md


# ------------------------------------------------------------------ end to end
def test_run_writes_quick_leaderboard_and_check_passes(tmp_path):
    env = cli_env(tmp_path)
    suite = "synthetic[p=0.5,n_train=500,n_val=200,n_test=200]"
    cmd = [sys.executable, "-m", "mtlbench.cli"]
    res = subprocess.run([*cmd, "run", "single_task", "hard_sharing", "--suite", suite, "--profile", "quick",
                          "--results-dir", "tmp/results"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    md = (tmp_path / "tmp/results/quick/leaderboard.md").read_text()
    assert f"### `{suite}`" in md and "y1 gain (rel.)" in md and "beats single-task" in md
    assert not (tmp_path / "tmp/leaderboard.md").exists() and not (tmp_path / "leaderboard.md").exists()
    chk = subprocess.run([*cmd, "leaderboard", "--check", "--profile", "quick", "--results-dir", "tmp/results"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert chk.returncode == 0, chk.stdout + chk.stderr


@pytest.mark.slow
def test_html_report_opens_in_headless_browser_without_script_errors(root):
    from mtlbench.report import charts as C

    browser = C.find_browser()
    if browser is None:
        pytest.skip("no Chromium-family browser installed (.ci/browser.sh installs one)")
    _populate(root)
    files = R.generate("quick", root, static=False)
    n_charts = files.html.read_text().count('class="chart"')
    errors, rendered = C.browser_errors(files.html, browser)
    assert errors == []
    assert rendered == n_charts > 0
    # the check itself catches a broken page
    bad = files.html.parent / "broken.html"
    bad.write_text(files.html.read_text().replace('src="plotly.min.js"', 'src="missing.js"'))
    errors, rendered = C.browser_errors(bad, browser)
    assert errors and rendered == 0


def util_export(root: Path, suite: str, model: str, tasks: list[str], banks: dict) -> None:
    """A utilisation export as `mtlbench utilisation` writes it (only the fields the report reads)."""
    d = R.utilisation_dir("quick", root)
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{R.slug(suite)}__{model}.json").write_text(json.dumps(
        {"suite": suite, "model": model, "seed": 0, "config": {}, "tasks": tasks, "banks": banks}))


def test_charts_are_the_same_bytes_with_or_without_orjson(root):
    """plotly serialises with orjson where it is installed (it escapes "±" differently from json): the charts of
    the same records must not depend on that."""
    pytest.importorskip("orjson")
    import plotly.io as pio

    from mtlbench.report import charts as C

    tasks = ({**MSE, "name": "vcr"}, {**MSE, "name": "vtr"})
    write(root, seeds("video", "single_task", [1.0, 1.0], tasks=tasks) + seeds("video", "mmoe", [0.9, 1.1], tasks=tasks))
    util_export(root, "video", "mmoe", ["vcr", "vtr"], {"gates": {
        "level": 1, "rows": ["vcr", "vtr"], "cols": ["expert 1", "expert 2"], "title": "task gates",
        "mean": [[0.6, 0.4], [0.3, 0.7]], "std": [[0.1, 0.1], [0.2, 0.2]]}})
    rep = R.build_report("quick", root)
    before, out = pio.json.config.default_engine, {}
    try:
        for engine in ("orjson", "json"):
            pio.json.config.default_engine = engine
            html, _, _ = C.write_charts(rep, root / engine, static=False)
            assert pio.json.config.default_engine == engine  # the caller's setting is left as it was
            out[engine] = html.read_text()
    finally:
        pio.json.config.default_engine = before
    assert 'id="util_video__mmoe"' in out["json"] and "0.60" in out["json"]
    assert out["orjson"] == out["json"]


def test_saved_reproduction_checks_state_the_cross_commit_drift(root):
    from mtlbench import reproductions

    write(root, seeds("toy[a=1]", "single_task", [0.9, 1.0]) + seeds("toy[a=1]", "mmoe", [0.92, 1.0]))
    recs = {(r["model"], r["seed"]): r for r in R.load_records("quick", root)}

    def check(model: str, seed: int, commit: str, diff: float) -> reproductions.Reproduction:
        r = recs[(model, seed)]
        rows = [{"task": "ctr", "metric": "auc", "recorded": 0.9, "reproduced": 0.9 + diff, "diff": diff},
                {"task": "watch", "metric": "mse", "recorded": 1.0, "reproduced": 1.0, "diff": 0.0}]
        return reproductions.Reproduction(r["key"], r["suite"], model, seed, r["commit"], commit, "cpu", "cpu", rows,
                                          "2026-01-02T00:00:00Z")

    header = lambda: next(line for line in R.render_markdown(R.build_report("quick", root)).splitlines()  # noqa: E731
                          if line.startswith("| reproduced "))
    with pytest.raises(StopIteration):  # no check saved: no row
        header()
    for c in (check("mmoe", 0, "fedcba987654", 0.0), check("single_task", 1, "fedcba987654", 0.0)):
        path = reproductions.save(c, "quick", root)
    assert path.parent == root / "quick" / "reproductions" and reproductions.load("quick", root)[0].rows[0]["diff"] == 0.0
    assert ("| `mtlbench reproduce KEY --save`: 2 records of abc123def456 (`toy[a=1]`) re-run at fedcba987654 on cpu: "
            "largest test-metric difference 0 (bit-identical)") in header()
    reproductions.save(check("mmoe", 2, "abc123def456", 3e-7), "quick", root)  # same commit, not bit-identical
    row = header()
    assert "1 record of abc123def456 (`toy[a=1]`) re-run at the same commit on cpu: largest test-metric difference 3e-07; " in row
    # a check of a record the profile no longer has is left out; an unreadable file is skipped with a warning
    ghost = dataclasses.replace(check("mmoe", 3, "0123456789ab", 0.5), key="f" * 20)
    reproductions.save(ghost, "quick", root)
    (root / "quick" / "reproductions" / "broken.json").write_text("{")
    with pytest.warns(UserWarning, match="unreadable reproduction check"):
        assert "0123456789ab" not in header()
