"""`mtlbench tune` (issue 6): search spaces, equal budget, resume, pruning, validation-only objective,
tuned params picked up by `run`, one-line errors. Tiny suite, quick profile, tmp results dir."""
from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import threading
import time

import optuna
import pytest
import torch
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

import mtlbench
from mtlbench import tuning as T
from mtlbench.tuning import loop, workers
from mtlbench.model import SharedConfig, build_model, get_model_class, make_config
from mtlbench.params import default_params
from mtlbench.profiles import get_profile
from mtlbench.provenance import ParamsSource
from mtlbench.report import load_studies

from conftest import HAS_PROC, TINY, children, cli_env, wait_gone
from conftest import cli_in_process as cli

QUICK = get_profile("quick")
MODELS = mtlbench.list_models()
optuna.logging.set_verbosity(optuna.logging.ERROR)


def _short_patience(monkeypatch, patience=1, max_epochs=5):
    """The quick profile with a patience that lets pruning act (min_steps = patience + 1 < its validations)."""
    import dataclasses

    from mtlbench.profiles import PROFILES

    prof = dataclasses.replace(QUICK, patience=patience, max_epochs=max_epochs)
    monkeypatch.setitem(PROFILES, "quick", prof)
    return prof


def journal_study(results, model, suite=TINY, multi=False):
    path = T.studies_dir("quick", results) / f"{T.study_slug(model, suite, multi)}.journal"
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    return optuna.load_study(study_name=T.study_name(model, suite, "quick", multi), storage=storage)


def summary_file(results, model, suite=TINY, multi=False):
    return T.studies_dir("quick", results) / f"{T.study_slug(model, suite, multi)}.json"


def hard_sharing_params(lr, batch_size, **kw):
    """A complete parameter set (core + hard_sharing) to enqueue a deterministic trial."""
    return {"lr": lr, "batch_size": batch_size, "weight_decay": 1e-6, "dropout": 0.0, "loss_weight_2": 1.0,
            "loss_decay_1": 1.0, "loss_decay_2": 1.0, "bottom_layers": 2, "bottom_width": 128, "tower_width": 32, **kw}


# ------------------------------------------------------------------ search spaces and budget
@pytest.mark.parametrize("name", MODELS)
def test_search_space_is_valid_for_every_model(name, tiny_suite):
    x_num, x_cat = tiny_suite.val.x_num[:8], tiny_suite.val.x_cat[:8]
    for seed in range(3):
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        trial = study.ask()
        rp = T.sample_params(trial, name, tiny_suite, QUICK)
        assert isinstance(rp.model, get_model_class(name).Config)
        assert {"lr", "batch_size", "weight_decay", "dropout", "loss_weight_2", "loss_decay_1", "loss_decay_2"} <= set(trial.params)
        assert rp.train.loss_weights[0] == 1.0 and len(rp.train.loss_weights) == tiny_suite.n_tasks
        assert all(0.9 <= g <= 1.1 for g in rp.train.loss_decays)
        assert (rp.train.max_epochs, rp.train.patience) == (QUICK.max_epochs, QUICK.patience)
        assert rp.shared.emb_dim == tiny_suite.emb_dim and rp.shared.dropout == trial.params["dropout"]
        # define-by-run: the sampled values alone reproduce the same RunParams (what `run` relies on)
        assert T.sample_params(optuna.trial.FixedTrial(trial.params), name, tiny_suite, QUICK) == rp
        torch.manual_seed(0)
        net = build_model(name, tiny_suite.inputs, tiny_suite.tasks, rp.model, rp.shared).eval()
        with torch.no_grad():
            out = net(x_num, x_cat)  # [8, K]
        assert out.shape == (8, tiny_suite.n_tasks) and torch.isfinite(out).all()


def test_every_default_model_fits_the_parameter_budget(tiny_suite):
    budget = T.param_budget(tiny_suite)
    for name in MODELS:
        net = build_model(name, tiny_suite.inputs, tiny_suite.tasks, make_config(name), SharedConfig(emb_dim=tiny_suite.emb_dim))
        assert T.dense_params(net) <= budget, name


