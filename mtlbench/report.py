"""Seesaw reports and the generated leaderboard (SPEC.md §4).

Everything here is a pure function of a profile's result files (records, study exports, utilisation
exports): the markdown never reads the clock or the checkout, so regenerating it from the same files
gives the same bytes and ``mtlbench leaderboard --check`` can prove a committed leaderboard is current.

Quantities (per suite, model M against ``single_task`` S, per task):

* gain = M − S for a higher-is-better metric (AUC), S − M for a lower-is-better one (MSE): the PLE
  paper's "MTL gain"; positive = better than single-task. Relative gain = gain / |S| in percent.
* significance: Welch's t-test over seeds (two-sided; seeds of different models are not paired),
  Holm-corrected over every (model, task) comparison of the suite, α = 0.05. Fewer than 2 seeds on
  either side, or no spread on both sides with different means, leaves nothing to test: "n/a".
* test-set uncertainty of a gain: sqrt(se_M² + se_S²), se = the runs' bootstrap standard error over
  test samples (root-mean-square over seeds). Seeds only capture training noise.
* seesaw: significantly better on ≥ 1 task and significantly worse on ≥ 1 other; beats single-task:
  no task significantly worse and ≥ 1 significantly better.
"""
from __future__ import annotations

import json
import math
import os
import re
import shlex
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from tabulate import tabulate

from .names import parse_instance, suite_slug
from .errors import MtlbenchError
from .fsio import atomic_write
from .records import WORKER_DIED, hardware_spelling, load_records, profile_dir, results_root

ALPHA = 0.05
REFERENCE = "single_task"
#: Display order: SPEC.md §1; models not listed follow alphabetically.
MODEL_ORDER = ("single_task", "hard_sharing", "asymmetric", "customized", "cross_stitch", "sluice",
               "mmoe", "omoe", "ml_mmoe", "cgc", "ple")
BETTER, WORSE, NS, NA = "better", "worse", "n.s.", "n/a"
MARK = {BETTER: "▲", WORSE: "▼", NS: "n.s.", NA: "n/a"}


# ====================================================================== statistics (pure)
def gain(model_value: float, reference_value: float, higher_is_better: bool) -> float:
    """MTL gain over single-task: M − S (higher is better) or S − M (lower is better); > 0 = better."""
    return model_value - reference_value if higher_is_better else reference_value - model_value


def relative_gain(g: float, reference_value: float) -> float:
    """Gain in percent of the single-task value."""
    return 100.0 * g / abs(reference_value) if reference_value else float("nan")


def welch_p(a: list[float], b: list[float]) -> float | None:
    """Two-sided Welch's t-test p-value of mean(a) vs mean(b); None when no test is possible
    (fewer than 2 values on a side, or zero spread on both sides with different means)."""
    from scipy import stats

    a, b = [float(x) for x in a], [float(x) for x in b]
    if len(a) < 2 or len(b) < 2:
        return None
    if np.var(a) == 0 and np.var(b) == 0:
        return 1.0 if np.mean(a) == np.mean(b) else None  # identical runs: a tie; else undefined
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return p if math.isfinite(p) else None


def holm(pvalues: list[float | None]) -> list[float | None]:
    """Holm–Bonferroni adjusted p-values (None entries are not tests and are passed through)."""
    idx = [i for i, p in enumerate(pvalues) if p is not None]
    order = sorted(idx, key=lambda i: (pvalues[i], i))
    m, running = len(order), 0.0
    out: list[float | None] = [None] * len(pvalues)
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def verdict(g: float, p_adjusted: float | None, alpha: float = ALPHA) -> str:
    if p_adjusted is None:
        return NA
    if p_adjusted < alpha and g != 0:
        return BETTER if g > 0 else WORSE
    return NS


def seesaw_flag(verdicts: list[str]) -> str:
    """"yes" when significantly better on ≥ 1 task and significantly worse on ≥ 1 other; "n/a" when
    an untestable task leaves it open."""
    if BETTER in verdicts and WORSE in verdicts:
        return "yes"
    return "n/a" if NA in verdicts else "no"


def beats_flag(verdicts: list[str]) -> str:
    """"yes" when no task is significantly worse and ≥ 1 is significantly better."""
    if WORSE in verdicts:
        return "no"
    if NA in verdicts:
        return "n/a"
    return "yes" if BETTER in verdicts else "no"


def test_score(tasks: list[dict[str, Any]], metrics: list[float]) -> float:
    """SPEC.md §2's score on test metrics: − mean_k log(err_k), err = 1 − AUC or MSE (higher is better)."""
    errs = []
    for t, v in zip(tasks, metrics):
        err = 1.0 - v if t["metric"] == "auc" else v
        errs.append(max(err, 1e-12))
    return -float(np.mean(np.log(errs)))


# ====================================================================== record selection
def _ts(r: dict[str, Any]) -> tuple[str, str]:
    return (str(r.get("timestamp", "")), str(r.get("key", "")))


def is_tuned(source: str) -> bool:
    return source != "default"


