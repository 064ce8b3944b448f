"""One section per suite: metrics, gains and significance against `single_task`, flags and cost."""
from __future__ import annotations

import shlex
from typing import Any

from ..format import code, decimals, direction_arrow, fnum, fp, human, md_table
from ..load import source_label
from ..schema import SuiteResult
from ..stats import MARK


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
