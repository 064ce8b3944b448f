"""“Does it reproduce?” (issue 10): every finding is computed from constructed records with a known answer."""
from __future__ import annotations

import json

import pytest

from mtlbench.report.findings import census as census_finding, cgc_vs_ple, utilisation
from mtlbench import report as R

from test_report import MSE, root, seeds, util_export, write  # noqa: F401 - `root` is a fixture

INCOME = {"name": "income_50k", "kind": "binary", "metric": "auc", "higher_is_better": True}
MARRIED = {"name": "never_married", "kind": "binary", "metric": "auc", "higher_is_better": True}
VCR = {"name": "vcr", "kind": "regression", "metric": "mse", "higher_is_better": False}
VTR = {"name": "vtr", "kind": "binary", "metric": "auc", "higher_is_better": True}
G1 = "census_income[group=1]"


def census(model: str, income: float, married: float = 0.9946, **kw):
    return seeds(G1, model, [income, married], tasks=(INCOME, MARRIED), **kw)


def rows_of(md: str, heading: str) -> list[list[str]]:
    """The cells of the first table under ``heading``."""
    blocks = md.split(heading, 1)[1].split("\n\n")
    lines = next(b for b in blocks if b.startswith("|")).splitlines()[2:]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]


def test_census_levels_gains_and_rechub_finding(root):
    write(root, census("single_task", 0.9510) + census("mmoe", 0.9512) + census("ple", 0.9540)
          + census("hard_sharing", 0.9510))
    md = R.render_markdown(R.build_report("quick", root))
    assert "## Does it reproduce?" in md
    levels = {(r[1], r[2]): r for r in rows_of(md, "### Census-income")}
    # our mean, torch-rechub's value and the distance to it (0 inside a published range)
    assert levels[("income_50k", "`ple`")][3:7] == ["0.9540 ± 0.0006", "5", "0.9507", "+0.0033"]
    assert levels[("never_married", "`mmoe`")][5:7] == ["0.9946–0.9947", "0.0000"]
    assert levels[("income_50k", "`mmoe`")][7:] == ["0.9410", "–"]
    gains = {(r[0], r[2], r[3]): r for r in rows_of(md, "The MTL gain over single-task")}
    ple = gains[("PLE paper", "income_50k", "`ple`")]
    assert ple[4] == "+0.0077" and ple[5] == "+0.0065" and ple[6].startswith("+0.0030") and ple[7].startswith("▲")
    assert ple[8:] == ["no", "yes"]  # significant in the published direction, but +0.0077 is far outside our CI
    assert gains[("MMoE paper", "income_50k", "`mmoe`")][8:] == ["no", "no"]  # published +0.0012, ours +0.0002 n.s.
    assert gains[("MMoE paper", "never_married", "`mmoe`")][4:] == ["0.0000 (≈ 0)", "+0.0021", "0.0000 ± 0.0028", "n.s. p=1",
                                                                     "yes", "yes"]
    assert "of our 6 (model, task) comparisons with `single_task` on census, 5 show no detectable difference, 1 significantly better" in md
    assert "**Not reproduced**: 2 of 4 testable published census gains" in md  # MMoE income, PLE never married
    # the reason is read off the numbers: our single-task sits 0.0023–0.0112 above the papers' and at torch-rechub's
    assert "our single-task baseline is 0.0023–0.0112 AUC above the papers'" in md
    assert "match torch-rechub's same-protocol numbers within 0.001" in md


def test_census_gains_of_records_with_test_replicates_show_the_paired_interval(root):
    import numpy as np

    noise = np.random.default_rng(0).normal(0, 0.001, size=(2, 200))  # [task, B]: one test set, shared resamples
    recs = census("single_task", 0.9510) + census("ple", 0.9540)
    for r in recs:
        r.test_boot = [list(m[t["metric"]] + noise[k]) for k, (t, m) in enumerate(zip(r.tasks, r.test_metrics))]
    write(root, recs)
    md = R.render_markdown(R.build_report("quick", root))
    gains = {(r[0], r[2], r[3]): r for r in rows_of(md, "The MTL gain over single-task")}
    ple = gains[("PLE paper", "income_50k", "`ple`")]
    lo, hi = (float(x) for x in ple[6].split("[", 1)[1].rstrip("]").split(","))
    assert ple[6].startswith("+0.0030 [") and lo < 0.0030 < hi < 0.0077 and ple[7].startswith("▲")
    assert ple[8:] == ["no", "yes"]  # significant in the published direction; +0.0077 is outside our interval


