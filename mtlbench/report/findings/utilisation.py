"""The PLE paper's expert-utilisation finding: do the tasks weight the shared experts differently?"""
from __future__ import annotations

from ..format import code, md_table
from ..schema import Report

#: the PLE paper's expert-utilisation finding, as the source notes put it
UTIL_CLAIM = ("PLE paper (expert-utilisation figure; MMoE with 3 experts, CGC and PLE with 1 task-specific expert per "
              "task and 1 shared expert): MMoE's and ML-MMoE's tasks put nearly the same weights on the experts, close "
              "to hard parameter sharing; CGC's and PLE's tasks weight the shared expert very differently.")
MIXED_ALIKE = ("mmoe", "ml_mmoe")  # the paper's "tasks weight the experts alike" side
SEPARATED = ("cgc", "ple")  # the paper's "tasks weight the shared expert differently" side


def task_spread(bank: dict, tasks: tuple[str, ...]) -> tuple[float, str, list[float | None]] | None:
    """How differently the task gates of ``bank`` use one expert: the largest difference between two tasks'
    mean weights on an expert that at least two task gates can mix, as (spread, expert, each task's weight
    on it; None where that task's gate cannot mix it). None for a bank whose rows are not task gates (ML-MMoE's
    expert gates, PLE's shared gate) or that shares no expert."""
    rows = list(bank.get("rows", []))
    if len(rows) < 2 or not set(rows) <= set(tasks):
        return None
    best = None
    for j, col in enumerate(bank.get("cols", [])):
        w = [r[j] for r in bank["mean"]]
        mixed = [x for x in w if x is not None]
        if len(mixed) >= 2 and (best is None or max(mixed) - min(mixed) > best[0]):
            best = (max(mixed) - min(mixed), col, w)
    return best


def _util_verdict(alike: list[float], separated: list[float]) -> str:
    if not alike or not separated:
        return "n/a"
    if min(separated) > max(alike):
        return "reproduced"
    if max(separated) < min(alike):
        return "opposite"
    return "mixed"


def _utilisation(rep: Report) -> list[str]:
    rows, by_suite = [], {}
    for u in rep.utilisation:
        for bank in u.banks.values():
            sp = task_spread(bank, u.tasks)
            if sp is None:
                continue
            spread, col, w = sp
            weights = " · ".join(f"{t} {x:.2f}" for t, x in zip(bank["rows"], w) if x is not None)
            rows.append([code(u.suite), code(u.model), str(bank.get("level", 1)), f"{spread:.2f}", col, weights])
            side = 0 if u.model in MIXED_ALIKE else 1 if u.model in SEPARATED else None
            if side is not None:
                by_suite.setdefault(u.suite, ([], []))[side].append(spread)
    if not rows:
        return []
    checks = [f"{code(s)}: MMoE / ML-MMoE {min(a):.2f}–{max(a):.2f}, CGC / PLE {min(b):.2f}–{max(b):.2f}: "
              f"{_util_verdict(a, b)}" for s, (a, b) in by_suite.items() if a and b]
    return ["### Expert utilisation: do the tasks use the shared experts differently?", "",
            UTIL_CLAIM, "",
            "Ours (the fixed configurations of the Expert utilisation section, one training run each): **spread** is "
            "the largest difference between two tasks' mean gate weights (over test samples) on one expert that both "
            "task gates can mix, per gate level (0: the tasks weight every shared expert alike, as in hard sharing; "
            "for CGC and PLE the only such expert is the shared one).", "",
            md_table(["suite", "model", "level", "spread", "on expert", "mean weight per task"], rows,
                     ["left", "left", "right", "right", "left", "left"]), "",
            *([f"- Paper's claim per suite (**reproduced**: every CGC / PLE level spreads more than every MMoE / "
               f"ML-MMoE level; **opposite**: every one less; else **mixed**): {'; '.join(checks)}.",
               "- One training run per model and suite (seed 0): a description of that run, not a significance "
               "test."] if checks else []), ""]
