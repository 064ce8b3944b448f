"""Harness core: registries, masked loss, weights schedule, early stopping, records, determinism."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import mtlbench
from mtlbench import metrics as M
from mtlbench.data import TaskSpec, format_instance, parse_instance
from mtlbench.errors import MtlbenchError
from mtlbench.loss import masked_loss, masked_task_losses, task_weights
from mtlbench.model import MODELS, SharedConfig, build_model, make_config
from mtlbench.params import default_params
from mtlbench.profiles import get_profile
from mtlbench.records import RecordStore, load_results
from mtlbench.registry import Registry
from mtlbench.protocol import Selection, eval_steps
from mtlbench.train import TrainConfig, fit, predict, seed_everything

from conftest import TINY


# ------------------------------------------------------------------ registries
def test_registry_round_trip_glob_and_did_you_mean():
    reg: Registry[type] = Registry("widget", "mtlbench.baselines")

    @reg.register("fancy_moe")
    class A: ...

    @reg.register("plain")
    class B: ...

    assert reg.get("fancy_moe") is A and reg.get("plain") is B
    assert reg.names("*moe*") == ["fancy_moe"]
    with pytest.raises(MtlbenchError, match=r"unknown widget 'fancy_mo'\. Did you mean 'fancy_moe'\?"):
        reg.get("fancy_mo")
    with pytest.raises(ValueError):
        reg.register("plain")(A)


def test_model_and_suite_registries_see_the_plugins():
    assert {"single_task", "hard_sharing"} <= set(mtlbench.list_models())
    assert "synthetic" in mtlbench.list_suites()
    assert mtlbench.list_models("*sharing") == ["hard_sharing"]
    with pytest.raises(MtlbenchError, match="Did you mean 'hard_sharing'"):
        MODELS.get("hard_shareing")


def test_instance_names_round_trip():
    fam, params = parse_instance("synthetic[p=0.5,n_train=100,tag=x]")
    assert fam == "synthetic" and params == {"p": 0.5, "n_train": 100, "tag": "x"}
    assert format_instance(fam, params) == "synthetic[p=0.5,n_train=100,tag=x]"
    with pytest.raises(MtlbenchError):
        parse_instance("synthetic[p]")


# ------------------------------------------------------------------ loss
BIN_REG = torch.tensor([True, False])


def test_masked_loss_matches_hand_computation():
    out = torch.tensor([[0.0, 1.0], [2.0, 3.0], [-1.0, 0.5]])
    y = torch.tensor([[1.0, 2.0], [0.0, 1.0], [1.0, float("nan")]])  # masked label may be anything
    mask = torch.tensor([[True, True], [True, False], [False, False]])
    bce = lambda z, t: math.log1p(math.exp(-z)) if t == 1 else math.log1p(math.exp(z))  # noqa: E731
    expected_bin = (bce(0.0, 1) + bce(2.0, 0)) / 2
    expected_reg = (1.0 - 2.0) ** 2 / 1
    per_task = masked_task_losses(out, y, mask, BIN_REG)
    assert per_task.tolist() == pytest.approx([expected_bin, expected_reg], rel=1e-6)
    w = torch.tensor([1.0, 0.5])
    total = masked_loss(out, y, mask, BIN_REG, w, torch.tensor(0.25))
    assert float(total) == pytest.approx(expected_bin + 0.5 * expected_reg + 0.25, rel=1e-6)


def test_task_without_samples_contributes_zero_and_no_nan():
    out = torch.randn(4, 2, requires_grad=True)
    y = torch.tensor([[1.0, float("nan")]] * 4)
    mask = torch.tensor([[True, False]] * 4)
    losses = masked_task_losses(out, y, mask, BIN_REG)
    assert losses[1].item() == 0.0 and torch.isfinite(losses).all()
    masked_loss(out, y, mask, BIN_REG, torch.ones(2), torch.zeros(())).backward()
    assert torch.isfinite(out.grad).all() and (out.grad[:, 1] == 0).all()


def test_loss_weight_schedule():
    assert task_weights([1.0, 2.0], [1.0, 0.9], 0) == [1.0, 2.0]
    assert task_weights([1.0, 2.0], [1.0, 0.9], 3) == pytest.approx([1.0, 2.0 * 0.9**3])
    cfg = TrainConfig(loss_weights=(1.0, 0.5), loss_decays=(1.1, 1.0))
    assert cfg.weights(2, 2) == pytest.approx([1.21, 0.5])
    assert TrainConfig().weights(3, 7) == [1.0, 1.0, 1.0]
    with pytest.raises(MtlbenchError):
        TrainConfig(loss_weights=(1.0,)).weights(2, 0)


@pytest.mark.parametrize("field,value", [("lr", -1e-3), ("lr", 0.0), ("batch_size", 0), ("weight_decay", -1.0), ("max_epochs", 0)])
def test_out_of_range_train_config_is_a_one_line_error(field, value):
    with pytest.raises(MtlbenchError, match=f"{field}"):
        TrainConfig(**{field: value})


# ------------------------------------------------------------------ metrics
def test_validation_score_is_minus_mean_log_error():
    tasks = [TaskSpec("a", "binary"), TaskSpec("b", "regression")]
    s = M.score(tasks, [{"auc": 0.9}, {"mse": 0.5}])
    assert s == pytest.approx(-(math.log(0.1) + math.log(0.5)) / 2)


def test_metrics_use_only_masked_samples():
    tasks = [TaskSpec("a", "binary"), TaskSpec("b", "regression")]
    pred = np.array([[5.0, 1.0], [-5.0, 2.0], [5.0, 100.0]])
    y = np.array([[1.0, 1.0], [0.0, 2.0], [0.0, 0.0]])
    mask = np.array([[True, True], [True, True], [False, False]])
    m = M.evaluate(tasks, pred, y, mask)
    assert m[0]["auc"] == 1.0 and m[1]["mse"] == 0.0


# ------------------------------------------------------------------ early stopping
def test_selection_ties_go_to_the_earlier_epoch_and_patience_counts():
    model = torch.nn.Linear(1, 1)
    sel = Selection([0], patience=2)
    for epoch, s in enumerate([0.5, 0.7, 0.7, 0.6]):
        sel.update(epoch, s, model)
    assert sel.best_eval == 1 and sel.done


def test_a_frozen_selection_never_changes_its_choice():
    model = torch.nn.Linear(1, 1)
    sel = Selection([0], patience=2)
    for i, s in enumerate([0.5, 0.4, 0.4, 0.9, 1.0]):  # patience expires after evaluation 2
        sel.update(i, s, model)
    assert sel.done and sel.best_eval == 0 and sel.best_score == 0.5


def test_min_delta_needs_a_real_improvement():
    model = torch.nn.Linear(1, 1)
    sel = Selection([0], patience=3, min_delta=0.01)
    for i, s in enumerate([0.5, 0.505, 0.509, 0.52]):
        sel.update(i, s, model)
    assert sel.best_eval == 3 and sel.bad == 0
    sel2 = Selection([0], patience=2, min_delta=0.01)
    for i, s in enumerate([0.5, 0.505, 0.509]):
        sel2.update(i, s, model)
    assert sel2.best_eval == 0 and sel2.done


@pytest.mark.parametrize("steps,per_epoch,expected", [(10, 1, [9]), (10, 2, [4, 9]), (10, 3, [2, 6, 9]), (2, 5, [0, 1])])
def test_evaluations_are_evenly_spaced_and_the_last_ends_the_epoch(steps, per_epoch, expected):
    assert eval_steps(steps, per_epoch) == expected


class _Guarded:
    """A split whose labels raise when read: proves fit() never looks at test when told not to."""

    def __init__(self, split):
        self._split = split

    def __getattr__(self, name):
        raise AssertionError("the test split was read")


def _tiny_fit(model_name, data, epochs=6, seed=0, patience=3, **kw):
    seed_everything(seed)
    rp = default_params(model_name, data, get_profile("quick"))
    model = build_model(model_name, data.inputs, data.tasks, rp.model, rp.shared)
    cfg = TrainConfig(max_epochs=epochs, patience=patience, lr=3e-3, batch_size=128)
    return model, fit(model, data, cfg, seed, torch.device("cpu"), **kw)


def test_early_stopping_restores_best_validation_epoch_and_never_reads_test(tiny_suite):
    tiny_suite.test = _Guarded(tiny_suite.test)
    model, res = _tiny_fit("hard_sharing", tiny_suite, evaluate_test=False)
    scores = [h["val_score"] for h in res.history]
    assert res.best_epochs == [int(np.argmax(scores))]  # argmax returns the first (earliest) maximum
    after = M.evaluate(tiny_suite.tasks, predict(model, tiny_suite.val), tiny_suite.val.y.numpy(), tiny_suite.val.mask.numpy())
    assert M.score(tiny_suite.tasks, after) == pytest.approx(max(scores), rel=1e-5)
    assert res.test_metrics == []


def test_test_split_is_evaluated_once_at_the_end(tiny_suite, monkeypatch):
    import mtlbench.train as T

    calls = []
    real = T.evaluate_split
    monkeypatch.setattr(T, "evaluate_split", lambda m, d, s: calls.append(s) or real(m, d, s))
    _, res = _tiny_fit("hard_sharing", tiny_suite, epochs=4)
    is_test = [s.y.data_ptr() == tiny_suite.test.y.data_ptr() for s in calls]
    assert is_test.count(True) == 1 and is_test[-1] and len(calls) == 5  # 4 validation epochs, then test once
    assert len(res.test_metrics) == 2 and all(se > 0 for se in res.test_se)
    assert [len(b) for b in res.test_boot] == [200, 200]


def _frozen_at(scores: list[float], patience: int) -> tuple[int, int]:
    """(chosen index, last index the selection looked at) of the protocol's rule on a score sequence."""
    best, best_i, bad = -math.inf, -1, 0
    for i, s in enumerate(scores):
        if s > best:
            best, best_i, bad = s, i, 0
        else:
            bad += 1
            if bad >= patience:
                return best_i, i
    return best_i, len(scores) - 1


