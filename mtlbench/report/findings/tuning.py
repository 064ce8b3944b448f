"""How much tuning changes the ranking, and the noise floor of re-running the same configuration."""
from __future__ import annotations

import math
from collections import Counter

import numpy as np

from ..format import code, fp, md_table
from ..load import is_tuned
from ..order import model_key
from ..ranking import mean_rank_draws, ranking
from ..uncertainty import TAU_DRAWS, kendall_interval
from ..schema import ModelResult, Report, SuiteResult
from ..stats import ALPHA
from .common import PAIRED, WELCH, difference_p, score_boot


def _tuning_ranking(rep: Report) -> list[str]:
    head = ["### How much does tuning change the ranking?", ""]
    if not rep.default_suites:
        if any(is_tuned(m.params_source) for s in rep.suites for m in s.models):
            return head + ["No default-parameter runs to compare with: run `mtlbench run --params-from default` "
                           "for the same suites and models.", ""]
        return head + ["Every compared run uses default hyper-parameters; after `mtlbench tune` the default and "
                       "tuned rankings appear here side by side.", ""]
    from scipy.stats import kendalltau

    tuned, _ = ranking(rep.suites)
    default, _ = ranking(rep.default_suites)
    pos_t = {r["model"]: (i, r["mean_rank"]) for i, r in enumerate(tuned, 1)}
    pos_d = {r["model"]: (i, r["mean_rank"]) for i, r in enumerate(default, 1)}
    models = {m.model for s in rep.suites for m in s.models}
    tuned_in = {m: sum(1 for s in rep.suites for x in s.models if x.model == m and is_tuned(x.params_source))
                for m in models}
    n_suites = {m: sum(1 for s in rep.suites for x in s.models if x.model == m) for m in models}
    rows = []
    for m in sorted(set(pos_t) | set(pos_d), key=lambda m: (pos_t.get(m, (99,))[0], model_key(m))):
        d, t = pos_d.get(m), pos_t.get(m)
        rows.append([code(m), str(d[0]) if d else "–", f"{d[1]:.2f}" if d else "–", str(t[0]) if t else "–",
                     f"{t[1]:.2f}" if t else "–", f"{d[0] - t[0]:+d}" if d and t else "–",
                     f"{tuned_in.get(m, 0)} of {n_suites.get(m, 0)}"])
    common = [m for m in pos_t if m in pos_d]
    tau, p, iv = float("nan"), None, None
    if len(common) >= 3:
        tau, p = (float(x) for x in kendalltau([pos_d[m][1] for m in common], [pos_t[m][1] for m in common]))
        p = p if math.isfinite(p) else None
        iv = kendall_interval(mean_rank_draws(rep.default_suites, common, TAU_DRAWS, "tau"),
                              mean_rank_draws(rep.suites, common, TAU_DRAWS, "tau"))
    interval = (f", 95 % bootstrap interval [{iv[0]:+.2f}, {iv[1]:+.2f}] (each (suite, model)'s seeds resampled, "
                f"{TAU_DRAWS:,} draws)" if iv else "")
    return head + [*_rerun_noise(rep),
        "Places in the overall ranking (mean rank over suite families) with default parameters and with the tuned "
        "ones (a model without a study on a suite keeps its default run there: see the last column).", "",
        md_table(["model", "default: place", "default: mean rank", "tuned: place", "tuned: mean rank", "places gained",
                  "suites tuned"], rows, ["left", "right", "right", "right", "right", "right", "right"]), "",
        f"- Kendall τ between the default and the tuned mean ranks of the {len(common)} models in both: "
        f"{tau:+.2f} ({fp(p) or 'no test'}){interval}." if math.isfinite(tau)
        else "- Too few models in both rankings for a rank correlation.", ""]


def _rerun_noise(rep: Report) -> list[str]:
    """Tuned results that ran exactly the default configuration (defaults kept) against their default runs:
    the noise floor of re-running, beside the (suite, model) pairs where tuning changed the parameters."""
    defaults = {(s.suite, m.model): m for s in rep.default_suites or [] for m in s.models if not is_tuned(m.params_source)}
    same, changed = [], []
    for s in rep.suites:
        for m in s.models:
            d = defaults.get((s.suite, m.model))
            if is_tuned(m.params_source) and d is not None:
                (same if m.params == d.params else changed).append((s, m, d))
    if not same:
        return []

    def describe(pairs: list[tuple[SuiteResult, ModelResult, ModelResult]]) -> str:
        deltas = [abs(m.score - d.score) for _, m, d in pairs]
        tests = [difference_p(s, d, m, d.scores, m.scores, score_boot, "tuned-vs-default") for s, m, d in pairs]
        sig = [m.score > d.score for (_, m, d), (p, _) in zip(pairs, tests) if p is not None and p < ALPHA]
        way = f": {sum(sig)} better, {len(sig) - sum(sig)} worse than at the defaults" if sig else ""
        rules = Counter(rule for _, rule in tests)
        how = " and ".join(f"{rules[r]} by the {PAIRED} bootstrap" if r == PAIRED else f"{rules[r]} by {WELCH} over seeds"
                           for r in (PAIRED, WELCH) if rules[r])
        return (f"mean |Δ score| {np.mean(deltas):.4f} (largest {max(deltas):.4f}), {len(sig)} of {len(pairs)} "
                f"significant (uncorrected, α = 0.05{way}; tested {how})")

    identical = [(s, m, d) for s, m, d in same if m.scores == d.scores]
    differing = [(s, m, d) for s, m, d in same if m.scores != d.scores]
    text = (f"**Re-run noise.** {len(same)} of the {len(same) + len(changed)} tuned (suite, model) results with a "
            "default run beside them ran exactly the default parameters (the study kept its defaults, or the sweep "
            "point borrowed such a study), with the same seeds as their default run.")
    if identical:
        text += (f" {len(identical)} of them have identical numbers (trained again or reused on the same kind of "
                 "machine: training is deterministic there).")
    if differing:
        text += (f" {len(differing)} were trained again on another machine or code version (see the header's hardware "
                 f"and commit lines): {describe(differing)}; these differences are not an effect of tuning.")
    if changed:
        text += f" Where tuning changed the parameters ({len(changed)} result{'s' * (len(changed) != 1)}): {describe(changed)}."
    return [text, ""]
