"""The report's uncertainty statistics: Friedman + Nemenyi, rank intervals, the paired two-level bootstrap of a
gain, the convergence rules, and the MMoE synthetic experiment's analysis."""
from __future__ import annotations

import dataclasses

import math

import numpy as np
import pytest

from mtlbench.report.convergence import convergence, run_protocol
from mtlbench.report.experiment import analyse_experiment
from mtlbench.report.paired import GAIN_DRAWS, paired_gain
from mtlbench.report.markdown.protocol import _render_sensitivity
from mtlbench.report.markdown.ranking import _render_ranking
from mtlbench.report.schema import ExperimentRun, ModelResult, SuiteResult, TaskResult
from mtlbench.report.sensitivity import STEP, sensitivity
from mtlbench.report.stats import test_score as score_of
from mtlbench.report.stats import holm
from mtlbench.report.uncertainty import cd_groups, friedman, nemenyi_cd, rank_intervals, rng_for


# ------------------------------------------------------------------ Friedman / Nemenyi
def test_friedman_matches_scipy_on_a_rank_table():
    from scipy.stats import friedmanchisquare

    rng = np.random.default_rng(0)
    table = rng.random((8, 5)) + np.arange(5) * 0.3  # [blocks, models]: model 0 tends to be lowest (best)
    f = friedman(table, ["a", "b", "c", "d", "e"])
    ref = friedmanchisquare(*table.T)
    assert f.statistic == pytest.approx(ref.statistic) and f.p == pytest.approx(ref.pvalue)
    assert f.blocks == 8 and f.models[0] == "a"
    assert f.mean_ranks == sorted(f.mean_ranks)


def test_nemenyi_cd_matches_demsar_table():
    # Demšar 2006, Table 5a: q_0.05 = 2.343 (k=3), 2.949 (k=7); CD = q sqrt(k(k+1)/(6N))
    assert nemenyi_cd(3, 10) == pytest.approx(2.343 * math.sqrt(3 * 4 / 60), abs=2e-3)
    assert nemenyi_cd(7, 14) == pytest.approx(2.949 * math.sqrt(7 * 8 / 84), abs=2e-3)


def test_cd_groups_on_a_hand_made_rank_table():
    # sorted mean ranks; CD = 1.0: {1.0, 1.5, 1.9} differ by < 1, 3.0 is alone from them, {3.0, 3.5} together
    assert cd_groups([1.0, 1.5, 1.9, 3.0, 3.5], 1.0) == [(0, 2), (3, 4)]
    assert cd_groups([1.0, 1.5, 2.2, 2.4], 1.0) == [(0, 1), (1, 3)]  # overlapping runs, both maximal
    assert cd_groups([1.0, 3.0, 5.0], 1.0) == []  # every pair differs
    f = friedman(np.array([[1, 2, 3, 4]] * 12, dtype=float), ["a", "b", "c", "d"])
    assert f.p < 0.05 and f.cd == pytest.approx(nemenyi_cd(4, 12))
    assert f.groups == cd_groups([1.0, 2.0, 3.0, 4.0], f.cd)


def test_friedman_needs_three_models_and_two_blocks():
    assert friedman(np.array([[1.0, 2.0]] * 5), ["a", "b"]).p is None
    assert friedman(np.array([[1.0, 2.0, 3.0]]), ["a", "b", "c"]).p is None


# ------------------------------------------------------------------ rank intervals
def test_rank_interval_is_one_one_for_a_model_better_on_every_seed():
    scores = [[5.0, 5.1, 5.2], [1.0, 1.5, 2.0], [1.2, 1.4, 1.9]]  # model 0 beats every seed of the others
    iv = rank_intervals(scores, rng_for("test"))
    assert iv[0] == (1.0, 1.0)
    assert iv[1][0] >= 2 and iv[2][1] <= 3 and iv[1] != iv[2] or iv[1][1] == 3


def test_rank_interval_is_wide_for_overlapping_models():
    scores = [[1.0, 2.0, 3.0], [1.1, 2.1, 2.9]]
    iv = rank_intervals(scores, rng_for("test"))
    assert iv[0] == (1.0, 2.0) and iv[1] == (1.0, 2.0)