def test_census_with_one_seed_is_untestable_not_unreproduced(root):
    write(root, census("single_task", 0.9510, n=1) + census("mmoe", 0.9530, n=1))
    md = R.render_markdown(R.build_report("quick", root))
    gains = rows_of(md, "The MTL gain over single-task")
    assert {r[-1] for r in gains} == {"n/a"} and "Not reproduced" not in md
    assert "2 untestable" in md


def test_census_with_only_single_task_has_no_empty_sentence(root):
    write(root, census("single_task", 0.9510))
    md = R.render_markdown(R.build_report("quick", root))
    assert "### Census-income" in md and "of our 0" not in md


def test_sweep_gap_growing_as_correlation_falls_reproduces(root):
    tasks = (MSE, {**MSE, "name": "y2"})
    recs = []
    for p, hs in ((0, 1.30), (0.3, 1.20), (0.6, 1.10), (1, 1.00)):
        recs += seeds(f"synthetic[p={p}]", "hard_sharing", [hs, hs], tasks=tasks)
        recs += seeds(f"synthetic[p={p}]", "mmoe", [1.0, 1.0], tasks=tasks)
    write(root, recs)
    md = R.render_markdown(R.build_report("quick", root))
    rows = rows_of(md, "### Synthetic sweep")
    assert [r[0] for r in rows] == ["0", "0.3", "0.6", "1"]
    assert [r[4] for r in rows] == ["+0.3000", "+0.2000", "+0.1000", "0.0000"]
    # a perfect trend over 4 points is not significant: exact p = 2 / 4! (the asymptotic p would be ~0)
    assert "Kendall τ = -1.00 (p=0.083; exact where there are no ties): the MMoE paper's finding is not seen (no detectable trend of the gap with p over these points)" in md
    for name, points, needle in (
            ("six", [(0.2 * i, 1.5 - 0.1 * i) for i in range(6)], "τ = -1.00 (p=0.0028; exact where there are no ties): the MMoE paper's finding reproduces"),
            ("opposite", [(0, 1.0), (0.5, 1.1), (1, 1.2)], "finding is not seen (no detectable trend of the gap with p over these points)"),
            ("contradicted", [(0.2 * i, 0.7 + 0.1 * i) for i in range(6)],
             "finding is contradicted (the gap grows with p). Mean gap"),
            ("flat", [(0, 1.1), (0.5, 1.1), (1, 1.1)], "finding cannot be tested (the gap does not vary)")):
        recs = []
        for p, hs in points:
            recs += seeds(f"synthetic[p={p:g}]", "hard_sharing", [hs, hs], tasks=tasks)
            recs += seeds(f"synthetic[p={p:g}]", "mmoe", [1.0, 1.0], tasks=tasks)
        write(root.parent / name, recs)
        assert needle in R.render_markdown(R.build_report("quick", root.parent / name)), name