def select_records(records: list[dict[str, Any]], variant: str = "best") -> tuple[list[dict[str, Any]], list[str]]:
    """Which records a report compares, and notices about the ones it leaves out.

    Per suite only the data of its newest record counts (older suite versions / checksums are stale).
    Per (suite, model) one parameter set: ``variant="best"`` prefers tuned parameters (any source but
    "default") over defaults, then the newest; ``"default"`` keeps only default-parameter runs.
    """
    notices: list[str] = []
    by_suite: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_suite[r["suite"]].append(r)
    chosen: list[dict[str, Any]] = []
    for suite in sorted(by_suite):
        rs = by_suite[suite]
        newest = max(rs, key=_ts)
        data_id = (newest["suite_version"], newest["data_checksum"])
        current = [r for r in rs if (r["suite_version"], r["data_checksum"]) == data_id]
        if len(current) < len(rs):
            notices.append(f"{suite}: {len(rs) - len(current)} record(s) of older data (suite version or checksum) are not compared.")
        by_model: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in current:
            by_model[r["model"]].append(r)
        for model in sorted(by_model):
            groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for r in by_model[model]:
                groups[json.dumps([r["params_source"], r["params"]], sort_keys=True)].append(r)
            cands = list(groups.values())
            if variant == "default":
                cands = [g for g in cands if not is_tuned(g[0]["params_source"])]
                if not cands:
                    continue
            newest = lambda g: max(_ts(r) for r in g)  # noqa: E731
            best = max(cands, key=lambda g: (is_tuned(g[0]["params_source"]), newest(g)))
            if variant == "best" and len(cands) > 1:
                defaults = [g for g in cands if not is_tuned(g[0]["params_source"])]
                shown = [best] + ([max(defaults, key=newest)] if defaults and best not in defaults else [])
                left = sum(len(g) for g in cands if all(g is not x for x in shown))
                if left:
                    notices.append(f"{suite}/{model}: {left} record(s) with other hyper-parameters are not compared "
                                   f"(this report uses {source_label(best[0]['params_source'])}).")
            seen: dict[int, dict[str, Any]] = {}
            for r in sorted(best, key=_ts):  # one record per seed; the newest wins
                seen[int(r["seed"])] = r
            chosen.extend(seen[s] for s in sorted(seen))
    return chosen, notices


def source_label(source: str) -> str:
    if source == "default":
        return "default"
    if source.startswith("study:"):
        return "tuned (" + source.removeprefix("study:") + ")"
    return source


# ====================================================================== report model
@dataclass
class TaskResult:
    name: str
    metric: str
    higher_is_better: bool
    values: list[float]  # test metric per seed
    se: float  # test-set standard error (rms over seeds)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def std(self) -> float | None:
        return float(np.std(self.values, ddof=1)) if self.n > 1 else None


@dataclass
class Comparison:
    task: str
    gain: float
    rel_gain: float
    se_test: float  # test-set standard error of the gain
    se_seeds: float | None  # standard error of the gain over seeds (Welch)
    p: float | None
    p_holm: float | None = None
    verdict: str = NA


@dataclass
class ModelResult:
    model: str
    tasks: list[TaskResult]
    seeds: list[int]
    params_source: str
    n_params: int
    flops: float
    train_seconds: float
    score: float  # mean test score over seeds (ranking)
    scores: list[float] = field(default_factory=list)  # test score per seed, in seed order
    params: str = ""  # the run parameters (canonical JSON): equal strings = the same configuration trained
    comparisons: list[Comparison] = field(default_factory=list)
    trials: str = "–"
    defaults_kept: bool = False  # tuned, and the trial(s) it ran are its study's reference trial (the defaults)

    @property
    def verdicts(self) -> list[str]:
        return [c.verdict for c in self.comparisons]

    @property
    def seesaw(self) -> str:
        return seesaw_flag(self.verdicts) if self.comparisons else "–"

    @property
    def beats(self) -> str:
        return beats_flag(self.verdicts) if self.comparisons else "–"


@dataclass
class SuiteResult:
    suite: str
    family: str
    version: str
    params: dict[str, Any]
    tasks: list[dict[str, Any]]
    models: list[ModelResult]
    is_sweep: bool

    @property
    def reference(self) -> ModelResult | None:
        return next((m for m in self.models if m.model == REFERENCE), None)

    @property
    def slug(self) -> str:
        return slug(self.suite)


@dataclass
class Study:
    name: str
    model: str
    suite: str
    finished: int
    pruned: int
    budget: int | None
    values: list[tuple[int, float]]  # (trial number, objective) of completed trials
    params: list[tuple[dict[str, Any], float]]  # (params, objective) of completed trials
    direction: str  # "maximize" | "minimize"
    file: str
    seconds: float = 0.0  # wall time summed over the study's trials (one worker each)
    timed: int = 0  # trials with a recorded duration (any state), except those of killed workers
    untimed_dead: int = 0  # trials of killed workers: failed when a later worker noticed, so their duration is unknown
    pruner: str | None = None  # "hyperband", "halving", "median" or "none"
    param_budget_rule: str | None = None  # how the study's parameter budget was set (same rule for every model)
    reference_rule: str | None = None  # the reference trial (the model's defaults) every study gets on top
    reference: tuple[int, float | None] | None = None  # (trial number, objective) of the reference trial
    chosen: tuple[int, ...] = ()  # the trial(s) `run` takes: the best one, or each task's best (single_task)

    @property
    def kept_defaults(self) -> str:
        """Whether the run parameters are the reference's: "defaults", "search" or "mixed" (task-wise)."""
        if self.reference is None or not self.chosen:
            return "–"
        hits = sum(n == self.reference[0] for n in self.chosen)
        return "defaults" if hits == len(self.chosen) else "search" if hits == 0 else "mixed"


@dataclass
class Utilisation:
    suite: str
    model: str
    seed: int
    config: dict[str, Any]
    banks: dict[str, dict[str, Any]]  # name -> {mean, std, rows, cols, level}
    file: str
    tasks: tuple[str, ...] = ()  # the suite's task names (a bank whose rows are these is a task-gate bank)

    @property
    def slug(self) -> str:
        return f"{slug(self.suite)}__{self.model}"


@dataclass
class Report:
    profile: str
    suites: list[SuiteResult]
    records: list[dict[str, Any]]  # the compared records
    all_records: list[dict[str, Any]]
    notices: list[str]
    studies: list[Study]
    utilisation: list[Utilisation]
    default_suites: list[SuiteResult] | None = None  # default-params comparison when tuned runs exist


slug = suite_slug


def model_key(m: str) -> tuple[int, str]:
    return (MODEL_ORDER.index(m), m) if m in MODEL_ORDER else (len(MODEL_ORDER), m)


def suite_key(name: str) -> tuple:
    family, params = parse_instance(name)
    return (family, tuple((k, (0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v))) for k, v in sorted(params.items())))


def _is_sweep(family: str) -> bool:
    try:
        from .suites import get_family

        return bool(get_family(family).is_sweep)
    except MtlbenchError:
        return False