def test_a_parameter_name_belongs_to_one_space_only(tiny_suite, monkeypatch):
    cls = get_model_class("hard_sharing")

    def clashing(klass, trial, n_tasks):
        trial.suggest_float("lr", 1e-3, 1e-1, log=True)  # a core name
        return klass.Config()

    monkeypatch.setattr(cls, "search_space", classmethod(clashing))
    trial = optuna.create_study().ask()
    with pytest.raises(mtlbench.MtlbenchError, match="'lr' is declared by both the core space and the model 'hard_sharing'"):
        T.sample_params(trial, "hard_sharing", tiny_suite, QUICK)


# ------------------------------------------------------------------ studies
def test_tiny_study_runs_end_to_end_and_resumes(tmp_path):
    res = tmp_path / "results"
    events = []
    [s] = T.tune(["hard_sharing"], [TINY], n_trials=2, results_dir=res, sampler_seed=0, progress=events.append)
    assert s["n_counted"] == 2 and [e.counted for e in events] == [0, 1, 2]  # the reference trial first, not counted
    study = journal_study(res, "hard_sharing")
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    ref = trials[0]
    assert ref.user_attrs[T.REFERENCE] == "default" and ref.params == {} and not T._counted(ref)
    assert ref.user_attrs["params"] == json.loads(json.dumps(default_params("hard_sharing", mtlbench.load_suite(TINY, QUICK), QUICK).as_dict()))
    assert s["reference"] == {"number": 0, "value": ref.value, "values": [ref.value], "task_scores": ref.user_attrs["task_scores"]}
    for t in trials:
        assert [set(m) for m in t.user_attrs["val_metrics"]] == [{"mse"}, {"mse"}]  # raw per-task metrics
        assert t.value == pytest.approx(mtlbench.metrics.score(mtlbench.load_suite(TINY, QUICK).tasks, t.user_attrs["val_metrics"]))
        assert len(t.user_attrs["task_scores"]) == 2
    attrs = study.user_attrs
    assert (attrs["n_trials"], attrs["max_epochs"], attrs["patience"]) == (2, QUICK.max_epochs, QUICK.patience)
    assert attrs["param_budget"] == T.param_budget(mtlbench.load_suite(TINY, QUICK)) and attrs["param_budget_rule"]
    summary = json.loads(summary_file(res, "hard_sharing").read_text())  # strict JSON, committable
    assert summary["best"]["number"] == study.best_trial.number and summary["budget"]["n_trials"] == 2
    assert len(summary["trials"]) == 3 and summary["budget"]["reference_trial"] == T.REFERENCE_RULE

    started = [t.datetime_start for t in trials]
    [s] = T.tune(["hard_sharing"], [TINY], n_trials=3, results_dir=res, sampler_seed=1)
    trials = journal_study(res, "hard_sharing").get_trials()
    assert [t.number for t in trials] == [0, 1, 2, 3] and [t.datetime_start for t in trials[:3]] == started  # continued
    assert s["n_counted"] == 3 and s["budget"]["n_trials"] == 3 and s["reference"]["number"] == 0  # one reference
    T.tune(["hard_sharing"], [TINY], n_trials=3, results_dir=res)  # complete: nothing more runs
    assert len(journal_study(res, "hard_sharing").get_trials()) == 4


def test_trial_of_a_killed_worker_is_failed_and_the_count_adds_up(tmp_path):
    res = tmp_path / "results"
    data = mtlbench.load_suite(TINY, QUICK)
    study = T.open_study("hard_sharing", data, QUICK, 1, T.param_budget(data), None, results_dir=res)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = study.ask()  # RUNNING forever: its worker was killed
    orphan.set_user_attr("worker", {"host": socket.gethostname(), "pid": int(dead.stdout), "start": "0"})
    [s] = T.tune(["hard_sharing"], [TINY], n_trials=2, results_dir=res, sampler_seed=0)
    trials = journal_study(res, "hard_sharing").get_trials()
    assert trials[0].state == TrialState.FAIL and "died" in trials[0].user_attrs["fail_reason"]
    assert [t.state for t in trials[1:]] == [TrialState.COMPLETE] * 3 and s["n_counted"] == 2
    assert trials[1].user_attrs[T.REFERENCE]  # queued when the study (re)opened, before the sampled trials
    [st] = load_studies("quick", res)  # the report (no optuna) recognises the reason tuning wrote
    assert st.untimed_dead == 1 and st.timed == 3


