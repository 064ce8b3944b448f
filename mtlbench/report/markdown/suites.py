"""One section per suite: metrics, gains and significance against `single_task`, flags and cost."""
from __future__ import annotations

import shlex
from typing import Any

from ..format import code, decimals, direction_arrow, fnum, fp, gain_spread, human, md_table
from ..load import source_label
from ..paired import GAIN_DRAWS
from ..schema import Comparison, ModelResult, SuiteResult, TaskResult
from ..stats import MARK

PAIRED_RULE = (f"where both sides carry test-set replicates, a two-level paired bootstrap ({GAIN_DRAWS:,} draws; "
               "each draw one shared test-set resample and the seeds resampled), **[95 % interval]**, two-sided "
               "bootstrap p")
WELCH_RULE = ("where a side has none (records of protocol 1), Welch over seeds, **±** the unpaired "
              "test-set standard error sqrt(se_M² + se_S²)")


def rule_line(s: SuiteResult) -> str:
    """Which rule the suite's gains used (each comparison says its own; the sentence names those present)."""
    rules = {c.rule for m in s.models for c in m.comparisons + m.derived_comparisons}
    parts = ([PAIRED_RULE] if "paired" in rules else []) + ([WELCH_RULE] if "welch" in rules else [])
    return ("Gains: " + "; ".join(parts) + "; Holm over the suite's (model, task) comparisons"
            + (", product metrics a family of their own." if any(m.derived_comparisons for m in s.models) else ".")
            ) if parts else ""


def _gain_cells(c: Comparison | None, tr: TaskResult, d: int) -> list[str]:
    if c is None:
        return ["(reference)", fnum(tr.se, d) if tr.boot is None else "", ""]
    return [f"{fnum(c.gain, d, sign=True)} ({fnum(c.rel_gain, 2, sign=True)}%)", gain_spread(c, d),
            f"{MARK[c.verdict]} {fp(c.p_holm)}".strip()]


def _rank_cell(s: SuiteResult, m: ModelResult) -> str:
    from scipy.stats import rankdata

    scores = [x.score if x.score == x.score else float("-inf") for x in s.models]
    rank = float(rankdata([-x for x in scores], method="average")[s.models.index(m)])
    iv = m.rank_interval
    return f"{rank:g}" + (f" [{iv[0]:g}–{iv[1]:g}]" if iv is not None else "")


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
    derived = [t for t in s.models[0].derived if all(any(x.name == t.name for x in m.derived) for m in s.models)]
    for t in derived:
        digits[t.name] = decimals(ref.derived[[x.name for x in ref.derived].index(t.name)].mean if ref else t.mean)
    headers = ["model"]
    for name, metric, arrow in ([(t["name"], t["metric"], direction_arrow(t)) for t in s.tasks]
                                + [(t.name, t.metric, "↑" if t.higher_is_better else "↓") for t in derived]):
        headers.append(f"{name} {metric.upper()} {arrow}")
        if ref is not None:
            headers += [f"{name} gain (rel.)", "uncertainty", "sig."]
    rows = []
    for m in s.models:
        row = [code(m.model)]
        comps = {c.task: c for c in m.comparisons + m.derived_comparisons}
        mine = {t.name: t for t in m.derived}
        for tr in m.tasks + [mine[t.name] for t in derived]:
            d = digits[tr.name]
            row.append(f"{fnum(tr.mean, d)} ± {fnum(tr.std, d)}")
            if ref is not None:
                row += _gain_cells(comps.get(tr.name), tr, d)
        rows.append(row)
    out += [md_table(headers, rows, ["left"] + ["right"] * (len(headers) - 1)), ""]
    if derived:
        out += [f"Product metrics beside the tasks ({', '.join(f'`{t.name}`' for t in derived)}: the product of the "
                "tasks' predicted probabilities, scored over every test sample); they take no part in the seesaw "
                "flags or the ranking.", ""]
    if ref is not None and (line := rule_line(s)):
        out += [line, ""]
    mrows = []
    for m in s.models:
        mrows.append([code(m.model), _rank_cell(s, m), m.seesaw, m.beats, source_label(m.params_source), m.trials,
                      human(m.n_params), human(m.flops), str(len(m.seeds)), f"{m.train_seconds:.3g}"])
    out += [md_table(["model", "rank [95 %]", "seesaw", "beats single-task", "params", "trials", "parameters",
                      "FLOPs / sample", "seeds", "train s / run"], mrows,
                     ["left", "right", "left", "left", "left", "right", "right", "right", "right", "right"]), ""]
    sp = specs.get(("gain", s.suite))
    if sp is not None:
        out += [sp.caption, "", f"![{sp.title}]({chart_prefix}/{sp.name}.png)", ""]
    return out
