"""Task-wise parameters (issue 6): a model with ``independent_tasks`` (single_task) runs each task with its own
best trial of its study: one fit per distinct parameter set, results assembled task by task."""
from __future__ import annotations

import dataclasses
import json

import optuna
import pytest
import torch

import mtlbench
from mtlbench import report as REP
from mtlbench import runner as R
from mtlbench import tuning as T
from mtlbench.cost import count_params, flops_per_sample
from mtlbench.data import SuiteData
from mtlbench.model import build_model, make_config
from mtlbench.params import RunParams, default_params, params_from_dict
from mtlbench.profiles import get_profile
from mtlbench.provenance import ParamsSource
from mtlbench.records import RecordStore
from mtlbench.train import fit, seed_everything

from test_multiseed import _mixed_suite

SUITE = "synthetic[p=0.5,n_train=500,n_val=200,n_test=200]"
QUICK = get_profile("quick")
CPU = torch.device("cpu")
S = ParamsSource.from_file("s")
optuna.logging.set_verbosity(optuna.logging.ERROR)


def _fit_alone(model: str, data: SuiteData, p: RunParams, seed: int = 0):
    """What `run` trains for one parameter set: built after seed_everything(seed), trained with that seed."""
    seed_everything(seed)
    return fit(build_model(model, data.inputs, data.tasks, p.model, p.shared), data, p.train, seed, CPU)


def _two_sets(data: SuiteData) -> tuple[RunParams, RunParams]:
    base = default_params("single_task", data, QUICK)
    other = dataclasses.replace(base, model=make_config("single_task", {"bottom": [32]}),
                                train=dataclasses.replace(base.train, lr=3e-3), source=ParamsSource.from_file("b"))
    return dataclasses.replace(base, source=ParamsSource.from_file("a")), other


def _count_fits(monkeypatch) -> list[RunParams]:
    seen = []
    real = R.fit

    def counting(model, data, cfg, *a, **kw):
        seen.append(cfg)
        return real(model, data, cfg, *a, **kw)

    monkeypatch.setattr(R, "fit", counting)
    return seen


