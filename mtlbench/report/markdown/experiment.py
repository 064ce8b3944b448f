"""The MMoE synthetic experiment section (``experiment.Experiment``): curves, trainability, test MSE, the
paired shared-bottom − MMoE difference per correlation and its trend."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..experiment import MMOE, SHARED, Experiment
from ..format import code, fnum, fp, md_table
from ..schema import Report
from ..stats import ALPHA, holm
from .header import _hours


def _trend_words(e: Experiment) -> str:
    if e.trend is None:
        return ("- **MMoE's advantage grows as correlation falls?** Not testable: fewer than 2 complete "
                "correlations with both models.")
    rho, p_rho, slope, p_slope = e.trend
    grows = slope < 0 and p_slope is not None and p_slope < ALPHA
    verdict = ("yes: the difference grows significantly as p falls" if grows else
               "the opposite: the difference shrinks significantly as p falls" if p_slope is not None and p_slope < ALPHA
               else "no detectable trend")
    return (f"- **MMoE's advantage grows as correlation falls?** Per-run differences (shared bottom − MMoE test MSE) "
            f"against p: Spearman ρ = {fnum(rho, 2, sign=True)} ({fp(p_rho) or 'no test'}), least-squares slope "
            f"{slope:+.4g} per unit of p ({fp(p_slope) or 'no test'}); a negative slope means the advantage grows as p falls. Verdict "
            f"at α = {ALPHA}: {verdict}.")


def render_experiment(rep: Report, chart_prefix: str, specs: list[Any]) -> list[str]:
    e: Experiment | None = rep.experiment
    if e is None:
        return []
    out = ["## The MMoE synthetic experiment", "",
           "The MMoE paper's trainability experiment (`mtlbench.experiments.mmoe_synthetic`): every model trained many "
           "times on freshly generated data at each task correlation p, run r of every model on the same data "
           "(differences are paired by run), a fixed number of epochs without early stopping.", "",
           f"- {len(e.correlations)} correlation{'s' * (len(e.correlations) != 1)} with runs complete for every model "
           f"({', '.join(f'p = {p:g}: {e.runs[p]} runs' for p in e.correlations) or 'none'})"
           + (f"; left out as incomplete: {', '.join(f'p = {p:g}' for p in e.incomplete)}" if e.incomplete else "")
           + f". Compute: {_hours(e.seconds)} of training summed over {e.files} result files.", ""]
    if not e.correlations:
        return out
    rows = [[code(m), *[f"{np.mean(e.test_losses(m, p)):.4f} ± {fnum(float(np.std(e.test_losses(m, p), ddof=1)) if e.runs[p] > 1 else None, 4)}"
                        for p in e.correlations]] for m in e.models]
    out += ["Test MSE (mean over both tasks), mean ± sd over runs:", "",
            md_table(["model", *[f"p = {p:g}" for p in e.correlations]], rows, ["left", *["right"] * len(e.correlations)]), ""]
    if e.diffs:
        drows = [[f"{d.p:g}", str(d.n), fnum(d.mean, 4, sign=True), f"[{fnum(d.low, 4, sign=True)}, {fnum(d.high, 4, sign=True)}]",
                  fp(q) or "–", "MMoE lower" if q is not None and q < ALPHA and d.mean > 0
                  else "shared bottom lower" if q is not None and q < ALPHA else "no detectable difference"]
                 for d, q in zip(e.diffs, holm([d.p_value for d in e.diffs]))]
        out += [f"Paired difference `{SHARED}` − `{MMOE}` in test MSE per correlation (> 0: MMoE better; 95 % "
                f"t-interval over runs, uncorrected; p: paired t-test, Holm-corrected over the {len(e.diffs)} "
                "correlations):", "",
                md_table(["p", "runs", "difference", "95 % interval", "p (Holm)", "verdict"], drows,
                         ["right", "right", "right", "right", "right", "left"]), "", _trend_words(e), ""]
    for sp in specs:
        out += [sp.caption, "", f"![{sp.title}]({chart_prefix}/{sp.name}.png)", ""]
    return out