def _rms(xs: list[float]) -> float:
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    return float(math.sqrt(np.mean(np.square(xs)))) if xs else float("nan")


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
        head = max(rs, key=_ts)
        tasks = head["tasks"]
        models = []
        sdf = df.filter(pl.col("suite") == suite)
        for model in sorted({r["model"] for r in rs}, key=model_key):
            mrs = sorted((r for r in rs if r["model"] == model), key=lambda r: r["seed"])
            mdf = sdf.filter(pl.col("model") == model).sort(["seed", "task_index"])
            task_results = []
            for k, t in enumerate(tasks):
                tdf = mdf.filter(pl.col("task_index") == k)
                task_results.append(TaskResult(t["name"], t["metric"], bool(t["higher_is_better"]),
                                               tdf["test"].to_list(), _rms(tdf["test_se"].to_list())))
            scores = [test_score(tasks, [r["test_metrics"][k][t["metric"]] for k, t in enumerate(tasks)]) for r in mrs]
            models.append(ModelResult(
                model=model, tasks=task_results, seeds=[int(r["seed"]) for r in mrs],
                params_source=mrs[0]["params_source"], n_params=int(mrs[0]["n_params"]),
                flops=float(mrs[0]["flops_per_sample"]), train_seconds=float(np.mean([r["train_seconds"] for r in mrs])),
                score=float(np.mean(scores)), scores=[float(x) for x in scores],
                params=json.dumps(mrs[0]["params"], sort_keys=True),
            ))
        family, _ = parse_instance(suite)
        s = SuiteResult(suite, head["suite_family"] or family, str(head["suite_version"]), parse_instance(suite)[1],
                        tasks, models, _is_sweep(head["suite_family"] or family))
        _compare(s)
        if studies is not None:
            for m in s.models:
                m.trials, m.defaults_kept = trials_used(m, s.suite, studies)
        suites.append(s)
    return suites


def _frame(records: list[dict[str, Any]]) -> pl.DataFrame:
    """Selected records as a polars frame, one row per (record, task) (as records.load_results)."""
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
    ref = s.reference
    if ref is None:
        return
    comps: list[Comparison] = []
    for m in s.models:
        if m is ref:
            continue
        for tm, ts in zip(m.tasks, ref.tasks):
            g = gain(tm.mean, ts.mean, tm.higher_is_better)
            se_seeds = None
            if tm.n > 1 and ts.n > 1:
                se_seeds = math.sqrt(tm.std**2 / tm.n + ts.std**2 / ts.n)
            c = Comparison(tm.name, g, relative_gain(g, ts.mean), math.sqrt(tm.se**2 + ts.se**2), se_seeds,
                           welch_p(tm.values, ts.values))
            m.comparisons.append(c)
            comps.append(c)
    for c, p in zip(comps, holm([c.p for c in comps])):
        c.p_holm = p
        c.verdict = verdict(c.gain, p)


# ====================================================================== studies and utilisation exports
def load_studies(profile: str, results_dir: str | Path | None = None) -> list[Study]:
    """Study exports ``results/<profile>/studies/*.json`` (read leniently: the tuning module owns the format)."""
    d = profile_dir(profile, results_dir) / "studies"
    out: list[Study] = []
    if not d.is_dir():
        return out
    for p in sorted(d.glob("*.json")):
        try:
            blob = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            warnings.warn(f"ignoring unreadable study export {p}", stacklevel=2)
            continue
        for st in blob if isinstance(blob, list) else blob.get("studies", [blob]) if isinstance(blob, dict) else []:
            s = _parse_study(st, p.name)
            if s is not None:
                out.append(s)
    return sorted(out, key=lambda s: (suite_key(s.suite) if s.suite else (), model_key(s.model), s.name))


def _parse_study(st: Any, file: str) -> Study | None:
    """One study summary as ``mtlbench.tuning.export_study`` writes it (older / foreign shapes leniently)."""
    from .params import run_trials

    if not isinstance(st, dict):
        return None
    attrs = {**(st.get("user_attrs") or {}), **(st.get("budget") or {}), **st}
    name = str(attrs.get("study") or attrs.get("study_name") or attrs.get("name") or Path(file).stem)
    trials = [t for t in (st.get("trials") or []) if isinstance(t, dict)]
    directions = attrs.get("directions") or [attrs.get("direction", "maximize")]
    direction = str(directions[0]).lower().removeprefix("studydirection.") if directions else "maximize"
    single = len(directions) <= 1 and not attrs.get("multi_objective")
    values, params = [], []
    finished = pruned = 0
    reference = None
    for t in trials:
        state = str(t.get("state", "")).upper().removeprefix("TRIALSTATE.")
        counted = t.get("counted", state in ("COMPLETE", "PRUNED"))
        finished += bool(counted)
        pruned += bool(counted) and state == "PRUNED"
        v = t.get("value")
        if (t.get("user_attrs") or {}).get("reference"):  # the defaults, beside the search: not one of its trials
            if state == "COMPLETE":
                reference = (int(t.get("number", -1)), float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None)
            continue
        if single and state == "COMPLETE" and isinstance(v, (int, float)) and math.isfinite(v):
            values.append((int(t.get("number", len(values))), float(v)))
            params.append((dict(t.get("params") or {}), float(v)))
    if not trials:
        finished = int(attrs.get("n_counted", 0) or 0)
    alive = [t for t in trials if not _worker_died(t)]  # killed workers' trials have no meaningful duration
    budget = attrs.get("n_trials")
    chosen = run_trials(st).numbers  # the same rule as `mtlbench run` (StudyParams)
    return Study(name=name, model=str(attrs.get("model") or ""), suite=str(attrs.get("suite") or ""),
                 finished=finished, pruned=pruned, budget=int(budget) if isinstance(budget, (int, float)) else None,
                 values=values, params=params, direction=direction if single else "pareto", file=file,
                 seconds=float(sum(t.get("duration_s") or 0.0 for t in alive)),
                 timed=sum(1 for t in alive if t.get("duration_s")),
                 untimed_dead=len(trials) - len(alive),
                 pruner=str(attrs["pruner"]) if attrs.get("pruner") else None,
                 param_budget_rule=str(attrs["param_budget_rule"]) if attrs.get("param_budget_rule") else None,
                 reference_rule=str(attrs["reference_trial"]) if attrs.get("reference_trial") else None,
                 reference=reference, chosen=chosen)


