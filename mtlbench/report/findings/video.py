"""The PLE paper's seesaw on Tencent video (VCR / VTR), against the `video` suite."""
from __future__ import annotations

from ..format import code, fnum, md_table
from ..schema import REFERENCE, ModelResult, SuiteResult
from ..stats import BETTER, MARK, NA
from .common import _model

#: the PLE paper's seesaw finding on Tencent video VCR (MSE) / VTR (AUC), as the source notes put it
VIDEO_CLAIM = ("PLE paper (Tencent video, VCR regression + VTR classification): almost every earlier structure "
               "improves one task over single-task models and loses on the other (the seesaw); MMoE gains on VTR "
               "with a VCR gain close to 0; CGC and PLE improve both tasks.")
SEESAW_BASELINES = ("hard_sharing", "asymmetric", "customized", "cross_stitch", "sluice")


def _both(m: ModelResult) -> str:
    """"yes" when significantly better than single-task on every task; "n/a" when a task has no test."""
    if any(c.verdict == NA for c in m.comparisons):
        return "n/a"
    return "yes" if m.comparisons and all(c.verdict == BETTER for c in m.comparisons) else "no"


def _video(suites: list[SuiteResult]) -> list[str]:
    s = next((s for s in suites if s.family == "video"), None)
    if s is None or s.reference is None or len(s.models) < 2:
        return []
    rows = []
    for m in s.models:
        if m.model == REFERENCE:
            continue
        cells = [f"{fnum(c.gain, 4, sign=True)} {MARK[c.verdict]}" for c in m.comparisons]
        rows.append([code(m.model), *cells, m.seesaw, _both(m)])
    seesaw = [r[0] for r in rows if r[-2] == "yes"]
    both = [r[0] for r in rows if r[-1] == "yes"]
    untestable = [r[0] for r in rows if "n/a" in r[-2:]]
    base = [m for m in SEESAW_BASELINES if _model(s, m)]
    base_seesaw = [m for m in base if _model(s, m).seesaw == "yes"]
    checks = []
    if base:
        checks.append(f"earlier structures with the seesaw: {len(base_seesaw)} of {len(base)}"
                      + (f" ({', '.join(map(code, base_seesaw))})" if base_seesaw else ""))
    mm = _model(s, "mmoe")
    if mm and mm.comparisons:
        checks.append("`mmoe`: " + ", ".join(f"{c.task} {MARK[c.verdict]}" for c in mm.comparisons))
    for name in ("cgc", "ple"):
        m = _model(s, name)
        if m:
            checks.append(f"`{name}` improves both tasks: {_both(m)}")
    heads = [f"{t['name']} gain, sig." for t in s.tasks]
    return ["### Video (VCR/VTR): the seesaw", "",
            VIDEO_CLAIM, "",
            "Ours (gain over `single_task`, Holm-corrected, by the suite table's rule; VCR is MSE, so a positive gain is a lower "
            "MSE; n/a: no test possible, e.g. a single seed):", "",
            md_table(["model", *heads, "seesaw", "better on both"], rows, ["left", *["right"] * len(heads), "left", "left"]), "",
            f"- Seesaw (significantly better on one task, worse on the other): {', '.join(seesaw) or 'none'}.",
            f"- Significantly better than single-task on both tasks: {', '.join(both) or 'none'}."
            + (f" Not testable: {', '.join(untestable)}." if untestable else ""),
            f"- Against the paper's claims: {'; '.join(checks)}." if checks else "", ""]
