"""Expert utilisation (docs/protocol.md §5; the PLE paper's expert-utilisation figure).

Trains the fixed comparable configuration of each gated model on a suite (MMoE 3 experts; CGC and PLE
1 task-specific expert per task + 1 shared; ML-MMoE and PLE with 2 levels, reported per level), then
runs the test split through it and keeps, per gate bank, the mean and std over test samples of the
weight every gate puts on every expert. The result is a small JSON file under
``results/<profile>/utilisation/`` that the report draws as heatmaps.
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .data import SuiteData
from .errors import MtlbenchError
from .fsio import atomic_write
from .model import MTLModel, build_model, list_models, make_config
from .names import suite_slug
from .params import default_params
from .profiles import get_profile
from .records import git_commit, now, versions
from .report.load import order_banks, utilisation_dir

#: The fixed comparable configuration (docs/protocol.md §5): model -> Config overrides.
FIXED: dict[str, dict[str, Any]] = {
    "mmoe": {"n_experts": 3},
    "ml_mmoe": {"levels": 2, "n_experts": 3},
    "cgc": {"specific_experts": 1, "shared_experts": 1},
    "ple": {"levels": 2, "specific_experts": 1, "shared_experts": 1},
}
DEFAULT_SUITES = ("video", "census_income")


def out_path(profile: str, suite: str, model: str, results_dir: str | Path | None = None) -> Path:
    return utilisation_dir(profile, results_dir) / f"{suite_slug(suite)}__{model}.json"


def _labels(model: MTLModel, name: str, n_gates: int, n_inputs: int) -> dict[str, Any]:
    """Title, row / column labels of a gate bank, and (for CGC/PLE task gates) the index that places
    each gate's inputs among all experts of its level, so every row spans the same experts."""
    tasks = [t.name for t in model.tasks]
    parent_name, _, leaf = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    if hasattr(parent, "index") and hasattr(parent, "n_tasks") and hasattr(parent, "experts"):  # ExtractionLevel
        K = parent.n_tasks
        n_all = int(parent.index.max()) + 1
        m = (n_all - int(parent.index.shape[1])) // (K - 1) if K > 1 else 0  # specific experts per task
        cols = [f"{tasks[e // m]} expert {e % m + 1}" if m and e < K * m else f"shared expert {e - K * m + 1}"
                for e in range(n_all)]
        level = parent_name.rsplit(".", 1)[-1]
        lvl = int(level) + 1 if level.isdigit() else 1
        if leaf == "task_gates":
            return {"title": f"level {lvl}: task gates", "level": lvl, "rows": tasks, "cols": cols,
                    "index": parent.index.tolist()}
        return {"title": f"level {lvl}: shared gate", "level": lvl, "rows": ["shared"] * n_gates, "cols": cols}
    if name.startswith("expert_gates."):  # ml_mmoe: gates of level l ≥ 2 experts over level l−1 experts
        lvl = int(name.split(".")[1]) + 2
        return {"title": f"level {lvl}: expert gates", "level": lvl,
                "rows": [f"L{lvl} expert {i + 1}" for i in range(n_gates)],
                "cols": [f"L{lvl - 1} expert {j + 1}" for j in range(n_inputs)]}
    rows = tasks if n_gates == len(tasks) else (["all tasks"] if n_gates == 1 else [f"gate {i + 1}" for i in range(n_gates)])
    levels = getattr(model.cfg, "levels", None)
    title = f"level {levels}: task gates" if levels and name == "task_gates" else ("task gates" if rows == tasks else name)
    prefix = f"L{levels} expert" if levels and name == "task_gates" else "expert"
    return {"title": title, "level": levels or 1, "rows": rows, "cols": [f"{prefix} {j + 1}" for j in range(n_inputs)]}


@torch.no_grad()
def gate_statistics(model: MTLModel, data: SuiteData, device: torch.device, batch_size: int = 8192) -> dict[str, dict[str, Any]]:
    """Mean and std over the test split of every gate weight, per gate bank (``model.gate_weights()``)."""
    model.eval()
    test = data.test
    sums: dict[str, np.ndarray] = {}
    sqs: dict[str, np.ndarray] = {}
    n = 0
    for i in range(0, len(test), batch_size):
        model(test.x_num[i : i + batch_size].to(device), test.x_cat[i : i + batch_size].to(device))
        for name, w in model.gate_weights().items():  # w [G, B, E]
            w64 = w.double().cpu().numpy()
            sums[name] = sums.get(name, 0.0) + w64.sum(axis=1)  # [G, E]
            sqs[name] = sqs.get(name, 0.0) + (w64**2).sum(axis=1)
        n += min(batch_size, len(test) - i)
    if not sums:
        raise MtlbenchError(f"model {type(model).__name__} exposes no gate weights (gate_weights() is empty); "
                            "only gated models have an expert utilisation.")
    banks = {}
    for name in sorted(sums):
        mean = sums[name] / n
        std = np.sqrt(np.maximum(sqs[name] / n - mean**2, 0.0))
        info = _labels(model, name, mean.shape[0], mean.shape[1])
        index = info.pop("index", None)
        if index is not None:  # place each gate's inputs among all experts of the level (None = not connected)
            full_m = [[None] * len(info["cols"]) for _ in range(mean.shape[0])]
            full_s = [[None] * len(info["cols"]) for _ in range(mean.shape[0])]
            for g, idx in enumerate(index):
                for j, e in enumerate(idx):
                    full_m[g][e], full_s[g][e] = _r(mean[g, j]), _r(std[g, j])
            info.update(mean=full_m, std=full_s)
        else:
            info.update(mean=[[_r(v) for v in row] for row in mean], std=[[_r(v) for v in row] for row in std])
        banks[name] = info
    return order_banks(banks)