def test_single_task_chooses_each_task_epoch_on_its_own_score(tiny_suite):
    model, res = _tiny_fit("single_task", tiny_suite, epochs=8)
    assert len(res.best_epochs) == 2
    after = M.evaluate(tiny_suite.tasks, predict(model, tiny_suite.val), tiny_suite.val.y.numpy(), tiny_suite.val.mask.numpy())
    for k, task in enumerate(tiny_suite.tasks):
        per_task = [-math.log(h["val"][k]["mse"]) for h in res.history]
        assert res.best_epochs[k] == _frozen_at(per_task, 3)[0]
        # restored weights of task k are those of its own best epoch
        assert after[k]["mse"] == pytest.approx(res.history[res.best_epochs[k]]["val"][k]["mse"], rel=1e-5)


def test_a_single_task_task_never_picks_an_evaluation_after_its_patience_expired():
    """The stopping rule is the same for one task of single_task as for a whole MTL model: once a task's
    patience has expired, later (even better) evaluations of that task are not chosen."""
    from mtlbench import load_suite

    data = load_suite("synthetic[p=0.5,n_train=3000,n_val=500,n_test=300]", get_profile("quick"))
    seen_late_improvement = False
    for seed in range(2):
        _, res = _tiny_fit("single_task", data, epochs=20, seed=seed, patience=1)
        for k in range(2):
            per_task = [-math.log(h["val"][k]["mse"]) for h in res.history]
            chosen, frozen = _frozen_at(per_task, 1)
            assert res.best_epochs[k] == chosen <= frozen
            seen_late_improvement |= max(per_task[frozen + 1:], default=-math.inf) > per_task[chosen]
    # the fixture must exercise the rule: some task kept training (for the other) and later did better
    assert seen_late_improvement