def test_trials_started_by_a_live_worker_count_towards_the_budget_and_are_waited_for(tmp_path, monkeypatch):
    res = tmp_path / "results"
    data = mtlbench.load_suite(TINY, QUICK)
    study = T.open_study("hard_sharing", data, QUICK, 1, T.param_budget(data), None, results_dir=res)
    running = study.ask()  # another worker (alive: this process) is training trial 0
    running.set_user_attr("worker", T._worker())
    study.enqueue_trial(hard_sharing_params(0.01, 256))  # would be trial 1 if it started
    monkeypatch.setattr(workers, "WAIT_POLL_SECONDS", 0.05)
    said: list[str] = []

    def other_worker_finishes() -> None:
        while not said:  # until tune has run out of trials and waits
            time.sleep(0.05)
        study.tell(running, 2.5)

    threading.Thread(target=other_worker_finishes, daemon=True).start()
    [s] = T.tune(["hard_sharing"], [TINY], n_trials=1, results_dir=res, notify=said.append)
    trials = journal_study(res, "hard_sharing").get_trials()
    assert trials[1].state == TrialState.FAIL and trials[1].user_attrs["rejected"].startswith("surplus")
    assert "val_metrics" not in trials[1].user_attrs  # nothing trained beyond the budget
    # tune returned only once the other worker's trial had finished, and its summary counts it: a `run`
    # started next sees the whole budget
    assert said == [f"waiting for trials still training in other workers: {T.study_name('hard_sharing', TINY, 'quick')} #0"]
    assert trials[0].state == TrialState.COMPLETE and s["n_counted"] == 1


def test_waiting_ends_when_the_other_worker_dies(tmp_path, monkeypatch):
    res = tmp_path / "results"
    data = mtlbench.load_suite(TINY, QUICK)
    study = T.open_study("hard_sharing", data, QUICK, 1, T.param_budget(data), None, results_dir=res)
    dead = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    running = study.ask()
    running.set_user_attr("worker", {"host": socket.gethostname(), "pid": dead.pid, "start": T._proc_start(dead.pid)})
    monkeypatch.setattr(workers, "WAIT_POLL_SECONDS", 0.05)
    said: list[str] = []
    threading.Thread(target=dead.wait, daemon=True).start()  # reaped when it exits, as a shell would
    T.wait_for_other_workers([study], notify=said.append)  # returns once the worker is gone (trial failed)
    assert len(said) == 1 and journal_study(res, "hard_sharing").get_trials()[0].state == TrialState.FAIL
    # a journal trial left RUNNING by a worker of another machine (a copied or committed journal) can't be
    # known alive or dead: it is not waited for (it would block every later `tune` of this study for ever)
    foreign = study.ask()
    foreign.set_user_attr("worker", {"host": "elsewhere.invalid", "pid": 1, "start": "1"})
    said.clear()
    T.wait_for_other_workers([study], notify=said.append)
    assert said == [] and T.running_trials(study) == []


def test_pruning_stops_a_deliberately_bad_trial(tmp_path, monkeypatch):
    res = tmp_path / "results"
    prof = _short_patience(monkeypatch)  # min_steps 2 of 5 validations (quick's own 4 > 3 would never prune)
    path = T.studies_dir("quick", res) / f"{T.study_slug('hard_sharing', TINY)}.journal"
    path.parent.mkdir(parents=True)
    study = optuna.create_study(study_name=T.study_name("hard_sharing", TINY, "quick"), direction="maximize",
                                storage=optuna.storages.JournalStorage(JournalFileBackend(str(path))))
    study.enqueue_trial(hard_sharing_params(0.03, 256))
    study.enqueue_trial(hard_sharing_params(0.02, 256))
    study.enqueue_trial(hard_sharing_params(1e-4, 2048))  # barely moves from its initialisation in epoch 0
    [s] = T.tune(["hard_sharing"], [TINY], n_trials=3, results_dir=res, pruner="median")
    good1, good2, bad, ref = journal_study(res, "hard_sharing").get_trials()
    assert ref.user_attrs[T.REFERENCE] and ref.state == TrialState.COMPLETE  # queued after the three
    assert good1.state == good2.state == TrialState.COMPLETE and len(good1.intermediate_values) >= T.min_steps(prof)
    assert bad.state == TrialState.PRUNED and list(bad.intermediate_values) == [0, 1]  # judged first after min_steps
    assert bad.user_attrs["fail_reason"].startswith("pruned after evaluation 1") and s["n_counted"] == 3


