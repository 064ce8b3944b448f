"""Per-suite statistics of the selected records: each model's test metrics, its gains over `single_task`
and their Holm-corrected significance (``stats``), and the trials a tuned model ran (``trials_used``)."""
from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import Any

import numpy as np
import polars as pl

from ..metadata import suite_meta
from ..names import parse_instance
from .load import parse_source
from .order import model_key, suite_key
from .schema import Comparison, ModelResult, Study, SuiteResult, TaskResult
from .select import newest_key
from .paired import boot_matrix, paired_gain
from .stats import gain, holm, relative_gain, rms, test_score, verdict, welch_p
from .uncertainty import rank_intervals, rng_for


def build_suites(records: list[dict[str, Any]], studies: list[Study] | None = None) -> list[SuiteResult]:
    """Per-suite statistics of already-selected records (one parameter set per (suite, model))."""
    if not records:
        return []
    df = _frame(records)
    by_suite: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_suite[r["suite"]].append(r)
    suites = []
    for suite in sorted(by_suite, key=suite_key):
        rs = by_suite[suite]
        head = max(rs, key=newest_key)
        sdf = df.filter(pl.col("suite") == suite)
        models = [_model_result(m, rs, head["tasks"], sdf) for m in sorted({r["model"] for r in rs}, key=model_key)]
        family = head["suite_family"] or parse_instance(suite)[0]
        s = SuiteResult(suite, family, str(head["suite_version"]), parse_instance(suite)[1], head["tasks"], models,
                        suite_meta(family).is_sweep)
        _compare(s)
        _rank_intervals(s)
        if studies is not None:
            for m in s.models:
                m.trials, m.defaults_kept = trials_used(m, s.suite, studies)
        suites.append(s)
    return suites


def _model_result(model: str, rs: list[dict[str, Any]], tasks: list[dict[str, Any]], sdf: pl.DataFrame) -> ModelResult:
    mrs = sorted((r for r in rs if r["model"] == model), key=lambda r: r["seed"])
    mdf = sdf.filter(pl.col("model") == model).sort(["seed", "task_index"])
    task_results = []
    for k, t in enumerate(tasks):
        tdf = mdf.filter(pl.col("task_index") == k)
        boot = [(r.get("test_boot") or [None] * len(tasks))[k] for r in mrs]
        task_results.append(TaskResult(t["name"], t["metric"], bool(t["higher_is_better"]),
                                       tdf["test"].to_list(), rms(tdf["test_se"].to_list()),
                                       boot if boot_matrix(boot) is not None else None))
    scores = [test_score(tasks, [r["test_metrics"][k][t["metric"]] for k, t in enumerate(tasks)]) for r in mrs]
    return ModelResult(
        model=model, tasks=task_results, seeds=[int(r["seed"]) for r in mrs],
        params_source=mrs[0]["params_source"], n_params=int(mrs[0]["n_params"]),
        flops=float(mrs[0]["flops_per_sample"]), train_seconds=float(np.mean([r["train_seconds"] for r in mrs])),
        score=float(np.mean(scores)), scores=[float(x) for x in scores],
        params=json.dumps(mrs[0]["params"], sort_keys=True), derived=_derived(mrs),
    )


#: metrics where lower is better (every other metric of a product, e.g. AUC, is higher-is-better)
LOWER_IS_BETTER = ("mse", "rmse", "logloss")


def _derived(mrs: list[dict[str, Any]]) -> list[TaskResult]:
    """The suite's product metrics (``test_derived``) of one model's seeds, when every seed has them."""
    per_seed = [{d["name"]: d for d in r.get("test_derived") or []} for r in mrs]
    names = [d["name"] for d in mrs[0].get("test_derived") or [] if all(d["name"] in x for x in per_seed)]
    out = []
    for name in names:
        ds = [x[name] for x in per_seed]
        boot = [d.get("boot") for d in ds]
        out.append(TaskResult(name, str(ds[0]["metric"]), ds[0]["metric"] not in LOWER_IS_BETTER,
                              [float(d["value"]) for d in ds], rms([d.get("se") for d in ds]),
                              boot if boot_matrix(boot) is not None else None))
    return out


