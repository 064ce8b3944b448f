"""The benchmark scripts' measured steps still run against the library they measure (a GPU lease found
`throughput.py`'s stacked-seed step broken after `multiseed` changed; nothing had run it since)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
pytestmark = pytest.mark.skipif(not BENCH.is_dir(), reason="benchmarks/ is not part of an installed package")


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_throughput_stacked_seed_step_trains_every_seed():
    tp = _script("throughput")
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(3 * tp.BATCH, tp.D, generator=g), (torch.rand(3 * tp.BATCH, tp.K, generator=g) > 0.5).float()
    data = tp.suite_from(x, y, x[:512], y[:512])
    args = SimpleNamespace(seeds=[1, 3], steps=3, rounds=1)
    rows = tp.seeds_stacked("mmoe", data, torch.device("cpu"), args, step_s=1e-3)
    assert [r["seeds"] for r in rows] == [1, 3]
    assert all("error" not in r and r["ms_per_step"] > 0 and r["seed_samples_per_s"] > 0 for r in rows), rows