def test_fit_is_deterministic_on_cpu(tiny_suite):
    _, a = _tiny_fit("hard_sharing", tiny_suite, epochs=3, seed=7)
    _, b = _tiny_fit("hard_sharing", tiny_suite, epochs=3, seed=7)
    _, c = _tiny_fit("hard_sharing", tiny_suite, epochs=3, seed=8)
    assert a.test_metrics == b.test_metrics and a.history == b.history
    assert a.test_metrics != c.test_metrics


def test_checkpoint_resume_gives_the_same_result(tiny_suite, tmp_path):
    """A run cut after epoch 2 and resumed from its checkpoint ends exactly like an uninterrupted run."""
    _, full = _tiny_fit("hard_sharing", tiny_suite, epochs=5, seed=3)

    class Cut(Exception): ...

    def stop_after_2(epoch, score, metrics):
        if epoch == 1:
            raise Cut

    ck = tmp_path / "ck.pt"
    with pytest.raises(Cut):
        _tiny_fit("hard_sharing", tiny_suite, epochs=5, seed=3, checkpoint=ck, on_epoch=stop_after_2)
    assert ck.exists()
    _, resumed = _tiny_fit("hard_sharing", tiny_suite, epochs=5, seed=3, checkpoint=ck)
    assert resumed.history == full.history and resumed.test_metrics == full.test_metrics


