"""The "Architecture × weighting" section: which (architecture, loss-weighting strategy) pairs beat
single-task on every task, per suite (``report.weighting``)."""
from __future__ import annotations

from ..format import code, decimals, fnum, gain_spread, md_table
from ..load import source_label
from ..schema import Report
from ..stats import MARK
from ..weighting import WeightingSuite
from .suites import rule_line


def render_weightings(rep: Report, chart_prefix: str, specs: dict) -> list[str]:
    if not rep.weightings:
        return []
    runs = sum(w.runs for w in rep.weightings)
    out = ["## Architecture × weighting", "",
           "Each architecture trained with each loss-weighting strategy (`mtlbench list weightings`; `static` is the "
           "weighting of every other table, ω_k,0 · γ_k^t) at the architecture's compared parameters, against the "
           "same `single_task` reference as the suite tables. Does a strategy, rather than an architecture, remove "
           "the seesaw? **better on every task**: significantly better than single-task on each task; the flags as "
           "in the suite tables. Holm over every (pair, task) comparison of the suite.", "",
           f"Compute: {runs:,} runs with a strategy other than `static`, {_duration(sum(w.seconds for w in rep.weightings))} "
           "of training summed.", ""]
    for w in rep.weightings:
        out += _render_suite(w, chart_prefix, specs)
    return out


def _render_suite(w: WeightingSuite, chart_prefix: str, specs: dict) -> list[str]:
    s = w.result
    ref = s.reference
    digits = [decimals(t.mean) for t in ref.tasks]
    headers = ["architecture", "weighting", "params"]
    for t in s.tasks:
        headers += [f"{t['name']} gain", "[95 %] / ±", "sig."]
    headers += ["seesaw", "beats single-task", "better on every task", "seeds"]
    rows = []
    for p in w.pairs:
        m = p.result
        row = [code(p.architecture), code(p.weighting), source_label(m.params_source)]
        for c, d in zip(m.comparisons, digits):
            row += [fnum(c.gain, d, sign=True), gain_spread(c, d), MARK[c.verdict]]
        row += [m.seesaw, m.beats, "yes" if p.better_on_every_task else "no", str(len(m.seeds))]
        rows.append(row)
    winners = [f"{code(p.architecture)} + {code(p.weighting)}" for p in w.pairs if p.better_on_every_task]
    beats = [f"{code(p.architecture)} + {code(p.weighting)}" for p in w.pairs if p.result.beats == "yes"]
    own = ", ".join(f"{code(k)}: {v}" for k, v in sorted(w.weighting_sources.items()))
    out = [f"### `{w.suite}`", "", md_table(headers, rows, ["left"] * 3 + ["right"] * (len(headers) - 3)), "",
           rule_line(s), "",
           f"- Better than single-task on every task: {', '.join(winners) if winners else 'no pair'}.",
           f"- Beats single-task (no task worse, one better): {', '.join(beats) if beats else 'no pair'}.",
           f"- The strategies' own hyper-parameters: {own}. {w.runs:,} runs, {_duration(w.seconds)} of training.", ""]
    spec = specs.get(("wgain", w.suite))
    if spec is not None:
        out += [spec.caption, "", f"![{spec.title}]({chart_prefix}/{spec.name}.png)", ""]
    return out


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"
