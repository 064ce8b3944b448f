"""Which charts a report has, what they are called and what they say, decided from the ``Report`` alone
(no figure is built), so the markdown can link them by deterministic names. To add a chart kind: a
``ChartSpec`` here, a module with ``figure(spec)`` beside it and an entry in ``FIGURES`` (``__init__``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...names import suite_slug as slug
from ..order import MODEL_ORDER, suite_key
from ..ranking import overall_friedman
from ..schema import Report, SuiteResult

PNG_SIZE = (900, 560)
#: Colours per model in MODEL_ORDER, stable across charts: Okabe–Ito's colour-blind-safe palette (black for the
#: single-task reference), extended with distinct hues of Paul Tol's muted scheme and a grey.
PALETTE = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#882255",
           "#117733", "#332288", "#999933", "#888888"]
#: Marker shape per model family, so models stay apart in print and for every colour vision.
FAMILY_MARKERS = {"reference": "square", "hard": "circle", "soft": "diamond", "experts": "triangle-up", "funnel": "star"}
MODEL_FAMILY = {"single_task": "reference", "hard_sharing": "hard", "asymmetric": "hard", "customized": "hard",
                "cross_stitch": "soft", "sluice": "soft", "mmoe": "experts", "ml_mmoe": "experts", "omoe": "experts",
                "cgc": "experts", "ple": "experts", "esmm": "funnel", "aitm": "funnel"}
#: A panel with more models than this highlights the best ``TOP_N`` (colour, error bars) and draws the rest faint.
CROWDED = 8
TOP_N = 6


@dataclass
class ChartSpec:
    kind: str  # gain | curves | sweep | utilisation | tuning | importance | cd | exp_curves | exp_final
    key: tuple
    name: str  # file stem, deterministic
    title: str
    caption: str
    embed: bool = True  # a static image embedded in the markdown
    data: Any = field(default=None, repr=False)


def model_colour(model: str) -> str:
    i = MODEL_ORDER.index(model) if model in MODEL_ORDER else len(MODEL_ORDER) + sum(map(ord, model))
    return PALETTE[i % len(PALETTE)]


def model_marker(model: str) -> str:
    """The marker shape of the model's family (an unregistered model: a cross)."""
    return FAMILY_MARKERS.get(MODEL_FAMILY.get(model, ""), "x")


def highlighted(models: list[str], score: dict[str, float]) -> set[str]:
    """The models a crowded panel shows in full: every model when there are at most ``CROWDED``, else the
    ``TOP_N`` best by ``score`` (higher is better) and the single-task reference."""
    if len(models) <= CROWDED:
        return set(models)
    best = sorted(models, key=lambda m: (-score.get(m, float("-inf")), m))[:TOP_N]
    return set(best) | ({"single_task"} & set(models))


FAINT = 0.3  # opacity of the models a crowded panel does not highlight


# ====================================================================== which charts
def _sweep_axis(points: list[SuiteResult]) -> str | None:
    """The one numeric parameter that varies across a sweep's points (e.g. ``p``)."""
    keys = sorted({k for s in points for k in s.params})
    varying = [k for k in keys if len({repr(s.params.get(k)) for s in points}) > 1]
    if len(varying) == 1 and all(isinstance(s.params.get(varying[0]), (int, float)) for s in points):
        return varying[0]
    return None


def _gain_axes(tasks: list[dict]) -> str:
    """What a gain-vs-gain chart's axes show: the first two tasks of the suite."""
    a, b = tasks[0]["name"], tasks[1]["name"]
    more = f" (tasks {a} and {b} of {len(tasks)})" if len(tasks) > 2 else ""
    return f"Relative gain over single-task on `{a}` (x) and `{b}` (y){more}"