# ------------------------------------------------------------------ records and runs
def test_run_writes_records_skips_existing_and_reads_back(tmp_path):
    res_dir = tmp_path / "r"
    s = mtlbench.run(["single_task", "hard_sharing"], [TINY], seeds=2, profile="quick", results_dir=res_dir, device="cpu")
    assert len(s.done) == 4 and not s.failed
    again = mtlbench.run(["single_task", "hard_sharing"], [TINY], seeds=2, profile="quick", results_dir=res_dir, device="cpu")
    assert len(again.skipped) == 4 and not again.done
    df = load_results("quick", res_dir)
    assert df.height == 8 and set(df["model"]) == {"single_task", "hard_sharing"}
    rec = json.loads(next((res_dir / "quick" / "records").glob("*.json")).read_text())
    for field in ("key", "suite_version", "data_checksum", "params", "params_source", "history", "best_epochs",
                  "n_params", "flops_per_sample", "train_seconds", "samples_per_second", "device", "threads",
                  "versions", "commit", "timestamp", "test_se"):
        assert field in rec
    assert rec["flops_per_sample"] > 0 and rec["n_params"] > 0 and rec["params_source"] == "default"
    n = rec["threads"]
    assert rec["extra"]["hardware"].endswith(f"({n} thread{'' if n == 1 else 's'})")
    assert not (res_dir / "standard").exists()  # profiles are kept apart


def test_changed_data_never_reuses_a_stale_record(tmp_path):
    res_dir = tmp_path / "r"
    mtlbench.run(["hard_sharing"], [TINY], seeds=1, profile="quick", results_dir=res_dir, device="cpu")
    other = TINY.replace("p=0.5", "p=0.5,seed=1")  # same suite, different data
    s = mtlbench.run(["hard_sharing"], [other], seeds=1, profile="quick", results_dir=res_dir, device="cpu")
    assert len(s.done) == 1
    keys = {r["data_checksum"] for r in RecordStore("quick", res_dir).records()}
    assert len(keys) == 2


def test_single_task_parameters_are_separate_per_task(tiny_suite):
    cfg = make_config("single_task")
    model = build_model("single_task", tiny_suite.inputs, tiny_suite.tasks, cfg, SharedConfig())
    x = tiny_suite.val.x_num[:16], tiny_suite.val.x_cat[:16]
    before = model(*x).detach()
    with torch.no_grad():
        for p in model.parameters():
            p[0].add_(0.5)  # task 0's slice of every parameter
    after = model(*x).detach()
    assert not torch.allclose(before[:, 0], after[:, 0]) and torch.equal(before[:, 1], after[:, 1])


def test_unknown_names_are_one_line_errors():
    with pytest.raises(MtlbenchError, match="Did you mean 'quick'"):
        mtlbench.run(["hard_sharing"], profile="quik")
    with pytest.raises(MtlbenchError, match="Did you mean 'synthetic'"):
        mtlbench.run(["hard_sharing"], ["synthetc"])
    with pytest.raises(MtlbenchError, match="has no parameter 'q'"):
        mtlbench.run(["hard_sharing"], ["synthetic[q=1]"])
    with pytest.raises(MtlbenchError, match="no CUDA"):
        if torch.cuda.is_available():
            raise MtlbenchError("no CUDA (skipped: a GPU is present)")
        mtlbench.run(["hard_sharing"], [TINY], device="cuda")


_FTZ_SCRIPT = """
import torch
torch.set_num_threads(2)
denormal = torch.full((1 << 22,), 0x00400000, dtype=torch.int32).view(torch.float32)  # 5.9e-39, bit-exact
assert torch.count_nonzero(denormal * 1.0) > 0, "denormals already flushed before training"
from mtlbench import get_profile, load_suite
from mtlbench.model import build_model
from mtlbench.params import default_params
from mtlbench.train import TrainConfig, fit
data = load_suite({tiny!r}, get_profile("quick"))
rp = default_params("mmoe", data, get_profile("quick"))
fit(build_model("mmoe", data.inputs, data.tasks, rp.model, rp.shared), data, TrainConfig(max_epochs=1), 0, torch.device("cpu"))
print(int(torch.count_nonzero(denormal * 1.0)), int(torch.count_nonzero(torch.tensor([1e-39]) * 1.0)))
"""


