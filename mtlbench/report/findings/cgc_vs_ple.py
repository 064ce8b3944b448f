"""Is one CGC level as good as multi-level PLE? Per suite the score difference with the paired bootstrap (or
Welch over seeds for records without test-set replicates), Holm over the table."""
from __future__ import annotations

import numpy as np

from ..format import code, fnum, fp, md_table
from ..load import is_tuned
from ..schema import ModelResult, Report, SuiteResult
from ..stats import BETTER, NA, NS, WORSE, holm, verdict
from .common import PAIRED, WELCH, _model, difference_p, score_boot, seed_scores


def _params_kind(m: ModelResult) -> str:
    return "tuned" if is_tuned(m.params_source) else "default"


def cgc_vs_ple(suites: list[SuiteResult]) -> list[list[str]]:
    """Rows (suite, params of cgc/ple, cgc score, ple score, ple − cgc, Holm p, verdict) on every suite holding
    both. The verdict is only given where both models ran with the same kind of parameters (both tuned or both
    default); a tuned model against a default one is no answer to "as good once both are tuned"."""
    pairs = [(s, _model(s, "cgc"), _model(s, "ple")) for s in suites]
    pairs = [(s, c, p) for s, c, p in pairs if c is not None and p is not None]
    stats = [(s, c, p, seed_scores(s, c), seed_scores(s, p)) for s, c, p in pairs]
    fair = [_params_kind(c) == _params_kind(p) for _, c, p, _, _ in stats]
    tests = [difference_p(s, c, p, a, b, score_boot, "cgc-vs-ple") if ok else (None, "–")
             for (s, c, p, a, b), ok in zip(stats, fair)]
    p_adj = holm([q for q, _ in tests])
    rows = []
    for (s, c, p, a, b), q, ok, (_, rule) in zip(stats, p_adj, fair, tests):
        d = float(np.mean(b) - np.mean(a))
        v = {BETTER: "PLE better", WORSE: "CGC better", NS: "no detectable difference", NA: "n/a"}[verdict(d, q)] if ok else "not comparable"
        kinds = _params_kind(c) if ok else f"cgc {_params_kind(c)}, ple {_params_kind(p)}"
        rows.append([code(s.suite), kinds, f"{np.mean(a):.4f}", f"{np.mean(b):.4f}", fnum(d, 4, sign=True),
                     fp(q) or "–", rule, v])
    return rows


def _tally(rows: list[list[str]], suites: list[SuiteResult]) -> str:
    """Verdict counts with a sweep counted as one family (its points summarised), as the ranking does."""
    sweep_of = {code(s.suite): s.family for s in suites if s.is_sweep}
    single = [r for r in rows if r[0] not in sweep_of]
    counts = {k: sum(r[-1] == k for r in single) for k in ("PLE better", "CGC better", "no detectable difference", "n/a", "not comparable")}
    out = (f"PLE better on {counts['PLE better']}, CGC better on {counts['CGC better']}, no detectable difference on "
           f"{counts['no detectable difference']} of {len(single)} suites")
    skipped = counts["n/a"] + counts["not comparable"]
    out += f" ({skipped} without a verdict)" if skipped else ""
    for fam in sorted({sweep_of[r[0]] for r in rows if r[0] in sweep_of}):
        pts = [r for r in rows if sweep_of.get(r[0]) == fam]
        c = {k: sum(r[-1] == k for r in pts) for k in ("PLE better", "CGC better", "no detectable difference")}
        out += (f"; on the `{fam}` sweep PLE better at {c['PLE better']}, CGC better at {c['CGC better']}, "
                f"no detectable difference at {c['no detectable difference']} of {len(pts)} points")
    return out + "."


def _cgc_ple(rep: Report) -> list[str]:
    variants = [("Tuned where studies exist" if rep.default_suites else "As run", rep.suites)]
    if rep.default_suites:
        variants.append(("Default hyper-parameters", rep.default_suites))
    out = []
    for label, suites in variants:
        rows = cgc_vs_ple(suites)
        if not rows:
            continue
        out += [f"**{label}**: {_tally(rows, suites)}", "",
                md_table(["suite", "params", "cgc score", "ple score", "ple − cgc", "p (Holm)", "test", "verdict"], rows,
                         ["left", "left", "right", "right", "right", "right", "left", "left"]), ""]
    if not out:
        return []
    return ["### Is CGC as good as PLE?", "",
            "The seed notes ask whether one CGC level does as well as multi-level PLE once both are tuned. Score: "
            "docs/protocol.md §2's − mean log error on test (higher is better), mean over seeds. **test**: "
            f"`{PAIRED}`, the two-level paired bootstrap of the score difference (test-set replicates shared by "
            "both models, seeds resampled), where both carry test-set replicates; else "
            f"`{WELCH}` over seeds. Holm-corrected over the rows of the table that have a verdict; a verdict needs "
            "both models tuned or both at defaults.", "", *out]
