"""The architecture × loss-weighting comparison: every (architecture, strategy) pair of a suite against the
suite's `single_task` reference, with the same statistics as the suite tables (``compare``).

Records trained with a strategy other than ``static`` never enter the architecture ranking (``select``); here
they meet, per suite, the compared `single_task` records and each architecture's compared ``static`` records
(the same parameter selection as the suite tables: tuned over defaults, then the newest). A pair is named
``<architecture>+<strategy>`` inside the ``SuiteResult`` so the Holm family covers every pair of the suite.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ..errors import MtlbenchError
from ..provenance import ParamsSource
from .compare import build_suites
from .order import model_key, suite_key
from .schema import REFERENCE, ModelResult, SuiteResult
from .select import STATIC, one_parameter_set, weighting_of
from .stats import BETTER

SEP = "+"


@dataclass(frozen=True)
class Pair:
    architecture: str
    weighting: str
    result: ModelResult

    @property
    def better_on_every_task(self) -> bool:
        """Significantly better than single-task on every task (stricter than the beats-single-task flag)."""
        return bool(self.result.comparisons) and all(c.verdict == BETTER for c in self.result.comparisons)


@dataclass
class WeightingSuite:
    suite: str
    result: SuiteResult  # its models: single_task and every "<architecture>+<strategy>" pair
    pairs: list[Pair]
    runs: int  # records trained with a strategy other than static
    seconds: float  # their training time, summed
    weighting_sources: dict[str, str] = field(default_factory=dict)  # strategy -> where its own parameters came from


def pair_name(architecture: str, weighting: str) -> str:
    return f"{architecture}{SEP}{weighting}"


def _renamed(r: dict[str, Any], name: str) -> dict[str, Any]:
    return {**r, "model": name}


def _order(p: Pair) -> tuple:
    return (model_key(p.architecture), p.weighting != STATIC, p.weighting)


def analyse_weightings(views: list[dict[str, Any]], chosen: list[dict[str, Any]]) -> tuple[list[WeightingSuite], list[str]]:
    """Per suite that has records of a non-static strategy: the pairs' comparisons with single-task.

    ``views``: every record view of the report's scope; ``chosen``: the static records the suite tables compare.
    Returns the suites and notices (records of other data than the compared static ones are left out)."""
    others: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in views:
        if weighting_of(r) != STATIC:
            others[r["suite"]].append(r)
    static: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in chosen:
        static[r["suite"]].append(r)
    out: list[WeightingSuite] = []
    notices: list[str] = []
    for suite in sorted(others, key=suite_key):
        base = static.get(suite, [])
        if not any(r["model"] == REFERENCE for r in base):
            notices.append(f"{suite}: {len(others[suite])} record(s) of loss-weighting strategies are not compared: "
                           f"the suite has no compared `{REFERENCE}` records.")
            continue
        data_id = {(r["suite_version"], r["data_checksum"]) for r in base}
        current = [r for r in others[suite] if (r["suite_version"], r["data_checksum"]) in data_id]
        if len(current) < len(others[suite]):
            notices.append(f"{suite}: {len(others[suite]) - len(current)} loss-weighting record(s) of other data "
                           "(suite version or checksum) than the compared records are not compared.")
        if not current:
            continue
        out.append(_suite(suite, base, current))
    return out, notices


def _suite(suite: str, base: list[dict[str, Any]], current: list[dict[str, Any]]) -> WeightingSuite:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in current:
        groups[(r["model"], weighting_of(r))].append(r)
    architectures = {arch for arch, _ in groups}
    records = [r for r in base if r["model"] == REFERENCE]
    records += [_renamed(r, pair_name(r["model"], STATIC)) for r in base if r["model"] in architectures]
    sources: dict[str, str] = {}
    for (arch, w), rs in sorted(groups.items()):
        picked, _ = one_parameter_set(suite, pair_name(arch, w), rs, "best")
        records += [_renamed(r, pair_name(arch, w)) for r in picked]
        own = _weighting_source(picked)
        sources[w] = own if sources.get(w, own) == own else "differs by architecture (see params)"
    (result,) = build_suites(records)
    pairs = []
    for m in result.models:
        if m.model != REFERENCE:
            arch, _, w = m.model.rpartition(SEP)
            pairs.append(Pair(arch, w, m))
    return WeightingSuite(suite, result, sorted(pairs, key=_order), len(current),
                          float(sum(float(r.get("train_seconds") or 0.0) for r in current)), sources)


def _weighting_source(records: list[dict[str, Any]]) -> str:
    """Where the strategy's own hyper-parameters came from: "paper defaults" (no ``weighting_config`` set),
    "tuned" (a study of that strategy: ``tune --weighting``), else "set" (``--set`` or a parameters file)."""
    configs = {repr(((r.get("params") or {}).get("train") or {}).get("weighting_config") or []) for r in records}
    if configs == {repr([])}:
        return "paper defaults"
    return "tuned" if all(_weighting_study(r["params_source"]) for r in records) else "set"


def _weighting_study(label: str) -> bool:
    """Whether a params source names a study of a strategy other than static (an unreadable label: no)."""
    try:
        study = ParamsSource.parse(label).study
    except (ValueError, MtlbenchError):
        return False
    return study is not None and study.weighting != STATIC