def test_over_budget_trial_is_pruned_before_training_and_not_counted(tmp_path, monkeypatch):
    res = tmp_path / "results"
    monkeypatch.setattr(loop, "param_budget", lambda data: 40_000)
    data = mtlbench.load_suite(TINY, QUICK)
    study = T.open_study("hard_sharing", data, QUICK, 1, 40_000, None, results_dir=res)
    study.enqueue_trial(hard_sharing_params(0.01, 256, bottom_layers=3, bottom_width=512))  # ~220k dense params
    study.enqueue_trial(hard_sharing_params(0.01, 256, bottom_layers=1, bottom_width=64))
    [s] = T.tune(["hard_sharing"], [TINY], n_trials=1, results_dir=res)
    big, small, ref = journal_study(res, "hard_sharing").get_trials()
    assert ref.user_attrs[T.REFERENCE] and ref.user_attrs["dense_params"] <= 40_000  # the defaults fit this budget
    assert big.state == TrialState.PRUNED and not big.intermediate_values
    assert big.user_attrs["rejected"].startswith("over the parameter budget") and big.user_attrs["dense_params"] > 40_000
    assert small.state == TrialState.COMPLETE and s["n_counted"] == 1 and s["budget"]["param_budget"] == 40_000
    monkeypatch.setattr(loop, "param_budget", lambda data: 50_000)  # the budget is part of the study: no silent mixing
    with pytest.raises(mtlbench.MtlbenchError, match="param_budget"):
        T.tune(["hard_sharing"], [TINY], n_trials=2, results_dir=res)


def test_reference_trial_keeps_the_defaults_when_the_search_finds_nothing_better(tmp_path, monkeypatch, capsys):
    res = tmp_path / "results"
    data = mtlbench.load_suite(TINY, QUICK)
    study = T.open_study("hard_sharing", data, QUICK, 1, T.param_budget(data), None, results_dir=res)
    study.enqueue_trial(hard_sharing_params(1e-4, 2048))  # barely trains in the quick profile's epochs
    [s] = T.tune(["hard_sharing"], [TINY], n_trials=1, results_dir=res, pruner="none")
    slow, ref = journal_study(res, "hard_sharing").get_trials()
    assert ref.user_attrs[T.REFERENCE] and ref.value > slow.value and s["n_counted"] == 1
    assert s["best"]["number"] == s["run_trial"] == s["reference"]["number"] == ref.number
    mtlbench.run(["hard_sharing"], [TINY], seeds=1, profile="quick", results_dir=res)
    [rec] = mtlbench.load_records("quick", res)  # the study's choice: the defaults, and it says where from
    assert rec["params_source"] == f"study:{s['study']}#{ref.number}"
    assert rec["params"] == json.loads(json.dumps(default_params("hard_sharing", data, QUICK).as_dict()))


def test_reference_trial_is_never_pruned_and_never_counted(tmp_path, monkeypatch):
    res = tmp_path / "results"
    data = mtlbench.load_suite(TINY, QUICK)
    study = T.open_study("hard_sharing", data, QUICK, 2, T.param_budget(data), None, results_dir=res)
    study.enqueue_trial(hard_sharing_params(0.03, 256))
    study.enqueue_trial(hard_sharing_params(0.02, 256))
    bad = T.sample_params(optuna.trial.FixedTrial(hard_sharing_params(1e-4, 2048)), "hard_sharing", data, QUICK)
    monkeypatch.setattr(loop, "default_params", lambda model, data, prof: bad)  # defaults that the median pruner would stop
    [s] = T.tune(["hard_sharing"], [TINY], n_trials=2, results_dir=res, pruner="median")
    good1, good2, ref = journal_study(res, "hard_sharing").get_trials()
    assert ref.user_attrs[T.REFERENCE] and ref.state == TrialState.COMPLETE
    assert len(ref.intermediate_values) == QUICK.max_epochs and ref.value < min(good1.value, good2.value)
    assert s["n_counted"] == 2 and s["best"]["number"] != ref.number and s["reference"]["number"] == ref.number


