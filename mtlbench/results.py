"""Reading result records as tables: ``load_results`` (one row per record and task), ``load_histories`` (one row
per record, evaluation and task), ``export`` (both as CSV or Parquet) and ``compare`` (two records side by side).

Torch-free: every function reads the JSON records ``mtlbench.records.RecordStore`` writes.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from .fsio import finished
from .errors import MtlbenchError
from .profiles import PROFILES, get_profile
from .records import RecordStore, profile_dir, results_root

__all__ = ["RESULT_SCHEMA", "HISTORY_SCHEMA", "load_results", "load_histories", "export", "compare", "Comparison",
           "MetricDiff", "FORMATS"]

RESULT_SCHEMA: dict[str, Any] = {
    "profile": pl.Utf8, "key": pl.Utf8, "suite": pl.Utf8, "suite_family": pl.Utf8, "model": pl.Utf8, "seed": pl.Int64,
    "params_source": pl.Utf8, "task": pl.Utf8, "kind": pl.Utf8, "metric": pl.Utf8, "higher_is_better": pl.Boolean,
    "val": pl.Float64, "test": pl.Float64, "test_se": pl.Float64, "n_params": pl.Int64,
    "flops_per_sample": pl.Float64, "train_seconds": pl.Float64, "epochs_run": pl.Int64,
    "timestamp": pl.Utf8, "commit": pl.Utf8,
}
HISTORY_SCHEMA: dict[str, Any] = {
    "profile": pl.Utf8, "key": pl.Utf8, "suite": pl.Utf8, "model": pl.Utf8, "seed": pl.Int64, "params_source": pl.Utf8,
    "eval": pl.Int64, "epoch": pl.Int64, "step": pl.Int64, "chosen": pl.Boolean, "val_score": pl.Float64,
    "train_loss": pl.Float64, "task": pl.Utf8, "metric": pl.Utf8, "val": pl.Float64, "task_train_loss": pl.Float64,
}
FORMATS = ("csv", "parquet")


def _profiles(profile: str | None, results_dir: str | Path | None) -> list[str]:
    if profile is not None:
        return [get_profile(profile).name]
    return [p for p in PROFILES if (profile_dir(p, results_dir) / "records").is_dir()]


def _records(profile: str | None, results_dir: str | Path | None, what: str) -> list[tuple[str, dict[str, Any]]]:
    """(profile, record) of one profile, or of every profile that has records; a warning when there is none."""
    out = [(p, r) for p in _profiles(profile, results_dir) for r in RecordStore(p, results_dir).records()]
    if not out:
        where = profile_dir(profile, results_dir) if profile else results_root(results_dir)
        which = f"profile {profile!r}" if profile else "any profile"
        warnings.warn(f"no result records of {which} under {where}: {what} is empty (run `mtlbench run ...` first, "
                      "or pass the profile / results_dir the runs used)", stacklevel=3)
    return out


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def load_results(profile: str | None = None, results_dir: str | Path | None = None) -> pl.DataFrame:
    """Records as a polars DataFrame, one row per (record, task); ``profile=None`` reads every profile that
    has records (the ``profile`` column tells them apart). Warns when there is no record.

    Columns: ``RESULT_SCHEMA`` (profile, key, suite, suite_family, model, seed, params_source, task, kind,
    metric, higher_is_better, val, test, test_se, n_params, flops_per_sample, train_seconds, epochs_run,
    timestamp, commit)."""
    rows = []
    for prof, r in _records(profile, results_dir, "load_results()"):
        for k, t in enumerate(r["tasks"]):
            rows.append({
                "profile": prof, "key": r["key"], "suite": r["suite"], "suite_family": r["suite_family"],
                "model": r["model"], "seed": r["seed"], "params_source": r["params_source"], "task": t["name"],
                "kind": t["kind"], "metric": t["metric"], "higher_is_better": t["higher_is_better"],
                "val": _num(r["val_metrics"][k].get(t["metric"])), "test": _num(r["test_metrics"][k].get(t["metric"])),
                "test_se": _num(r["test_se"][k]) if k < len(r.get("test_se") or []) else None,
                "n_params": r["n_params"], "flops_per_sample": r["flops_per_sample"], "train_seconds": r["train_seconds"],
                "epochs_run": r["epochs_run"], "timestamp": r["timestamp"], "commit": r["commit"],
            })
    return pl.DataFrame(rows, schema=RESULT_SCHEMA)


def history_rows(r: dict[str, Any], profile: str) -> list[dict[str, Any]]:
    """One row per (evaluation, task) of a record's validation history (``HISTORY_SCHEMA``); ``chosen`` marks
    the evaluation whose model was kept (per selection group: ``best_epochs``)."""
    chosen = set(r.get("best_epochs") or [])
    rows = []
    for i, h in enumerate(r.get("history") or []):
        e = int(h.get("eval", i))
        losses = h.get("train_losses") or []
        for k, t in enumerate(r["tasks"]):
            v = (h.get("val") or [None] * len(r["tasks"]))[k]
            rows.append({
                "profile": profile, "key": r["key"], "suite": r["suite"], "model": r["model"], "seed": r["seed"],
                "params_source": r["params_source"], "eval": e, "epoch": h.get("epoch"), "step": h.get("step"),
                "chosen": e in chosen, "val_score": _num(h.get("val_score")), "train_loss": _num(h.get("train_loss")),
                "task": t["name"], "metric": t["metric"],
                "val": _num(v.get(t["metric"])) if isinstance(v, dict) else _num(v),
                "task_train_loss": _num(losses[k]) if k < len(losses) else None,
            })
    return rows


def load_histories(profile: str | None = None, results_dir: str | Path | None = None) -> pl.DataFrame:
    """Every record's per-evaluation validation history in long format, one row per (record, evaluation,
    task): ``HISTORY_SCHEMA``. ``profile=None``: every profile. Warns when there is no record."""
    rows = [row for prof, r in _records(profile, results_dir, "load_histories()") for row in history_rows(r, prof)]
    return pl.DataFrame(rows, schema=HISTORY_SCHEMA)


def export(profile: str | None, fmt: str, out_dir: str | Path, results_dir: str | Path | None = None) -> list[Path]:
    """Write ``results.<fmt>`` (``load_results``) and ``histories.<fmt>`` (``load_histories``) to ``out_dir``;
    returns the two paths. ``fmt``: csv | parquet."""
    if fmt not in FORMATS:
        raise MtlbenchError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frames = {"results": load_results(profile, results_dir), "histories": load_histories(profile, results_dir)}
    if frames["results"].height == 0:
        which = f"profile {profile!r}" if profile else "any profile"
        raise MtlbenchError(f"no result records of {which} under {results_root(results_dir)}; nothing to export "
                            "(run `mtlbench run ...` first, or pass --profile / --results-dir).")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, df in frames.items():
        path = out / f"{name}.{fmt}"
        df.write_csv(path) if fmt == "csv" else df.write_parquet(path)
        paths.append(path)
    return paths


# ====================================================================== comparing two records
@dataclass(frozen=True)
class MetricDiff:
    """Test metric of one task in records A and B: ``diff`` = B − A; ``se`` = sqrt(se_A² + se_B²) (the test-set
    standard errors, unpaired); ``paired`` = the 95 % percentile interval of B − A over the records' paired
    bootstrap replicates (``test_boot``: the same test resamples for both), when both have them."""

    task: str
    metric: str
    higher_is_better: bool
    a: float
    b: float
    se: float | None
    paired: tuple[float, float] | None

    @property
    def diff(self) -> float:
        return self.b - self.a


@dataclass(frozen=True)
class Comparison:
    a: dict[str, Any]
    b: dict[str, Any]
    config: list[tuple[str, Any, Any]]  # (field, value in A, value in B) where they differ
    metrics: list[MetricDiff]
    paired_note: str  # why no paired interval, when there is none ("" otherwise)


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        return {k: v for key, val in d.items() for k, v in _flat(val, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): d}


_CONFIG_FIELDS = ("profile", "suite", "suite_version", "data_checksum", "model", "seed", "params_source", "params",
                  "device", "threads", "commit")


def _find(key: str, profile: str | None, results_dir: str | Path | None) -> dict[str, Any]:
    """The record whose key starts with ``key``: in ``profile``, or in the one profile that has it."""
    if profile is not None:
        return RecordStore(get_profile(profile).name, results_dir).find(key)
    hits = [p for p in _profiles(None, results_dir)
            if len(key) >= 6 and finished(profile_dir(p, results_dir) / "records", f"{key}*.json")]
    if len(hits) != 1:
        what = "no profile" if not hits else f"profiles {', '.join(hits)}"
        raise MtlbenchError(f"record key {key!r} is found in {what} under {results_root(results_dir)}; give at least 6 "
                            "characters of a key (`mtlbench export` lists them) and --profile when it is ambiguous.")
    return RecordStore(hits[0], results_dir).find(key)


def compare(key_a: str, key_b: str, profile: str | None = None, results_dir: str | Path | None = None) -> Comparison:
    """Records ``key_a`` and ``key_b`` side by side: the configuration fields that differ and, per task both
    have (by name and metric), the test metrics with their difference and its uncertainty."""
    a, b = _find(key_a, profile, results_dir), _find(key_b, profile, results_dir)
    fa = _flat({f: a.get(f) for f in _CONFIG_FIELDS})
    fb = _flat({f: b.get(f) for f in _CONFIG_FIELDS})
    config = [(k, fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]
    same_test = a.get("data_checksum") == b.get("data_checksum")
    metrics = []
    tasks_b = {(t["name"], t["metric"]): k for k, t in enumerate(b["tasks"])}
    for k, t in enumerate(a["tasks"]):
        j = tasks_b.get((t["name"], t["metric"]))
        if j is None:
            continue
        va, vb = a["test_metrics"][k][t["metric"]], b["test_metrics"][j][t["metric"]]
        sa, sb = (_num((r.get("test_se") or [None] * (i + 1))[i]) for r, i in ((a, k), (b, j)))
        se = math.sqrt(sa**2 + sb**2) if sa is not None and sb is not None else None
        ba, bb = (a.get("test_boot") or [])[k:k + 1], (b.get("test_boot") or [])[j:j + 1]
        paired = None
        if same_test and ba and bb and ba[0] and len(ba[0]) == len(bb[0]):
            d = np.asarray(bb[0], dtype=float) - np.asarray(ba[0], dtype=float)  # [B] paired replicates of B − A
            paired = (float(np.quantile(d, 0.025)), float(np.quantile(d, 0.975)))
        metrics.append(MetricDiff(t["name"], t["metric"], bool(t["higher_is_better"]), float(va), float(vb), se, paired))
    note = ""
    if not any(m.paired for m in metrics):
        note = ("no paired interval: the records were evaluated on different test data (data checksums differ)"
                if not same_test else "no paired interval: a record holds no bootstrap replicates (test_boot; "
                "records before evaluation protocol 2)")
    return Comparison(a, b, config, metrics, note)


# ====================================================================== what a run produced
@dataclass(frozen=True)
class TaskSummary:
    """One task of one (suite, model): test metric mean and std over seeds; ``gain``: the mean gain over
    ``single_task`` on the same suite among the same records (``M − S`` when higher is better, ``S − M``
    otherwise: positive is better), None without single-task records."""

    task: str
    metric: str
    higher_is_better: bool
    mean: float
    std: float | None
    gain: float | None


@dataclass(frozen=True)
class RunSummaryRow:
    suite: str
    model: str
    seeds: int
    tasks: tuple[TaskSummary, ...]


REFERENCE_MODEL = "single_task"


def summarise_runs(records: list[dict[str, Any]]) -> list[RunSummaryRow]:
    """Test metrics of the given records per (suite, model), in suite then model display order."""
    from .metadata import model_key

    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in records:  # a model trained with a loss weighting other than static is its own row: "mmoe (pcgrad)"
        weighting = ((r.get("params") or {}).get("train") or {}).get("weighting", "static")
        model = r["model"] if weighting == "static" else f"{r['model']} ({weighting})"
        groups.setdefault((r["suite"], model), []).append(r)

    def means(rs: list[dict[str, Any]]) -> list[tuple[float, float | None]]:
        out = []
        for k, t in enumerate(rs[0]["tasks"]):
            v = np.asarray([r["test_metrics"][k][t["metric"]] for r in rs], dtype=float)
            out.append((float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else None))
        return out

    rows = []
    for (suite, model), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], model_key(kv[0][1].split(" ")[0]), kv[0][1])):
        ref = groups.get((suite, REFERENCE_MODEL))
        ref_means = means(ref) if ref and model != REFERENCE_MODEL else None
        tasks = []
        for k, ((m, sd), t) in enumerate(zip(means(rs), rs[0]["tasks"])):
            gain = None
            if ref_means is not None:
                gain = (m - ref_means[k][0]) if t["higher_is_better"] else (ref_means[k][0] - m)
            tasks.append(TaskSummary(t["name"], t["metric"], bool(t["higher_is_better"]), m, sd, gain))
        rows.append(RunSummaryRow(suite, model, len(rs), tuple(tasks)))
    return rows


def records_by_key(keys: list[str], profile: str, results_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """The finished records among ``keys`` (a failed or interrupted run has none)."""
    store = RecordStore(profile, results_dir)
    out = []
    for key in dict.fromkeys(keys):
        if store.exists(key):
            out.append(json.loads(store.path(key).read_text()))
    return out
