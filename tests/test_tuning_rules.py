"""The tuning package's rules and files (issues 22, 24): one pruning rule for every model with a minimum of
validations, a tuning seed apart from the evaluation seeds, compute in the summary, study identity, killed
workers recognised by an attribute, journals rebuilt from exports, and the one use of Optuna's private API."""
from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import mtlbench
import mtlbench.provenance
from mtlbench import tuning as T
from mtlbench.protocol import FitResult
from mtlbench.records import WORKER_DIED
from mtlbench.migrations import study_slugs as MIG
from mtlbench.names import suite_slug
from mtlbench.profiles import PROFILES
from mtlbench.studies import WORKER_DIED_ATTR, StudyId, export_path, former_slug, journal_path, studies_dir, worker_died
from mtlbench.tuning import loop
from mtlbench.tuning.optuna_adapter import set_trial_user_attr

from conftest import TINY
from test_tuning import QUICK, _short_patience, hard_sharing_params, journal_study

optuna.logging.set_verbosity(optuna.logging.ERROR)


class _AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return True


def _fake_fit(seeds: list[int]):
    """``fit`` that reports ``cfg.max_evals`` improving validations without training (records the seed)."""

    def fit(net, data, cfg, seed, device, on_epoch=None, evaluate_test=True):
        seeds.append(seed)
        history = []
        for i in range(cfg.max_evals):
            metrics = [{"mse": 1.0 / (i + 2)} for _ in data.tasks]
            score = mtlbench.metrics.score(data.tasks, metrics)
            history.append({"eval": i, "epoch": i // cfg.evals_per_epoch, "val_score": score, "val": metrics})
            if on_epoch is not None:
                on_epoch(i, score, metrics)
        return FitResult(history=history, best_evals=[len(history) - 1], val_metrics=history[-1]["val"],
                         val_score=history[-1]["val_score"], evals_run=len(history), max_evals=cfg.max_evals)

    return fit


@pytest.mark.parametrize("model", ["hard_sharing", "single_task"])
def test_every_model_is_pruned_by_one_rule_never_before_min_steps(model, tmp_path, monkeypatch):
    prof = _short_patience(monkeypatch, patience=2, max_epochs=6)  # min_steps 3 of 6 validations
    seeds: list[int] = []
    monkeypatch.setattr(loop, "fit", _fake_fit(seeds))
    monkeypatch.setattr(loop, "make_pruner", lambda name, first, last: _AlwaysPrune())  # the eagerest pruner there is
    res = tmp_path / "results"
    [s] = T.tune([model], [TINY], n_trials=3, results_dir=res, sampler_seed=0)
    ref, *searched = journal_study(res, model).get_trials()
    assert ref.user_attrs[T.REFERENCE] and ref.state == TrialState.COMPLETE and len(ref.intermediate_values) == 6
    assert [t.state for t in searched] == [TrialState.PRUNED] * 3  # single_task too: the same rule
    assert all(sorted(t.intermediate_values) == [0, 1, 2] for t in searched)  # judged first at min_steps values
    assert T.min_steps(prof) == 3 and s["budget"]["min_steps"] == 3 and s["budget"]["max_steps"] == 6
    assert set(seeds) == {T.TUNING_SEED} and T.TUNING_SEED not in range(prof.seeds)  # never an evaluation seed
    assert s["budget"]["tuning_seed"] == T.TUNING_SEED and s["budget"]["pruning_rule"] == T.PRUNING_RULE
    assert s["compute"]["trained_epochs"] == 6 + 3 * 3  # pruned trials included
    assert s["protocol"] == T.PROTOCOL and s["schema"] == T.SCHEMA
    if model == "single_task":  # its per-task bests come from completed trials: here the reference
        assert [p["number"] for p in s["per_task_best"]] == [ref.number, ref.number]


def test_pruners_are_configured_to_wait_for_min_steps():
    assert isinstance(T.make_pruner("median", 4, 3), optuna.pruners.NopPruner)  # nothing to judge before the cap
    assert isinstance(T.make_pruner("hyperband", 4, 4), optuna.pruners.NopPruner)
    for name in ("hyperband", "halving", "median"):
        study = optuna.create_study(direction="maximize", pruner=T.make_pruner(name, 4, 20))
        for _ in range(12):  # finished trials the pruner compares with (Hyperband: in each bracket)
            t = study.ask()
            for step in range(20):
                t.report(10.0 + step, step)
                t.should_prune()  # rung values are recorded when a trial is judged
            study.tell(t, 30.0)
        bad = study.ask()
        judged = []
        for step in range(20):
            bad.report(-1.0, step)
            if bad.should_prune():
                judged.append(step)
                break
        assert judged and judged[0] >= 3, (name, judged)  # never before 4 reported values


def test_a_study_without_its_journal_is_rebuilt_from_its_export_and_continued(tmp_path):
    res = tmp_path / "results"
    [s] = T.tune(["hard_sharing"], [TINY], n_trials=2, results_dir=res, sampler_seed=0)
    sid = StudyId("hard_sharing", TINY, "quick")
    before = json.loads(export_path(sid, res).read_text())
    journal_path(sid, res).unlink()
    [s2] = T.tune(["hard_sharing"], [TINY], n_trials=3, results_dir=res, sampler_seed=1)
    trials = journal_study(res, "hard_sharing").get_trials()
    assert s2["n_counted"] == 3 and [t.number for t in trials] == [0, 1, 2, 3]
    assert s2["trials"][:3] == before["trials"]  # states, values, params, distributions, attrs and times kept
    assert s2["study_user_attrs"] == {**before["study_user_attrs"], "n_trials": 3}
    assert s2["reference"] == before["reference"]


def test_a_study_records_its_suite_familys_epoch_cap_and_keeps_the_cap_it_was_tuned_under(tmp_path, monkeypatch):
    seeds: list[int] = []
    monkeypatch.setattr(loop, "fit", _fake_fit(seeds))
    prof = dataclasses.replace(QUICK, max_epochs=3, epoch_caps=(("synthetic", 5),))  # TINY is synthetic: cap 5
    monkeypatch.setitem(PROFILES, "quick", prof)
    res = tmp_path / "results"
    [s] = T.tune(["hard_sharing"], [TINY], n_trials=1, results_dir=res, sampler_seed=0)
    assert (s["budget"]["max_epochs"], s["budget"]["max_steps"]) == (5, 5)  # the cap its trials ran to, not 3
    # a study exported before the label named the family's cap says 3 for the same trials: it is continued
    # (the cap in validations, max_steps, is the same) and its label corrected
    journal_study(res, "hard_sharing").set_user_attr("max_epochs", 3)
    [s] = T.tune(["hard_sharing"], [TINY], n_trials=2, results_dir=res, sampler_seed=0)
    assert s["n_counted"] == 2 and s["budget"]["max_epochs"] == 5
    # another cap changes what a trial trains under: the study is not continued
    monkeypatch.setitem(PROFILES, "quick", dataclasses.replace(prof, epoch_caps=(("synthetic", 6),)))
    with pytest.raises(mtlbench.MtlbenchError, match="max_steps=5 but now max_steps=6"):
        T.tune(["hard_sharing"], [TINY], n_trials=3, results_dir=res, sampler_seed=0)


def test_a_protocol_1_study_is_not_continued_under_the_new_rules(tmp_path):
    res = tmp_path / "results"
    data = mtlbench.load_suite(TINY, QUICK)
    storage = T.open_storage(None, StudyId("hard_sharing", TINY, "quick"), res)
    old = optuna.create_study(storage=storage, study_name=T.study_name("hard_sharing", TINY, "quick"), direction="maximize")
    old.set_user_attr("model", "hard_sharing")  # an old study: attributes, no protocol
    with pytest.raises(mtlbench.MtlbenchError, match="protocol=1"):
        T.open_study("hard_sharing", data, QUICK, 1, T.param_budget(data), None, results_dir=res)


def test_old_exports_cannot_rebuild_a_journal(tmp_path):
    storage = optuna.storages.InMemoryStorage()
    with pytest.raises(mtlbench.MtlbenchError, match="predates schema 2"):
        T.restore_study({"schema": 1, "study": "x@y@quick", "directions": ["maximize"], "trials": []}, storage)


def test_study_id_forms_todays_names_and_file_names():
    sid = StudyId("ple", "synthetic[p=0.5,n_train=600]", "standard")
    assert sid.name == "ple@synthetic[p=0.5,n_train=600]@standard" and sid.slug == "ple@synthetic_p_0.5_n_train_600"
    assert sid.slug == f"ple@{suite_slug(sid.suite)}"  # one slug rule for suites in file names (charts, claims, studies)
    mo = StudyId("ple", "video", "quick", multi_objective=True)
    assert (mo.name, mo.slug) == ("ple@video@quick@mo", "ple@video@mo")
    assert former_slug(sid) == "ple@synthetic_p=0.5_n_train=600" and former_slug(mo) == mo.slug
    assert former_slug(StudyId("ple", "synthetic[p=1]", "quick", True)) == "ple@synthetic_p=1@mo"
    for s in (sid, mo):
        assert StudyId.parse(s.name) == s
    committed = {p.stem for p in (Path(__file__).parents[1] / "results" / "standard" / "studies").glob("*.json")}
    for stem in committed:  # every committed export is named by its own StudyId
        summary = json.loads((Path(__file__).parents[1] / "results" / "standard" / "studies" / f"{stem}.json").read_text())
        assert StudyId.parse(summary["study"]).slug == stem
    with pytest.raises(mtlbench.MtlbenchError, match="cannot read study name"):
        StudyId.parse("ple@video")
    assert StudyId is mtlbench.provenance.StudyId  # one study identity: provenance labels and file names agree


# ------------------------------------------------------------------ study file names: the former slug
def _export(folder: Path, stem: str, sid: StudyId, **extra) -> Path:
    path = folder / f"{stem}.json"
    path.write_text(json.dumps({"study": sid.name, **extra}))
    return path


def _journal(folder: Path, stem: str, sid: StudyId) -> Path:
    path = folder / f"{stem}.journal"
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    optuna.create_study(storage=storage, study_name=sid.name, direction="maximize")
    return path


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_study_slug_migration_renames_exports_and_journals_once(tmp_path, capsys):
    d = tmp_path / "studies"
    d.mkdir()
    a, b, c = (StudyId("ple", f"synthetic[p={p}]", "quick") for p in ("0", "0.5", "1"))
    _export(d, former_slug(a), a, trials=[1])
    _journal(d, former_slug(a), a)
    _journal(d, former_slug(b), b)  # a journal alone: its study named inside
    _export(d, c.slug, c)  # already migrated
    _export(d, "ple@census", StudyId("ple", "census_income[group=1]", "quick"))  # renamed by hand: left alone
    (d / "ple@synthetic_junk.json").write_text("[]")  # not a study: left alone
    before = _listing(d)
    assert MIG.main([str(d), "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["rename ple@synthetic_p=0.json -> ple@synthetic_p_0.json",
                       "rename ple@synthetic_p=0.journal -> ple@synthetic_p_0.journal",
                       "rename ple@synthetic_p=0.5.journal -> ple@synthetic_p_0.5.journal"]
    assert any(line.startswith("leave ple@census.json: not named after") for line in out)
    assert any(line.startswith("leave ple@synthetic_junk.json: holds no readable study") for line in out)
    assert out[-1] == f"would rename 3 files in {d}." and _listing(d) == before
    MIG.migrate(d)
    after = _listing(d)
    renamed = {"ple@synthetic_p=0.json": "ple@synthetic_p_0.json", "ple@synthetic_p=0.journal": "ple@synthetic_p_0.journal",
               "ple@synthetic_p=0.5.journal": "ple@synthetic_p_0.5.journal"}
    assert after == {renamed.get(name, name): data for name, data in before.items()}  # same bytes, new names
    assert MIG.migrate(d)[-1] == f"renamed 0 files in {d}." and _listing(d) == after  # idempotent


def test_study_slug_migration_refuses_two_contents_for_one_name_and_drops_only_identical_copies(tmp_path, capsys):
    d = tmp_path / "studies"
    d.mkdir()
    sid = StudyId("mmoe", "synthetic[p=0.5]", "quick")
    _export(d, former_slug(sid), sid, trials=[1])
    _export(d, sid.slug, sid, trials=[1, 2])
    before = _listing(d)
    assert MIG.main([str(d)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "both hold study mmoe@synthetic[p=0.5]@quick with other contents" in err
    assert _listing(d) == before  # nothing renamed, nothing removed
    (d / f"{former_slug(sid)}.json").write_bytes((d / f"{sid.slug}.json").read_bytes())
    assert MIG.migrate(d) == [f"remove {former_slug(sid)}.json (same bytes as {sid.slug}.json)",
                              f"renamed 0 files in {d} and removed 1 duplicates."]
    assert sorted(p.name for p in d.iterdir()) == [f"{sid.slug}.json"]


def _unmigrate(folder: Path, sid: StudyId) -> None:
    """The study's files under their former names, as a results folder written before the slug change has them."""
    for p in list(folder.iterdir()):
        if p.stem == sid.slug and p.suffix in (".json", ".journal"):
            p.rename(folder / f"{former_slug(sid)}{p.suffix}")


def test_a_folder_not_migrated_still_serves_and_continues_its_studies(tmp_path, recwarn):
    res = tmp_path / "results"
    [s] = T.tune(["hard_sharing"], [TINY], n_trials=1, results_dir=res, sampler_seed=0)
    sid, folder = StudyId("hard_sharing", TINY, "quick"), studies_dir("quick", res)
    _unmigrate(folder, sid)
    old = sorted(p.name for p in folder.iterdir())
    assert old == [f"{former_slug(sid)}.journal", f"{former_slug(sid)}.json"] and former_slug(sid) != sid.slug
    resolve = T.StudyParams(None, res)
    tiny, near = mtlbench.load_suite(TINY, QUICK), mtlbench.load_suite(TINY.replace("p=0.5", "p=0.2"), QUICK)
    with pytest.warns(UserWarning, match=r"former file name .*mtlbench\.migrations\.study_slugs"):
        assert str(resolve("hard_sharing", tiny, QUICK).source) == f"study:{s['study']}#{s['run_trial']}"
    with pytest.warns(UserWarning, match="mtlbench.migrations.study_slugs"):  # a sweep point borrows from it too
        assert str(resolve("hard_sharing", near, QUICK).source) == f"study:{s['study']}#{s['run_trial']}"
    with pytest.warns(UserWarning, match="mtlbench.migrations.study_slugs"):  # tuning continues the same study
        [s2] = T.tune(["hard_sharing"], [TINY], n_trials=2, results_dir=res, sampler_seed=0)
    assert s2["n_counted"] == 2 and s2["trials"][0] == s["trials"][0]
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == old  # no second study beside it
    MIG.migrate(folder)
    recwarn.clear()
    assert str(resolve("hard_sharing", tiny, QUICK).source) == f"study:{s2['study']}#{s2['run_trial']}"
    assert not [w for w in recwarn if "study_slugs" in str(w.message)]
    assert sorted(p.name for p in folder.iterdir()) == [f"{sid.slug}.journal", f"{sid.slug}.json"]


def test_a_killed_worker_is_recognised_by_its_attribute_and_old_exports_by_the_sentence():
    assert worker_died({"user_attrs": {WORKER_DIED_ATTR: True, "fail_reason": "worker h:1 was stopped"}})
    assert worker_died({"user_attrs": {"fail_reason": f"worker h:1 {WORKER_DIED}"}})  # exports before the attribute
    assert not worker_died({"user_attrs": {"fail_reason": "diverged: nan"}}) and not worker_died({})


def test_optuna_adapter_still_matches_optuna():
    study = optuna.create_study(direction="maximize")
    study.ask()
    trial = study.ask()
    set_trial_user_attr(study, trial.number, "worker_died", True)  # another process's trial, by its number
    assert study.get_trials(deepcopy=False)[1].user_attrs == {"worker_died": True}
    assert study.get_trials(deepcopy=False)[0].user_attrs == {}
    study.tell(trial.number, state=TrialState.FAIL)  # public: a trial is told by its number
    with pytest.raises(RuntimeError):  # finished trials are read-only
        set_trial_user_attr(study, trial.number, "late", 1)


def test_runner_and_tuning_do_not_import_each_other():
    root = Path(mtlbench.__file__).parent

    def imports(path: Path) -> set[str]:
        out = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                out.add("." * node.level + (node.module or ""))
        return out

    for f in (root / "tuning").glob("*.py"):
        assert not {m for m in imports(f) if m.lstrip(".") in ("runner", "cli")}, f
    # the report reads exports without optuna; so does the study identity it needs
    code = "import sys, mtlbench.studies; assert 'optuna' not in sys.modules, 'optuna loaded'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root.parent)