def test_a_second_reference_is_rejected_and_a_killed_one_queued_again(tmp_path):
    res = tmp_path / "results"
    data = mtlbench.load_suite(TINY, QUICK)
    study = T.open_study("hard_sharing", data, QUICK, 1, T.param_budget(data), None, results_dir=res)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    T.ensure_reference(study)
    killed = study.ask()  # the reference, RUNNING in a worker that was killed
    killed.set_user_attr("worker", {"host": socket.gethostname(), "pid": int(dead.stdout), "start": "0"})
    for _ in range(2):  # two workers that raced to queue it again
        study.enqueue_trial({}, user_attrs={T.REFERENCE: "default"})
    [s] = T.tune(["hard_sharing"], [TINY], n_trials=1, results_dir=res, sampler_seed=0)
    trials = journal_study(res, "hard_sharing").get_trials()
    assert trials[0].state == TrialState.FAIL and trials[1].state == TrialState.COMPLETE
    assert trials[2].user_attrs["rejected"].startswith("duplicate") and "val_metrics" not in trials[2].user_attrs
    assert s["reference"]["number"] == 1 and s["n_counted"] == 1 and len(trials) == 4


class _Poison:
    def __getattr__(self, name):
        raise AssertionError("the test split was touched during tuning")


def test_objective_never_touches_the_test_split(tmp_path, monkeypatch):
    real = loop.load_suite

    def poisoned(instance, profile):
        data = real(instance, profile)
        data.test = _Poison()
        return data

    monkeypatch.setattr(loop, "load_suite", poisoned)
    [s] = T.tune(["hard_sharing"], [TINY], n_trials=1, results_dir=tmp_path / "results", sampler_seed=0)
    assert s["n_counted"] == 1 and math.isfinite(s["best"]["value"])
    assert not (tmp_path / "results" / "quick" / "records").exists()  # trial metrics live in the study only


def test_single_task_each_task_takes_its_own_best_trial(tmp_path):
    res = tmp_path / "results"
    [s] = T.tune(["single_task"], [TINY], n_trials=3, results_dir=res, sampler_seed=3)
    trials = journal_study(res, "single_task").get_trials()
    assert all(t.state == TrialState.COMPLETE for t in trials)  # quick: min_steps > the validation cap, no pruning
    for k, best in enumerate(s["per_task_best"]):
        own = max(trials, key=lambda t: (t.user_attrs["task_scores"][k], -t.number))
        assert (best["task"], best["number"], best["score"]) == (f"y{k + 1}", own.number, own.user_attrs["task_scores"][k])
    assert s["run_trial"] == s["best"]["number"]


def test_multi_objective_mode_reports_a_pareto_front(tmp_path, monkeypatch, capsys):
    res = tmp_path / "results"
    code, out, err = cli(monkeypatch, capsys, "tune", "hard_sharing", "--suite", TINY, "--trials", "2",
                         "--multi-objective", "--results-dir", str(res), "--sampler-seed", "0")
    assert code == 0, err
    s = json.loads(summary_file(res, "hard_sharing", multi=True).read_text())
    assert s["directions"] == ["maximize", "maximize"] and s["best"] is None
    trials = {t["number"]: t for t in s["trials"]}
    assert s["pareto_front"] and all(p["values"] == trials[p["number"]]["user_attrs"]["task_scores"] for p in s["pareto_front"])
    assert "Pareto front of" in out
    rp = T.StudyParams(None, res)("hard_sharing", mtlbench.load_suite(TINY, QUICK), QUICK)
    assert str(rp.source) == "default"  # `run` never reads a multi-objective study on its own


def test_a_sweep_point_without_a_study_borrows_the_nearest_tuned_point(tmp_path):
    res = tmp_path / "results"
    point = "synthetic[p={},n_train=600,n_val=300,n_test=300]".format
    T.tune(["hard_sharing"], [point(0), point(1)], n_trials=1, results_dir=res, sampler_seed=0)
    resolve = T.StudyParams(None, res)
    for p, tuned_at in ((0.2, 0), (0.8, 1), (0.5, 0), (1, 1)):  # a tie (0.5) goes to the lower point
        rp = resolve("hard_sharing", mtlbench.load_suite(point(p), QUICK), QUICK)
        assert str(rp.source).startswith(f"study:hard_sharing@{point(tuned_at)}@quick#"), (p, rp.source)
    # another sweep (other non-swept parameters) or another model has nothing to borrow
    other = mtlbench.load_suite("synthetic[p=0.2,n_train=500,n_val=300,n_test=300]", QUICK)
    assert resolve("hard_sharing", other, QUICK).source == ParamsSource.default()
    assert resolve("mmoe", mtlbench.load_suite(point(0.2), QUICK), QUICK).source == ParamsSource.default()
    # broken or foreign summaries beside them are skipped with a warning, never fatal to the run
    folder = T.studies_dir("quick", res)
    (folder / "hard_sharing@synthetic_junk.json").write_text("[]")
    good = json.loads(next(folder.glob("hard_sharing@synthetic_p_1_*.json")).read_text())
    (folder / "hard_sharing@synthetic_high.json").write_text(json.dumps({**good, "suite": "synthetic[p=high]"}))
    with pytest.warns(UserWarning, match="ignoring study summary"):
        rp = resolve("hard_sharing", mtlbench.load_suite(point(0.8), QUICK), QUICK)
    assert str(rp.source).startswith(f"study:hard_sharing@{point(1)}@quick#")