def test_sweep_shows_tuned_beside_default_and_where_parameters_came_from(root):
    """Tuned at p = 0 and 1 only (p = 0.5 borrows p = 0's study): the tuned table says so per point, and the
    default-parameter runs get their own table and trend below it."""
    tasks = (MSE, {**MSE, "name": "y2"})
    recs = []
    for p, lender, tuned_gap in (("0", "0", 0.3), ("0.5", "0", 0.2), ("1", "1", 0.1)):
        for model in ("hard_sharing", "mmoe"):
            src = f"study:{model}@synthetic[p={lender}]@quick#2"
            recs += seeds(f"synthetic[p={p}]", model, [1.0, 1.0], tasks=tasks)  # defaults: no gap
            hs = 1.0 + tuned_gap if model == "hard_sharing" else 1.0
            recs += seeds(f"synthetic[p={p}]", model, [hs, hs], tasks=tasks, source=src, ts="2026-01-02T00:00:00Z")
    write(root, recs)
    # mmoe's study at p = 0 kept its reference trial (#2, the defaults): said wherever its parameters are used
    trials = [{"number": 0, "state": "COMPLETE", "value": 1.0}, {"number": 2, "state": "COMPLETE", "value": 1.1,
                                                                 "counted": False, "user_attrs": {"reference": "default"}}]
    (root / "quick" / "studies").mkdir(parents=True)
    (root / "quick" / "studies" / "mmoe@synthetic_p_0.json").write_text(json.dumps(
        {"study": "mmoe@synthetic[p=0]@quick", "model": "mmoe", "suite": "synthetic[p=0]", "run_trial": 2, "trials": trials}))
    md = R.render_markdown(R.build_report("quick", root))
    part = md.split("### Synthetic sweep", 1)[1].split("\n### ", 1)[0]
    assert part.index("**Tuned where studies exist**") < part.index("**Default hyper-parameters**")
    tuned = rows_of(md, "**Tuned where studies exist**")
    assert [(r[0], r[4], r[6], r[7]) for r in tuned] == [
        ("0", "+0.3000", "Welch", "hard_sharing: tuned, mmoe: tuned: defaults kept"),  # no test-set replicates
        ("0.5", "+0.2000", "Welch", "hard_sharing: p=0, mmoe: p=0: defaults kept"), ("1", "+0.1000", "Welch", "tuned")]
    default = rows_of(md, "**Default hyper-parameters**")
    assert [(r[4], r[7]) for r in default] == [("0.0000", "default")] * 3
    assert "finding is not seen (no detectable trend of the gap with p over these points)" in part  # tuned: a falling gap over 3 points
    assert "finding cannot be tested (the gap does not vary)" in part  # defaults: no gap at all
    write(root.parent / "untuned", [r for r in recs if r.params_source == "default"] + seeds(
        "video", "mmoe", [0.04, 0.8], tasks=(VCR, VTR), source="study:mmoe@video@quick#1"))
    md = R.render_markdown(R.build_report("quick", root.parent / "untuned"))  # tuned elsewhere, not on the sweep
    part = md.split("### Synthetic sweep", 1)[1].split("\n### ", 1)[0]
    assert "**Default hyper-parameters**" not in part and part.count("| params") == 1


def test_points_of_different_sweeps_are_not_mixed(root):
    tasks = (MSE, {**MSE, "name": "y2"})
    recs = []
    for suite in ("synthetic[p=0]", "synthetic[p=1]", "synthetic[p=0.5]", "synthetic[p=0,d=50]", "synthetic[p=1,d=50]",
                  "synthetic[p=0.5,d=50]"):
        recs += seeds(suite, "hard_sharing", [1.2, 1.2], tasks=tasks) + seeds(suite, "mmoe", [1.0, 1.0], tasks=tasks)
    write(root, recs)
    md = R.render_markdown(R.build_report("quick", root))
    assert md.count("### Synthetic sweep") == 2 and "(`synthetic[d=50]`)" in md
    assert [r[0] for r in rows_of(md, "### Synthetic sweep (`synthetic`)")] == ["0", "0.5", "1"]


def test_video_seesaw_and_both_tasks(root):
    recs = seeds("video", "single_task", [0.050, 0.80], tasks=(VCR, VTR))
    recs += seeds("video", "hard_sharing", [0.040, 0.79], tasks=(VCR, VTR))  # lower MSE, lower AUC: seesaw
    recs += seeds("video", "mmoe", [0.050, 0.82], tasks=(VCR, VTR))  # VTR only
    recs += seeds("video", "ple", [0.045, 0.82], tasks=(VCR, VTR))  # both
    write(root, recs)
    md = R.render_markdown(R.build_report("quick", root))
    rows = {r[0]: r for r in rows_of(md, "### Video (VCR/VTR)")}
    assert rows["`hard_sharing`"][1:] == ["+0.0100 ▲", "-0.0100 ▼", "yes", "no"]
    assert rows["`ple`"][-2:] == ["no", "yes"]
    assert "- Seesaw (significantly better on one task, worse on the other): `hard_sharing`." in md
    assert "- Significantly better than single-task on both tasks: `ple`." in md
    assert "earlier structures with the seesaw: 1 of 1 (`hard_sharing`); `mmoe`: vcr n.s., vtr ▲; `ple` improves both tasks: yes" in md
    write(root.parent / "one", [r for r in recs if r.seed == 0])  # one seed: nothing is testable
    md = R.render_markdown(R.build_report("quick", root.parent / "one"))
    assert "`ple` improves both tasks: n/a" in md and "Not testable: `hard_sharing`, `mmoe`, `ple`." in md


