"""The "Convergence and protocol" section: per suite, how its runs were trained and whether they converged
(``convergence``), and the size of each model's default configuration (matched by ``mtlbench.matching``)."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..convergence import FLAG_SHARE, SuiteConvergence
from ..format import code, human, md_table
from ..order import model_key, suite_key
from ..schema import Report, SuiteResult
from ..sensitivity import STEP, SuiteSensitivity, sensitivities

SIZE_REFERENCE = "hard_sharing"


def _share(n: int, total: int) -> str:
    return f"{n}/{total} ({100 * n / total:.0f} %)" if total else "–"


def _row(c: SuiteConvergence) -> list[str]:
    lo, med, hi = c.epochs_summary() if c.chosen_epochs else (float("nan"),) * 3
    flag = "**under-trained: conclusions withheld**" if c.flagged else "ok"
    return [code(c.suite), "; ".join(c.schedules), str(c.runs), _share(c.capped, c.runs), _share(c.late, c.runs),
            f"{lo:g} / {med:g} / {hi:g}", str(c.checkpoints), flag]


def render_protocol(rep: Report) -> list[str]:
    if not rep.convergence:
        return []
    out = ["## Convergence and protocol", "",
           "Per suite, over the compared and the default-parameter runs: the training protocol they ran under (from "
           "each record's training parameters; protocol 1 = records made before the evaluation protocol, one "
           "validation per epoch), **capped**: runs stopped by the cap (evaluations run = the cap; protocol 1: "
           "epochs run = the epoch cap), **late choice**: runs whose chosen evaluation (any task's, for "
           "`single_task`) is among the last `patience` evaluations, i.e. validation was still improving; "
           "**chosen epoch**: min / median / max of the chosen evaluation in epochs of training, and how many "
           f"distinct checkpoints were chosen. A suite where either share exceeds {100 * FLAG_SHARE:.0f} % is "
           "flagged: its numbers are shown but it is left out of the findings' conclusions and of the Friedman "
           "test.", "",
           md_table(["suite", "protocol", "runs", "capped", "late choice", "chosen epoch", "checkpoints", "flag"],
                    [_row(c) for c in rep.convergence],
                    ["left", "left", "right", "right", "right", "right", "right", "left"]), ""]
    flagged = [c.suite for c in rep.convergence if c.flagged]
    if flagged:
        out += [f"Flagged under-trained ({len(flagged)} of {len(rep.convergence)} suites): "
                f"{', '.join(map(code, flagged))}.", ""]
    return out + _render_sizes(rep.default_records) + _render_sensitivity(rep.suites)


def default_sizes(records: list[dict[str, Any]]) -> dict[str, dict[str, tuple[int, int | None]]]:
    """suite -> model -> (dense parameters, depth) of its default configuration, from records that carry
    ``extra.dense_params`` (records of protocol 1 do not)."""
    out: dict[str, dict[str, tuple[int, int | None]]] = defaultdict(dict)
    for r in records:
        extra = r.get("extra") or {}
        if r.get("params_source") == "default" and isinstance(extra.get("dense_params"), int):
            depth = extra.get("depth")
            out[r["suite"]][r["model"]] = (int(extra["dense_params"]), int(depth) if isinstance(depth, int) else None)
    return out


def _render_sizes(records: list[dict[str, Any]]) -> list[str]:
    sizes = default_sizes(records)
    if not sizes:
        return []
    models = sorted({m for v in sizes.values() for m in v}, key=model_key)
    rows = []
    for suite in sorted(sizes, key=suite_key):
        ref = sizes[suite].get(SIZE_REFERENCE)
        cells = []
        for m in models:
            if m not in sizes[suite]:
                cells.append("–")
                continue
            n, depth = sizes[suite][m]
            ratio = f" ×{n / ref[0]:.2f}" if ref and ref[0] else ""
            cells.append(f"{human(n)}{ratio}" + (f", depth {depth}" if depth is not None else ""))
        rows.append([code(suite), *cells])
    return ["### Matched default configurations", "",
            "Dense parameters (embedding tables excluded) of each model's default configuration, its ratio to "
            f"`{SIZE_REFERENCE}`'s and its depth, as recorded by the default runs (`mtlbench.matching` sizes the "
            "defaults to match; records of protocol 1 carry no size and are not listed).", "",
            md_table(["suite", *map(code, models)], rows, ["left", *["right"] * len(models)]), ""]


def _weights_cell(x: SuiteSensitivity) -> str:
    cells = []
    for w in x.weights:
        ratio = x.ratio(w)
        cells.append(f"{code(w.task)} {w.per_step:.3g}" + (f" (×{ratio:.1f})" if ratio is not None else ""))
    return ", ".join(cells)


def _render_sensitivity(suites: list[SuiteResult]) -> list[str]:
    rows = sensitivities(suites)
    if not rows:
        return []
    table = [[code(x.suite), _weights_cell(x), "–" if x.tau is None else f"{x.tau:+.2f}",
              ", ".join(map(code, x.best(x.by_score))), ", ".join(map(code, x.best(x.by_task_ranks)))] for x in rows]
    differ = [x.suite for x in rows if set(x.best(x.by_score)) != set(x.best(x.by_task_ranks))]
    out = ["### Score sensitivity to saturated tasks", "",
           "The score `− mean_k log err_k` that selects checkpoints, picks trials and ranks models counts a relative "
           "error reduction the same on every task, so per unit of metric a task weighs `1 / (K · err_k)`: a task "
           "near saturation (small error) weighs more. **weight per 0.001**: the score change caused by "
           f"{STEP:g} of the task's metric at the suite's mean test error (over the compared models), and in "
           "brackets its ratio to the suite's lightest task of the same metric. **τ**: Kendall's τ between the "
           "suite's ranking by score and its ranking by the mean over tasks of each task's rank (every task "
           "counting equally whatever its error); **best**: the first model of each order, a point "
           "estimate (whether it is ahead of the others is for the rank intervals of the suite tables to say).", "",
           md_table(["suite", "weight per 0.001 of the metric", "τ", "best by score", "best by mean task rank"],
                    table, ["left", "left", "right", "left", "left"]), ""]
    if differ:
        out += [f"On {', '.join(map(code, differ))} the two orders do not agree on first place: there it "
                "depends on how the tasks are weighed and is not a finding by itself (see the rank intervals in the "
                "suite tables).", ""]
    return out