# ------------------------------------------------------------------ after `tune`
def test_run_after_tune_trains_each_single_task_network_with_its_tasks_best_trial(tmp_path):
    res = tmp_path / "results"
    [st] = T.tune(["single_task"], [SUITE], n_trials=3, results_dir=res, sampler_seed=0, device="cpu")
    [hs] = T.tune(["hard_sharing"], [SUITE], n_trials=2, results_dir=res, sampler_seed=0, device="cpu")
    numbers = [p["number"] for p in st["per_task_best"]]
    assert len(set(numbers)) == 2  # the tasks' own bests differ (sampler seed 0): two fits
    data = mtlbench.load_suite(SUITE, QUICK)

    s = mtlbench.run(["single_task", "hard_sharing"], [SUITE], seeds=1, profile="quick", results_dir=res, device="cpu")
    assert len(s.done) == 2 and not s.failed
    recs = {r["model"]: r for r in mtlbench.load_records("quick", res)}
    rec = recs["single_task"]
    assert rec["params_source"] == f"study:{st['study']}#t{numbers[0]},t{numbers[1]}"
    trials = {t["number"]: t for t in st["trials"]}
    assert [p for p in rec["params"]["per_task"]] == [json.loads(json.dumps(trials[n]["user_attrs"]["params"])) for n in numbers]
    assert [f["params_source"] for f in rec["extra"]["fits"]] == [f"study:{st['study']}#{n}" for n in numbers]
    assert [f["tasks"] for f in rec["extra"]["fits"]] == [["y1"], ["y2"]]

    sizes = []
    for k, n in enumerate(numbers):  # task k's numbers are those of a plain fit with task k's best params
        p = params_from_dict("single_task", data, QUICK, trials[n]["user_attrs"]["params"], "x")
        alone = _fit_alone("single_task", data, p)
        assert rec["val_metrics"][k] == alone.val_metrics[k]
        assert rec["test_metrics"][k] == alone.test_metrics[k] and rec["test_se"][k] == alone.test_se[k]
        assert rec["best_epochs"][k] == alone.best_epochs[k]
        assert [h["val"][k] for h in rec["history"]] == [h["val"][k] for h in alone.history] + [None] * (len(rec["history"]) - len(alone.history))
        assert rec["extra"]["fits"][k]["history"] == json.loads(json.dumps(alone.history))
        seed_everything(0)
        sizes.append(count_params(build_model("single_task", data.inputs, data.tasks, p.model, p.shared)) // data.n_tasks)
    assert rec["n_params"] == sum(sizes)  # the K networks actually used
    assert rec["val_score"] == pytest.approx(mtlbench.metrics.score(data.tasks, rec["val_metrics"]))

    other = recs["hard_sharing"]  # shares parameters: one trial, the best by mean score
    assert other["params_source"] == f"study:{hs['study']}#{hs['run_trial']}"
    assert "per_task" not in other["params"] and "fits" not in other["extra"]

    # the report names the trials the runs used (one rule, mtlbench.params.run_trials, for both)
    chosen = {s.model: s.chosen for s in REP.load_studies("quick", res)}
    assert chosen == {"single_task": tuple(numbers), "hard_sharing": (hs["run_trial"],)}

    rep = R.reproduce(rec["key"], "quick", res)  # a task-wise record re-runs from what it stores
    assert all(row["diff"] == 0 for row in rep["rows"])
    assert mtlbench.run(["single_task"], [SUITE], seeds=1, profile="quick", results_dir=res, device="cpu").skipped


# ------------------------------------------------------------------ fits, keys, checkpoints
def test_identical_task_params_train_once(tmp_path, monkeypatch):
    data = mtlbench.load_suite(SUITE, QUICK)
    a, _ = _two_sets(data)
    same = RunParams.task_wise((a, a), "file:same#t0,t0")
    seen = _count_fits(monkeypatch)
    mtlbench.run(["single_task"], [SUITE], seeds=1, profile="quick", results_dir=tmp_path / "r", device="cpu",
                 params=lambda m, d, p: same)
    assert len(seen) == 1
    [rec] = mtlbench.load_records("quick", tmp_path / "r")
    alone = _fit_alone("single_task", data, a)
    assert rec["val_metrics"] == alone.val_metrics and rec["history"] == json.loads(json.dumps(alone.history))
    assert rec["params"]["per_task"] == json.loads(json.dumps([a.as_dict(), a.as_dict()])) and rec["extra"]["fits"][0]["tasks"] == ["y1", "y2"]
    assert rec["n_params"] == count_params(build_model("single_task", data.inputs, data.tasks, a.model, a.shared))


def test_key_changes_with_any_tasks_params_and_plain_params_keep_their_key(tiny_suite):
    a, b = _two_sets(tiny_suite)
    assert a.as_dict().keys() == {"model", "shared", "train"}  # records of one parameter set keep their keys
    ab, aa = RunParams.task_wise((a, b), S), RunParams.task_wise((a, a), S)
    assert ab.as_dict() != aa.as_dict() and ab.as_dict()["model"] == a.as_dict()["model"]
    assert [tasks for _, tasks in ab.fits(2)] == [(0,), (1,)] and [tasks for _, tasks in aa.fits(2)] == [(0, 1)]
    assert RunParams.task_wise((b, a), S).fits(2)[0][0] is b
    set_ = R.apply_overrides("single_task", ab, {"lr": 0.005})
    assert [p.train.lr for p in set_.per_task] == [0.005, 0.005] and str(set_.source) == "file:s+set:lr=0.005"
    assert params_from_dict("single_task", tiny_suite, QUICK, ab.as_dict(), S).as_dict() == ab.as_dict()
    with pytest.raises(mtlbench.MtlbenchError, match="shares parameters between tasks"):
        R.fit_plan("hard_sharing", tiny_suite, RunParams.task_wise((default_params("hard_sharing", tiny_suite, QUICK),
                                                                      dataclasses.replace(default_params("hard_sharing", tiny_suite, QUICK), train=b.train)), S))


def test_an_interrupted_task_wise_run_resumes_from_its_fits_checkpoints(tmp_path, monkeypatch):
    data = mtlbench.load_suite(SUITE, QUICK)
    ab = RunParams.task_wise(_two_sets(data), "file:ab#t0,t1")
    kw = dict(seeds=1, profile="quick", device="cpu", params=lambda m, d, p: ab)
    mtlbench.run(["single_task"], [SUITE], results_dir=tmp_path / "full", **kw)
    [full] = mtlbench.load_records("quick", tmp_path / "full")

    real, calls = R.fit, []

    def cut(model, data, cfg, seed, device, **fkw):
        calls.append(fkw["checkpoint"].name)
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed while the second fit starts
        return real(model, data, cfg, seed, device, **fkw)

    monkeypatch.setattr(R, "fit", cut)
    with pytest.raises(KeyboardInterrupt):
        mtlbench.run(["single_task"], [SUITE], results_dir=tmp_path / "cut", **kw)
    ckpt = tmp_path / "cut" / "quick" / "ckpt"
    assert calls == [f"{full['key']}.fit0.pt", f"{full['key']}.fit1.pt"] and (ckpt / calls[0]).exists()
    monkeypatch.setattr(R, "fit", real)
    s = mtlbench.run(["single_task"], [SUITE], results_dir=tmp_path / "cut", **kw)
    [resumed] = mtlbench.load_records("quick", tmp_path / "cut")
    assert s.done and resumed["key"] == full["key"] and not list(ckpt.glob("*.pt"))
    for part in ("val_metrics", "test_metrics", "test_se", "best_epochs", "history"):
        assert resumed[part] == full[part], part


def test_stacked_seeds_with_task_wise_params_write_the_same_records(tmp_path, monkeypatch):
    data = mtlbench.load_suite(SUITE, QUICK)
    ab = RunParams.task_wise(_two_sets(data), "file:ab#t0,t1")
    out = {}
    for mode in ("0", "1"):
        monkeypatch.setenv("MTLBENCH_STACK_SEEDS", mode)
        s = mtlbench.run(["single_task"], [SUITE], seeds=2, profile="quick", results_dir=tmp_path / mode, device="cpu",
                         params=lambda m, d, p: ab)
        assert len(s.done) == 2 and not s.failed
        out[mode] = sorted(RecordStore("quick", tmp_path / mode).records(), key=lambda r: r["seed"])
        assert not list((tmp_path / mode / "quick" / "ckpt").glob("*.pt"))
    for a, b in zip(out["0"], out["1"]):
        assert a["key"] == b["key"] and a["best_epochs"] == b["best_epochs"] and a["n_params"] == b["n_params"]
        for ma, mb in zip(a["test_metrics"], b["test_metrics"]):
            assert ma["mse"] == pytest.approx(mb["mse"], abs=1e-5)
        assert [f["tasks"] for f in a["extra"]["fits"]] == [f["tasks"] for f in b["extra"]["fits"]] == [["y1"], ["y2"]]


def test_run_cost_is_the_sum_of_each_tasks_own_network_embeddings_included():
    data = _mixed_suite()  # numeric + categorical fields (embedding tables hold K copies)
    one_task = dataclasses.replace(data, tasks=data.tasks[:1])
    p = default_params("single_task", data, QUICK)
    q = dataclasses.replace(p, model=make_config("single_task", {"bottom": [16], "tower": [8]}))
    plan = [(p, (0,)), (q, (1,))]

    def cost(d, params):
        net = build_model("single_task", d.inputs, d.tasks, params.model, params.shared)
        return count_params(net), flops_per_sample(net, d.train)

    n, f = R.run_cost(plan, [cost(data, p), cost(data, q)], data.n_tasks)
    (np_, fp), (nq, fq) = cost(one_task, p), cost(one_task, q)  # one network each, built on its own
    assert n == np_ + nq and f == pytest.approx(fp + fq)
    assert R.run_cost([(p, (0, 1))], [cost(data, p)], 2) == cost(data, p)