def test_cgc_vs_ple_and_tuning_changes_the_ranking(root):
    recs = census("single_task", 0.9510) + census("cgc", 0.9510) + census("ple", 0.9510)
    recs += seeds("video", "single_task", [0.05, 0.80], tasks=(VCR, VTR))
    recs += seeds("video", "cgc", [0.05, 0.80], tasks=(VCR, VTR)) + seeds("video", "ple", [0.04, 0.82], tasks=(VCR, VTR))
    # tuned: cgc the best on both suites; ple tuned on video only
    late = "2026-02-01T00:00:00Z"
    recs += census("cgc", 0.9600, source="study:cgc#3", ts=late)
    recs += seeds("video", "cgc", [0.03, 0.85], tasks=(VCR, VTR), source="study:cgc#4", ts=late)
    recs += seeds("video", "ple", [0.04, 0.83], tasks=(VCR, VTR), source="study:ple#1", ts=late)
    write(root, recs)
    rep = R.build_report("quick", root)
    default = {r[0]: (r[1], r[-1]) for r in cgc_vs_ple.cgc_vs_ple(rep.default_suites)}
    assert default == {f"`{G1}`": ("default", "no detectable difference"), "`video`": ("default", "PLE better")}
    tuned = {r[0]: (r[1], r[-1]) for r in cgc_vs_ple.cgc_vs_ple(rep.suites)}
    # a tuned cgc against a default ple answers nothing: no verdict there
    assert tuned == {f"`{G1}`": ("cgc tuned, ple default", "not comparable"), "`video`": ("tuned", "CGC better")}
    md = R.render_markdown(rep)
    assert "**Default hyper-parameters**: PLE better on 1, CGC better on 0, no detectable difference on 1 of 2 suites." in md
    assert "**Tuned where studies exist**: PLE better on 0, CGC better on 1, no detectable difference on 0 of 2 suites (1 without a verdict)." in md
    rows = {r[0]: r for r in rows_of(md, "### How much does tuning change the ranking?")}
    assert rows["`cgc`"][1] != "1" and rows["`cgc`"][3] == "1" and int(rows["`cgc`"][5]) > 0
    assert rows["`cgc`"][6] == "2 of 2" and rows["`ple`"][6] == "1 of 2" and rows["`single_task`"][6] == "0 of 2"
    assert "Kendall τ between the default and the tuned mean ranks of the 3 models in both" in md


def test_only_tuned_runs_say_so_instead_of_claiming_defaults(root):
    write(root, census("single_task", 0.9510, source="study:s#1") + census("mmoe", 0.9510, source="study:m#1"))
    md = R.render_markdown(R.build_report("quick", root))
    assert "No default-parameter runs to compare with" in md and "Every compared run uses default" not in md


def test_no_matching_suites_gives_only_the_tuning_note(root):
    write(root, seeds("toy[a=1]", "single_task", [0.9, 1.0]) + seeds("toy[a=1]", "mmoe", [0.91, 1.0]))
    md = R.render_markdown(R.build_report("quick", root))
    part = md.split("## Does it reproduce?", 1)[1].split("\n## ", 1)[0]
    assert "### How much does tuning change the ranking?" in part and "###" not in part.replace("### How much", "")


@pytest.mark.parametrize("x, r, d", [(0.5, (0.4, 0.6), 0.0), (0.7, (0.4, 0.6), 0.1), (0.3, (0.4, 0.4), -0.1)])
def test_distance_to_a_published_range(x, r, d):
    assert census_finding._outside(x, r) == pytest.approx(d)