def test_borrowing_fills_in_family_defaults_and_breaks_float_ties_low(tmp_path):
    res = tmp_path / "results"
    point = "synthetic[p={},n_train=600,n_val=300,n_test=300{}]".format
    T.tune(["hard_sharing"], [point(0.1, ",d=100"), point(0.3, "")], n_trials=1, results_dir=res, sampler_seed=0)
    rp = T.StudyParams(None, res)("hard_sharing", mtlbench.load_suite(point(0.2, ""), QUICK), QUICK)
    # d=100 is the default, so p=0.1 with d=100 is the same sweep; 0.2 - 0.1 == 0.3 - 0.2 in decimals: the lower wins
    assert str(rp.source).startswith(f"study:hard_sharing@{point(0.1, ',d=100')}@quick#"), rp.source


# ------------------------------------------------------------------ run uses tuned params
def test_run_after_tune_uses_the_best_params(tmp_path, monkeypatch, capsys):
    res = tmp_path / "results"
    code, out, err = cli(monkeypatch, capsys, "tune", "hard_sharing", "--suite", TINY, "--trials", "2",
                         "--results-dir", str(res), "--sampler-seed", "0")
    assert code == 0, err
    assert "Best trials" in out and "hard_sharing" in out
    s = json.loads(summary_file(res, "hard_sharing").read_text())
    best = s["best"]
    mtlbench.run(["hard_sharing", "single_task"], [TINY], seeds=1, profile="quick", results_dir=res)
    recs = {r["model"]: r for r in mtlbench.load_records("quick", res)}
    assert recs["hard_sharing"]["params_source"] == f"study:{s['study']}#{best['number']}"
    assert recs["hard_sharing"]["params"] == json.loads(json.dumps(best["run_params"]))
    assert recs["hard_sharing"]["params"]["train"]["max_epochs"] == QUICK.max_epochs
    assert recs["single_task"]["params_source"] == "default"  # no study: defaults

    code, _, err = cli(monkeypatch, capsys, "run", "hard_sharing", "--suite", TINY, "--seeds", "1",
                       "--results-dir", str(res), "--params-from", "default")
    assert code == 0, err
    code, _, err = cli(monkeypatch, capsys, "run", "hard_sharing", "--suite", TINY, "--seeds", "1", "--results-dir",
                       str(tmp_path / "other"), "--params-from", str(summary_file(res, "hard_sharing")))
    assert code == 0, err
    # labels: one record each, or one record with both when the best trial is the reference (the defaults)
    sources = sorted(x for r in mtlbench.load_records("quick", res) if r["model"] == "hard_sharing" for x in r["params_sources"])
    assert sources == ["default", f"study:{s['study']}#{best['number']}"]
    [other] = mtlbench.load_records("quick", tmp_path / "other")
    assert other["params_source"] == f"study:{s['study']}#{best['number']}"


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("args, needle", [
    (["tune", "hard_sharing", "--storage", "foo://bar"], "is not a storage URL"),
    (["tune", "hard_sharing", "--storage", "postgresql://me:s3cret@127.0.0.1:1/nodb"], "--storage"),
    (["tune", "no_such_model"], "unknown model 'no_such_model'"),
    (["tune", "hard_sharing", "--trials", "0"], "--trials 0 is out of range"),
    (["tune", "hard_sharing", "--pruner", "sometimes"], "unknown pruner"),
    (["tune"], "name the models to tune"),
    (["run", "hard_sharing", "--params-from", "nowhere"], "--params-from 'nowhere'"),
])
def test_bad_input_is_a_one_line_error(args, needle, tmp_path, monkeypatch, capsys):
    res = tmp_path / "results"
    code, out, err = cli(monkeypatch, capsys, *args, "--suite", TINY, "--results-dir", str(res))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err
    assert "s3cret" not in err and "Traceback" not in err
    assert not (res / "quick" / "studies").exists() or not any((res / "quick" / "studies").iterdir())


