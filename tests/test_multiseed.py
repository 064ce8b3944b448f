"""Seeds trained together (mtlbench.multiseed) against the same seeds trained one by one (train.fit).

Tolerances: initialisation and batch order are compared bitwise; outputs after one step within 1e-6;
final validation/test metrics within 1e-5 (AUC / MSE, absolute) with identical chosen epochs and epoch
counts. The stacked step uses a batched matmul where ``fit`` uses a plain one, so float32 sums are
reordered; exact equality is not the goal.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import mtlbench
from mtlbench.data import InputSpec, SuiteData, TaskSpec, make_split
from mtlbench.errors import DivergedError
from mtlbench.model import SharedConfig, build_model, make_config
from mtlbench.multiseed import _Stack, fit_seeds
from mtlbench.records import RecordStore
from mtlbench.train import TrainConfig, fit, predict, seed_everything

from conftest import TINY

CPU = torch.device("cpu")
TOL = 1e-5


def _mixed_suite(n_train=480, n_val=240, n_test=240, seed=0) -> SuiteData:
    """Numeric + categorical inputs, two binary tasks, the second with a δ mask (funnel-like)."""
    rng = np.random.default_rng(seed)
    n = n_train + n_val + n_test
    x = rng.standard_normal((n, 6)).astype(np.float32)
    c = np.stack([rng.integers(0, 5, n), rng.integers(0, 3, n)], axis=1)
    z = x[:, 0] + 0.5 * (c[:, 0] == 2) - 0.3 * x[:, 1]
    y1 = (z + 0.5 * rng.standard_normal(n) > 0).astype(np.float32)
    y2 = (x[:, 2] - z + 0.5 * rng.standard_normal(n) > 0).astype(np.float32)
    y = np.stack([y1, y2], axis=1)
    mask = np.stack([np.ones(n, bool), y1 > 0], axis=1)
    y[~mask] = np.nan  # labels outside a task's sample space
    parts = [slice(0, n_train), slice(n_train, n_train + n_val), slice(n_train + n_val, n)]
    splits = [make_split(x[p], c[p], y[p], mask[p]) for p in parts]
    return SuiteData(
        name="mixed", family="mixed", version="1",
        tasks=(TaskSpec("a", "binary"), TaskSpec("b", "binary")),
        inputs=InputSpec(num_names=tuple(f"x{i}" for i in range(6)), cat_names=("c0", "c1"), cat_cardinalities=(5, 3)),
        train=splits[0], val=splits[1], test=splits[2], emb_dim=3,
    ).finalize()


@pytest.fixture(scope="module")
def mixed():
    return _mixed_suite()


def _builder(name: str, data: SuiteData, dropout: float = 0.0, **cfg):
    mc = make_config(name, cfg)
    shared = SharedConfig(emb_dim=data.emb_dim, dropout=dropout)
    return lambda: build_model(name, data.inputs, data.tasks, mc, shared)


def _one_by_one(builder, data, cfg, seeds, **kw):
    out = []
    for s in seeds:
        seed_everything(s)
        out.append(fit(builder(), data, cfg, s, CPU, **kw))
    return out


def _assert_same_fit(a, b, tol=TOL):
    assert a.epochs_run == b.epochs_run and a.best_epochs == b.best_epochs
    for ha, hb in zip(a.history, b.history):
        assert ha["epoch"] == hb["epoch"]
        assert ha["train_loss"] == pytest.approx(hb["train_loss"], abs=tol)
        assert ha["val_score"] == pytest.approx(hb["val_score"], abs=tol)
    for part in ("val_metrics", "test_metrics"):
        for ma, mb in zip(getattr(a, part), getattr(b, part)):
            assert ma.keys() == mb.keys()
            for k in ma:
                assert ma[k] == pytest.approx(mb[k], abs=tol), (part, k)
    assert a.val_score == pytest.approx(b.val_score, abs=tol)
    assert len(a.test_se) == len(b.test_se)
    assert dataclasses.asdict(a).keys() == dataclasses.asdict(b).keys()


def test_initialisation_is_bitwise_that_of_building_each_seed_alone(mixed):
    builder = _builder("ple", mixed)
    seeds = [3, 0, 11]
    models = []
    for s in seeds:
        seed_everything(s)
        models.append(builder())
    stack = _Stack(models, TrainConfig(), CPU)
    for j, s in enumerate(seeds):
        seed_everything(s)
        alone = builder()
        for name, p in alone.named_parameters():
            assert torch.equal(stack.params[name][j], p.detach()), name
    assert not torch.equal(stack.params["towers.bank.layers.0.weight"][0], stack.params["towers.bank.layers.0.weight"][1])


def test_batch_order_is_that_of_one_by_one_training(mixed, monkeypatch):
    """Every seed sees the same rows in the same steps as `fit` with Generator().manual_seed(seed)."""
    x = mixed.train.x_num
    seen: list[torch.Tensor] = []
    real = torch.Tensor.index_select

    def spy(self, dim, index):
        if self.data_ptr() == x.data_ptr() and self.shape == x.shape:
            seen.append(index.clone())
        return real(self, dim, index)

    monkeypatch.setattr(torch.Tensor, "index_select", spy)
    cfg = TrainConfig(max_epochs=2, patience=5, batch_size=100)
    builder, seeds = _builder("mmoe", mixed), [4, 9]
    fit_seeds(builder, mixed, cfg, seeds, CPU, evaluate_test=False)
    steps = -(-len(mixed.train) // cfg.batch_size) * cfg.max_epochs
    assert len(seen) == steps
    per_seed = [torch.cat([s.view(2, -1)[j] for s in seen]) for j in range(2)]
    for j, s in enumerate(seeds):
        seen.clear()
        seed_everything(s)
        fit(builder(), mixed, cfg, s, CPU, evaluate_test=False)
        assert torch.equal(per_seed[j], torch.cat(seen))
    gen = torch.Generator().manual_seed(seeds[0])  # and it is the documented order
    expected = torch.cat([torch.randperm(len(mixed.train), generator=gen) for _ in range(cfg.max_epochs)])
    assert torch.equal(per_seed[0], expected)


@pytest.mark.parametrize("name", ["mmoe", "ple", "single_task"])
def test_one_step_outputs_agree_within_1e_6(mixed, tmp_path, name):
    cfg = TrainConfig(max_epochs=1, patience=1, batch_size=len(mixed.train), lr=1e-2)  # exactly one step
    builder, seeds = _builder(name, mixed), [0, 1, 2]
    paths = [tmp_path / f"stacked{s}.pt" for s in seeds]
    fit_seeds(builder, mixed, cfg, seeds, CPU, evaluate_test=False, checkpoints=paths)
    for s, path in zip(seeds, paths):
        seed_everything(s)
        alone = builder()
        fit(alone, mixed, cfg, s, CPU, evaluate_test=False, checkpoint=tmp_path / f"alone{s}.pt")
        ck_alone = torch.load(tmp_path / f"alone{s}.pt", weights_only=False)
        seed_everything(s)
        stacked = builder()
        stacked.load_state_dict(torch.load(path, weights_only=False)["model"])
        alone.load_state_dict(ck_alone["model"])  # the weights after the step (fit restored the best = only epoch)
        a, b = predict(stacked, mixed.val), predict(alone, mixed.val)
        assert np.abs(a - b).max() < 1e-6
        assert not np.array_equal(a, predict(builder(), mixed.val))  # the step changed the model


@pytest.mark.parametrize("name", ["mmoe", "cgc", "single_task"])
def test_final_results_agree_with_one_by_one_training(mixed, name):
    """Patience 1 over 8 epochs: seeds stop at different epochs; single_task selects per task."""
    cfg = TrainConfig(max_epochs=8, patience=1, batch_size=64, lr=1e-2)
    builder, seeds = _builder(name, mixed), [0, 1, 2, 3]
    # test metrics: compared in test_synthetic_regression_suite_agrees (the AUC bootstrap is slow)
    together = fit_seeds(builder, mixed, cfg, seeds, CPU, evaluate_test=False)
    alone = _one_by_one(builder, mixed, cfg, seeds, evaluate_test=False)
    for a, b in zip(together, alone):
        _assert_same_fit(a, b)
    if name == "single_task":
        assert all(len(r.best_epochs) == 2 for r in together)
    assert len({r.epochs_run for r in together}) > 1, "the fixture should make seeds stop at different epochs"


def test_synthetic_regression_suite_agrees(tiny_suite):
    cfg = TrainConfig(max_epochs=4, patience=2, batch_size=128, lr=3e-3)
    builder, seeds = _builder("hard_sharing", tiny_suite), [5, 6]
    for a, b in zip(fit_seeds(builder, tiny_suite, cfg, seeds, CPU), _one_by_one(builder, tiny_suite, cfg, seeds)):
        _assert_same_fit(a, b)
        assert len(a.test_metrics) == 2 and a.test_se == pytest.approx(b.test_se, abs=TOL)


def test_dropout_trains_one_by_one_and_is_then_exact(mixed):
    """Dropout draws from the global RNG per seed, which vmap cannot reproduce: fit_seeds falls back."""
    cfg = TrainConfig(max_epochs=3, patience=3, batch_size=128)
    builder, seeds = _builder("mmoe", mixed, dropout=0.3), [1, 2]
    together = fit_seeds(builder, mixed, cfg, seeds, CPU, evaluate_test=False)
    alone = _one_by_one(builder, mixed, cfg, seeds, evaluate_test=False)
    assert [r.history for r in together] == [r.history for r in alone]
    assert [r.val_metrics for r in together] == [r.val_metrics for r in alone]


def test_a_diverging_seed_fails_alone(mixed):
    base = _builder("mmoe", mixed)
    calls = {"n": 0}

    def builder():  # the second seed's model starts with a NaN weight
        m = base()
        calls["n"] += 1
        if calls["n"] == 2:
            with torch.no_grad():
                m.towers.bank.layers[0].weight[0, 0, 0] = float("nan")
        return m

    cfg = TrainConfig(max_epochs=2, patience=2, batch_size=128)
    out = fit_seeds(builder, mixed, cfg, [0, 1, 2], CPU, return_errors=True, evaluate_test=False)
    assert isinstance(out[1], DivergedError) and "non-finite training loss" in str(out[1])
    for j in (0, 2):
        _assert_same_fit(out[j], _one_by_one(base, mixed, cfg, [j], evaluate_test=False)[0])
    calls["n"] = 0
    with pytest.raises(DivergedError):
        fit_seeds(builder, mixed, cfg, [0, 1, 2], CPU, evaluate_test=False)


def test_stacked_checkpoints_resume_with_fit(mixed, tmp_path):
    """A stacked run cut after epoch 1 leaves fit-format checkpoints; resuming gives the uninterrupted result."""
    cfg = TrainConfig(max_epochs=4, patience=4, batch_size=64)
    builder, seeds = _builder("cgc", mixed), [0, 1]
    paths = [tmp_path / f"s{s}.pt" for s in seeds]
    full = fit_seeds(builder, mixed, cfg, seeds, CPU, evaluate_test=False)

    class Cut(Exception): ...

    def cut(seed, epoch, score, metrics):
        if epoch == 1 and seed == seeds[-1]:
            raise Cut

    with pytest.raises(Cut):
        fit_seeds(builder, mixed, cfg, seeds, CPU, evaluate_test=False, checkpoints=paths, on_epoch=cut)
    assert all(torch.load(p, weights_only=False)["epoch"] == 1 for p in paths)
    resumed = fit_seeds(builder, mixed, cfg, seeds, CPU, evaluate_test=False, checkpoints=paths)  # existing checkpoints: fit resumes
    for a, b in zip(resumed, full):
        _assert_same_fit(a, b)


def test_run_uses_stacked_seeds_when_asked_and_writes_the_same_records(tmp_path, monkeypatch):
    results = {}
    for mode in ("0", "1"):
        monkeypatch.setenv("MTLBENCH_STACK_SEEDS", mode)
        s = mtlbench.run(["mmoe"], [TINY], seeds=3, profile="quick", results_dir=tmp_path / mode, device="cpu")
        assert len(s.done) == 3 and not s.failed
        results[mode] = sorted(RecordStore("quick", tmp_path / mode).records(), key=lambda r: r["seed"])
        assert not any((tmp_path / mode / "quick" / "ckpt").glob("*.pt")) if (tmp_path / mode / "quick").exists() else True
    for a, b in zip(results["0"], results["1"]):
        assert a.keys() == b.keys() and a["key"] == b["key"] and a["seed"] == b["seed"]
        for ma, mb in zip(a["test_metrics"], b["test_metrics"]):
            assert ma["mse"] == pytest.approx(mb["mse"], abs=TOL)
        assert a["best_epochs"] == b["best_epochs"]
    monkeypatch.setenv("MTLBENCH_STACK_SEEDS", "sometimes")
    with pytest.raises(mtlbench.MtlbenchError, match="MTLBENCH_STACK_SEEDS"):
        mtlbench.run(["mmoe"], [TINY], seeds=2, profile="quick", results_dir=tmp_path / "x", device="cpu", force=True)