def _r(v: float) -> float:
    return round(float(v), 6)


def compute(model_name: str, data: SuiteData, profile: str, seed: int = 0, device: str = "cpu") -> dict[str, Any]:
    """Train the fixed configuration of ``model_name`` on ``data`` (validation early stopping) and
    return the utilisation export (JSON-ready)."""
    from .runner import resolve_device
    from .train import fit, seed_everything

    if model_name not in FIXED:
        raise MtlbenchError(f"no fixed utilisation configuration for model {model_name!r}; choose from {', '.join(FIXED)}.")
    prof = get_profile(profile)
    dev = resolve_device(device)
    cfg = make_config(model_name, FIXED[model_name])
    rp = default_params(model_name, data, prof)
    seed_everything(seed)
    model = build_model(model_name, data.inputs, data.tasks, cfg, rp.shared)
    result = fit(model, data, rp.train, seed, dev, evaluate_test=False)
    banks = gate_statistics(model, data, dev)
    return {
        "suite": data.name, "suite_family": data.family, "suite_version": data.version, "data_checksum": data.checksum,
        "profile": prof.name, "model": model_name, "config": _plain(dataclasses.asdict(cfg)),
        "shared": _plain(dataclasses.asdict(rp.shared)), "train": _plain(dataclasses.asdict(rp.train)), "seed": seed,
        "n_test": len(data.test), "val_score": result.val_score if math.isfinite(result.val_score) else None, "best_epochs": result.best_epochs,
        "tasks": [t.name for t in data.tasks], "banks": banks,
        "commit": git_commit(), "timestamp": now(), "versions": versions(), "device": str(dev),
    }


def _plain(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _plain(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [_plain(v) for v in d]
    return d


def run(profile: str = "quick", suites: list[str] | None = None, models: list[str] | None = None,
        results_dir: str | Path | None = None, device: str = "auto", seed: int = 0, force: bool = False,
        log: Any = print) -> list[Path]:
    """Compute and store the utilisation of every (suite, model); existing exports of the same data and
    configuration are kept unless ``force``. Models or suites not registered (yet) are skipped."""
    from .suites import expand_suites, list_suites, load_suite

    prof = get_profile(profile)
    registered = set(list_models())
    if models:
        unknown = [m for m in models if m not in FIXED]
        if unknown:
            raise MtlbenchError(f"no fixed utilisation configuration for model {unknown[0]!r}; choose from {', '.join(FIXED)}.")
        wanted = list(dict.fromkeys(models))
    else:
        wanted = list(FIXED)
    todo_models = [m for m in wanted if m in registered]
    for m in wanted:
        if m not in registered:
            log(f"skipping {m}: model not registered")
    if not todo_models:
        raise MtlbenchError("none of the gated models (" + ", ".join(wanted) + ") is registered; nothing to measure.")
    if not suites:
        suites = [s for s in DEFAULT_SUITES if s in list_suites()]
        for s in DEFAULT_SUITES:
            if s not in suites:
                log(f"skipping suite {s}: not registered")
        if not suites:
            raise MtlbenchError(f"none of the default utilisation suites ({', '.join(DEFAULT_SUITES)}) is registered; "
                                "name one with --suite.")
    written = []
    for instance in expand_suites(suites, prof):
        data = load_suite(instance, prof)
        for m in todo_models:
            path = out_path(prof.name, instance, m, results_dir)
            if path.exists() and not force:
                try:
                    old = json.loads(path.read_text())
                    if old.get("data_checksum") == data.checksum and old.get("config") == _plain(dataclasses.asdict(make_config(m, FIXED[m]))):
                        log(f"{instance}/{m}: already measured ({path})")
                        continue
                except (OSError, json.JSONDecodeError):
                    pass
            log(f"{instance}/{m}: training the fixed configuration {FIXED[m]} ...")
            blob = compute(m, data, prof.name, seed, device)
            atomic_write(path, json.dumps(blob, sort_keys=True, indent=1, allow_nan=False) + "\n")
            written.append(path)
    return written

