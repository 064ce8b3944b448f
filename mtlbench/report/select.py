"""Which record views a report compares (``load.record_views``), and notices about the ones it leaves out."""
from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from .load import is_tuned, source_label


STATIC = "static"  # the default loss weighting ω_k,0 · γ_k^t (docs/protocol.md §2)


def weighting_of(r: dict[str, Any]) -> str:
    """The record's loss-weighting strategy (records made before strategies existed: static)."""
    return str(((r.get("params") or {}).get("train") or {}).get("weighting", STATIC))


def newest_key(r: dict[str, Any]) -> tuple[str, str]:
    """Sort key: newest record last (timestamp, then record key for ties)."""
    return (str(r.get("timestamp", "")), str(r.get("key", "")))


def run_identity(r: dict[str, Any]) -> str:
    """A record's identity: its key (a record read from disk always has one; a bare dict in a test may not)."""
    return str(r.get("key") or id(r))


def select_records(records: list[dict[str, Any]], variant: str = "best") -> tuple[list[dict[str, Any]], list[str]]:
    """Which records a report compares, and notices about the ones it leaves out.

    Per suite only the data of its newest record counts (older suite versions / checksums are stale).
    Per (suite, model) one parameter set: ``variant="best"`` prefers tuned parameters (any source but
    "default") over defaults, then the newest; ``"default"`` keeps only default-parameter runs.
    """
    notices: list[str] = []
    other = [r for r in records if weighting_of(r) != STATIC]
    if other:
        notices.append(f"{len(other)} record(s) trained with a loss-weighting strategy other than {STATIC} are compared "
                       "only in the architecture × weighting section.")
    by_suite: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if weighting_of(r) == STATIC:
            by_suite[r["suite"]].append(r)
    chosen: list[dict[str, Any]] = []
    for suite in sorted(by_suite):
        rs = by_suite[suite]
        newest = max(rs, key=newest_key)
        data_id = (newest["suite_version"], newest["data_checksum"])
        current = [r for r in rs if (r["suite_version"], r["data_checksum"]) == data_id]
        if len(current) < len(rs):
            notices.append(f"{suite}: {len(rs) - len(current)} record(s) of older data (suite version or checksum) are not compared.")
        by_model: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in current:
            by_model[r["model"]].append(r)
        for model in sorted(by_model):
            chosen_model, notice = one_parameter_set(suite, model, by_model[model], variant)
            chosen.extend(chosen_model)
            notices.extend(notice)
    return chosen, notices


def one_parameter_set(suite: str, model: str, rs: list[dict[str, Any]], variant: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The records of one (suite, model) under the chosen parameter set, one per seed (the newest wins)."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rs:
        groups[json.dumps([r["params_source"], r["params"]], sort_keys=True)].append(r)
    cands = list(groups.values())
    if variant == "default":
        cands = [g for g in cands if not is_tuned(g[0]["params_source"])]
        if not cands:
            return [], []
    newest = lambda g: max(newest_key(r) for r in g)  # noqa: E731
    best = max(cands, key=lambda g: (is_tuned(g[0]["params_source"]), newest(g)))
    notices = []
    if variant == "best" and len(cands) > 1:
        defaults = [g for g in cands if not is_tuned(g[0]["params_source"])]
        shown = [best] + ([max(defaults, key=newest)] if defaults and best not in defaults else [])
        left = sum(len(g) for g in cands if all(g is not x for x in shown))
        if left:
            notices.append(f"{suite}/{model}: {left} record(s) with other hyper-parameters are not compared "
                           f"(this report uses {source_label(best[0]['params_source'])}).")
    seen: dict[int, dict[str, Any]] = {}
    for r in sorted(best, key=newest_key):
        seen[int(r["seed"])] = r
    return [seen[s] for s in sorted(seen)], notices
