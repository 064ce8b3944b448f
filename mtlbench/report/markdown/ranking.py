"""The overall ranking table."""
from __future__ import annotations

from typing import Any

from ..format import code, md_table
from ..ranking import ranking
from ..schema import SuiteResult
from .significance import render_significance


def _render_ranking(suites: list[SuiteResult], title: str, chart_prefix: str, withheld: set[str] = frozenset(),
                    chart: Any = None) -> list[str]:
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
        "Rank within each suite by the mean test score over seeds (docs/protocol.md §2's `− mean_k log(err_k)`, err = 1 − AUC "
        "or MSE; 1 = best, ties share the mean rank); a sweep counts as one suite family (its points' ranks are "
        "averaged); mean rank over families. **beats single-task** / **seesaw**: in how many suite families "
        "(a sweep counts when it holds on more than half its points).",
        "",
        md_table(headers, table, ["right", "left", "right", *["right"] * len(families), "left", "left"]),
        "",
        *render_significance(suites, withheld, chart, chart_prefix),
    ]