# ------------------------------------------------------------------ paired gain
def test_paired_interval_excludes_zero_where_the_unpaired_one_does_not():
    rng = np.random.default_rng(1)
    B, gain = 200, 0.01
    test_noise = rng.normal(0, 0.05, size=B)  # huge test-set noise, shared by both models (same resamples)
    ref = 0.80 + test_noise[None, :] + rng.normal(0, 0.001, size=(5, 1))  # [seeds, B]
    model = 0.80 + gain + test_noise[None, :] + rng.normal(0, 0.001, size=(5, 1))
    pg = paired_gain(model, ref, True, rng_for("paired"))
    assert pg is not None and pg.low > 0 and pg.p < 0.01
    se_unpaired = math.sqrt(ref.std(axis=1, ddof=1).mean() ** 2 + model.std(axis=1, ddof=1).mean() ** 2)
    assert gain - 1.96 * se_unpaired < 0  # the unpaired interval would include 0
    worse = paired_gain(ref, model, True, rng_for("paired"))
    assert worse.high < 0  # oriented: the other way round is a loss
    lower = paired_gain(model, ref, False, rng_for("paired"))
    assert lower.high < 0  # for a lower-is-better metric the same difference is a loss


def test_paired_gain_of_identical_models_is_not_significant():
    rng = np.random.default_rng(2)
    x = 0.7 + rng.normal(0, 0.01, size=(3, 200))
    pg = paired_gain(x, x.copy(), True, rng_for("same"))
    assert pg.low <= 0 <= pg.high and pg.p > 0.05
    assert paired_gain(x, x[:, :100], True, rng_for("same")) is None  # different B: no pairing


def test_a_clear_paired_gain_survives_holm_over_a_weighting_family():
    """No draw crosses 0 for a gain of ~10 standard errors: its counted p is the floor 2 / (draws + 1), which
    must stay significant after Holm over the ~100 comparisons of an architecture x weighting family."""
    rng = np.random.default_rng(3)
    ref = 0.80 + rng.normal(0, 0.002, size=(5, 200))
    model = ref + 0.01 + rng.normal(0, 0.0005, size=(5, 200))
    pg = paired_gain(model, ref, True, rng_for("clear"))
    assert pg.p == pytest.approx(2 / (GAIN_DRAWS + 1))
    assert holm([pg.p] + [0.5] * 99)[0] < 0.05


# ------------------------------------------------------------------ convergence rules
def _rec(suite: str, key: str, **kw) -> dict:
    base = {"suite": suite, "key": key, "params": {"train": {"patience": 3, "max_epochs": 10}}, "best_epochs": [2]}
    return {**base, **kw}


def test_cap_rule_on_both_protocols():
    capped_new = _rec("a", "1", evals_run=40, max_evals=40, evals_per_epoch=4, best_epochs=[38])
    free_new = _rec("a", "2", evals_run=24, max_evals=40, evals_per_epoch=4, best_epochs=[20])
    capped_old = _rec("b", "3", epochs_run=10)
    free_old = _rec("b", "4", epochs_run=6)
    assert run_protocol(capped_new).capped and not run_protocol(free_new).capped
    assert run_protocol(capped_old).capped and not run_protocol(free_old).capped
    assert run_protocol(capped_new).protocol == 2 and run_protocol(capped_old).protocol == 1
    assert run_protocol(free_new).chosen_epochs == [21 / 4]  # evaluation 20 ends 5.25 epochs of training
    assert not run_protocol(free_new).late and run_protocol(capped_new).late  # 20 < 24 - 3; 38 >= 40 - 3
    a, b = convergence([capped_new, free_new, capped_old, free_old])
    assert (a.capped, a.runs, a.flagged) == (1, 2, True) and (b.capped, b.late) == (1, 0)
    assert convergence([free_new, free_old, _rec("b", "5", epochs_run=7)])[1].flagged is False