def test_expert_utilisation_spread_and_the_ple_papers_claim(root):
    write(root, seeds("video", "single_task", [0.050, 0.80], tasks=(VCR, VTR)))
    tasks = ["vcr", "vtr"]
    cols3 = ["expert 1", "expert 2", "expert 3"]
    cgc_cols = ["vcr expert 1", "vtr expert 1", "shared expert 1"]
    util_export(root, "video", "mmoe", tasks, {"gates": {
        "level": 1, "rows": tasks, "cols": cols3, "mean": [[0.30, 0.30, 0.40], [0.36, 0.28, 0.36]]}})
    util_export(root, "video", "ml_mmoe", tasks, {
        # ML-MMoE's expert gates are rows of level-2 experts, not tasks: never a spread, however uneven
        "expert_gates.0": {"level": 2, "rows": ["L2 expert 1", "L2 expert 2"], "cols": ["L1 expert 1", "L1 expert 2"],
                           "mean": [[1.0, 0.0], [0.0, 1.0]]},
        "task_gates": {"level": 2, "rows": tasks, "cols": ["L2 expert 1", "L2 expert 2"], "mean": [[0.5, 0.5], [0.4, 0.6]]}})
    util_export(root, "video", "ple", tasks, {
        "levels.0.task_gates": {"level": 1, "rows": tasks, "cols": cgc_cols, "mean": [[0.7, None, 0.3], [None, 0.2, 0.8]]},
        "levels.0.shared_gate": {"level": 1, "rows": ["shared"], "cols": cgc_cols, "mean": [[0.1, 0.1, 0.8]]}})
    md = R.render_markdown(R.build_report("quick", root))
    rows = rows_of(md, "### Expert utilisation: do")
    assert [r[1:5] for r in rows] == [["`mmoe`", "1", "0.06", "expert 1"], ["`ml_mmoe`", "2", "0.10", "L2 expert 1"],
                                      ["`ple`", "1", "0.50", "shared expert 1"]]
    assert rows[2][5] == "vcr 0.30 · vtr 0.80"  # the task that cannot mix an expert is left out
    assert "`video`: MMoE / ML-MMoE 0.06–0.10, CGC / PLE 0.50–0.50: reproduced" in md

    util_export(root, "video", "cgc", tasks, {"levels.0.task_gates": {
        "level": 1, "rows": tasks, "cols": cgc_cols, "mean": [[0.5, None, 0.5], [None, 0.5, 0.5]]}})
    md = R.render_markdown(R.build_report("quick", root))
    assert "CGC / PLE 0.00–0.50: mixed" in md  # CGC's tasks weight the shared expert alike
    assert [utilisation._util_verdict([0.4], [0.1, 0.2]), utilisation._util_verdict([], [0.3])] == ["opposite", "n/a"]


def test_rerun_noise_separates_kept_defaults_from_tuning_effects(root):
    tuned_cfg = {"model": {"experts": 8}, "shared": {}, "train": {"max_epochs": 10, "patience": 3}}
    late = "2026-02-01T00:00:00Z"
    recs = seeds("video", "single_task", [0.05, 0.80], tasks=(VCR, VTR))
    recs += seeds("video", "cgc", [0.05, 0.80], tasks=(VCR, VTR)) + seeds("video", "ple", [0.05, 0.80], tasks=(VCR, VTR))
    # cgc's study kept its defaults: the same configuration again, a little off (other machine); ple really changed
    recs += seeds("video", "cgc", [0.0501, 0.8001], tasks=(VCR, VTR), source="study:cgc#0", ts=late)
    recs += seeds("video", "ple", [0.03, 0.86], tasks=(VCR, VTR), source="study:ple#4", ts=late, params=tuned_cfg)
    write(root, recs)
    md = R.render_markdown(R.build_report("quick", root))
    part = md.split("### How much does tuning change the ranking?", 1)[1].split("\n## ", 1)[0]
    line = next(x for x in part.splitlines() if x.startswith("**Re-run noise.**"))
    assert line.startswith("**Re-run noise.** 1 of the 2 tuned (suite, model) results with a default run beside them "
                           "ran exactly the default parameters")
    same, changed = line.split("Where tuning changed the parameters (1 result): ")
    assert "1 were trained again on another machine" in same and "0 of 1 significant" in same and "identical" not in same
    assert "1 of 1 significant (uncorrected, α = 0.05: 1 better, 0 worse than at the defaults; tested 1 by Welch over seeds)" in changed


