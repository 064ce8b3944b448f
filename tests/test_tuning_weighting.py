"""`mtlbench tune MODEL --weighting NAME` (issue 25): a study per (model, suite, profile, weighting), its search
space (the model's plus the strategy's), `run --weighting` picking it (or the static study with the strategy's
paper defaults, saying so), the study identity and labels, status and the report. Tiny suite, quick profile."""
from __future__ import annotations

import json

import optuna
import pytest

import mtlbench
from mtlbench import tuning as T
from mtlbench.errors import MtlbenchError
from mtlbench.params import default_params, with_weighting
from mtlbench.profiles import get_profile
from mtlbench.provenance import ParamsSource, StudyId
from mtlbench import report as REP
from mtlbench.report import load_studies
from mtlbench.report.charts import chart_specs
from mtlbench.weighting import list_weightings

from conftest import TINY
from conftest import cli_in_process as cli

QUICK = get_profile("quick")
optuna.logging.set_verbosity(optuna.logging.ERROR)


def summary_path(res, model, weighting="static"):
    return T.studies_dir("quick", res) / f"{T.study_slug(model, TINY, weighting=weighting)}.json"


# ------------------------------------------------------------------ identity and labels (no training)
@pytest.mark.parametrize("sid, name, slug", [
    (StudyId("ple", "video", "standard"), "ple@video@standard", "ple@video"),
    (StudyId("ple", "video", "standard", weighting="uw"), "ple@video@standard+uw", "ple@video+uw"),
    (StudyId("ple", "video", "standard", True, "db_mtl"), "ple@video@standard+db_mtl@mo", "ple@video+db_mtl@mo"),
    (StudyId("ple", "x[a=b@c+d]", "quick", weighting="uw"), "ple@x[a=b@c+d]@quick+uw", "ple@x_a_b_c_d+uw"),
    (StudyId("ple", "x[a=b+uw]", "quick"), "ple@x[a=b+uw]@quick", "ple@x_a_b_uw"),
])
def test_a_study_name_carries_its_weighting_and_parses_back_exactly(sid, name, slug):
    assert sid.name == name and sid.slug == slug
    assert StudyId.parse(name) == sid


@pytest.mark.parametrize("bad", ["ple@video@standard+static", "ple@video@standard+", "ple@video@standard+u-w"])
def test_a_study_name_with_a_malformed_weighting_is_a_one_line_error(bad):
    with pytest.raises(MtlbenchError, match="expected <model>@<suite>@<profile>"):
        StudyId.parse(bad)


@pytest.mark.parametrize("text", [
    "study:ple@video@standard+uw#3",
    "study:ple@video@standard+uw#t1,t2+set:lr=0.1 task 2",
    "study:ple@video@standard#12+weighting:uw",
    "study:ple@video@standard#12+weighting:uw+set:lr=0.1",
    "file:params.json+weighting:pcgrad",
])
def test_labels_of_weighting_studies_and_of_paper_defaults_round_trip(text):
    assert str(ParamsSource.parse(text)) == text


def test_with_weighting_keeps_its_own_and_says_when_it_replaced_a_study_s(tiny_suite):
    base = default_params("hard_sharing", tiny_suite, QUICK)
    assert with_weighting(base, "uw").source == ParamsSource.default()  # the defaults: nothing to say
    study = ParamsSource.from_study(StudyId("hard_sharing", TINY, "quick"), (4,))
    rp = with_weighting(base.__class__(base.model, base.shared, base.train, study), "uw")
    assert (rp.train.weighting, rp.train.weighting_config) == ("uw", ())
    assert str(rp.source) == f"study:hard_sharing@{TINY}@quick#4+weighting:uw"
    assert with_weighting(rp, "uw") is rp  # its own weighting: hyper-parameters and label kept


def test_a_weighting_space_cannot_take_a_core_parameter_name(tiny_suite, monkeypatch):
    from mtlbench.weighting import get_weighting
    from mtlbench.weighting.uw import UWConfig

    monkeypatch.setattr(get_weighting("uw"), "search_space",
                        classmethod(lambda cls, trial: UWConfig(init_log_var=trial.suggest_float("lr", -1.0, 1.0))))
    study = optuna.create_study()
    with pytest.raises(MtlbenchError, match="'lr' is declared by both the core space and the weighting 'uw' space"):
        T.sample_params(study.ask(), "hard_sharing", tiny_suite, QUICK, weighting="uw")