def test_late_choice_flags_a_suite():
    late = _rec("a", "1", evals_run=8, max_evals=40, evals_per_epoch=1, best_epochs=[6])  # 6 >= 8 - 3
    ok = [_rec("a", str(i), evals_run=8, max_evals=40, evals_per_epoch=1, best_epochs=[4]) for i in range(2, 40)]
    (c,) = convergence([late] + ok)
    assert c.late == 1 and c.capped == 0 and not c.flagged  # 1 of 39 runs: under 5 %
    (c,) = convergence([late] + ok[:5])
    assert c.flagged


# ------------------------------------------------------------------ score sensitivity
def _suite(means: dict[str, tuple[float, float]]) -> SuiteResult:
    """Two AUC tasks; ``means``: model -> (AUC of task a, AUC of task b), one seed."""
    tasks = [{"name": n, "metric": "auc", "higher_is_better": True} for n in ("a", "b")]
    models = [ModelResult(m, [TaskResult(t["name"], "auc", True, [v], 0.0) for t, v in zip(tasks, aucs)], [0],
                          "default", 0, 0.0, 0.0, score_of(tasks, list(aucs))) for m, aucs in means.items()]
    return SuiteResult("s", "s", "1", {}, tasks, models, False)


def test_a_flagged_suite_is_shown_but_not_counted_in_the_overall_ranking():
    good = {"x": (0.90, 0.90), "y": (0.80, 0.80), "z": (0.70, 0.70)}
    suites = [dataclasses.replace(_suite(good), suite=n, family=n) for n in ("s1", "s2")]
    # the flagged suite reverses the order; counted, it would pull x's mean rank from 1 to 1.67
    suites.append(dataclasses.replace(_suite({"x": (0.70, 0.70), "y": (0.80, 0.80), "z": (0.90, 0.90)}),
                                      suite="s3", family="s3"))
    def table(**kw) -> list[str]:
        return [x for x in "\n".join(_render_ranking(suites, "R", "charts", **kw)).splitlines() if x.startswith("|")]

    rows = table(withheld={"s3"})
    assert "s3: not counted" in rows[0]
    first = [c.strip() for c in rows[2].split("|")[1:-1]]
    assert first[:3] == ["1", "`x`", "1.00"] and first[5] == "3"  # its rank on s3 shown, not counted
    assert [c.strip() for c in table()[2].split("|")[1:-1]][2] == "1.67"


def test_task_weights_are_the_scores_derivative():
    s = _suite({"x": (0.95, 0.995), "y": (0.95, 0.995)})  # errors 0.05 and 0.005
    x = sensitivity(s)
    a, b = x.weights
    assert (a.error, b.error) == pytest.approx((0.05, 0.005))
    # the weight is the score change of 0.001 AUC, to first order
    for j, w in enumerate(x.weights):
        aucs = [0.95, 0.995]
        aucs[j] += STEP
        assert w.per_step == pytest.approx(score_of(s.tasks, aucs) - s.models[0].score, rel=0.15)
    assert x.ratio(a) == pytest.approx(1.0) and x.ratio(b) == pytest.approx(10.0)


def test_a_saturated_task_can_decide_first_place():
    # "sat" gains 0.0005 on the saturated task b and loses 0.002 on a: first by score, last by task ranks
    s = _suite({"sat": (0.948, 0.9955), "bal": (0.950, 0.9950), "low": (0.949, 0.9949)})
    x = sensitivity(s)
    assert x.best(x.by_score) == ["sat"] and x.best(x.by_task_ranks) == ["bal"]
    from scipy.stats import kendalltau
    assert x.tau == pytest.approx(kendalltau(x.by_score, x.by_task_ranks).statistic)
    lines = _render_sensitivity([s])
    assert any("do not agree on first place" in line for line in lines)
    agree = _suite({"good": (0.96, 0.996), "mid": (0.95, 0.995), "bad": (0.94, 0.994)})
    assert sensitivity(agree).tau == pytest.approx(1.0)
    assert not any("do not agree on first place" in line for line in _render_sensitivity([agree]))