# ------------------------------------------------------------------ concurrency (processes)
@pytest.mark.slow
def test_two_local_workers_share_one_journal_study(tmp_path):
    res = tmp_path / "results"
    cmd = [sys.executable, "-m", "mtlbench.cli", "tune", "hard_sharing", "--suite", TINY, "--trials", "6",
           "--results-dir", str(res)]
    procs = [subprocess.Popen([*cmd, "--sampler-seed", str(i)], env=cli_env(tmp_path), cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(2)]
    deadline = time.time() + 600
    while all(p.poll() is None for p in procs) and time.time() < deadline:
        time.sleep(0.05)
    # whichever worker returns first, the study is complete then: `tune … && run …` in each shell is safe
    first = journal_study(res, "hard_sharing").get_trials()
    assert sum(T._counted(t) for t in first) == 6 and not [t for t in first if t.state == TrialState.RUNNING]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    trials = journal_study(res, "hard_sharing").get_trials()
    counted = [t for t in trials if T._counted(t)]
    assert len(counted) == 6 and len({t.number for t in trials}) == len(trials)
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) or t.user_attrs.get("rejected") for t in trials)


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, pytest.param(2, marks=pytest.mark.skipif(not HAS_PROC, reason="finds workers through /proc"))])
def test_a_killed_tune_resumes(tmp_path, jobs):
    res = tmp_path / "results"
    suite = "synthetic[p=0.5,n_train=20000,n_val=2000,n_test=500]"
    cmd = [sys.executable, "-m", "mtlbench.cli", "tune", "hard_sharing", "--suite", suite, "--trials", "3", "--jobs", str(jobs),
           "--results-dir", str(res), "--pruner", "none"]
    proc = subprocess.Popen(cmd, env=cli_env(tmp_path), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = T.studies_dir("quick", res) / f"{T.study_slug('hard_sharing', suite)}.journal"
    deadline = time.time() + 300

    def training() -> bool:
        try:
            return any(t.state == TrialState.RUNNING and "params" in t.user_attrs
                       for t in journal_study(res, "hard_sharing", suite).get_trials())
        except KeyError:  # the journal exists, the study not yet
            return False

    while time.time() < deadline and not (journal.exists() and training()):  # kill it in the middle of a trial
        time.sleep(0.2)
    workers = children(proc.pid) if jobs > 1 else {}
    assert jobs == 1 or len(workers) >= 2  # the pool's workers are all started
    proc.kill()  # SIGKILL: no cleanup runs in the driver
    proc.wait()
    assert not wait_gone(workers, timeout=5), "tuning workers outlived their killed driver"
    subprocess.run(cmd, env=cli_env(tmp_path), cwd=tmp_path, check=True, capture_output=True, timeout=600)
    trials = journal_study(res, "hard_sharing", suite).get_trials()
    assert sum(T._counted(t) for t in trials) == 3
    assert any(t.state == TrialState.FAIL and "died" in t.user_attrs.get("fail_reason", "") for t in trials)
    assert not any(t.state == TrialState.RUNNING for t in trials)


def test_a_study_names_its_objective_for_the_dashboard(tiny_suite, tmp_path):
    """optuna-dashboard shows the study's metric names instead of "Objective 0"."""
    import optuna

    from mtlbench import get_profile
    from mtlbench.provenance import StudyId
    from mtlbench.tuning import open_storage, open_study, param_budget

    prof = get_profile("quick")
    open_study("hard_sharing", tiny_suite, prof, 1, param_budget(tiny_suite), None, False, "none", tmp_path)
    sid = StudyId("hard_sharing", tiny_suite.name, prof.name, False)
    study = optuna.load_study(study_name=sid.name, storage=open_storage(None, sid, tmp_path))
    assert study.metric_names == ["validation score (-mean log error)"]