_SAME_DATA_SCRIPT = """
import torch
torch.set_num_threads(2)
from mtlbench import get_profile, load_suite
from mtlbench.perf import _denormals_survive, flush_denormals
before = load_suite("video", get_profile("quick")).checksum
assert flush_denormals() and not _denormals_survive()
after = load_suite("video", get_profile("quick")).checksum
print(before, after, int(_denormals_survive()))
"""


def test_suite_data_does_not_depend_on_denormal_flushing(tmp_path):
    """The video generator passes through denormals: loaded after training had turned FTZ on, its data and
    checksum changed, and its studies refused the suite as 'other data'. Loading runs with IEEE floats."""
    import os
    import subprocess
    import sys

    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU has no flush-to-zero mode (torch.set_flush_denormal returns False)")
    run_env = {**os.environ, "MTLBENCH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, "-c", _SAME_DATA_SCRIPT], env=run_env, cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    before, after, survive = out.stdout.split()[-3:]
    assert before == after and survive == "0"  # same bytes, and flushing is back on for training


@pytest.mark.parametrize("env,flushed", [({}, True), ({"MTLBENCH_FLUSH_DENORMAL": "0"}, False)])
def test_cpu_training_flushes_denormals_on_every_pool_thread(tmp_path, env, flushed):
    """Denormal weights / Adam state made funnel training 7x slower (mtlbench/perf.py); fit turns on FTZ/DAZ,
    also on OpenMP threads that existed before it was called (the multiply below is split across both)."""
    import os
    import subprocess
    import sys

    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU has no flush-to-zero mode (torch.set_flush_denormal returns False)")
    run_env = {**os.environ, "MTLBENCH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "2", **env}
    out = subprocess.run([sys.executable, "-c", _FTZ_SCRIPT.format(tiny=TINY)], env=run_env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    survivors, scalar = map(int, out.stdout.split()[-2:])
    assert (survivors == 0 and scalar == 0) if flushed else (survivors == 1 << 22 and scalar == 1)


def test_product_metric_scores_ctcvr_over_every_sample_and_pairs_its_replicates():
    """The funnel's CTCVR: σ(ctr)·σ(cvr) against click-and-buy over all samples (a conversion label outside
    the click space counts as 0), with bootstrap replicates paired across models like the tasks'."""
    from sklearn.metrics import roc_auc_score

    from mtlbench.data import ProductMetric, SuiteData, TaskSpec, make_split
    from mtlbench.protocol import FitResult, evaluate_test_split

    rng = np.random.default_rng(0)
    n = 2000
    click = (rng.random(n) < 0.3).astype(np.float32)
    conv = np.where(click == 1, (rng.random(n) < 0.4), np.nan).astype(np.float32)
    y = np.stack([click, conv], 1)
    mask = np.stack([np.ones(n, bool), click == 1], 1)
    split = make_split(rng.normal(size=(n, 2)).astype(np.float32), np.zeros((n, 0), np.int64), y, mask)
    data = SuiteData(name="f", family="f", version="1", tasks=(TaskSpec("ctr", "binary"), TaskSpec("cvr", "binary")),
                     inputs=None, train=split, val=split, test=split, derived=(ProductMetric("ctcvr", (0, 1)),))
    pred = rng.normal(size=(n, 2)) + np.stack([click, np.nan_to_num(conv)], 1)
    res = evaluate_test_split(FitResult([], [0], [], 0.0), data, pred, split)
    (d,) = res.test_derived
    p = M.sigmoid(pred[:, 0]) * M.sigmoid(pred[:, 1])
    assert d["name"] == "ctcvr" and d["value"] == pytest.approx(roc_auc_score(click * np.nan_to_num(conv), p), abs=1e-9)
    other = evaluate_test_split(FitResult([], [0], [], 0.0), data, pred + 0.2 * rng.normal(size=pred.shape), split)  # a similar model
    diffs = np.array(d["boot"]) - np.array(other.test_derived[0]["boot"])
    # paired: the replicate-wise difference varies far less than either model's replicates
    assert diffs.std() < 0.5 * max(np.std(d["boot"]), np.std(other.test_derived[0]["boot"]))