def _worker_died(trial: dict[str, Any]) -> bool:
    """A trial whose worker was killed (``mtlbench.tuning.fail_dead_trials``): optuna's duration runs to when a
    later worker noticed (possibly a sitting later), not to when it stopped computing."""
    return str((trial.get("user_attrs") or {}).get("fail_reason", "")).endswith(WORKER_DIED)


def trials_used(m: ModelResult, suite: str, studies: list[Study]) -> tuple[str, bool]:
    """The "trials" cell of a tuned model (its study's finished trials) and whether the trial(s) it ran are
    the study's reference trial, i.e. the defaults."""
    if not is_tuned(m.params_source):
        return "–", False
    src = m.params_source.removeprefix("study:")
    name = src.split("#")[0]
    hit = next((s for s in studies if s.name == name), None) or next(
        (s for s in studies if s.model == m.model and s.suite == suite), None)
    if hit is None:
        return "–", False
    out = f"{hit.finished} ({hit.pruned} pruned)" if hit.pruned else str(hit.finished)
    used = [int(n) for n in re.findall(r"\d+", src.split("#", 1)[1])] if "#" in src else []
    kept = bool(used) and hit.reference is not None and set(used) == {hit.reference[0]}
    return out + ("; defaults kept" if kept else ""), kept


def utilisation_dir(profile: str, results_dir: str | Path | None = None) -> Path:
    return profile_dir(profile, results_dir) / "utilisation"


def load_utilisation(profile: str, results_dir: str | Path | None = None) -> list[Utilisation]:
    from .utilisation import ordered

    d = utilisation_dir(profile, results_dir)
    out: list[Utilisation] = []
    if not d.is_dir():
        return out
    for p in sorted(d.glob("*.json")):
        try:
            u = json.loads(p.read_text())
            out.append(Utilisation(u["suite"], u["model"], int(u.get("seed", 0)), u.get("config", {}), ordered(u["banks"]), p.name,
                                   tuple(u.get("tasks", ()))))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError):
            warnings.warn(f"ignoring unreadable utilisation export {p}", stacklevel=2)
    return sorted(out, key=lambda u: (suite_key(u.suite), model_key(u.model)))