# ------------------------------------------------------------------ the MMoE synthetic experiment
def _run(model: str, p: float, r: int, loss: float) -> ExperimentRun:
    return ExperimentRun(model, p, r, 10, [[loss + 1, loss + 1], [loss, loss]], [loss, loss], 1.0, "c0ffee",
                         val_curve=[[loss + 2, loss], [loss + 1, loss + 1], [loss, loss]], steps_per_epoch=7)


def test_experiment_pairs_runs_and_finds_the_trend():
    runs = []
    for p in (1.0, 0.5, 0.0):
        for r in range(6):
            noise = 0.01 * ((r * 7) % 5)
            runs += [_run("mmoe", p, r, 1.0 + noise), _run("hard_sharing", p, r, 1.0 + noise + (1 - p) * 0.5 + 0.001 * r)]
    runs.append(_run("mmoe", 0.9, 0, 1.0))  # p = 0.9: hard_sharing missing, incomplete
    e = analyse_experiment(runs)
    assert e.correlations == [1.0, 0.5, 0.0] and e.incomplete == [0.9] and e.runs[0.5] == 6
    assert e.seconds == len(runs) and e.commits == ["c0ffee"]
    d0 = next(d for d in e.diffs if d.p == 0.0)
    assert d0.mean == pytest.approx(0.5 + 0.0025) and d0.low > 0 and d0.p_value < 0.05
    rho, p_rho, slope, p_slope = e.trend
    assert rho < 0 and slope < 0 and p_slope < 0.05  # the advantage grows as p falls
    c = e.curve("mmoe", 1.0)
    assert c.steps == [10, 20] and len(c.mean) == 2 and c.low[1] <= c.mean[1] <= c.high[1]
    v = e.curve("mmoe", 1.0, validation=True)  # validation MSE after each epoch, at the epoch's last step
    assert v.steps == [7, 14, 21] and v.mean[0] == pytest.approx(v.mean[1]) and v.mean[2] < v.mean[1]
    older = dataclasses.replace(runs[0], val_curve=[], steps_per_epoch=0)  # files without validation curves
    assert analyse_experiment([older]).curve(older.model, older.p, validation=True) is None


def test_experiment_verdicts_are_holm_corrected_over_the_correlations():
    from types import SimpleNamespace

    from mtlbench.report.experiment import PairedDiff
    from mtlbench.report.markdown.experiment import render_experiment

    e = analyse_experiment([_run(m, p, r, 1.0 + 0.01 * r * (m == "hard_sharing") + p) for p in (1.0, 0.0)
                            for m in ("mmoe", "hard_sharing") for r in range(3)])

    def rows(*p_values: float) -> list[str]:
        e.diffs = [PairedDiff(p, 3, 0.1, 0.01, 0.2, q) for p, q in zip((1.0, 0.0), p_values)]
        text = "\n".join(render_experiment(SimpleNamespace(experiment=e), "charts", []))
        return [ln for ln in text.splitlines() if ln.startswith(("|   1 |", "|   0 |"))]

    # raw p 0.03 and 0.026, each below α alone: Holm over the 2 correlations gives 0.052 to both
    assert all("p=0.052" in r and r.endswith("no detectable difference |") for r in rows(0.03, 0.026))
    first, second = rows(0.001, 0.03)  # 0.002 and 0.03: both stay significant
    assert first.endswith("| MMoE lower |") and "p=0.002" in first and second.endswith("| MMoE lower |")


def test_critical_difference_chart_draws_groups_and_scale():
    from mtlbench.report.charts import build_figure
    from mtlbench.report.charts.specs import ChartSpec

    f = friedman(np.array([[1, 2, 3, 4]] * 6 + [[2, 1, 4, 3]] * 6, dtype=float), ["a", "b", "c", "d"])
    fig = build_figure(ChartSpec("cd", ("cd", "overall"), "cd_overall", "CD", "", data=f))
    assert len(fig.data) == 4 and len(fig.layout.shapes) == len(f.groups) + 1  # one bar per group + the CD scale
