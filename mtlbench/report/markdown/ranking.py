"""The overall ranking table."""
from __future__ import annotations

from typing import Any

from ..format import code, md_table
from ..ranking import family_of, ranking
from ..schema import SuiteResult
from .significance import render_significance


def _render_ranking(suites: list[SuiteResult], title: str, chart_prefix: str, withheld: set[str] = frozenset(),
                    chart: Any = None) -> list[str]:
    # suites flagged under-trained are shown but not counted: the mean rank and the beats/seesaw counts come from
    # the others (every suite when all are flagged, said below the table)
    counted = [s for s in suites if s.suite not in withheld] or suites
    rows, counted_families = ranking(counted)
    if not rows:
        return []
    every, families = (rows, counted_families) if counted is suites else ranking(suites)
    shown = {r["model"]: r["per_family"] for r in every}  # a family not counted shows its ranks from here
    n_points = {f: sum(1 for s in suites if family_of(s) == f) for f in families}
    n_out = {f: n_points[f] - sum(1 for s in counted if family_of(s) == f) for f in families}  # points not counted

    def column(f: str) -> str:
        name = f if n_points[f] == 1 else f"{f} (sweep, {n_points[f]} pts)"
        if f not in counted_families:
            return f"{name}: not counted"
        return f"{name[:-1]}, {n_out[f]} not counted)" if n_out[f] else name

    def rank_in(r: dict[str, Any], f: str) -> str:
        per = r["per_family"] if f in counted_families else shown.get(r["model"], {})
        return f"{per[f]:.2f}".rstrip("0").rstrip(".") if f in per else "–"

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

    headers = ["rank", "model", "mean rank", *map(column, families), "beats single-task", "seesaw"]
    table = []
    for i, r in enumerate(rows, 1):
        table.append([str(i), code(r["model"]), f"{r['mean_rank']:.2f}", *[rank_in(r, f) for f in families],
                      count(r["beats"]), count(r["seesaw"])])
    partial = [f"`{r['model']}` ({len(r['per_family'])} of {len(counted_families)})" for r in rows
               if len(r["per_family"]) < len(counted_families)]
    note = ([f"Not every model ran on every suite family; these mean ranks cover fewer families and are not comparable "
             f"with the rest: {', '.join(partial)}.", ""] if partial else [])
    flagged = sorted({s.suite for s in suites} & withheld)
    if flagged and counted is not suites:
        note += [f"Suites flagged under-trained (see *Convergence and protocol*) are shown but not counted in the "
                 f"mean rank nor in the beats/seesaw counts: {', '.join(map(code, flagged))}.", ""]
    elif flagged:
        note += ["Every suite is flagged under-trained (see *Convergence and protocol*): this ranking describes "
                 "under-trained runs and is no conclusion.", ""]
    return [
        f"## {title}",
        "",
        *note,
        "Rank within each suite by the mean test score over seeds (docs/protocol.md §2's `− mean_k log(err_k)`, err = 1 − AUC "
        "or MSE; 1 = best, ties share the mean rank); a sweep counts as one suite family (its points' ranks are "
        "averaged); mean rank over families. **beats single-task** / **seesaw**: in how many suite families "
        "(a sweep counts when it holds on more than half its points).",
        "",
        md_table(headers, table, ["right", "left", "right", *["right"] * len(families), "left", "left"]),
        "",
        *render_significance(suites, withheld, chart, chart_prefix),
    ]