# ====================================================================== building the report
def label_views(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One dict per (record, label): a record requested under several labels (``params_sources``) is seen
    once per label, with that label as its ``params_source``, so selection by label sees every label. The
    views after the first are marked ``extra["reused"] = {"key", "params_source"}`` (the record and its
    training's label): the same training, whose time the compute line counts once."""
    out = []
    for r in records:
        labels = r.get("params_sources") or [r["params_source"]]
        out.append({**r, "params_source": labels[0]})
        for label in labels[1:]:
            reused = {"key": r["key"], "params_source": labels[0]}
            out.append({**r, "params_source": label, "extra": {**(r.get("extra") or {}), "reused": reused}})
    return out


def build_report(profile: str, results_dir: str | Path | None = None) -> Report:
    from .profiles import get_profile

    get_profile(profile)  # unknown profile: one-line error with did-you-mean
    all_records = label_views(load_records(profile, results_dir))
    if not all_records:
        where = profile_dir(profile, results_dir) / "records"
        raise MtlbenchError(f"no result records for profile {profile!r} in {where}; "
                            f"run e.g. `mtlbench run --all --profile {profile}` first (or pass --results-dir).")
    studies = load_studies(profile, results_dir)
    chosen, notices = select_records(all_records, "best")
    suites = build_suites(chosen, studies)
    rep = Report(profile, suites, chosen, all_records, notices, studies, load_utilisation(profile, results_dir))
    if any(is_tuned(r["params_source"]) for r in chosen):
        defaults, _ = select_records(all_records, "default")
        if defaults:
            rep.default_suites = build_suites(defaults, studies)
    return rep


def ranking(suites: list[SuiteResult]) -> tuple[list[dict[str, Any]], list[str]]:
    """Overall ranking: within each suite, models are ranked by their mean test score (SPEC.md §2's
    − mean log error, on test); a sweep family is one family (its points' ranks are averaged);
    the overall rank is the mean over families."""
    from scipy.stats import rankdata

    fam_ranks: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    beats: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    seesaw: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    families: list[str] = []
    for s in suites:
        fam = s.family if s.is_sweep else s.suite
        if fam not in families:
            families.append(fam)
        scores = [m.score if math.isfinite(m.score) else -math.inf for m in s.models]  # no score (NaN): last
        for m, r in zip(s.models, rankdata([-x for x in scores], method="average")):
            fam_ranks[m.model][fam].append(float(r))
            if s.reference is not None and m.model != REFERENCE:
                beats[m.model][fam].append(m.beats)
                seesaw[m.model][fam].append(m.seesaw)
    rows = []
    for model in sorted(fam_ranks, key=model_key):
        per = {f: float(np.mean(v)) for f, v in fam_ranks[model].items()}
        rows.append({"model": model, "mean_rank": float(np.mean(list(per.values()))), "per_family": per,
                     "beats": dict(beats[model]), "seesaw": dict(seesaw[model])})
    rows.sort(key=lambda r: (r["mean_rank"], model_key(r["model"])))
    return rows, families


# ====================================================================== formatting helpers
def decimals(ref: float) -> int:
    """Decimals that show about 4 significant digits of a value of the size of ``ref``."""
    if not ref or not math.isfinite(ref):
        return 4
    return int(min(8, max(2, 3 - math.floor(math.log10(abs(ref))))))


def fnum(x: float | None, d: int, sign: bool = False) -> str:
    """``x`` with ``d`` decimals (``sign``: a leading + or −; a value that rounds to zero has none)."""
    if x is None or not math.isfinite(x):
        return "–"
    if round(x, d) == 0:
        return f"{0:.{d}f}"
    return f"{x:+.{d}f}" if sign else f"{x:.{d}f}"


def fp(p: float | None) -> str:
    if p is None:
        return ""
    return "p<0.001" if p < 0.001 else f"p={p:.2g}"


def human(x: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"{x / div:.3g} {unit}"
    return f"{x:.3g}"


def md_table(headers: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    return tabulate(rows, headers=headers, tablefmt="pipe", disable_numparse=True,
                    colalign=align or ["left"] * len(headers))


def code(s: str) -> str:
    return f"`{s}`"


def direction_arrow(t: dict[str, Any]) -> str:
    return "↑" if t["higher_is_better"] else "↓"


# ====================================================================== markdown
def chart_dir(profile: str, results_dir: str | Path | None = None) -> Path:
    return profile_dir(profile, results_dir) / "charts"


def profiles_with_records(results_dir: str | Path | None = None) -> list[str]:
    """Profiles whose records folder holds at least one record (in the order of PROFILES)."""
    from .profiles import PROFILES

    found = [p for p in PROFILES if any((profile_dir(p, results_dir) / "records").glob("*.json"))]
    if not found:
        raise MtlbenchError(f"no result records under {results_root(results_dir)}; run e.g. `mtlbench run --all --profile quick` "
                            "first, or pass --results-dir / --profile.")
    return found


def leaderboard_path(profile: str, results_dir: str | Path | None = None) -> Path:
    """Standard profile: the top-level ``leaderboard.md`` (next to the results folder); any other
    profile: ``results/<profile>/leaderboard.md`` (never the top-level one)."""
    root = results_root(results_dir)
    if profile == "standard":
        return root.absolute().parent / "leaderboard.md"
    return profile_dir(profile, results_dir) / "leaderboard.md"


def chart_link_prefix(profile: str, results_dir: str | Path | None = None) -> str:
    """Path of the charts folder relative to the leaderboard file (posix, deterministic)."""
    rel = os.path.relpath(chart_dir(profile, results_dir).absolute(), leaderboard_path(profile, results_dir).parent)
    return Path(rel).as_posix()


def _hardware(records: list[dict[str, Any]]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for r in records:
        hw = r.get("extra", {}).get("hardware") if isinstance(r.get("extra"), dict) else None
        threads = r.get("threads", "?")
        desc = hardware_spelling(hw) if hw else f"{r.get('device', '?')}, {threads} thread{'' if threads == 1 else 's'}"
        counts[desc] += 1
    return "; ".join(f"{k} ({v} run{'' if v == 1 else 's'})" for k, v in sorted(counts.items()))


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def _compute(rep: Report) -> str:
    """Total compute behind the profile: training time of every record plus every tuning trial."""
    trained = [r for r in rep.all_records if "reused" not in (r.get("extra") or {})]  # reused: trained once, counted once
    train = sum(float(r.get("train_seconds") or 0.0) for r in trained)
    threads = sorted({int(r.get("threads") or 0) for r in rep.all_records} - {0})
    out = f"{_hours(train)} of training summed over {len(trained)} runs"
    if len(trained) < len(rep.all_records):
        n = len(rep.all_records) - len(trained)
        out += (f" ({n} more record{'s' * (n != 1)} reuse an identical earlier training: the same parameters and seed "
                "on the same machine, under another parameter source)")
    if rep.studies:
        n = sum(s.timed for s in rep.studies)
        dead = sum(s.untimed_dead for s in rep.studies)
        untimed = f"; {dead} trial{'s' if dead != 1 else ''} of killed workers not timed" if dead else ""
        out += f" + {_hours(sum(s.seconds for s in rep.studies))} summed over {n} tuning trials (pruned and failed included{untimed})"
    return out + (f"; {'/'.join(map(str, threads))} CPU thread{'s' if threads != [1] else ''} per run" if threads else "")


def _versions(records: list[dict[str, Any]]) -> str:
    vals: dict[str, set[str]] = defaultdict(set)
    for r in records:
        for k, v in (r.get("versions") or {}).items():
            vals[k].add(str(v))
    return ", ".join(f"{k} {' / '.join(sorted(v))}" for k, v in sorted(vals.items()))


def _suite_args(suites: list[str], profile: str, files: dict[str, str] | None = None) -> str:
    """``--suite`` options for these instances; a family whose every profile point is present is named once;
    a suite read from a user suite file (``files``: suite -> path) is given as ``--suite-file PATH``."""
    from .profiles import get_profile
    from .suites import expand_suites

    prof = get_profile(profile)
    files = files or {}
    fams: dict[str, list[str]] = defaultdict(list)
    for s in sorted(suites, key=suite_key):
        if s not in files:
            fams[parse_instance(s)[0]].append(s)
    args: list[str] = []
    for fam, inst in fams.items():
        try:
            full = expand_suites([fam], prof)
        except MtlbenchError:
            full = None
        args.extend([fam] if full is not None and sorted(full) == sorted(inst) else inst)
    return " ".join([*(f"--suite {shlex.quote(a)}" for a in args),
                     *(f"--suite-file {shlex.quote(files[s])}" for s in sorted(suites, key=suite_key) if s in files)])


def _grouped(per_suite: dict[str, tuple]) -> list[tuple[tuple, list[str]]]:
    """Suites grouped by what is run on them (one command per group), in suite order."""
    groups: dict[tuple, list[str]] = {}
    for suite in sorted(per_suite, key=suite_key):
        groups.setdefault(per_suite[suite], []).append(suite)
    return list(groups.items())


def study_suite(source: str) -> str | None:
    """The suite a ``study:<model>@<suite>@<profile>[@mo]#<trial>`` source was tuned on (None otherwise)."""
    if not source.startswith("study:"):
        return None
    parts = source.removeprefix("study:").split("#", 1)[0].split("@")
    if parts and parts[-1] == "mo":
        parts = parts[:-1]
    if len(parts) < 3:
        return None
    return "@".join(parts[1:-1]) or None


def _borrowed(recs: list[dict[str, Any]]) -> str | None:
    """Which suites ran at parameters tuned on another suite (sweep points without a study of their own take
    the nearest tuned point's: ``tuning.nearest_sweep_summary``), grouped by the suite tuned; None if none."""
    lenders: dict[str, set[str]] = defaultdict(set)
    for r in recs:
        tuned_on = study_suite(r["params_source"])
        if tuned_on and tuned_on != r["suite"]:
            lenders[tuned_on].add(r["suite"])
    if not lenders:
        return None
    groups = [f"{', '.join(f'`{b}`' for b in sorted(lenders[s], key=suite_key))} ← `{s}`"
              for s in sorted(lenders, key=suite_key)]
    return ("suites without a study of their own run at the parameters tuned on the nearest sweep point "
            "(per model): " + "; ".join(groups))


def _commands(rep: Report) -> list[str]:
    """The commands that reproduce the compared records (one ``run`` per group of suites that ran the
    same models with the same number of seeds)."""
    P = rep.profile
    cmds = ["pip install -e ."]
    files = {r["suite"]: str(r["suite_params"]["suite_file"]) for r in rep.records
             if isinstance(r.get("suite_params"), dict) and r["suite_params"].get("suite_file")}
    tuned: dict[str, set[str]] = defaultdict(set)
    for r in rep.records:
        suite = study_suite(r["params_source"])
        if suite:  # the suite the study was tuned on (a sweep point may borrow another point's study)
            tuned[suite].add(r["model"])
    if tuned:
        budgets = sorted({s.budget for s in rep.studies if s.budget})
        trials = f" --trials {budgets[-1]}" if budgets else ""
        for models, suites in _grouped({s: tuple(sorted(m, key=model_key)) for s, m in tuned.items()}):
            cmds.append(f"mtlbench tune {' '.join(models)} {_suite_args(suites, P)}{trials} --profile {P}")
    # every compared run at defaults: say so (studies may exist by the time someone re-runs the command)
    best = " --params-from default" if all(r["params_source"] == "default" for r in rep.records) else ""
    for variant, suites_ in ((best, rep.suites), (" --params-from default", rep.default_suites or [])):
        per_suite = {s.suite: (tuple(m.model for m in s.models), max(len(m.seeds) for m in s.models)) for s in suites_}
        for (models, n_seeds), suites in _grouped(per_suite):
            cmds.append(f"mtlbench run {' '.join(models)} {_suite_args(suites, P, files)} --seeds {n_seeds} --profile {P}{variant}")
    if rep.utilisation:
        per_suite = {u.suite: () for u in rep.utilisation}
        for models in sorted({tuple(u.model for u in rep.utilisation if u.suite == s) for s in per_suite}):
            us = [s for s in per_suite if tuple(u.model for u in rep.utilisation if u.suite == s) == models]
            cmds.append(f"mtlbench utilisation {' '.join('--model ' + m for m in models)} {_suite_args(us, P)} --profile {P}")
    cmds.append(f"mtlbench report --profile {P}")
    return cmds


def render_markdown(rep: Report, chart_prefix: str = "charts") -> str:
    """The leaderboard as markdown. Deterministic: a pure function of the report's files."""
    from . import charts as C
    from .profiles import get_profile

    prof = get_profile(rep.profile)
    recs = rep.records
    newest = max(recs, key=_ts)
    seeds = sorted({int(r["seed"]) for r in recs})
    per_run = sorted({len(m.seeds) for s in rep.suites for m in s.models})
    caps = sorted({int(r["params"].get("train", {}).get("max_epochs", 0)) for r in recs})
    patience = sorted({int(r["params"].get("train", {}).get("patience", 0)) for r in recs})
    commits = sorted({r["commit"] for r in recs})
    n_tuned = sum(is_tuned(r["params_source"]) for r in recs)
    if rep.studies:
        budgets = sorted({s.budget for s in rep.studies if s.budget} or {s.finished for s in rep.studies})
        pruners = sorted({s.pruner for s in rep.studies if s.pruner})
        rules = sorted({s.param_budget_rule for s in rep.studies if s.param_budget_rule})
        refs = sorted({s.reference_rule for s in rep.studies if s.reference_rule})
        how = "; ".join([f"TPE sampler, {' / '.join(pruners)} pruning on the per-epoch validation score, pruned trials count"]
                        * bool(pruners) + [f"parameter budget {' / '.join(rules)}"] * bool(rules) + refs)
        budget = (f"{' / '.join(map(str, budgets))} trials per (model, suite) study, the same for every model"
                  + (f" ({how})" if how else "") + f"; {len(rep.studies)} stud{'y' if len(rep.studies) == 1 else 'ies'}; "
                  f"{n_tuned} of {len(recs)} compared runs use tuned parameters")
    elif n_tuned:
        budget = f"{n_tuned} of {len(recs)} compared runs use tuned parameters (no study export found)"
    else:
        budget = "none: every run uses the models' default hyper-parameters"
    header = [
        ["profile", f"{rep.profile} ({prof.description})"],
        ["seeds", f"{'–'.join(map(str, [per_run[0], per_run[-1]])) if len(per_run) > 1 else per_run[0]} per (suite, model); "
                  f"seed ids {', '.join(map(str, seeds))}"],
        ["tuning budget", budget],
        *([["borrowed tuning", lent]] if (lent := _borrowed(recs)) else []),
        ["epoch cap", f"{' / '.join(map(str, caps))} (early stopping on the validation score, patience {' / '.join(map(str, patience))})"],
        ["hardware", _hardware(recs)],
        ["versions", _versions(recs)],
        ["commit", f"{newest['commit']}" + (f" (records span {len(commits)} commits: {', '.join(commits)})" if len(commits) > 1 else "")],
        ["date", f"{newest['timestamp']} (newest record)"],
        ["runs compared", f"{len(recs)} of {len(rep.all_records)} records; {len(rep.suites)} suites; "
                          f"{len({r['model'] for r in recs})} models"],
        ["compute", _compute(rep)],
    ]
    out: list[str] = [
        f"# mtlbench leaderboard — profile `{rep.profile}`",
        "",
        "<!-- Generated by `mtlbench report` from the result records; do not edit by hand: "
        "`mtlbench leaderboard --check` fails when this file differs from what the records give. -->",
        "",
        md_table(["", ""], header),
        "",
        "Reproduce (the exact commands; runs that already exist are skipped, so they resume):",
        "",
        "```sh",
        *_commands(rep),
        "```",
        "",
        "## How to read the tables",
        "",
        "- **metric ± std**: test metric, mean ± standard deviation over seeds (↑ higher is better, ↓ lower is better).",
        "- **gain**: the PLE paper's MTL gain over `single_task` on the same suite: `M − S` for AUC, `S − M` for MSE, "
        "so a positive gain is always better than single-task; **rel.** = gain / |S| in %.",
        "- **±test**: test-set standard error of the gain, `sqrt(se_M² + se_S²)`; `se` is each run's bootstrap "
        "standard error over test samples (100 resamples), root-mean-square over seeds. Seeds only capture "
        "training noise; this is the uncertainty of the test set itself (conservative: both models are scored "
        "on the same test samples).",
        f"- **sig.**: Welch's t-test over seeds (two-sided; seeds of different models are not paired), Holm-corrected "
        f"over all (model, task) comparisons of the suite, α = {ALPHA}: ▲ significantly better, ▼ significantly worse, "
        "n.s. not significant, n/a no test possible (fewer than 2 seeds on a side, or no spread on either side). "
        "The p shown is Holm-adjusted.",
        "- **seesaw**: significantly better on ≥ 1 task and significantly worse on ≥ 1 other. **beats single-task**: "
        "no task significantly worse and ≥ 1 significantly better. n/a: a task could not be tested.",
        "- **params**: `default` hyper-parameters or `tuned` (study and trial); **trials**: finished trials of that study "
        "(same budget for every model of a suite). `single_task` selects each task's epoch by that task's own "
        "validation score; tuned, its K networks each use their own task's best trial of its study (same number "
        "of trials, each trial trains all K networks): params `…#t3,t7` name the trial of task 1, task 2, ….",
        "",
    ]
    out += _render_ranking(rep.suites, "Overall ranking", chart_prefix)
    if rep.default_suites:
        out += _render_ranking(rep.default_suites, "Overall ranking with default hyper-parameters", chart_prefix)
    from .findings import render_findings

    out += render_findings(rep)
    specs = C.chart_specs(rep)
    by_key = {s.key: s for s in specs}
    out += ["## Suites", ""]
    if specs:
        out += [f"Interactive charts (offline, plotly.js shipped beside them): [{chart_prefix}/report.html]({chart_prefix}/report.html).", ""]
    for s in rep.suites:
        out += _render_suite(s, chart_prefix, by_key)
    sweep = [sp for sp in specs if sp.kind == "sweep"]
    if sweep:
        out += ["## Correlation sweep", ""]
        for sp in sweep:
            out += [f"{sp.caption}", "", f"![{sp.title}]({chart_prefix}/{sp.name}.png)", ""]
    util = [sp for sp in specs if sp.kind == "utilisation"]
    if util:
        out += ["## Expert utilisation", "",
                "Fixed comparable configuration (SPEC.md §4): MMoE 3 experts; CGC and PLE 1 task-specific expert per task "
                "and 1 shared expert; ML-MMoE and PLE with 2 levels, shown per level. Mean ± std over the test set of "
                "the weight each gate puts on each expert (one training run, default training parameters); a blank cell is an "
                "expert that gate cannot mix.", ""]
        for sp in util:
            out += [f"### {sp.title}", "", f"![{sp.title}]({chart_prefix}/{sp.name}.png)", ""]
    if rep.studies:
        out += _render_studies(rep, chart_prefix, [sp for sp in specs if sp.kind == "tuning"])
    if rep.notices:
        out += ["## Notices", ""] + [f"- {n}" for n in rep.notices] + [""]
    return "\n".join(out).rstrip("\n") + "\n"


def _render_ranking(suites: list[SuiteResult], title: str, chart_prefix: str) -> list[str]:
    rows, families = ranking(suites)
    if not rows:
        return []
    n_points = {f: sum(1 for s in suites if (s.family if s.is_sweep else s.suite) == f) for f in families}

    def count(flags: dict[str, list[str]]) -> str:
        fams = [f for f in families if f in flags]
        if not fams:
            return "–"
        yes = 0
        detail = []
        for f in fams:
            v = flags[f]
            if n_points[f] > 1 or len(v) > 1:
                k = sum(x == "yes" for x in v)
                yes += k * 2 > len(v)
                detail.append(f"{f}: {k}/{len(v)} points")
            else:
                yes += v[0] == "yes"
        return f"{yes}/{len(fams)}" + (f" ({'; '.join(detail)})" if detail else "")

    headers = ["rank", "model", "mean rank", *[f if n_points[f] == 1 else f"{f} (sweep, {n_points[f]} pts)" for f in families],
               "beats single-task", "seesaw"]
    table = []
    for i, r in enumerate(rows, 1):
        table.append([str(i), code(r["model"]), f"{r['mean_rank']:.2f}",
                      *[f"{r['per_family'][f]:.2f}".rstrip("0").rstrip(".") if f in r["per_family"] else "–" for f in families],
                      count(r["beats"]), count(r["seesaw"])])
    partial = [f"`{r['model']}` ({len(r['per_family'])} of {len(families)})" for r in rows if len(r["per_family"]) < len(families)]
    note = ([f"Not every model ran on every suite family; these mean ranks cover fewer families and are not comparable "
             f"with the rest: {', '.join(partial)}.", ""] if partial else [])
    return [
        f"## {title}",
        "",
        *note,
        "Rank within each suite by the mean test score over seeds (SPEC.md §2's `− mean_k log(err_k)`, err = 1 − AUC "
        "or MSE; 1 = best, ties share the mean rank); a sweep counts as one suite family (its points' ranks are "
        "averaged); mean rank over families. **beats single-task** / **seesaw**: in how many suite families "
        "(a sweep counts when it holds on more than half its points).",
        "",
        md_table(headers, table, ["right", "left", "right", *["right"] * len(families), "left", "left"]),
        "",
    ]


def _render_suite(s: SuiteResult, chart_prefix: str, specs: dict[str, Any]) -> list[str]:
    ref = s.reference
    out = [f"### `{s.suite}`", "",
           f"Suite family `{s.family}` version {s.version}; tasks: "
           + ", ".join(f"`{t['name']}` ({t['kind']}, {t['metric'].upper()} {direction_arrow(t)})" for t in s.tasks) + ".", ""]
    digits = {t["name"]: decimals(ref.tasks[k].mean if ref else s.models[0].tasks[k].mean) for k, t in enumerate(s.tasks)}
    if ref is None:
        out += [f"> **No `single_task` results for this suite: gains, significance and the seesaw flags cannot be "
                f"computed.** Run `mtlbench run single_task --suite {shlex.quote(s.suite)}` for this profile, then "
                "`mtlbench report`.", ""]
    headers = ["model"]
    for t in s.tasks:
        headers.append(f"{t['name']} {t['metric'].upper()} {direction_arrow(t)}")
        if ref is not None:
            headers += [f"{t['name']} gain (rel.)", "±test", "sig."]
    rows = []
    for m in s.models:
        row = [code(m.model)]
        comps = {c.task: c for c in m.comparisons}
        for tr in m.tasks:
            d = digits[tr.name]
            row.append(f"{fnum(tr.mean, d)} ± {fnum(tr.std, d)}")
            if ref is not None:
                c = comps.get(tr.name)
                if c is None:
                    row += ["(reference)", fnum(tr.se, d), ""]
                else:
                    row += [f"{fnum(c.gain, d, sign=True)} ({fnum(c.rel_gain, 2, sign=True)}%)", fnum(c.se_test, d),
                            f"{MARK[c.verdict]} {fp(c.p_holm)}".strip()]
        rows.append(row)
    out += [md_table(headers, rows, ["left"] + ["right"] * (len(headers) - 1)), ""]
    mrows = []
    for m in s.models:
        mrows.append([code(m.model), m.seesaw, m.beats, source_label(m.params_source), m.trials, human(m.n_params),
                      human(m.flops), str(len(m.seeds)), f"{m.train_seconds:.3g}"])
    out += [md_table(["model", "seesaw", "beats single-task", "params", "trials", "parameters", "FLOPs / sample",
                      "seeds", "train s / run"], mrows, ["left", "left", "left", "left", "right", "right", "right", "right", "right"]), ""]
    sp = specs.get(("gain", s.suite))
    if sp is not None:
        out += [sp.caption, "", f"![{sp.title}]({chart_prefix}/{sp.name}.png)", ""]
    return out


def _render_studies(rep: Report, chart_prefix: str, specs: list[Any]) -> list[str]:
    rows = []
    for st in rep.studies:
        best = (max if st.direction.startswith("max") else min)((v for _, v in st.values), default=None)
        pareto = st.direction == "pareto"
        rows.append([code(st.model or "?"), code(st.suite) if st.suite else "–", st.name, str(st.budget or "–"),
                     str(st.finished), str(st.pruned), "Pareto front" if pareto else fnum(best, 4),
                     "–" if pareto or st.reference is None else fnum(st.reference[1], 4), st.kept_defaults])
    uses = [st.kept_defaults for st in rep.studies if st.reference is not None]
    out = ["## Tuning", "",
           "Optuna studies (validation objective only; the test split is never used for tuning). **best trial**: the "
           "best validation objective of the searched trials; **defaults**: that of the study's reference trial (the "
           "model's default configuration, trained to the end, not counted in the budget); **run uses**: whose "
           "parameters the tuned runs take (`mixed`: single_task's tasks chose differently).", "",
           md_table(["model", "suite", "study", "budget", "finished trials", "pruned", "best trial", "defaults", "run uses"],
                    rows, ["left", "left", "left", "right", "right", "right", "right", "right", "left"]), ""]
    if uses:
        mixed = f", {uses.count('mixed')} mixed" if "mixed" in uses else ""
        out += [f"Of the {len(uses)} studies with a reference trial, {uses.count('search')} chose a searched trial "
                f"and {uses.count('defaults')} kept the defaults{mixed}.", ""]
    for sp in specs:
        out += [f"{sp.caption}", "", f"![{sp.title}]({chart_prefix}/{sp.name}.png)", ""]
    return out


# ====================================================================== files
@dataclass
class ReportFiles:
    markdown: Path
    html: Path | None
    images: list[Path]
    notice: str | None


def generate(profile: str, results_dir: str | Path | None = None, charts: bool = True, static: bool = True) -> ReportFiles:
    """Write the profile's leaderboard markdown and (``charts``) its HTML report and static images."""
    rep = build_report(profile, results_dir)
    md_path = leaderboard_path(profile, results_dir)
    text = render_markdown(rep, chart_link_prefix(profile, results_dir))
    html, images, notice = None, [], None
    if charts:
        from . import charts as C

        html, images, notice = C.write_charts(rep, chart_dir(profile, results_dir), static=static)
    atomic_write(md_path, text)
    return ReportFiles(md_path, html, images, notice)


def check(profile: str, results_dir: str | Path | None = None) -> tuple[bool, str]:
    """Regenerate the markdown in memory (no charts, no browser) and compare it with the file."""
    path = leaderboard_path(profile, results_dir)
    text = render_markdown(build_report(profile, results_dir), chart_link_prefix(profile, results_dir))
    if not path.exists():
        return False, f"{path} does not exist; run `mtlbench report --profile {profile}` and commit it."
    current = path.read_text()
    if current == text:
        return True, f"{path} is up to date with the records of profile {profile}."
    a, b = current.splitlines(), text.splitlines()
    line = next((i for i, (x, y) in enumerate(zip(a, b), 1) if x != y), min(len(a), len(b)) + 1)
    return False, (f"{path} differs from what the records give (first at line {line}); it was edited by hand or is stale: "
                   f"run `mtlbench report --profile {profile}` and commit the result.")