def test_rerun_noise_counts_identical_reruns_apart(root):
    late = "2026-02-01T00:00:00Z"
    recs = seeds("video", "single_task", [0.05, 0.80], tasks=(VCR, VTR)) + seeds("video", "cgc", [0.05, 0.80], tasks=(VCR, VTR))
    recs += seeds("video", "cgc", [0.05, 0.80], tasks=(VCR, VTR), source="study:cgc#0", ts=late)  # bit-identical
    write(root, recs)
    md = R.render_markdown(R.build_report("quick", root))
    line = next(x for x in md.splitlines() if x.startswith("**Re-run noise.**"))
    assert "1 of them have identical numbers" in line and "trained again on another machine" not in line


def test_no_rerun_noise_line_without_kept_defaults(root):
    tuned_cfg = {"model": {"experts": 8}, "shared": {}, "train": {"max_epochs": 10, "patience": 3}}
    recs = census("single_task", 0.9510) + census("mmoe", 0.9510)
    recs += census("mmoe", 0.9600, source="study:mmoe#3", ts="2026-02-01T00:00:00Z", params=tuned_cfg)
    write(root, recs)
    assert "Re-run noise" not in R.render_markdown(R.build_report("quick", root))


def test_model_differences_use_the_paired_bootstrap_where_records_carry_test_replicates():
    """Two models scored on the same test resamples: a difference the test set cannot carry is not significant
    even when every seed agrees (Welch over seeds would call it), and a clear one is."""
    import numpy as np

    from mtlbench.report.findings.common import PAIRED, WELCH, difference_p, score_boot
    from mtlbench.report.schema import ModelResult, SuiteResult, TaskResult
    from mtlbench.report.stats import test_score, welch_p

    tasks = [{"name": n, "metric": "auc", "higher_is_better": True} for n in ("a", "b")]
    rng = np.random.default_rng(0)
    test_noise = rng.normal(0, 0.004, size=(2, 200))  # [task, B]: the test set's resampling noise, shared by both

    def model(name: str, aucs: tuple[float, float], boot: bool = True) -> ModelResult:
        seed_jitter = [0.0, 1e-5, -1e-5, 2e-5, -2e-5]  # seeds agree closely
        own = rng.normal(0, 0.003, size=(2, 200))  # where on the test set this model differs from the others
        ts = [TaskResult(t["name"], "auc", True, [v + j for j in seed_jitter], 0.004,
                         [list(v + j + test_noise[k] + own[k]) for j in seed_jitter] if boot else None)
              for k, (t, v) in enumerate(zip(tasks, aucs))]
        scores = [test_score(tasks, [t.values[i] for t in ts]) for i in range(5)]
        return ModelResult(name, ts, list(range(5)), "default", 0, 0.0, 0.0, float(np.mean(scores)), scores)

    base, tiny, clear = model("x", (0.90, 0.95)), model("y", (0.9003, 0.9503)), model("z", (0.92, 0.97))
    s = SuiteResult("s", "s", "1", {}, tasks, [base, tiny, clear], False)
    p_tiny, rule = difference_p(s, base, tiny, base.scores, tiny.scores, score_boot, "t")
    assert rule == PAIRED and p_tiny > 0.05 and welch_p(base.scores, tiny.scores) < 0.001
    p_clear, _ = difference_p(s, base, clear, base.scores, clear.scores, score_boot, "t")
    assert p_clear < 0.01
    flat = model("w", (0.9003, 0.9503), boot=False)  # records without replicates (protocol 1): Welch over seeds
    assert difference_p(s, base, flat, base.scores, flat.scores, score_boot, "t") == (welch_p(base.scores, flat.scores), WELCH)
    # the score replicates are the score of each (seed, replicate)
    sb = score_boot(tasks, [np.asarray(t.boot) for t in base.tasks])
    assert sb.shape == (5, 200) and sb[2, 7] == pytest.approx(test_score(tasks, [base.tasks[0].boot[2][7], base.tasks[1].boot[2][7]]))
