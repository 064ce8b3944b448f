"""Under the overall ranking: how sure it is (Friedman test over suite families, Nemenyi groups, CD chart)."""
from __future__ import annotations

from typing import Any

from ..format import code, fp
from ..ranking import overall_friedman
from ..schema import SuiteResult
from ..uncertainty import FEW_BLOCKS, Friedman


def groups_in_words(f: Friedman) -> list[str]:
    """One phrase per group of models not significantly different, by place ("places 1–7 (`a`, …)")."""
    return [f"places {i + 1}–{j + 1} ({', '.join(code(m) for m in f.models[i:j + 1])})" for i, j in f.groups]


def render_significance(suites: list[SuiteResult], withheld: set[str], chart: Any = None,
                        chart_prefix: str = "charts") -> list[str]:
    """The Friedman paragraph of one ranking (``chart``: its critical-difference ``ChartSpec`` or None)."""
    f, partial = overall_friedman(suites, withheld)
    left = sorted({s.suite for s in suites} & withheld)
    notes = []
    if left:
        notes.append("left out as under-trained, see *Convergence and protocol*: " + ", ".join(map(code, left)))
    if partial:
        notes.append("left out for not running on every family: " + ", ".join(map(code, partial)))
    head = (f"**How sure is this ranking?** Friedman test over suite families (blocks; a family's rank of a model "
            f"is its mean rank over the family's instances), {f.blocks} famil{'y' if f.blocks == 1 else 'ies'} and "
            f"{len(f.models)} models" + (f" ({'; '.join(notes)})" if notes else "") + ". ")
    if f.p is None:
        return [head + "No test possible (at least 2 families and 3 models are needed, with some spread): the "
                "ranking above is a description, not a result.", ""]
    text = head + f"χ² = {f.statistic:.2f}, {fp(f.p)}: "
    if f.p >= f.alpha:
        text += (f"no detectable difference between the models' ranks at α = {f.alpha}; the order above is not "
                 "established.")
    else:
        groups = groups_in_words(f)
        text += (f"the ranks differ. Nemenyi critical difference CD = {f.cd:.2f} (Demšar 2006): "
                 + ("; ".join(groups) + f" are indistinguishable at α = {f.alpha}" if groups
                    else "every pair of models differs by at least the CD") + ".")
    if f.blocks < FEW_BLOCKS:
        text += (f" With only {f.blocks} blocks the test has little power (and the χ² approximation wants "
                 f"≳ {FEW_BLOCKS}): say “no detectable difference” rather than rank.")
    out = [text, ""]
    if chart is not None:
        out += [chart.caption, "", f"![{chart.title}]({chart_prefix}/{chart.name}.png)", ""]
    return out
