"""The MMoE paper's synthetic experiment as the paper ran it (Ma et al., KDD 2018, §3 and §5.3; docs/protocol.md §6).

The leaderboard's sweep asks "which model has the lowest converged test MSE at each correlation"; the paper
asks something else: how *trainable* each architecture is at a given task correlation. It trains the shared
bottom, OMoE and MMoE many times, each time on freshly generated data (new u1, u2, α, β, x) with a fresh
initialisation, and compares (a) the average training-loss curve over steps at each correlation and (b) the
distribution of final losses over the repeated runs (its trainability histograms). The PLE paper adds CGC and
PLE to the same experiment.

Setup (``Setup``; every number is in each result file):

- correlations p ∈ {1.0, 0.9, 0.5} (the paper's panels) and 0.0 (to see whether MMoE's advantage keeps growing
  as the correlation falls); data as the ``synthetic`` suite (d = 100, m = 10, c = 1, noise 0.1), run r of every
  model uses data seed ``DATA_SEED0 + r`` and initialisation seed r, so models are compared on the same data
  (paired by run);
- models as in the paper: experts and towers are single-layer networks, 8 experts of 16 units for OMoE/MMoE,
  CGC with 2 task-specific experts per task and 4 shared, PLE with 2 levels of 1 + 2 (specific + shared)
  experts per level, towers of 8 units; the shared bottom's single hidden layer is sized to MMoE's dense
  parameter count (the paper matches model sizes the same way);
- training: Adam, lr 1e-3, batch 128, a fixed number of epochs without early stopping (the curves are the
  object of study), the per-task training loss averaged over every ``curve_every`` steps, the validation MSE
  after every epoch, and the test MSE of the best-validation checkpoint at the end.

One JSON file per (model, p, run) under ``results/<profile>/experiments/mmoe_synthetic/``, written atomically;
a run that exists is skipped, so the experiment resumes, and ``--shard i/n`` splits it between processes.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..cost import dense_params
from ..errors import MtlbenchError
from ..fsio import atomic_write
from ..model import SharedConfig, build_model, make_config
from ..profiles import get_profile
from ..records import profile_dir
from ..runinfo import git_commit, versions
from ..suites import load_suite
from ..train import TrainConfig, fit, seed_everything

NAME = "mmoe_synthetic"
DATA_SEED0 = 10_000  # run r draws its data with seed DATA_SEED0 + r (never a leaderboard data seed)

#: The paper's architectures (single-layer experts and towers).
CONFIGS: dict[str, dict[str, Any]] = {
    "omoe": {"n_experts": 8, "expert": (16,), "tower": (8,)},
    "mmoe": {"n_experts": 8, "expert": (16,), "tower": (8,)},
    "cgc": {"specific_experts": 2, "shared_experts": 4, "expert": (16,), "tower": (8,)},
    "ple": {"levels": 2, "specific_experts": 1, "shared_experts": 2, "expert": (16,), "tower": (8,)},
    "hard_sharing": {"tower": (8,)},  # bottom: one layer, sized to mmoe's dense parameters (see _bottom_width)
}


@dataclass(frozen=True)
class Setup:
    correlations: tuple[float, ...] = (1.0, 0.9, 0.5, 0.0)
    runs: int = 60  # the paper repeats 200 times; 60 keeps the 1,200 trainings within ~2 h on 2 CPU threads
    models: tuple[str, ...] = ("hard_sharing", "omoe", "mmoe", "cgc", "ple")
    n_train: int = 20_000
    n_val: int = 5_000
    n_test: int = 5_000
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    curve_every: int = 25  # steps per point of the training-loss curve

    def __post_init__(self) -> None:
        unknown = sorted(set(self.models) - set(CONFIGS))
        if unknown:
            raise MtlbenchError(f"the {NAME} experiment has no configuration for model {unknown[0]!r}; "
                                f"choose from {', '.join(CONFIGS)}.")
        if self.runs < 1 or any(not -1 <= p <= 1 for p in self.correlations):
            raise MtlbenchError(f"{NAME}: runs must be >= 1 and correlations within [-1, 1].")


def out_dir(profile: str, results_dir: str | Path | None = None) -> Path:
    return profile_dir(profile, results_dir) / "experiments" / NAME


def result_path(folder: Path, model: str, p: float, run: int) -> Path:
    return folder / f"{model}__p{p:g}__r{run:03d}.json"


def _model_config(model: str, inputs, tasks) -> Any:
    if model != "hard_sharing":
        return make_config(model, CONFIGS[model])
    return make_config("hard_sharing", {**CONFIGS["hard_sharing"], "bottom": (_bottom_width(inputs, tasks),)})


@functools.lru_cache(maxsize=8)
def _bottom_width(inputs, tasks) -> int:
    """The shared bottom's one hidden layer, sized so its dense parameters are closest to MMoE's."""
    shared = SharedConfig(emb_dim=1)
    target = dense_params(build_model("mmoe", inputs, tasks, make_config("mmoe", CONFIGS["mmoe"]), shared))
    widths = range(8, 513)
    best = min(widths, key=lambda w: abs(dense_params(build_model(
        "hard_sharing", inputs, tasks, make_config("hard_sharing", {**CONFIGS["hard_sharing"], "bottom": (w,)}), shared)) - target))
    return best


def plan(setup: Setup, shard: tuple[int, int] = (0, 1)) -> Iterator[tuple[str, float, int]]:
    """(model, p, run) in a fixed order; ``shard=(i, n)`` keeps every n-th item starting at i."""
    items = [(m, p, r) for r in range(setup.runs) for p in setup.correlations for m in setup.models]
    i, n = shard
    return iter(items[i::n])


def run_one(setup: Setup, model: str, p: float, run: int, device: torch.device) -> dict[str, Any]:
    profile = get_profile("standard")
    data = load_suite(f"synthetic[p={p:g},seed={DATA_SEED0 + run},n_train={setup.n_train},n_val={setup.n_val},"
                      f"n_test={setup.n_test}]", profile)
    cfg = _model_config(model, data.inputs, data.tasks)
    seed_everything(run)
    net = build_model(model, data.inputs, data.tasks, cfg, SharedConfig(emb_dim=data.emb_dim))
    train_cfg = TrainConfig(lr=setup.lr, batch_size=setup.batch_size, max_epochs=setup.epochs,
                            patience=setup.epochs + 1, evals_per_epoch=1)
    t0 = time.perf_counter()
    res = fit(net, data, train_cfg, run, device, curve_every=setup.curve_every)
    return {
        "experiment": NAME, "model": model, "p": p, "run": run, "data_seed": DATA_SEED0 + run, "init_seed": run,
        "setup": dataclasses.asdict(setup), "config": dataclasses.asdict(cfg), "dense_params": dense_params(net),
        "steps_per_epoch": math.ceil(setup.n_train / setup.batch_size),
        "curve_every": setup.curve_every, "train_curve": res.curve["loss"],  # [points][task]
        "val_mse": [[v["mse"] for v in h["val"]] for h in res.history],  # [epoch][task]
        "best_epoch": res.best_evals[0], "test_mse": [m["mse"] for m in res.test_metrics],
        "seconds": time.perf_counter() - t0, "device": str(device), "threads": torch.get_num_threads(),
        "versions": versions(), "commit": git_commit(),
    }


def run(setup: Setup = Setup(), profile: str = "standard", results_dir: str | Path | None = None,
        shard: tuple[int, int] = (0, 1), device: str = "cpu", log: Callable[[str], None] = print) -> int:
    """Train every missing (model, p, run) of ``setup`` in this shard; returns how many were trained."""
    folder = out_dir(profile, results_dir)
    dev = torch.device(device)
    done = 0
    for model, p, r in plan(setup, shard):
        path = result_path(folder, model, p, r)
        if path.exists():
            continue
        blob = run_one(setup, model, p, r, dev)
        atomic_write(path, json.dumps(blob, sort_keys=True, allow_nan=False) + "\n")
        done += 1
        log(f"{NAME}: {model} p={p:g} run {r}: test MSE {blob['test_mse'][0]:.4f} / {blob['test_mse'][1]:.4f} "
            f"({blob['seconds']:.1f} s)")
    return done