def _frame(records: list[dict[str, Any]]) -> pl.DataFrame:
    """Selected records as a polars frame, one row per (record, task)."""
    rows = []
    for r in records:
        for k, t in enumerate(r["tasks"]):
            v = r["test_metrics"][k].get(t["metric"])
            se = r["test_se"][k] if k < len(r["test_se"]) else None
            rows.append({"suite": r["suite"], "model": r["model"], "seed": int(r["seed"]), "task_index": k,
                         "task": t["name"], "test": None if v is None else float(v),
                         "test_se": None if se is None else float(se)})
    schema = {"suite": pl.Utf8, "model": pl.Utf8, "seed": pl.Int64, "task_index": pl.Int64, "task": pl.Utf8,
              "test": pl.Float64, "test_se": pl.Float64}
    return pl.DataFrame(rows, schema=schema)


def _compare(s: SuiteResult) -> None:
    """Fill every model's comparisons with `single_task`: Holm over all (model, task) pairs of the suite; the
    product metrics' comparisons are a second Holm family of their own."""
    ref = s.reference
    if ref is None:
        return
    comps: list[Comparison] = []
    derived: list[Comparison] = []
    for m in s.models:
        if m is ref:
            continue
        for tm, ts in zip(m.tasks, ref.tasks):
            m.comparisons.append(comparison(tm, ts, s.suite, m.model))
        ref_derived = {t.name: t for t in ref.derived}
        m.derived_comparisons = [comparison(tm, ref_derived[tm.name], s.suite, m.model) for tm in m.derived
                                 if tm.name in ref_derived]
        comps += m.comparisons
        derived += m.derived_comparisons
    for family in (comps, derived):
        for c, p in zip(family, holm([c.p for c in family])):
            c.p_holm = p
            c.verdict = verdict(c.gain, p)


def comparison(tm: TaskResult, ts: TaskResult, suite: str, model: str) -> Comparison:
    """The gain of ``tm`` over ``ts`` (the reference) with its unadjusted p: the two-level paired bootstrap
    (``paired``) when both sides carry test-set replicates, else Welch over seeds with the unpaired test-set
    standard error sqrt(se_M² + se_S²)."""
    g = gain(tm.mean, ts.mean, tm.higher_is_better)
    se_seeds = math.sqrt(tm.std**2 / tm.n + ts.std**2 / ts.n) if tm.n > 1 and ts.n > 1 else None
    se_test = math.sqrt(tm.se**2 + ts.se**2)
    if tm.boot is not None and ts.boot is not None:
        pg = paired_gain(np.asarray(tm.boot), np.asarray(ts.boot), tm.higher_is_better, rng_for(suite, model, tm.name))
        if pg is not None:
            return Comparison(tm.name, g, relative_gain(g, ts.mean), se_test, se_seeds, pg.p, rule="paired",
                              ci=(pg.low, pg.high))
    return Comparison(tm.name, g, relative_gain(g, ts.mean), se_test, se_seeds, welch_p(tm.values, ts.values))


def _rank_intervals(s: SuiteResult) -> None:
    """Each model's 95 % rank interval in the suite under the bootstrap over seeds (``uncertainty``)."""
    for m, iv in zip(s.models, rank_intervals([m.scores for m in s.models], rng_for(s.suite, "ranks"))):
        m.rank_interval = iv


def trials_used(m: ModelResult, suite: str, studies: list[Study]) -> tuple[str, bool]:
    """The "trials" cell of a tuned model (its study's finished trials) and whether the trial(s) it ran are
    the study's reference trial, i.e. the defaults."""
    src = parse_source(m.params_source)
    if not src.tuned:
        return "–", False
    hit = next((s for s in studies if s.name == src.study), None) or next(
        (s for s in studies if s.model == m.model and s.suite == suite and s.weighting == "static"), None)
    if hit is None:
        return "–", False
    out = f"{hit.finished} ({hit.pruned} pruned)" if hit.pruned else str(hit.finished)
    kept = bool(src.trials) and hit.reference is not None and set(src.trials) == {hit.reference[0]}
    return out + ("; defaults kept" if kept else ""), kept