# ------------------------------------------------------------------ tune, then run, through the CLI
def test_tune_with_a_weighting_is_its_own_study_and_run_picks_it(tmp_path, monkeypatch, capsys):
    res = tmp_path / "results"
    base = ["--suite", TINY, "--trials", "2", "--results-dir", str(res), "--sampler-seed", "0", "--jobs", "1"]
    code, _, err = cli(monkeypatch, capsys, "tune", "hard_sharing", *base)
    assert code == 0, err
    static_file = summary_path(res, "hard_sharing")
    static_before = static_file.read_bytes(), static_file.with_suffix(".journal").read_bytes()

    code, out, err = cli(monkeypatch, capsys, "tune", "hard_sharing", "--weighting", "uw", *base)
    assert code == 0, err
    assert "hard_sharing (uw)" in out
    s = json.loads(summary_path(res, "hard_sharing", "uw").read_text())
    assert s["study"] == f"hard_sharing@{TINY}@quick+uw" and s["weighting"] == "uw" and s["n_counted"] == 2
    trials = [t for t in s["trials"] if t["state"] == "COMPLETE"]
    searched = [t for t in trials if not t["user_attrs"].get("reference")]
    [reference] = [t for t in trials if t["user_attrs"].get("reference")]
    assert searched and all("uw_init_log_var" in t["params"] and "lr" in t["params"] for t in searched)
    for t in searched:  # the sampled value is the one the trial trained with
        train = t["user_attrs"]["params"]["train"]
        assert train["weighting"] == "uw" and train["weighting_config"] == [["init_log_var", t["params"]["uw_init_log_var"]]]
    assert reference["user_attrs"]["params"]["train"]["weighting"] == "uw"  # the defaults, uw at its paper's
    assert reference["user_attrs"]["params"]["train"]["weighting_config"] == []
    assert (static_file.read_bytes(), static_file.with_suffix(".journal").read_bytes()) == static_before

    # run --weighting uw: the uw study; --weighting dwa (no study): the static study's, dwa at its paper defaults
    code, _, err = cli(monkeypatch, capsys, "run", "hard_sharing", "--suite", TINY, "--seeds", "1", "--results-dir",
                       str(res), "--weighting", "uw", "--weighting", "dwa")
    assert code == 0, err
    static = json.loads(static_file.read_text())
    recs = {r["params"]["train"]["weighting"]: r for r in mtlbench.load_records("quick", res)}
    assert recs["uw"]["params_source"] == f"study:{s['study']}#{s['best']['number']}"
    assert recs["uw"]["params"] == s["best"]["run_params"]
    assert recs["dwa"]["params_source"] == f"study:{static['study']}#{static['best']['number']}+weighting:dwa"
    assert recs["dwa"]["params"]["train"]["weighting_config"] == []

    code, out, err = cli(monkeypatch, capsys, "status", "hard_sharing", "--suite", TINY, "--results-dir", str(res))
    assert code in (0, None), err
    assert "hard_sharing (uw)" in out and "hard_sharing (dwa)" in out

    studies = {st.name: st for st in load_studies("quick", res)}
    assert studies[s["study"]].weighting == "uw" and studies[static["study"]].weighting == "static"
    mtlbench.run(["hard_sharing"], [TINY], seeds=1, profile="quick", results_dir=res, device="cpu", jobs=1)
    rep = REP.build_report("quick", res)
    md = REP.render_markdown(rep)
    assert f"| `hard_sharing` (`uw`) | `{TINY}` | {s['study']} |" in md  # the study table names the weighting
    assert [m.params_source for su in rep.suites for m in su.models] == [f"study:{static['study']}#{static['best']['number']}"]
    assert all(st.weighting == "static" for sp in chart_specs(rep) if sp.kind == "tuning" for st in sp.data)


def test_tune_every_weighting_skips_single_task_as_run_does(tmp_path):
    notes: list[str] = []
    summaries = T.tune(["single_task"], [TINY], n_trials=1, profile="quick", results_dir=tmp_path, sampler_seed=0,
                       weightings=["*"], notify=notes.append)
    assert [s["study"] for s in summaries] == [f"single_task@{TINY}@quick"]  # static only
    skipped = [n for n in notes if n.startswith("not tuned")]
    assert len(skipped) == len(list_weightings()) - 1
    assert all("no parameter is shared, so every weighting is the static step" in n for n in skipped)
    assert sorted(p.name for p in T.studies_dir("quick", tmp_path).glob("*.json")) == [f"{T.study_slug('single_task', TINY)}.json"]


def test_an_unknown_weighting_is_a_one_line_error_with_did_you_mean(tmp_path, monkeypatch, capsys):
    res = tmp_path / "results"
    code, _, err = cli(monkeypatch, capsys, "tune", "hard_sharing", "--weighting", "uww", "--suite", TINY,
                       "--results-dir", str(res))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "'uww'" in lines[0] and "Did you mean 'uw'" in lines[0], err
    assert not (res / "quick" / "studies").exists() or not any((res / "quick" / "studies").iterdir())


def test_the_cli_help_and_the_readme_tell_how_to_tune_a_weighting(monkeypatch, capsys):
    from pathlib import Path

    code, out, _ = cli(monkeypatch, capsys, "tune", "--help")
    assert code == 0 and "--weighting" in out
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "tune ple --suite video --weighting uw" in readme and "+weighting:uw" in readme
