"""The trainer on a CUDA GPU against the same training on CPU. Skipped where no GPU is present (CI has none);
run on a GPU machine with ``pytest tests/test_cuda.py``.

Tolerances: CUDA reorders float32 sums (and its fused Adam is a different kernel from the CPU one), so GPU and
CPU agree to rounding, not bitwise: outputs after one full-batch step within 1e-5, metrics after a few epochs
within 1e-3. TF32 matrix products are off by PyTorch's default, which these tolerances assume.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import mtlbench
from mtlbench.data import TaskSpec
from mtlbench.model import skip_reason
from mtlbench.multiseed import fit_seeds
from mtlbench.records import load_records
from mtlbench.train import TrainConfig, fit, predict, seed_everything
from mtlbench.weighting import list_weightings

from conftest import TINY
from test_multiseed import _assert_same_fit, _builder, _mixed_suite

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)")
CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.fixture(scope="module")
def funnel():
    """The mixed suite of test_multiseed with its second task declared a funnel step (esmm and aitm run too)."""
    data = _mixed_suite()
    return dataclasses.replace(data, tasks=(TaskSpec("a", "binary"), TaskSpec("b", "binary", after="a")))


def _fit_on(device, builder, data, cfg, seed):
    seed_everything(seed)
    model = builder()  # built on CPU from the seed: the same initial weights on both devices
    result = fit(model, data, cfg, seed, device, evaluate_test=False)
    return model, result


@pytest.mark.parametrize("name", mtlbench.list_models())
def test_one_step_on_cuda_is_the_cpu_step(funnel, name):
    assert skip_reason(name, funnel.tasks) is None
    cfg = TrainConfig(max_epochs=1, patience=1, batch_size=len(funnel.train), lr=1e-2)  # exactly one step
    builder = _builder(name, funnel)
    on_cpu, _ = _fit_on(CPU, builder, funnel, cfg, 0)
    on_gpu, result = _fit_on(CUDA, builder, funnel, cfg, 0)
    assert next(on_gpu.parameters()).device.type == CUDA.type
    a = predict(on_gpu, funnel.val.to(CUDA))
    b = predict(on_cpu, funnel.val)
    assert np.abs(a - b).max() < 1e-5, f"{name}: GPU and CPU outputs differ by {np.abs(a - b).max():.2e}"
    assert not np.array_equal(b, predict(builder(), funnel.val))  # the step changed the model
    assert all(np.isfinite(v) for m in result.val_metrics for v in m.values())


@pytest.mark.parametrize("name", ["mmoe", "ple", "single_task"])
def test_stacked_seeds_on_cuda_are_one_by_one_training_on_cuda(funnel, name):
    """What ``run`` does on CUDA (seeds stacked) gives what it does on CPU (one by one), on the GPU itself."""
    cfg = TrainConfig(max_epochs=6, patience=1, batch_size=64, lr=1e-2)
    builder, seeds = _builder(name, funnel), [0, 1, 2, 3]
    together = fit_seeds(builder, funnel, cfg, seeds, CUDA, evaluate_test=False)
    for s, stacked in zip(seeds, together):
        _, alone = _fit_on(CUDA, builder, funnel, cfg, s)
        _assert_same_fit(stacked, alone, tol=1e-4)


@pytest.mark.parametrize("weighting", list_weightings())
def test_every_weighting_trains_on_cuda_as_on_cpu(funnel, weighting):
    cfg = TrainConfig(max_epochs=3, patience=3, batch_size=96, lr=3e-3, weighting=weighting)
    builder = _builder("mmoe", funnel)
    _, gpu = _fit_on(CUDA, builder, funnel, cfg, 7)
    _, cpu = _fit_on(CPU, builder, funnel, cfg, 7)
    assert gpu.epochs_run == cpu.epochs_run
    for hg, hc in zip(gpu.history, cpu.history):
        assert hg["train_loss"] == pytest.approx(hc["train_loss"], abs=1e-3), (weighting, hg, hc)
    for mg, mc in zip(gpu.val_metrics, cpu.val_metrics):
        for k in mg:
            assert np.isfinite(mg[k]) and mg[k] == pytest.approx(mc[k], abs=1e-3), (weighting, k, mg[k], mc[k])


def test_run_on_cuda_writes_the_records_of_a_cpu_run(tmp_path):
    """``mtlbench.run(device="cuda")``: the same record set as on CPU, marked cuda, metrics to rounding."""
    runs = {}
    for device in ("cpu", "cuda"):
        out = tmp_path / device
        mtlbench.run(["hard_sharing", "mmoe"], [TINY], seeds=2, profile="quick", device=device, results_dir=out, jobs=1)
        runs[device] = {(r["model"], r["seed"]): r for r in load_records("quick", out)}
    assert runs["cpu"].keys() == runs["cuda"].keys() and len(runs["cuda"]) == 4
    for key, gpu in runs["cuda"].items():
        cpu = runs["cpu"][key]
        assert gpu["device"].startswith("cuda") and cpu["device"] == "cpu"
        assert gpu["val_score"] == pytest.approx(cpu["val_score"], abs=1e-3), key
