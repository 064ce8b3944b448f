"""The MMoE paper's synthetic sweep: the shared-bottom − MMoE gap as task correlation falls."""
from __future__ import annotations

import math

import numpy as np

from ...names import parse_instance
from ..format import fnum, fp, md_table
from ..load import is_tuned, parse_source
from ..schema import ModelResult, Report, SuiteResult
from ..stats import ALPHA, trend
from .common import PAIRED, WELCH, _model, difference_p, mean_boot


def _seed_losses(m: ModelResult) -> list[float]:
    """Per seed, the test MSE averaged over the tasks (the MMoE paper's synthetic 'average loss')."""
    return [float(np.mean([t.values[i] for t in m.tasks])) for i in range(len(m.seeds))]


def _params_at(s: SuiteResult, ms: list[ModelResult]) -> str:
    """Where the compared models' parameters come from at a sweep point: ``default``, ``tuned`` (a study of
    this point) or ``p=0`` (borrowed from the study of that point); one entry per model when they differ."""
    def one(m: ModelResult) -> str:
        lender = parse_source(m.params_source).study_suite
        if not is_tuned(m.params_source) or lender is None:
            return "default"
        kept = ": defaults kept" if m.defaults_kept else ""  # the study's reference trial won
        if lender == s.suite:
            return "tuned" + kept
        q = parse_instance(lender)[1].get("p")
        return (f"p={float(q):g}" if q is not None else lender) + kept

    kinds = [one(m) for m in ms]
    return kinds[0] if len(set(kinds)) == 1 else ", ".join(f"{m.model}: {k}" for m, k in zip(ms, kinds))


def _sweep_table(points: list[SuiteResult]) -> tuple[list[list[str]], list[float], list[float]]:
    """Rows (p, MSEs, gap, p of the gap, its test, params) and the (p, gap) series of one sweep family."""
    rows, ps, gaps = [], [], []
    for s in sorted(points, key=lambda s: float(s.params["p"])):
        hs, mm, om = (_model(s, n) for n in ("hard_sharing", "mmoe", "omoe"))
        if hs is None or mm is None:
            continue
        a, b = _seed_losses(hs), _seed_losses(mm)
        gap = float(np.mean(a) - np.mean(b))  # > 0: MMoE's loss is lower
        ps.append(float(s.params["p"]))
        gaps.append(gap)
        p_gap, rule = difference_p(s, hs, mm, a, b, mean_boot, "sweep-gap")
        rows.append([f"{float(s.params['p']):g}", f"{np.mean(a):.4f}", f"{np.mean(_seed_losses(om)):.4f}" if om else "–",
                     f"{np.mean(b):.4f}", fnum(gap, 4, sign=True), fp(p_gap), rule,
                     _params_at(s, [hs, mm, *([om] if om else [])])])
    return rows, ps, gaps


def _sweep_finding(ps: list[float], gaps: list[float]) -> str:
    tau, p_tau = trend(ps, gaps)
    if not math.isfinite(tau):
        finding = "cannot be tested (the gap does not vary)"
    elif tau < 0 and p_tau is not None and p_tau < ALPHA:
        finding = "reproduces"
    elif p_tau is not None and p_tau < ALPHA:
        finding = "is contradicted (the gap grows with p)"
    else:
        finding = "is not seen (no detectable trend of the gap with p over these points)"
    low = [g for q, g in zip(ps, gaps) if q <= 0.5]
    high = [g for q, g in zip(ps, gaps) if q > 0.5]
    return (f"- Trend of the gap with p over {len(ps)} points: Kendall τ = {fnum(tau, 2, sign=True)} "
            f"({fp(p_tau) or 'no test'}; exact where there are no ties): the MMoE paper's finding {finding}. "
            f"Mean gap at p ≤ 0.5: {fnum(float(np.mean(low)) if low else None, 4, sign=True)}, "
            f"at p > 0.5: {fnum(float(np.mean(high)) if high else None, 4, sign=True)}.")


def _sweep_families(suites: list[SuiteResult]) -> dict[str, list[SuiteResult]]:
    by_family: dict[str, list[SuiteResult]] = {}
    for s in suites:
        if s.is_sweep and "p" in s.params and s.family == "synthetic":
            rest = ",".join(f"{k}={v}" for k, v in sorted(s.params.items()) if k != "p")
            by_family.setdefault(f"{s.family}[{rest}]" if rest else s.family, []).append(s)
    return by_family


def _sweep(rep: Report) -> list[str]:
    """Per sweep family: the gap table and its trend, with the compared (tuned where studies exist) runs and,
    when tuned runs exist, with the default-parameter runs beside them."""
    variants = [("Tuned where studies exist" if rep.default_suites else None, _sweep_families(rep.suites))]
    if rep.default_suites:
        variants.append(("Default hyper-parameters", _sweep_families(rep.default_suites)))
    out = []
    for fam in variants[0][1]:
        body = []
        for i, (label, families) in enumerate(variants):
            rows, ps, gaps = _sweep_table(families.get(fam, []))
            if len(rows) < 3:
                continue
            only = i == 0 and all(r[-1] == "default" for r in rows)  # nothing tuned on this sweep: one table
            body += ([f"**{label}**:", ""] if label and not only else []) + [
                md_table(["p", "hard_sharing MSE", "omoe MSE", "mmoe MSE", "gap", "p (gap)", "test", "params"], rows,
                         ["right"] * 6 + ["left"] * 2), "", _sweep_finding(ps, gaps), ""]
            if only:
                break
        if not body:
            continue
        out += [f"### Synthetic sweep (`{fam}`): shared-bottom vs MMoE as task correlation falls", "",
                "MMoE paper: the lower the correlation p between the two regression tasks, the larger MMoE's "
                "advantage over a shared bottom (OMoE in between). Ours: test MSE averaged over both tasks, mean "
                "over seeds; **gap** = shared-bottom (`hard_sharing`) − `mmoe` (positive: MMoE better); **p (gap)**, "
                f"per point, uncorrected, by the **test** `{PAIRED}` (two-level paired bootstrap over the test-set "
                f"replicates and the seeds) where both models carry test-set replicates, else `{WELCH}` over seeds; "
                "**params**: `default`, `tuned` (a study of that point) or the point whose study the parameters "
                "were borrowed from; *defaults kept*: the study's best trial was its reference trial, the model's "
                "defaults.", "", *body]
    return out