def chart_specs(rep: Report) -> list[ChartSpec]:
    specs: list[ChartSpec] = _cd_specs(rep) + _experiment_specs(rep)
    for s in rep.suites:
        ref = s.reference
        if ref is None or len(s.tasks) < 2 or len(s.models) < 2:
            continue
        specs.append(ChartSpec(
            "gain", ("gain", s.suite), f"gain_{s.slug}", f"Gain vs gain on {s.suite}",
            f"*{_gain_axes(s.tasks)}, in %; error bars ±1 standard error "
            "of the gain (seeds and test set combined). Upper right: better on both tasks; lower left: worse on both; "
            "the other two quadrants: the seesaw.*",
            data=s))
    for w in rep.weightings:
        if len(w.result.tasks) < 2 or not w.pairs:
            continue
        specs.append(ChartSpec(
            "wgain", ("wgain", w.suite), f"weighting_{slug(w.suite)}", f"Architecture × weighting on {w.suite}",
            f"*{_gain_axes(w.result.tasks)}, in %, of every (architecture, "
            "loss-weighting strategy) pair: colour per architecture, marker per strategy; error bars ±1 standard "
            "error of the gain. Upper right: better on both tasks; the upper-left and lower-right quadrants: the seesaw.*",
            data=w))
    for c in rep.curves:
        if not c.models:
            continue
        per = "epoch" if c.evals_per_epoch == 1 else f"{c.evals_per_epoch} per epoch"
        specs.append(ChartSpec(
            "curves", ("curves", c.suite), f"curves_{slug(c.suite)}", f"Learning curves on {c.suite}",
            f"*Validation score (docs/protocol.md §2) and each task's validation metric at every evaluation ({per}) of the compared "
            "runs: the line is the mean over seeds, the band ± one standard deviation (seeds that stopped early leave "
            f"the later points).{' Crowded panels highlight the six best models and the single-task reference.' if len(c.models) > CROWDED else ''}*",
            data=c))
    fams: dict[str, list[SuiteResult]] = {}
    for s in rep.suites:
        if s.is_sweep:
            fams.setdefault(s.family, []).append(s)
    for fam, points in fams.items():
        axis = _sweep_axis(points)
        if axis is None or len(points) < 2:
            continue
        specs.append(ChartSpec(
            "sweep", ("sweep", fam), f"sweep_{slug(fam)}", f"{fam}: test metric vs task correlation {axis}",
            f"*`{fam}` sweep: each model's test metric (mean ± std over seeds) against `{axis}`, one panel per task — "
            "the MMoE paper's view of how task correlation affects multi-task models.*",
            data=(axis, sorted(points, key=lambda s: s.params[axis]))))
    for u in rep.utilisation:
        specs.append(ChartSpec(
            "utilisation", ("util", u.suite, u.model), f"util_{u.slug}", f"{u.model} on {u.suite}",
            f"*Expert utilisation of `{u.model}` on `{u.suite}`.*", data=u))
    by_suite: dict[str, list] = {}
    for st in rep.studies:
        if st.values and st.weighting == "static":  # the architectures' tuning, as the rest of the report compares them
            by_suite.setdefault(st.suite or "?", []).append(st)
    for suite in sorted(by_suite, key=lambda x: suite_key(x) if x != "?" else ("",)):
        sts = by_suite[suite]
        specs.append(ChartSpec(
            "tuning", ("tuning", suite), f"tuning_{slug(suite)}", f"Tuning history on {suite}",
            f"*Tuning on `{suite}`: validation objective of each completed trial (dots), of each pruned trial at the "
            "evaluation where it was stopped (crosses) and of the reference trial, the defaults (large open marker), "
            "with the best completed trial so far (lines), per model.*",
            data=sts))
        if any(len(st.params) >= 3 for st in sts):
            specs.append(ChartSpec(
                "importance", ("importance", suite), f"importance_{slug(suite)}", f"Parameter importance on {suite}",
                "Screening importance of each hyper-parameter: |Spearman ρ| (numeric) or the correlation ratio η "
                "(categorical) between its value and the validation objective over completed trials, normalised per model.",
                embed=False, data=sts))
    return specs


def _experiment_specs(rep: Report) -> list[ChartSpec]:
    """The MMoE synthetic experiment's two charts (when a correlation is complete)."""
    e = rep.experiment
    if e is None or not e.correlations:
        return []
    return [
        ChartSpec("exp_curves", ("experiment", "curves"), "mmoe_synthetic_curves",
                  "MMoE synthetic experiment: training and validation loss over steps",
                  f"*Training loss (mean over both tasks, averaged over every {e.by_cell[(e.models[0], e.correlations[0])][0].curve_every} "
                  "steps) against training steps, one panel per task correlation p, and below it the validation MSE "
                  "after each epoch: the line is the mean over runs, the band the 10–90 % range over runs (log scale).*",
                  data=e),
        ChartSpec("exp_final", ("experiment", "final"), "mmoe_synthetic_final",
                  "MMoE synthetic experiment: final training loss over runs",
                  "*Distribution over runs of the final training loss (the last curve point, mean over both tasks) per "
                  "model and correlation: the MMoE paper's trainability view (a low, narrow box: reliably trainable).*",
                  data=e),
    ]


def _cd_specs(rep: Report) -> list[ChartSpec]:
    """A critical-difference chart per ranking whose Friedman test could be run."""
    out = []
    for tag, suites, label in (("overall", rep.suites, "overall ranking"),
                               ("default", rep.default_suites or [], "ranking with default hyper-parameters")):
        f, _ = overall_friedman(suites, rep.withheld)
        if f.cd is None or f.p is None:
            continue
        out.append(ChartSpec(
            "cd", ("cd", tag), f"cd_{tag}", f"Critical difference: {label}",
            f"*Mean rank over {f.blocks} suite families (1 = best); a bar joins models whose mean ranks differ by less "
            f"than the Nemenyi critical difference CD = {f.cd:.2f} (α = {f.alpha}): not significantly different. "
            f"Friedman p = {f.p:.2g}.*", data=f))
    return out


def png_size(spec: ChartSpec) -> tuple[int, int]:
    """Pixel size of a chart's static image (utilisation: wide enough for every gate bank)."""
    w, h = PNG_SIZE
    if spec.kind == "utilisation":
        w = max(w, 420 * len(spec.data.banks))
    if spec.kind == "exp_curves":  # a row of training-loss panels above a row of validation panels
        h = int(h * 1.5)
    return w, h


def layout(fig, title: str, **kw) -> None:
    """The layout every chart shares."""
    fig.update_layout(title=dict(text=title, x=0.02), template="plotly_white", font=dict(size=13),
                      margin=dict(l=70, r=30, t=70, b=60), **kw)
