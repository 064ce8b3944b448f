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
from .nn import GateLabels
from .names import suite_slug
from .params import default_params
from .profiles import get_profile
from .runinfo import git_commit, now, versions
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


@torch.no_grad()
def gate_statistics(model: MTLModel, data: SuiteData, device: torch.device, batch_size: int = 8192) -> dict[str, dict[str, Any]]:
    """Mean and std over the test split of every gate weight, per gate bank (``model.gate_weights()``), with the
    bank's labels (``model.gate_labels()``): ``{name: {title, level, rows, cols, mean, std}}`` in reading order."""
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
    labels = model.gate_labels()
    banks = {}
    for name in sorted(sums):
        mean = sums[name] / n  # [G, E]
        std = np.sqrt(np.maximum(sqs[name] / n - mean**2, 0.0))
        lab = labels[name]
        banks[name] = {**lab.fields(), "mean": _placed(lab, mean), "std": _placed(lab, std)}
    return order_banks(banks)


def _placed(lab: GateLabels, values: np.ndarray) -> list[list[float | None]]:
    """[G, E] values as rows over ``lab.cols``: through ``lab.index`` when the gates mix a subset of the
    experts (None where a gate is not connected), else as they are."""
    if lab.index is None:
        return [[_r(v) for v in row] for row in values]
    full: list[list[float | None]] = [[None] * len(lab.cols) for _ in lab.rows]
    for g, idx in enumerate(lab.index):
        for j, e in enumerate(idx):
            full[g][e] = _r(values[g, j])
    return full


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

