"""The architecture × weighting section: non-static runs are compared with single-task per suite, never ranked
with the architectures."""
from __future__ import annotations

import pytest

from mtlbench import report as R
from mtlbench.report.charts import build_figure, chart_specs, stdlib_json

from test_report import NOISE, record, section, write

SUITE = "toy[a=1]"


def params(weighting: str = "static", config: list | None = None) -> dict:
    train = {"max_epochs": 10, "patience": 3}
    if weighting != "static":
        train |= {"weighting": weighting, "weighting_config": config or []}
    return {"model": {}, "shared": {}, "train": train}


def runs(model: str, base: list[float], weighting: str = "static", **kw):
    return [record(SUITE, model, s, [b + NOISE[s] * (1 if k == 0 else 0.5) for k, b in enumerate(base)],
                   params=params(weighting), **kw) for s in range(5)]


@pytest.fixture
def rep(tmp_path):
    root = tmp_path / "results"
    write(root, runs("single_task", [0.900, 1.000]) + runs("mmoe", [0.920, 1.100])  # static mmoe: the seesaw
          + runs("mmoe", [0.915, 0.950], "uw")  # better on both tasks
          + runs("mmoe", [0.900, 1.000], "pcgrad")  # single-task's numbers: no detectable difference
          + runs("ple", [0.930, 0.900], "uw", checksum="0ther"))  # other data: left out with a notice
    return R.build_report("quick", root)


def test_weighting_runs_never_enter_the_architecture_ranking(rep):
    (s,) = rep.suites
    assert sorted(m.model for m in s.models) == ["mmoe", "single_task"]
    assert next(m for m in s.models if m.model == "mmoe").tasks[0].mean == pytest.approx(0.920)


def test_pairs_are_compared_with_single_task_in_one_holm_family(rep):
    (w,) = rep.weightings
    assert [(p.architecture, p.weighting) for p in w.pairs] == [("mmoe", "static"), ("mmoe", "pcgrad"), ("mmoe", "uw")]
    static, pcgrad, uw = w.pairs
    assert static.result.seesaw == "yes" and not static.better_on_every_task
    assert uw.better_on_every_task and uw.result.beats == "yes" and uw.result.verdicts == [R.BETTER, R.BETTER]
    assert pcgrad.result.verdicts == [R.NS, R.NS] and not pcgrad.better_on_every_task
    assert uw.result.comparisons[1].gain == pytest.approx(0.05)  # MSE: S − M
    comps = [c for p in w.pairs for c in p.result.comparisons]
    smallest = min(comps, key=lambda c: c.p)
    assert len(comps) == 6 and smallest.p_holm == pytest.approx(min(1.0, 6 * smallest.p))
    assert w.runs == 10 and w.seconds == pytest.approx(15.0) and w.weighting_sources == {"pcgrad": "paper defaults", "uw": "paper defaults"}
    assert any("0ther" not in n and "other data" in n and SUITE in n for n in rep.notices)


def test_section_and_chart(rep):
    md = R.render_markdown(rep)
    assert "## Architecture × weighting" in md
    assert "mtlbench run mmoe --suite 'toy[a=1]' --weighting pcgrad --weighting uw --seeds 5 --profile quick" in md  # reproduce
    part = section(md.split("## Architecture × weighting", 1)[1], SUITE)
    assert "Better than single-task on every task: `mmoe` + `uw`." in part
    rows = {cells[1]: cells for cells in ([c.strip() for c in line.split("|")[1:-1]] for line in part.splitlines()
                                         if line.startswith("| `mmoe`"))}
    assert set(rows) == {"`static`", "`pcgrad`", "`uw`"}
    assert rows["`uw`"][-4:] == ["no", "yes", "yes", "5"] and rows["`static`"][-4:] == ["yes", "no", "no", "5"]
    (spec,) = [sp for sp in chart_specs(rep) if sp.kind == "wgain"]
    assert f"]({'charts'}/{spec.name}.png)" in md
    with stdlib_json():
        fig = build_figure(spec)
    assert [t.name for t in fig.data] == ["mmoe + static", "mmoe + pcgrad", "mmoe + uw"]
    assert len({t.marker.symbol for t in fig.data}) == 3  # one marker per strategy


def test_the_header_names_the_commit_of_the_weighting_runs(tmp_path):
    root = tmp_path / "results"
    write(root, runs("single_task", [0.900, 1.000]) + runs("mmoe", [0.920, 1.100])
          + runs("mmoe", [0.915, 0.950], "uw", commit="0123456789ab"))
    (row,) = [line for line in R.render_markdown(R.build_report("quick", root)).splitlines() if line.startswith("| commit ")]
    assert "abc123def456; architecture × weighting runs: 0123456789ab" in row


def test_no_weighting_runs_no_section(tmp_path):
    root = tmp_path / "results"
    write(root, runs("single_task", [0.900, 1.000]) + runs("mmoe", [0.920, 1.100]))
    rep = R.build_report("quick", root)
    assert rep.weightings == [] and "Architecture × weighting" not in R.render_markdown(rep)


def test_only_weighting_runs_is_a_one_line_error_not_a_crash(tmp_path):
    from mtlbench.errors import MtlbenchError

    root = tmp_path / "results"
    write(root, runs("mmoe", [0.915, 0.950], "uw"))
    with pytest.raises(MtlbenchError, match="single_task") as err:
        R.build_report("quick", root)
    assert "\n" not in str(err.value)


def test_where_a_strategys_own_parameters_came_from():
    from mtlbench.report.weighting import _weighting_source

    def rec(config, source="default"):
        return {"params": params("uw", config), "params_source": source}

    assert _weighting_source([rec([])]) == "paper defaults"
    assert _weighting_source([rec([["init_log_var", 0.5]], "study:mmoe@video@standard+uw#3")]) == "tuned"
    assert _weighting_source([rec([["init_log_var", 0.5]], "default+set:weighting_config=x")]) == "set"
